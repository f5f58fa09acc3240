"""The draft model's decode of the audio slowed down (`annotation.slowed_check`), beside the check model's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jiwer
import numpy as np
import pytest
from scipy.signal import resample_poly
from support.check_words import WORDS, chunk, heard
from support.configs import config, english_folder

from preannotate.asr.weights.cache import cache_dir
from preannotate.audio import DecodedAudio, decode_audio
from preannotate.audio_speed import DOWN, SPEED, UP, Slower, at_file_speed, decode_slowed, slowed
from preannotate.check_store import check_path, read_check
from preannotate.options import AnnotationOptions, SilenceOptions
from preannotate.quality.crosscheck import normalized_words
from preannotate.quality.model import checked_model, slowed_model
from preannotate.results import Segment, Transcript, Word
from preannotate.review import Reviewer
from preannotate.run import check, run_pipeline
from preannotate.run.check import PENDING
from preannotate.silence import SilenceCutter

DATA = Path(__file__).parent / "data"
SAMPLES = Path(__file__).parent.parent / "samples"

RATE = 16_000
CHECK = "annotation.cross_check=bundled:tiny.en"  # a tiny draft checked by tiny.en: the quickest real check


def bursts(*spans: tuple[float, float], total: float) -> np.ndarray:
    """Silence with a loud tone over each (start, end) span, in seconds."""
    samples = np.zeros(round(total * RATE), np.float32)
    t = np.arange(samples.shape[0]) / RATE
    for start, end in spans:
        inside = (t >= start) & (t < end)
        samples[inside] = 0.5 * np.sin(2 * np.pi * 440 * t[inside])
    return samples


def test_slowed_audio_lasts_ten_ninths_as_long_and_its_times_map_back_onto_the_file() -> None:
    audio = DecodedAudio(bursts((1.0, 2.0), (6.0, 7.0), total=8.0))
    plain = slowed(audio)
    assert plain.timeline is None and plain.samples.shape[0] == pytest.approx(8.0 / SPEED * RATE, abs=2)
    cut = slowed(audio, SilenceOptions(skip=True))  # the 4 s (4.4 s slowed) between the tones is cut out
    assert cut.timeline is not None and cut.duration == pytest.approx(8.0 / SPEED, abs=1e-3)
    assert cut.samples.shape[0] < plain.samples.shape[0] - 3 * RATE
    # Where the second tone starts in the kept samples: the first loud sample after the first tone's end.
    loud = np.flatnonzero(np.abs(cut.samples) > 0.1)
    second = loud[np.argmax(np.diff(loud) > RATE // 10) + 1] / RATE
    word = Word(" tone", second, second + 0.5, 0.9)
    kept = Transcript("tone", "en", (Segment(0, second, second + 0.5, "tone", words=(word,)),), cut.duration)
    restored = at_file_speed(cut.timeline.restore(kept))
    [back] = restored.segments[0].words or ()
    assert back.start == pytest.approx(6.0, abs=0.02) and back.end == pytest.approx(6.0 + 0.5 * SPEED, abs=0.02)
    assert restored.duration == pytest.approx(8.0, abs=1e-3)


@pytest.mark.parametrize("length", [1, 8, 36, 37, 1_000, 73_727, 73_764, 250_001])
def test_slowing_block_by_block_gives_exactly_what_slowing_the_whole_file_at_once_gives(length: int) -> None:
    rng = np.random.default_rng(length)
    samples = rng.standard_normal(length).astype(np.float32)
    whole = resample_poly(samples, UP, DOWN).astype(np.float32)
    for _ in range(4):  # blocks of any size, down to single samples, as decoding hands them on
        parts: list[np.ndarray] = []
        slower = Slower(parts.append)
        cuts = np.cumsum(rng.integers(1, 90_000, size=length // 1_000 + 3))
        for piece in np.split(samples, cuts[cuts < length]):
            slower.extend(piece)
        slower.finish()
        assert np.array_equal(np.concatenate(parts), whole)


def _whole_file_slowed(path: Path, silence: SilenceOptions | None) -> DecodedAudio:
    """The way a file was slowed before it was slowed as it decodes: all of it at once, then cut."""
    samples = resample_poly(decode_audio(path).samples, UP, DOWN).astype(np.float32)
    if silence is None:
        return DecodedAudio(samples)
    kept: list[np.ndarray] = []
    cutter = SilenceCutter(silence, kept.append)
    cutter.extend(samples)
    timeline = cutter.finish()  # hands on the last samples
    return DecodedAudio(np.concatenate(kept), None, timeline)


@pytest.mark.parametrize("silence", [None, SilenceOptions(skip=True)], ids=["whole", "silence skipped"])
@pytest.mark.parametrize("path", [DATA / "pauses.opus", SAMPLES / "en" / "counting.wav"], ids=lambda p: p.name)
def test_a_file_slowed_as_it_decodes_is_its_whole_decode_slowed(path: Path, silence: SilenceOptions | None) -> None:
    streamed, whole = decode_slowed(path, silence), _whole_file_slowed(path, silence)
    assert np.array_equal(streamed.samples, whole.samples) and streamed.timeline == whole.timeline
    if silence is not None and path.suffix == ".opus":  # pauses.opus's long pauses are cut on the slowed audio
        assert streamed.timeline is not None and len(streamed.timeline.starts) > 1
    assert streamed.declared_duration is None and streamed.samples.dtype == np.float32


def test_slowing_refuses_samples_whose_silence_is_already_cut() -> None:
    cut = slowed(DecodedAudio(bursts((1.0, 2.0), (6.0, 7.0), total=8.0)), SilenceOptions(skip=True))
    with pytest.raises(ValueError, match="without silence skipping"):
        slowed(cut)


def test_words_the_slowed_decode_hears_otherwise_raise_the_predicted_wer() -> None:
    reviewer = Reviewer.from_options(AnnotationOptions())
    other = ("Welcome", "to", "a", "mystery", "off", "riding")
    predicted = [
        reviewer.assess([chunk()], 60.0, heard(WORDS), heard(other[:k] + WORDS[k:]))[0].predicted_wer
        for k in range(len(WORDS) + 1)
    ]
    assert predicted == sorted(predicted) and predicted[-1] > predicted[0]
    [checked_only] = reviewer.assess([chunk()], 60.0, heard(WORDS))  # no slowed words: the checked model
    [off] = Reviewer.from_options(AnnotationOptions(slowed_check=False)).assess(
        [chunk()], 60.0, heard(WORDS), heard(other)
    )
    assert off.predicted_wer == checked_only.predicted_wer  # slowed_check off reads no slowed words


def test_the_shipped_slowed_model_reads_both_second_opinions_and_meets_the_target_held_out() -> None:
    model = slowed_model()
    for feature in ("unconfirmed_words", "unstable_words"):
        assert model.coef[model.features.index(feature)] > 0
    assert "unstable_words" not in checked_model().features
    for name in ("bundled:tiny.en", "bundled:base"):
        held_out = model.provenance["evaluation"][name]["held out"]
        assert held_out["recall"] >= 0.8 and held_out["precision"] >= 0.6, name


def _draft_words(out: Path, item: str) -> list[tuple[float, float, str]]:
    stored = json.loads((out / "transcripts" / f"{item}.json").read_text())
    return [(w["start"], w["end"], w["word"]) for s in stored["segments"] for w in s["words"]]


def test_a_checked_run_stores_the_draft_models_slowed_words_at_the_files_times(tmp_path: Path, tiny_model) -> None:
    english_folder(tmp_path)
    report = run_pipeline(config(tmp_path, CHECK), progress=False)
    out, key = tmp_path / "out", report.stages["check"]
    assert [f.status for f in report.files] == ["ok"] * 3
    for result in report.files:
        stored = json.loads(check_path(out, result.item).read_text())
        assert stored["meta"]["slowed"] == "done"
        again, draft = read_check(out, result.item, key, "slowed"), _draft_words(out, result.item)
        assert again and read_check(out, result.item, key) is not None
        # The same model hears nearly the same words (by characters: "345" or "3 4 5" both say three digits).
        said = ["".join(normalized_words(" ".join(w for *_, w in words))) for words in (draft, again)]
        assert jiwer.cer(*said) < 0.15, result.item
        # On the file's own timeline, not 10/9 later: in order and none past the file's end (counting's last
        # word reaches it: at 10/9 of its time it would end 0.3 s beyond).
        starts = [w.start for w in again if w.word.strip()]
        assert starts == sorted(starts) and max(w.end for w in again) <= result.duration + 0.02, result.item


def test_a_run_stopped_before_the_slowed_decode_resumes_with_it_alone(tmp_path: Path, tiny_model, monkeypatch) -> None:
    english_folder(tmp_path)
    out = tmp_path / "out"

    def stopped(ctx, files):  # Ctrl-C once every check is stored, before the slowed decode
        raise KeyboardInterrupt

    monkeypatch.setattr(check, "_slowed_with", stopped)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(config(tmp_path, CHECK), progress=False)
    pending = {p.name: json.loads(p.read_text()) for p in (out / "checks").iterdir()}
    assert len(pending) == 3 and all(c["meta"]["slowed"] == PENDING and "slowed" not in c for c in pending.values())
    monkeypatch.undo()
    checked: list[str] = []
    check_with = check._check_with
    monkeypatch.setattr(
        check, "_check_with", lambda ctx, name, files: checked.extend(files) or check_with(ctx, name, files)
    )
    report = run_pipeline(config(tmp_path, CHECK), progress=False)
    assert checked == [] and [f.status for f in report.files] == ["skipped"] * 3  # drafts and checks kept
    for name, before in pending.items():
        resumed = json.loads((out / "checks" / name).read_text())
        assert resumed["meta"]["slowed"] == "done" and resumed["slowed"] and resumed["words"] == before["words"]


def test_slowed_check_off_stores_no_slowed_words_and_is_a_different_check(tmp_path: Path, tiny_model) -> None:
    english_folder(tmp_path)
    on = run_pipeline(config(tmp_path, CHECK), progress=False)
    off = run_pipeline(config(tmp_path, CHECK, "annotation.slowed_check=false"), progress=False)
    assert off.stages["check"] != on.stages["check"]
    for result in off.files:
        stored = json.loads(check_path(tmp_path / "out", result.item).read_text())
        assert "slowed" not in stored["meta"] and "slowed" not in stored and stored["words"]


def test_a_draft_model_faster_whisper_cannot_load_leaves_the_check_alone(tmp_path: Path, tiny_model) -> None:
    english_folder(tmp_path)
    checkpoint = tmp_path / "tiny-en.pt"  # openai-whisper's own format: faster-whisper cannot read it
    shutil.copyfile(cache_dir() / "ctranslate2" / f"{tiny_model.model_id.removeprefix('sha256:')}.pt", checkpoint)
    report = run_pipeline(config(tmp_path, CHECK, model=str(checkpoint)), progress=False)
    assert [f.status for f in report.files] == ["ok"] * 3
    for result in report.files:
        stored = json.loads(check_path(tmp_path / "out", result.item).read_text())
        assert stored["meta"]["slowed"] == "unavailable" and stored["slowed"] is None and stored["words"]
        assert any("not decoded slowed down" in w for w in result.warnings)
    shutil.copy(tmp_path / "in" / "counting.wav", tmp_path / "in" / "counting-again.wav")  # the stage runs again
    again = run_pipeline(config(tmp_path, CHECK, model=str(checkpoint)), progress=False)
    warned = {f.source: [w for w in f.warnings if "not decoded slowed down" in w] for f in again.files}
    assert all(warned.values()), warned  # still so for every file: said in run.json (it was lost)
    tried = [source for source, said in warned.items() if "an earlier run found so" not in said[0]]
    assert tried == ["counting-again.wav"]  # the others' unavailable decode is not tried on every run
    kept = run_pipeline(config(tmp_path, CHECK, model=str(checkpoint)), progress=False)  # nothing changed: kept
    assert {f.source: [w for w in f.warnings if "not decoded slowed down" in w] for f in kept.files} == warned

"""Short files packed together (faster-whisper's default): the same words as one at a time, nothing across files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jiwer
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.media import read_sample
from whisper.normalizers import BasicTextNormalizer

from preannotate import cli
from preannotate.asr import prepare
from preannotate.asr.faster_whisper.decoding import GAP_S, SHORT_FILE_S
from preannotate.asr.faster_whisper.packing import (
    WINDOW_S,
    WINDOWS_PER_CALL,
    Placed,
    _calls,
    _split,
)
from preannotate.audio import SAMPLE_RATE, decode_audio
from preannotate.config import load_config
from preannotate.naming import MediaFile
from preannotate.options import ModelOptions, TranscribeOptions
from preannotate.results import Transcript
from preannotate.run.decode import Decoding
from preannotate.run.packed_jobs import in_batches
from preannotate.run.plan import Job
from preannotate.run.transcribe_jobs import _Work

ROOT = Path(__file__).resolve().parent.parent
PAUSES_JSON = ROOT / "tests" / "data" / "pauses.json"
BASIC = BasicTextNormalizer()


def _load(name: str):
    return prepare(ModelOptions(name=name, device="cpu", engine="faster-whisper")).load()


@pytest.fixture(scope="module")
def tiny(model_cache, loads_model):
    return _load("bundled:tiny.en")


@pytest.fixture(scope="module")
def clips(pauses) -> list[np.ndarray]:
    """Eight clips of 1 to 3 sentences of pauses.opus (2-12 s), cut at their recorded times."""
    speech = json.loads(PAUSES_JSON.read_text())["speech"]
    cut, first = [], 0
    for n in (1, 2, 3, 1, 2, 1, 3, 1):
        group = speech[first : first + n]
        cut.append(pauses[int((group[0]["start"] - 0.3) * SAMPLE_RATE) : int((group[-1]["end"] + 0.3) * SAMPLE_RATE)])
        first += n
    return cut


def _assert_inside(transcript) -> None:
    for segment in transcript.segments:
        assert 0.0 <= segment.start <= segment.end <= transcript.duration
        for word in segment.words or ():
            assert 0.0 <= word.start <= word.end <= transcript.duration


def test_windows_are_packed_longest_first_with_gaps():
    calls = list(_calls([10.0, 10.0, 10.0, 27.0, 2.0]))
    windows = [[p.index for p in w] for call in calls for w in call]
    # 27 s fills a window; 10 + 1 + 10 = 21 s leaves room for the 2-s clip (21 + 1 + 2 = 24), not a third 10.
    assert windows == [[0, 1, 4], [2], [3]]
    starts = [p.start for w in calls[0] for p in w]
    assert starts == [0.0, 11.0, 22.0, 25.0, 36.0]  # one second of silence after every clip


def test_windows_are_shared_evenly_among_calls():
    calls = list(_calls([27.0] * 9))  # one clip per window
    assert [len(call) for call in calls] == [3, 3, 3]  # not 4, 4 and 1
    assert sorted(p.index for call in calls for w in call for p in w) == list(range(9))
    assert [len(call) for call in _calls([27.0] * 8)] == [4, 4]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.1, WINDOW_S), max_size=40))
def test_every_clip_is_placed_once_and_windows_never_overflow(durations: list[float]) -> None:
    calls = list(_calls(durations))
    placed = [p for call in calls for w in call for p in w]
    assert sorted(p.index for p in placed) == list(range(len(durations)))
    for call in calls:
        assert 1 <= len(call) <= WINDOWS_PER_CALL
        for window in call:
            assert sum(p.duration for p in window) + GAP_S * (len(window) - 1) <= WINDOW_S + 1e-9
    windows = sum(len(call) for call in calls)
    # Best fit: no two windows together hold less than a window (or one's clips would be in the other).
    assert windows <= 2 * (sum(durations) + GAP_S * len(durations)) / WINDOW_S + 1


def test_packed_matches_one_at_a_time(tiny, clips):
    options = TranscribeOptions()
    assert all(c.shape[0] / SAMPLE_RATE <= SHORT_FILE_S for c in clips)
    packed = tiny.transcribe_short(clips, options)
    alone = [tiny.transcribe(c, options) for c in clips]
    assert len(packed) == len(clips)
    for p, a, c in zip(packed, alone, clips):
        assert p.duration == a.duration == c.shape[0] / SAMPLE_RATE
        assert p.text and p.has_words
        _assert_inside(p)
    wer = jiwer.wer([a.text.lower() for a in alone], [p.text.lower() for p in packed])
    assert wer < 0.15, wer


def test_clips_saying_the_same_words_each_get_their_own_words(tiny):
    # Side by side in a window, identical clips make Whisper's word times drift: judged clip by clip, one
    # clip got the sentence twice and its neighbour none. The window's repetitive text sends them all
    # to be transcribed alone instead.
    fox = read_sample("en/quick_brown_fox")
    alone = tiny.transcribe(fox, TranscribeOptions())
    for transcript in tiny.transcribe_short([fox] * 8, TranscribeOptions()):
        assert transcript.text == alone.text


LOOPED = ROOT / "tests" / "data" / "looped_window"
SAID = {  # each file's sentences (tests/data/looped_window/README.md), as tiny.en's words begin them
    "a.flac": ["please call stella", "my name is robert"],
    "b.flac": ["over the lazy dog", "my name is robert"],
    "c.flac": ["apples fell from the tall tree", "please call stella"],
}


def test_a_window_whose_text_skipped_a_clip_is_decoded_again_clip_by_clip(model_cache, loads_model, tmp_path):
    """The window looped on one sentence: c.flac got no word and was redone alone, but a.flac kept part of the
    loop in place of its first sentence and b.flac the loop in place of the fox, at the wrong times."""
    shutil.copytree(LOOPED, tmp_path / "in", ignore=shutil.ignore_patterns("*.md"))
    args = ["run", "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-progress"]
    offline = ["model.name=bundled:tiny.en", "model.engine=faster-whisper", "superannotate.dry_run=true"]
    assert cli.main([*args, *(f"--set={o}" for o in [*offline, "annotation.cross_check=null"])]) == 0
    for name, sentences in SAID.items():
        transcript = Transcript.from_dict(json.loads((tmp_path / "out" / "transcripts" / f"{name}.json").read_text()))
        assert all(BASIC(transcript.text).count(s) == 1 for s in sentences), (name, transcript.text)
        _assert_inside(transcript)


def test_packing_is_on_by_default_and_can_be_turned_off(tiny):
    assert tiny.short_file_s(TranscribeOptions()) == SHORT_FILE_S
    assert tiny.short_file_s(TranscribeOptions(clip_timestamps="1,2")) == 0.0
    config = load_config(None, ["model.engine=faster-whisper", "model.faster_whisper.pack_short_files=false"])
    off = prepare(config.model).load()
    assert off.short_file_s(TranscribeOptions()) == 0.0


def test_no_text_crosses_languages_or_into_silence(model_cache, loads_model):
    """English, Spanish and French clips and a quiet one, packed by a multilingual model detecting each language."""
    base = _load("bundled:base")
    paths = sorted((ROOT / "samples").glob("*/*.wav"))
    rng = np.random.default_rng(0)
    quiet = (rng.standard_normal(4 * SAMPLE_RATE) * 3e-4).astype(np.float32)  # above digital silence
    audio = [decode_audio(p).samples for p in paths] + [quiet, np.zeros(3 * SAMPLE_RATE, np.float32)]
    options = TranscribeOptions(temperature=(0.0,))  # the same decoding as the one-at-a-time reference
    packed = base.transcribe_short(audio, options)
    alone = [base.transcribe(a, options) for a in audio]
    for path, p, a in zip(paths, packed, alone):
        assert p.language == a.language == path.parent.name
        assert p.language_probability == pytest.approx(a.language_probability, abs=0.02)
        _assert_inside(p)
        # No neighbour's words: no more words than alone (1-2-3 and "one, two, three" count alike) or said.
        said = BASIC(path.with_suffix(".txt").read_text()).split()
        assert len(BASIC(p.text).split()) <= max(len(BASIC(a.text).split()), len(said)) + 1, (path.name, p.text)
    # Noise without speech is transcribed alone (the VAD hears no speech), as without packing; silence is empty.
    assert packed[-2].text == alone[-2].text and len(packed[-2].text.split()) <= 2
    assert packed[-1].text == "" and packed[-1].segments == ()


def test_a_batch_without_speech_makes_no_call(tiny):
    """An English-only model on clips that are all noise or silence: each one alone or skipped, no empty call."""
    quiet = (np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 3e-4).astype(np.float32)  # no speech
    packed = tiny.transcribe_short([quiet, np.zeros(SAMPLE_RATE, np.float32)], TranscribeOptions())
    assert [t.duration for t in packed] == [1.0, 1.0] and packed[1].text == ""
    assert tiny.transcribe_short([], TranscribeOptions()) == []


def test_a_file_that_fails_to_decode_fails_alone(tiny, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes((ROOT / "samples" / "en" / "counting.wav").read_bytes()[:44] + b"\xff" * 10)
    names = ["counting.wav", "hello_world.wav", "quick_brown_fox.wav"]
    paths = [ROOT / "samples" / "en" / n for n in names] + [broken]
    jobs = [Job(MediaFile(p, p.name, p.stem), {}, tmp_path / "t" / f"{p.stem}.json") for p in paths]
    (tmp_path / "t").mkdir()
    config = load_config(None, ["model.engine=faster-whisper", "model.name=bundled:tiny.en"])
    with Decoding() as audio:
        results = list(in_batches([jobs], audio, _Work(tiny, config, "key"), workers=1))
    status = {r.source: r.status for r in results}
    assert status == {
        "counting.wav": "ok",
        "hello_world.wav": "ok",
        "quick_brown_fox.wav": "ok",
        "broken.wav": "failed",
    }
    assert "broken.wav" in next(r.error for r in results if r.status == "failed")
    stored = json.loads((tmp_path / "t" / "counting.json").read_text())
    assert "one two three" in stored["text"].lower().replace(",", "")


def test_packing_is_part_of_the_resume_key():
    on = load_config(None, ["model.engine=faster-whisper"]).model
    off = load_config(None, ["model.engine=faster-whisper", "model.faster_whisper.pack_short_files=false"]).model
    assert on.faster_whisper.pack_short_files and not off.faster_whisper.pack_short_files
    assert prepare(on).identity != prepare(off).identity  # words can differ slightly: finished files are redone
    # packed words now go to clips by their end (revision 2): packed transcripts of before are redone once,
    # those made with packing off keep their key
    assert '"pack_short_files_revision": 2' in prepare(on).identity
    assert "revision" not in prepare(off).identity


def test_a_word_goes_to_the_clip_its_end_falls_in():
    """Whisper times a word after a pause from the previous word's end: its start lies in the gap or before."""
    window = [Placed(0, 0.0, 2.0), Placed(1, 3.0, 2.0), Placed(2, 6.0, 1.5)]
    words = [
        ("first", 0.1, 0.5),
        ("ends", 1.6, 2.0),  # clip 0
        ("trailing", 1.8, 2.6),  # ends in the gap after clip 0: said in clip 0
        ("Please", 1.7, 3.3),  # starts in clip 0's tail, ends in clip 1: its middle (2.5) lay nearer clip 0
        ("or", 4.65, 6.35),  # the first word of clip 2, timed from clip 1's last word
        ("last", 7.0, 7.6),  # past the window's end: the last clip
    ]
    segment = {"words": [{"word": w, "start": a, "end": b, "probability": 0.9} for w, a, b in words],
               "temperature": 0.0, "avg_logprob": -0.2, "no_speech_prob": 0.01}  # fmt: skip
    pieces = _split([segment], window, keep_words=True)
    assert [[w["word"] for p in clip for w in p["words"]] for clip in pieces] == [
        ["first", "ends", "trailing"],
        ["Please"],
        ["or", "last"],
    ]
    assert pieces[1][0]["words"][0]["start"] == 0.0 and pieces[1][0]["words"][0]["end"] == pytest.approx(0.3)

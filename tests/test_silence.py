"""Silence skipping: long quiet stretches cut as audio decodes, only the rest transcribed, on the file's timeline."""

from __future__ import annotations

import numpy as np
import pytest
from support.media import read_sample, write_audio
from whisper.normalizers import EnglishTextNormalizer

from preannotate.asr import prepare
from preannotate.audio import SAMPLE_RATE, decode_audio
from preannotate.errors import ConfigError
from preannotate.options import ModelOptions, RunConfig, SilenceOptions, TranscribeOptions
from preannotate.results import Segment, Transcript, Word
from preannotate.run import stage_keys
from preannotate.run.transcribe_jobs import transcribe_audio
from preannotate.silence import SilenceCutter, Timeline

CLIPS = ("counting", "hello_world", "quick_brown_fox")
NOISE_DB = -70.0  # the "silence" between the clips: a quiet room, not digital zeros
GREEDY = TranscribeOptions(language="en", beam_size=None, best_of=None)
normalize = EnglishTextNormalizer()


def room_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise at NOISE_DB: ten seconds of it, repeated (cheap to make for many minutes)."""
    rms = 10 ** (NOISE_DB / 20)
    ten = (np.random.default_rng(seed).standard_normal(10 * SAMPLE_RATE) * rms).astype(np.float32)
    return np.resize(ten, round(seconds * SAMPLE_RATE))


def spaced_speech(gaps: tuple[float, ...]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The sample clips with room noise before, between and after them; returns the samples and where each clip lies."""
    parts, places, position = [room_noise(gaps[0], 0)], [], gaps[0]
    for i, name in enumerate(CLIPS):
        clip = read_sample(f"en/{name}")
        places.append((position, position + clip.shape[0] / SAMPLE_RATE))
        parts += [clip, room_noise(gaps[i + 1], i + 1)]
        position += clip.shape[0] / SAMPLE_RATE + gaps[i + 1]
    return np.concatenate(parts), places


def cut(samples: np.ndarray, options: SilenceOptions | None = None, step: int = 1000):
    kept: list[np.ndarray] = []
    cutter = SilenceCutter(options or SilenceOptions(), kept.append)
    for first in range(0, samples.shape[0], step):  # in pieces, as frames come from the decoder
        cutter.extend(samples[first : first + step])
    timeline = cutter.finish()
    return (np.concatenate(kept) if kept else np.zeros(0, np.float32)), timeline


# --- the cutter, without a model --------------------------------------------------------------------


def test_speech_without_long_silence_passes_through_unchanged():
    samples = np.concatenate([read_sample(f"en/{name}") for name in CLIPS])
    kept, timeline = cut(samples)
    assert timeline is None
    assert np.array_equal(kept, samples)


def test_long_silences_are_cut_keeping_every_clip_and_padding():
    samples, places = spaced_speech((200.0, 180.0, 240.0, 300.0))
    kept, timeline = cut(samples)
    assert timeline is not None and timeline.total == samples.shape[0]
    assert len(timeline.starts) == len(CLIPS)
    assert kept.shape[0] < 20 * SAMPLE_RATE  # 15.5 min in, about 7 s of clips and 1 s of padding each out
    ends = [*timeline.offsets[1:], kept.shape[0]]
    for (clip_start, clip_end), start, offset, end in zip(places, timeline.starts, timeline.offsets, ends):
        assert np.array_equal(kept[offset:end], samples[start : start + end - offset])  # exact samples
        clip = samples[round(clip_start * SAMPLE_RATE) : round(clip_end * SAMPLE_RATE)]
        sound = np.flatnonzero(np.abs(clip) > 0.01) + round(clip_start * SAMPLE_RATE)
        assert start <= sound[0] - 0.45 * SAMPLE_RATE  # the clip's sound and padding around it are kept
        assert start + end - offset >= sound[-1] + 0.45 * SAMPLE_RATE


def test_short_pauses_are_kept_and_a_quiet_file_keeps_nothing():
    samples, _ = spaced_speech((0.2, 1.0, 1.0, 0.3))  # with the clips' own quiet ends, pauses under 3 s
    kept, timeline = cut(samples)
    assert timeline is None and np.array_equal(kept, samples)
    _, timeline = cut(room_noise(240.0))
    assert timeline is not None and timeline.silent and timeline.total == 240 * SAMPLE_RATE


def test_restore_puts_times_back_and_words_never_span_a_cut():
    timeline = Timeline(starts=(0, 160_000), offsets=(0, 32_000), total=320_000, rate=SAMPLE_RATE)
    words = (Word(" a", 1.0, 1.5, 0.9), Word(" b", 1.9, 2.1, 0.9), Word(" c", 2.5, 3.0, 0.9))
    transcript = Transcript(" a b c", "en", (Segment(0, 0.9, 3.1, " a b c", words=words),), 4.0)
    restored = timeline.restore(transcript)
    assert restored.duration == 20.0
    segment = restored.segments[0]
    assert (segment.start, segment.end) == (0.9, 11.1)  # a segment may span the cut
    assert [(w.start, w.end) for w in segment.words] == [(1.0, 1.5), (1.9, 2.0), (10.5, 11.0)]


def test_decoding_cuts_as_it_reads_and_reports_the_files_duration(tmp_path):
    samples, _ = spaced_speech((60.0, 200.0, 5.0, 1.0))
    path = write_audio(tmp_path / "spaced.wav", samples)
    whole = decode_audio(path)
    skipped = decode_audio(path, SilenceOptions())
    assert skipped.timeline is not None and skipped.duration == pytest.approx(whole.duration)
    assert skipped.samples.shape[0] < whole.samples.shape[0] / 10
    off = decode_audio(path, SilenceOptions(skip=False))
    assert off.timeline is None and np.array_equal(off.samples, whole.samples)


def test_options_are_checked_and_change_the_transcript_key_only_when_not_default():
    with pytest.raises(ConfigError, match="min_duration_s"):
        SilenceOptions(min_duration_s=1.0, padding_s=0.5).validate()
    with pytest.raises(ConfigError, match="threshold_db"):
        SilenceOptions(threshold_db=3.0).validate()
    default = stage_keys(RunConfig(), "model")
    assert stage_keys(RunConfig(silence=SilenceOptions()), "model") == default  # keys from before stay valid
    for changed in (SilenceOptions(skip=False), SilenceOptions(threshold_db=-60.0)):
        keys = stage_keys(RunConfig(silence=changed), "model")
        assert keys["transcribe"] != default["transcribe"] and keys["chunk"] != default["chunk"]


# --- both engines on real speech -------------------------------------------------------------------


@pytest.fixture(scope="module", params=["openai-whisper", "faster-whisper"])
def engine(request, model_cache, loads_model):
    return prepare(ModelOptions(name="bundled:tiny.en", device="cpu", engine=request.param)).load()


def words_of(transcript: Transcript) -> list[Word]:
    return [w for s in transcript.segments for w in s.words or ()]


def squeezed(text: str) -> str:
    """Normalized text without spaces: "3 4 5" and "345" (how Whisper writes numbers varies with context) agree."""
    return normalize(text).replace(" ", "")


def test_speech_between_long_silences_gives_the_same_words_at_the_right_times(engine, tmp_path):
    samples, places = spaced_speech((30.0, 200.0, 240.0, 180.0))
    path = write_audio(tmp_path / "spaced.wav", samples)
    audio = decode_audio(path, SilenceOptions())
    transcript, warnings = transcribe_audio(engine, audio, GREEDY)
    assert warnings == [] and transcript.duration == pytest.approx(samples.shape[0] / SAMPLE_RATE)
    alone = [engine.transcribe(read_sample(f"en/{name}"), GREEDY) for name in CLIPS]
    assert squeezed(transcript.text) == "".join(squeezed(t.text) for t in alone)
    words = words_of(transcript)
    for clip, (start, end) in zip(alone, places):  # each clip's words inside where the clip was put
        inside = [w for w in words if start - 0.5 <= w.start <= w.end <= end + 0.5]
        assert squeezed("".join(w.word for w in inside)) == squeezed(clip.text), (start, end, inside)
    assert len(words) == sum(len([w for w in words if s - 0.5 <= w.start <= e + 0.5]) for s, e in places)


def test_a_silent_file_gives_no_words_without_the_model(engine, tmp_path):
    path = write_audio(tmp_path / "room.wav", room_noise(300.0))
    audio = decode_audio(path, SilenceOptions())
    assert audio.samples.shape[0] < SAMPLE_RATE
    transcript, warnings = transcribe_audio(engine, audio, GREEDY)
    assert transcript.segments == () and transcript.text == ""
    assert transcript.duration == pytest.approx(300.0) and warnings == ["not transcribed: silence"]

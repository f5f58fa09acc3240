"""A mostly silent file decoded in batched windows laid on its passages (faster-whisper's batch_after_silence_s)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jiwer
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whisper.normalizers import EnglishTextNormalizer

from preannotate.asr import prepare
from preannotate.asr.base import to_transcript
from preannotate.asr.faster_whisper.packing import WINDOWS_PER_CALL
from preannotate.asr.faster_whisper.pieces import _jobs, _unheard, passages, piece_windows, transcribe_pieces
from preannotate.asr.registry import get_spec
from preannotate.audio import SAMPLE_RATE, DecodedAudio
from preannotate.options import FasterWhisperOptions, ModelOptions, SilenceOptions, TranscribeOptions
from preannotate.silence import SilenceCutter, Timeline

ROOT = Path(__file__).resolve().parent.parent
NORMALIZE = EnglishTextNormalizer()
WINDOW = 28 * SAMPLE_RATE


@given(st.lists(st.integers(1, 40 * SAMPLE_RATE), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_windows_hold_consecutive_whole_passages(lengths):
    offsets = np.cumsum([0, *lengths[:-1]]).tolist()
    spans = list(zip(offsets, [*offsets[1:], sum(lengths)]))
    windows = piece_windows(spans, WINDOW)
    assert [span for window in windows for span in window] == spans  # every passage once, in order, never split
    for window in windows:
        assert len(window) == 1 or window[-1][1] - window[0][0] <= WINDOW  # only a lone passage is longer
    for before, after in zip(windows, windows[1:]):
        assert after[0][1] - before[0][0] > WINDOW  # greedy: the next passage did not fit


def test_passages_part_only_at_long_cuts():
    s = SAMPLE_RATE
    # pieces of 5, 3, 4 and 6 s kept; 12 s cut before the second, 2 s before the third, 10 s before the fourth
    timeline = Timeline(starts=(0, 17 * s, 22 * s, 36 * s), offsets=(0, 5 * s, 8 * s, 12 * s), total=50 * s, rate=s)
    assert passages(timeline, 18 * s, 10 * s) == [(0, 5 * s), (5 * s, 12 * s), (12 * s, 18 * s)]
    assert passages(timeline, 18 * s, 13 * s) == [(0, 18 * s)]  # no cut long enough: one passage, decoded whole
    assert passages(timeline, 18 * s, 1) == [(0, 5 * s), (5 * s, 8 * s), (8 * s, 12 * s), (12 * s, 18 * s)]


def test_calls_batch_consecutive_windows_and_leave_long_passages_alone():
    s = SAMPLE_RATE
    spans = [(0, 5 * s), (5 * s, 20 * s), (20 * s, 40 * s), (40 * s, 90 * s), (90 * s, 95 * s), (95 * s, 100 * s)]
    windows = piece_windows(spans, WINDOW)
    assert windows == [spans[:2], spans[2:3], spans[3:4], spans[4:]]
    jobs = _jobs(windows)
    assert jobs == [windows[:2], [windows[2]], [windows[3]]]  # the 50-s passage alone; the others batched around it
    many = _jobs([[(k * 10 * s, (k + 1) * 10 * s)] for k in range(2 * WINDOWS_PER_CALL + 1)])
    assert [len(job) for job in many] == [WINDOWS_PER_CALL, WINDOWS_PER_CALL, 1]


def test_identity_keeps_earlier_keys_and_keys_a_change():
    spec = get_spec("faster-whisper")
    default = ModelOptions(engine="faster-whisper")
    assert "batch_after_silence_s" not in spec.identity(default)  # transcripts keyed before it stay valid
    assert "split_long_files" not in spec.identity(default)
    off = dataclasses.replace(default, faster_whisper=FasterWhisperOptions(batch_after_silence_s=0.0))
    assert '"batch_after_silence_s": 0.0' in spec.identity(off)


@pytest.fixture(scope="module")
def tiny(model_cache, loads_model):
    return prepare(ModelOptions(name="bundled:tiny.en", device="cpu", engine="faster-whisper")).load()


@pytest.fixture(scope="module")
def cut_file(pauses) -> tuple[DecodedAudio, str, str]:
    """pauses.opus's sentences after 12 s of silence each; two parted by 4 s; then six run together (over 28 s).

    Returns:
        The audio decoded with silence skipping (15 pieces in 14 passages), the reference text, and that of
        the long passage.
    """
    speech = json.loads((ROOT / "tests" / "data" / "pauses.json").read_text())["speech"]
    cut = lambda u: pauses[int((u["start"] - 0.2) * SAMPLE_RATE) : int((u["end"] + 0.2) * SAMPLE_RATE)]  # noqa: E731
    said = [(cut(u), u["text"]) for u in speech]
    silence = lambda seconds: np.zeros(seconds * SAMPLE_RATE, np.float32)  # noqa: E731
    pieces = [np.concatenate([silence(12), samples]) for samples, _ in said[:12]]
    pieces.append(np.concatenate([silence(12), said[12][0], silence(4), said[13][0]]))  # a 4-s pause parts nothing
    pieces.append(np.concatenate([silence(12), *[np.concatenate([a, silence(1), a]) for a, _ in said[14:20]]]))
    long_text = " ".join(f"{text} {text}" for _, text in said[14:20])
    kept: list[np.ndarray] = []
    cutter = SilenceCutter(SilenceOptions(), kept.append)
    for piece in pieces:
        cutter.extend(piece)
    timeline = cutter.finish()
    reference = " ".join([*(text for _, text in said[:14]), long_text])
    return DecodedAudio(np.concatenate(kept), None, timeline), reference, long_text


def _wer(reference: str, text: str) -> float:
    return jiwer.wer(NORMALIZE(reference), NORMALIZE(text))


def test_cut_file_decoded_in_batched_windows_keeps_the_words_and_their_times(tiny, cut_file):
    audio, reference, long_text = cut_file
    timeline = audio.timeline
    assert timeline is not None and len(timeline.offsets) == 15
    assert len(passages(timeline, audio.samples.shape[0], 10 * SAMPLE_RATE)) == 14
    options = TranscribeOptions()
    assert tiny.decodes_pieces(options)
    batched = tiny.transcribe(audio.samples, options, timeline)
    result, _ = transcribe_pieces(tiny, audio.samples, timeline, options)
    assert batched.text == to_transcript(result, batched.duration, None).text  # the route taken
    whole_engine = dataclasses.replace(tiny, options=dataclasses.replace(tiny.options, batch_after_silence_s=0.0))
    assert not whole_engine.decodes_pieces(options)
    whole = whole_engine.transcribe(audio.samples, options, timeline)
    assert _wer(reference, batched.text) <= _wer(reference, whole.text) + 0.03
    assert _wer(reference, batched.text) < 0.1
    restored = timeline.restore(batched)
    spans = [(start / SAMPLE_RATE, (start + (end - offset)) / SAMPLE_RATE) for start, offset, end in
             zip(timeline.starts, timeline.offsets, [*timeline.offsets[1:], audio.samples.shape[0]])]  # fmt: skip
    words = [w for s in restored.segments for w in s.words or ()]
    assert [w.start for w in words] == sorted(w.start for w in words)
    in_long = [w.word for w in words if w.start >= spans[-1][0]]  # the passage over 28 s, decoded alone
    assert _wer(long_text, " ".join(in_long)) < 0.15
    for word in words:  # every word lies in audio that was kept, on the file's own timeline
        assert any(a - 0.05 <= word.start <= word.end <= b + 0.05 for a, b in spans), word


def test_a_piece_with_speech_but_no_word_sends_its_window_alone(pauses):
    speech = pauses[: 6 * SAMPLE_RATE]
    samples = np.concatenate([speech, np.zeros(3 * SAMPLE_RATE, np.float32)])
    window = [(0, speech.shape[0]), (speech.shape[0], samples.shape[0])]
    heard_first = [{"words": [{"start": 1.0, "end": 1.4}]}]
    assert not _unheard(samples, window, heard_first)  # the silent piece needs no word
    assert _unheard(samples, window, [{"words": [{"start": 7.0, "end": 7.2}]}])  # the speech got none


def test_a_file_whose_pauses_are_all_shorter_is_decoded_as_it_always_was(tiny, pauses):
    kept: list[np.ndarray] = []
    cutter = SilenceCutter(SilenceOptions(), kept.append)
    cutter.extend(pauses)
    timeline = cutter.finish()  # pauses.opus: pauses up to 10 s, each cut to under 10 s
    samples = np.concatenate(kept)
    assert timeline is not None and len(timeline.starts) > 1
    assert len(passages(timeline, samples.shape[0], 10 * SAMPLE_RATE)) == 1
    options = TranscribeOptions()
    assert tiny.transcribe(samples, options, timeline).segments == tiny.transcribe(samples, options).segments

"""speakers.mode channels: each channel transcribed apart and one speaker, the words merged on one timeline.

The model tests run the real bundled tiny.en with both engines on tests/data/call.opus (two voices, one
per channel, with a moment of overlapping speech) and check every word against a transcription of its
channel alone; bad input (silence, a 0.5 s clip, mono, 8 and 9 channels) fails only its own file.
"""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.configs import config
from support.media import read_sample
from support.strategies import OPTIONS, transcripts

from preannotate.asr import prepare
from preannotate.chunking import Chunk, chunk_transcript
from preannotate.errors import ConfigError, TranscriptionError
from preannotate.options import ChunkingOptions
from preannotate.results import Segment, Transcript, Word
from preannotate.run import run_pipeline
from preannotate.run.stages import stage_keys
from preannotate.speakers.channels import MAX_CHANNELS, decode_channels
from preannotate.speakers.merge import merge_channels, with_channel_names

DATA = Path(__file__).resolve().parent / "data"
RATE = 16_000


def segment(start: float, end: float, text: str) -> Segment:
    """A segment whose words share its span evenly."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = tuple(Word(f" {t}", start + i * step, start + (i + 1) * step, 0.9) for i, t in enumerate(tokens))
    return Segment(0, start, end, " " + text, words=words)


LEFT = Transcript("", "en", (segment(0.5, 3.0, "Hello, how are you?"), segment(4.0, 6.0, "Fine thanks.")), 8.0)
RIGHT = Transcript("", "de", (segment(2.5, 4.5, "I am well."),), 7.5)


def test_merged_segments_are_in_time_order_with_their_channel_speaker() -> None:
    merged = merge_channels([LEFT, RIGHT], ["agent", "caller"])
    assert [(s.id, s.start, s.speaker) for s in merged.segments] == [
        (0, 0.5, "agent"),
        (1, 2.5, "caller"),
        (2, 4.0, "agent"),
    ]
    assert merged.segments[1].words == RIGHT.segments[0].words  # words unchanged, only the speaker added
    assert (merged.language, merged.duration, merged.meta) == ("en", 8.0, {"channels": ["agent", "caller"]})
    assert merged.text == "Hello, how are you? I am well. Fine thanks."
    assert Transcript.from_dict(merged.to_dict()).segments == merged.segments  # the speaker is stored
    assert "speaker" not in LEFT.segments[0].to_dict()  # without speakers, transcripts are as they were
    with pytest.raises(ValueError):
        merge_channels([LEFT], ["a", "b"])


def test_renaming_channels_needs_no_new_transcript() -> None:
    merged = merge_channels([LEFT, RIGHT], ["ch1", "ch2"])
    renamed = with_channel_names(merged, ("agent",))
    assert [s.speaker for s in renamed.segments] == ["agent", "ch2", "agent"]
    assert renamed.meta["channels"] == ["agent", "ch2"]
    assert with_channel_names(merged, ()) is merged
    with pytest.raises(ConfigError, match="same name"):
        with_channel_names(merged, ("ch2",))
    with pytest.raises(TranscriptionError, match="not transcribed per channel"):
        with_channel_names(LEFT, ())


def overlapping(chunks: list[Chunk]) -> list[tuple[str | None, str | None]]:
    """The speakers of every pair of chunks that overlap in time."""
    return [(a.speaker, b.speaker) for i, a in enumerate(chunks) for b in chunks[i + 1 :] if b.start < a.end]


def test_chunks_are_one_speaker_each_and_only_different_speakers_overlap() -> None:
    merged = merge_channels([LEFT, RIGHT], ["agent", "caller"])
    options = ChunkingOptions(padding_before=0.0, padding_after=0.0)
    chunks = chunk_transcript(merged, options)
    assert [(c.index, c.speaker, c.text) for c in chunks] == [
        (0, "agent", "Hello, how are you?"),
        (1, "caller", "I am well."),
        (2, "agent", "Fine thanks."),
    ]
    assert overlapping(chunks) == [("agent", "caller"), ("caller", "agent")]
    assert chunk_transcript(LEFT, options)[0].speaker is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(transcripts(with_words=True), min_size=1, max_size=3), OPTIONS)
def test_each_speakers_chunks_are_valid_for_any_channels(channels: list[Transcript], options) -> None:
    names = [f"ch{i + 1}" for i in range(len(channels))]
    merged = merge_channels(channels, names)
    chunks = chunk_transcript(merged, options)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    for name, channel in zip(names, channels):
        own = [c for c in chunks if c.speaker == name]
        assert all(a.end <= b.start for a, b in zip(own, own[1:])), name
        assert all(0.0 <= c.start < c.end <= merged.duration and c.text == c.text.strip() != "" for c in own)
        if options.policy != "segments":  # every word of the channel, in order, and only in its own chunks
            expected = [w for s in channel.segments for w in s.words or () if w.word.strip()]
            assert [w for c in own for w in c.words] == expected, name
    assert {c.speaker for c in chunks} <= set(names)


def test_channels_mode_keys_transcripts_apart_but_not_the_channel_names(tmp_path: Path) -> None:
    keys = {
        name: stage_keys(config(tmp_path, *overrides), "model")
        for name, overrides in {
            "none": (),
            "diarize": ("speakers.mode=diarize",),
            "channels": ("speakers.mode=channels",),
            "renamed": ("speakers.mode=channels", "speakers.channel_names=[agent, caller]"),
        }.items()
    }
    assert keys["none"]["transcribe"] == keys["diarize"]["transcribe"] != keys["channels"]["transcribe"]
    assert keys["channels"]["transcribe"] == keys["renamed"]["transcribe"]
    assert keys["channels"]["chunk"] != keys["renamed"]["chunk"]  # renaming re-chunks


# --- real audio, real model ---------------------------------------------------------------------------------


def stored_words(out: Path, item: str) -> dict[str, list[Word]]:
    """The words of the stored transcript of `item`, by speaker."""
    transcript = Transcript.from_dict(json.loads((out / "transcripts" / f"{item}.json").read_text()))
    found: dict[str, list[Word]] = {}
    for s in transcript.segments:
        found.setdefault(s.speaker or "", []).extend(s.words or ())
    return found


def chunk_rows(out: Path, item: str) -> list[dict]:
    rows = [json.loads(line) for line in (out / "chunks.jsonl").read_text().splitlines()]
    return [row for row in rows if row["item"] == item]


def assert_exact(out: Path, item: str, path: Path, names: list[str], engine, options) -> None:
    """Every word of the run is its channel's: the same words a transcription of that channel alone gives."""
    by_speaker = stored_words(out, item)
    rows = chunk_rows(out, item)
    for name, samples in zip(names, decode_channels(path), strict=True):
        alone = [w for s in engine.transcribe(samples, options).segments for w in (s.words or ())]
        assert by_speaker.get(name, []) == alone, name
        chunked = [w for row in rows if row["speaker"] == name for w in row["words"]]
        assert chunked == [{**vars(w)} for w in alone if w.word.strip()], name
    for speaker in {row["speaker"] for row in rows}:  # one speaker's chunks never overlap
        own = [row for row in rows if row["speaker"] == speaker]
        assert all(a["end"] <= b["start"] for a, b in zip(own, own[1:])), speaker


@pytest.mark.parametrize("engine", ["openai-whisper", "faster-whisper"])
def test_a_call_is_transcribed_per_channel_and_every_word_is_its_channels(tmp_path, loads_model, engine) -> None:
    (tmp_path / "in").mkdir()
    shutil.copy(DATA / "call.opus", tmp_path / "in")
    # A short stereo file: faster-whisper packs short files by default, but never a file's channels.
    hello, fox = read_sample("en/hello_world"), read_sample("en/quick_brown_fox")
    short = write_wav(tmp_path / "in" / "short.wav", [hello, shifted(fox, 1.0)])
    out = tmp_path / "out"
    run = config(tmp_path, "speakers.mode=channels", "speakers.channel_names=[agent]", f"model.engine={engine}")
    report = run_pipeline(run, progress=False)
    assert [(f.item, f.status, f.warnings) for f in report.files] == [("call.opus", "ok", []), ("short.wav", "ok", [])]
    loaded = prepare(run.model).load()
    assert_exact(out, "call.opus", DATA / "call.opus", ["agent", "ch2"], loaded, run.transcribe)
    assert_exact(out, "short.wav", short, ["agent", "ch2"], loaded, run.transcribe)
    rows = chunk_rows(out, "call.opus")
    assert {r["speaker"] for r in rows} == {"agent", "ch2"}
    # B's second turn starts 0.7 s before A's ends: there the two speakers' chunks overlap.
    assert any(a["speaker"] != b["speaker"] and b["start"] < a["end"] for a, b in zip(rows, rows[1:]))
    srt = (out / "subtitles" / "call.opus.srt").read_text()
    assert "[agent] " in srt and "[ch2] " in srt


def test_renaming_channels_rechunks_without_transcribing_and_other_modes_transcribe_again(tmp_path, tiny_model):
    (tmp_path / "in").mkdir()
    shutil.copy(DATA / "call.opus", tmp_path / "in")
    out = tmp_path / "out"
    run_pipeline(config(tmp_path, "speakers.mode=channels"), progress=False)
    stamp = (out / "transcripts" / "call.opus.json").stat().st_mtime_ns
    before = chunk_rows(out, "call.opus")
    renamed = run_pipeline(config(tmp_path, "speakers.mode=channels", "speakers.channel_names=[A, B]"), progress=False)
    assert [f.status for f in renamed.files] == ["skipped"]
    assert (out / "transcripts" / "call.opus.json").stat().st_mtime_ns == stamp
    after = chunk_rows(out, "call.opus")
    assert [r["speaker"] for r in after] == [{"ch1": "A", "ch2": "B"}[r["speaker"]] for r in before]
    assert [r["text"] for r in after] == [r["text"] for r in before]
    mixed = run_pipeline(config(tmp_path), progress=False)  # mixed to mono: another transcript
    assert [f.status for f in mixed.files] == ["ok"]
    assert "speaker" not in chunk_rows(out, "call.opus")[0]


def write_wav(path: Path, planes: list[np.ndarray]) -> Path:
    """A 16-bit WAV with one channel per plane (zero-padded to the longest), at 16 kHz."""
    length = max(len(p) for p in planes)
    data = np.zeros((length, len(planes)), np.int16)
    for i, plane in enumerate(planes):
        data[: len(plane), i] = np.clip(plane * 32767, -32768, 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(planes)), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes(data.tobytes())
    return path


def shifted(samples: np.ndarray, seconds: float) -> np.ndarray:
    return np.concatenate([np.zeros(int(seconds * RATE), np.float32), samples])


def test_bad_input_in_channels_mode_fails_only_its_own_file(tmp_path, tiny_model) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    fox, hello, counting = (read_sample(f"en/{n}") for n in ("quick_brown_fox", "hello_world", "counting"))
    silent = np.zeros(3 * RATE, np.float32)
    eight = [silent] * MAX_CHANNELS
    eight[0], eight[3], eight[7] = fox, shifted(fox, 3.0), shifted(counting, 5.0)
    write_wav(folder / "eight.wav", eight)
    write_wav(folder / "nine.wav", [fox] * (MAX_CHANNELS + 1))
    write_wav(folder / "silence.wav", [silent, silent])
    write_wav(folder / "half.wav", [fox[RATE // 2 : RATE], silent[: RATE // 2]])
    write_wav(folder / "mono.wav", [hello])
    run = config(tmp_path, "speakers.mode=channels")
    report = run_pipeline(run, progress=False)
    results = {f.item: f for f in report.files}
    assert {i: f.status for i, f in results.items()} == dict.fromkeys(["eight.wav", "half.wav", "mono.wav"], "ok") | {
        "nine.wav": "failed",
        "silence.wav": "ok",
    }
    assert "nine.wav: 9 channels; speakers.mode channels transcribes at most 8" in results["nine.wav"].error
    assert results["silence.wav"].warnings == [
        "channel ch1: not transcribed: silence",
        "channel ch2: not transcribed: silence",
    ]
    assert results["mono.wav"].warnings == ["mono file in speakers mode channels: every word is ch1's"]
    assert len(results["eight.wav"].warnings) == 5  # the five silent channels, each named
    out = tmp_path / "out"
    assert chunk_rows(out, "silence.wav") == []
    assert {r["speaker"] for r in chunk_rows(out, "mono.wav")} == {"ch1"}
    assert {r["speaker"] for r in chunk_rows(out, "half.wav")} <= {"ch1"}
    engine = prepare(run.model).load()
    names = [f"ch{i + 1}" for i in range(MAX_CHANNELS)]
    assert_exact(out, "eight.wav", folder / "eight.wav", names, engine, run.transcribe)
    assert {r["speaker"] for r in chunk_rows(out, "eight.wav")} == {"ch1", "ch4", "ch8"}

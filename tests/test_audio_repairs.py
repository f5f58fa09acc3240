"""Decoding repairs what it can (`preannotate.audio_frames`): damaged packets, samples that are not numbers.

A damaged stretch of an MP3 used to fail the whole file; now it is left out and made up for with silence as
long as the bytes it held, so that every later sample (and word) keeps its time in the file. The clean file's
decode is the reference: after the damage, the repaired decode lines up with it sample for sample.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np
import pytest
from support.media import read_sample, write_audio, write_float_wav, write_video_with_late_audio

from preannotate.audio import SAMPLE_RATE, decode_audio
from preannotate.errors import AudioError
from preannotate.options import SilenceOptions
from preannotate.results import Transcript
from preannotate.speakers.channels import decode_channel_audio

DAMAGE = 500  # bytes overwritten in the middle of a 24 kbit/s MP3: 0.216 s of its audio


def damaged(clean: bytes, seed: int = 3, size: int = DAMAGE) -> bytes:
    """`clean` with `size` random bytes in place of its own from the middle on."""
    middle = len(clean) // 2
    return clean[:middle] + random.Random(seed).randbytes(size) + clean[middle + size :]


def lag(samples: np.ndarray, reference: np.ndarray, start: int, end: int, most: int = 4_000) -> int:
    """The shift (in samples) at which `samples` best matches `reference[start:end]`."""
    window = reference[start:end]
    coarse = max(range(-most, most + 1, 8), key=lambda k: float(np.dot(samples[start + k : end + k], window)))
    return max(range(coarse - 8, coarse + 9), key=lambda k: float(np.dot(samples[start + k : end + k], window)))


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return np.concatenate([read_sample("en/counting"), read_sample("en/hello_world")])


@pytest.fixture()
def mp3(tmp_path: Path, speech: np.ndarray) -> Path:
    return write_audio(tmp_path / "clean.mp3", speech)


@pytest.mark.parametrize("rate", [16_000, 32_000])  # decoded as it is; resampled (what it holds goes first)
def test_a_damaged_mp3_stretch_is_left_out_and_later_audio_keeps_its_time(
    tmp_path: Path, speech: np.ndarray, rate: int
) -> None:
    mp3 = write_audio(tmp_path / "clean.mp3", np.repeat(speech, rate // SAMPLE_RATE), rate=rate)
    clean = decode_audio(mp3)
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(damaged(mp3.read_bytes()))
    repaired = decode_audio(broken)
    assert len(repaired.repairs) == 1 and repaired.repairs[0].startswith("damaged: 1 packet(s) could not be decoded")
    assert "s of silence stands in their place" in repaired.repairs[0]
    n = clean.samples.shape[0]
    # As long as the clean file (LAME's end padding, trimmed from the clean file only, is 14 ms).
    assert abs(repaired.samples.shape[0] - n) < 0.02 * SAMPLE_RATE
    # 0.75 s of speech after the damage (which ends before the middle + 0.3 s) lines up exactly:
    # without the silence it would come 0.216 s (3,456 samples) early.
    start = n // 2 + 6_400
    assert abs(lag(repaired.samples, clean.samples, start, start + 12_000)) <= 1  # rounding to a sample
    window = slice(start, start + 12_000)
    assert np.corrcoef(repaired.samples[window], clean.samples[window])[0, 1] > 0.99


def test_junk_after_an_mp3_adds_nothing_and_is_reported(tmp_path: Path, mp3: Path) -> None:
    clean = decode_audio(mp3)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(mp3.read_bytes() + random.Random(2).randbytes(30_000))
    repaired = decode_audio(junk)
    assert abs(repaired.samples.shape[0] - clean.samples.shape[0]) < 0.02 * SAMPLE_RATE
    assert len(repaired.repairs) == 1 and "left out" in repaired.repairs[0]
    assert "silence" not in repaired.repairs[0]  # nothing decodes after the junk: no silence put in
    assert not clean.repairs


def test_damage_is_repaired_alike_when_quiet_stretches_are_cut(tmp_path: Path, speech: np.ndarray) -> None:
    quiet = np.zeros(3 * SAMPLE_RATE, np.float32)  # cut out by silence skipping (2 s or more)
    mp3 = write_audio(tmp_path / "pause.mp3", np.concatenate([speech, quiet, speech]))
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(damaged(mp3.read_bytes()))
    skip = SilenceOptions(skip=True)
    clean, repaired = decode_audio(mp3, skip), decode_audio(broken, skip)
    assert clean.timeline is not None and repaired.timeline is not None
    assert abs(repaired.timeline.total - clean.timeline.total) < 0.02 * SAMPLE_RATE
    assert repaired.repairs and "silence stands in their place" in repaired.repairs[0]


def test_channels_mode_repairs_each_channel_in_step(tmp_path: Path, speech: np.ndarray) -> None:
    stereo = np.stack([speech, speech[::-1].copy()], axis=1)
    mp3 = write_audio(tmp_path / "call.mp3", stereo, channels=2)
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(damaged(mp3.read_bytes()))
    clean, repaired = decode_channel_audio(mp3), decode_channel_audio(broken)
    assert [c.repairs for c in repaired] == [repaired[0].repairs] * 2 and repaired[0].repairs
    for before, after in zip(clean, repaired):
        n = before.samples.shape[0]
        assert abs(after.samples.shape[0] - n) < 0.02 * SAMPLE_RATE
        start = n // 2 + 6_400
        assert lag(after.samples, before.samples, start, start + 12_000) == 0


def test_samples_that_are_not_numbers_become_zero_and_are_counted(tmp_path: Path, speech: np.ndarray) -> None:
    samples = speech.copy()
    samples[1_000:1_100], samples[5_000:5_007], samples[9_000] = np.nan, np.inf, -np.inf
    decoded = decode_audio(write_float_wav(tmp_path / "nan.wav", samples))
    assert np.isfinite(decoded.samples).all()
    assert decoded.repairs == ("damaged: 108 sample(s) were not numbers (NaN or infinite) and were set to 0",)
    assert (decoded.samples[1_000:1_100] == 0).all() and decoded.samples[9_000] == 0
    np.testing.assert_array_equal(decoded.samples[:1_000], speech[:1_000])  # the rest as it was
    both = np.stack([samples, speech], axis=1).reshape(-1)
    left, right = decode_channel_audio(write_float_wav(tmp_path / "nan2.wav", both, channels=2))
    assert np.isfinite(left.samples).all() and np.isfinite(right.samples).all()
    assert "108 sample(s) were not numbers" in left.repairs[0]


def test_a_file_of_which_nothing_decodes_fails_and_one_without_samples_is_too_short(tmp_path: Path) -> None:
    header_only = write_float_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    empty = decode_audio(header_only, SilenceOptions(skip=True))
    assert empty.samples.shape[0] == 0 and empty.duration == 0.0
    assert empty.timeline is not None and empty.timeline.restore(Transcript("", "en", (), 0.0)).meta == {
        "skipped_model": "too short"  # not "silence": there is no audio at all
    }
    m4a = write_audio(tmp_path / "whole.m4a", read_sample("en/counting")).read_bytes()
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(m4a[:-400])  # its sample tables cut: the whole length declared, nothing decodes
    with pytest.raises(AudioError, match=r"cut\.m4a: corrupt: nothing decodes of the \d\.\d\d s its header declares"):
        decode_audio(cut)


def test_a_format_tag_without_decoder_is_a_named_error(tmp_path: Path) -> None:
    path = tmp_path / "unknown.wav"
    fmt = struct.pack("<HHIIHH", 0x1234, 1, SAMPLE_RATE, 2 * SAMPLE_RATE, 2, 16)
    data = bytes(2 * SAMPLE_RATE)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(AudioError, match=r"unknown\.wav: FFmpeg has no decoder for the format of its audio stream"):
        decode_audio(path)
    with pytest.raises(AudioError, match="no decoder"):
        decode_channel_audio(path)


def test_a_stream_of_which_every_packet_is_rejected_fails_with_ffmpegs_reason(tmp_path: Path) -> None:
    adts = write_audio(tmp_path / "whole.aac", read_sample("en/counting")).read_bytes()
    frames, at, rnd = bytearray(), 0, random.Random(1)
    while at < len(adts):  # every ADTS frame keeps its 7-byte header, its payload replaced by noise
        length = ((adts[at + 3] & 3) << 11) | (adts[at + 4] << 3) | (adts[at + 5] >> 5)
        frames += adts[at : at + 7] + rnd.randbytes(length - 7)
        at += length
    noise = tmp_path / "noise.aac"
    noise.write_bytes(bytes(frames))
    with pytest.raises(AudioError, match=r"noise\.aac: not a media file FFmpeg can read, or corrupt \(Invalid data"):
        decode_audio(noise)


def test_samples_far_above_full_scale_are_named_and_overs_of_a_float_master_are_not(
    tmp_path: Path, speech: np.ndarray
) -> None:
    peak = float(np.max(np.abs(speech)))
    unscaled = decode_audio(write_float_wav(tmp_path / "unscaled.wav", speech * (32_767 / peak)))
    assert unscaled.repairs == (
        "too loud: samples reach 3.277e+04, far above full scale (1.0): integer samples stored unscaled in a float "
        "file? Whisper may invent text for it",
    )
    np.testing.assert_allclose(unscaled.samples, speech * (32_767 / peak), rtol=1e-6)  # told, not changed
    assert decode_audio(write_float_wav(tmp_path / "overs.wav", speech * (3.9 / peak))).repairs == ()
    assert (
        decode_audio(write_float_wav(tmp_path / "over.wav", speech * (4.1 / peak)))
        .repairs[0]
        .startswith("too loud: samples reach 4.1,")
    )


def test_a_header_giving_a_rate_under_1000_hz_is_refused_before_it_decodes_to_hours(tmp_path: Path) -> None:
    bomb = write_float_wav(tmp_path / "bomb.wav", np.zeros(8_000, np.float32), rate=1)  # 2.2 h at 1 Hz
    with pytest.raises(AudioError, match=r"bomb\.wav: its header gives a sample rate of 1 Hz, under the 1000 Hz"):
        decode_audio(bomb)
    with pytest.raises(AudioError, match="sample rate of 999 Hz"):
        decode_channel_audio(write_float_wav(tmp_path / "low.wav", np.zeros(8_000, np.float32), rate=999))
    assert decode_audio(write_float_wav(tmp_path / "ok.wav", np.zeros(1_000, np.float32), rate=1_000)).duration == 1.0


def write_pcm_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE, channels: int = 1) -> bytes:
    """A 16-bit PCM WAV as Python's `wave` (ffmpeg and sox alike) writes it: no `fact` chunk."""
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path.read_bytes()


@pytest.mark.parametrize(("rate", "channels"), [(16_000, 1), (44_100, 2)])
def test_a_pcm_wav_cut_short_is_reported_truncated(
    tmp_path: Path, speech: np.ndarray, rate: int, channels: int
) -> None:
    """FFmpeg caps a WAV stream's duration at what the file holds: a cut PCM WAV declared only what was left,
    and passed as whole. Its header's `data` size says what the writer meant."""
    samples = np.repeat(np.resize(speech, 6 * rate), channels)
    whole = write_pcm_wav(tmp_path / "whole.wav", samples, rate, channels)
    assert not decode_audio(tmp_path / "whole.wav").truncated
    (tmp_path / "half.wav").write_bytes(whole[: len(whole) // 2])
    half = decode_audio(tmp_path / "half.wav")
    assert half.truncated and half.declared_duration == pytest.approx(6.0)
    assert half.duration == pytest.approx(3.0, abs=0.01)


def test_a_wav_header_s_declared_length() -> None:
    from preannotate.wav_header import riff_data_seconds

    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + fmt + b"LIST" + struct.pack("<I", 3) + b"abc\0"
    assert riff_data_seconds(header + b"data" + struct.pack("<I", 64000)) == 2.0  # after an odd, padded chunk
    assert riff_data_seconds(header + b"data" + struct.pack("<I", 0xFFFFFFFF)) is None  # a streaming writer's
    assert riff_data_seconds(header + b"data" + struct.pack("<I", 0)) is None
    assert riff_data_seconds(b"RIFF\0\0\0\0AVI ") is None and riff_data_seconds(header) is None
    assert riff_data_seconds(b"RIFF" + b"\0" * 4 + b"WAVE" + b"data" + struct.pack("<I", 10)) is None  # no fmt


def onset(samples: np.ndarray) -> float:
    """Seconds to the first sample louder than -26 dBFS: where the speech starts."""
    return float(np.argmax(np.abs(samples) > 0.05)) / SAMPLE_RATE


def test_sound_that_starts_after_its_video_keeps_the_medias_times(tmp_path: Path) -> None:
    """A video whose sound starts 3 s in: times were counted from the sound's first sample, 3 s early everywhere."""
    hello = read_sample("en/hello_world")
    video = write_video_with_late_audio(tmp_path / "late.mp4", hello, start_s=3.0)
    decoded = decode_audio(video)
    assert onset(decoded.samples) == pytest.approx(3.0 + onset(hello), abs=0.01)
    assert any("the audio starts 2.9" in note and "s into the media" in note for note in decoded.repairs)
    [channel] = decode_channel_audio(video)  # channels mode decodes alike
    assert onset(channel.samples) == pytest.approx(3.0 + onset(hello), abs=0.01)
    on_time = decode_audio(write_video_with_late_audio(tmp_path / "on_time.mp4", hello, start_s=0.0))
    assert onset(on_time.samples) == pytest.approx(onset(hello), abs=0.01) and on_time.repairs == ()
    m4a = decode_audio(write_audio(tmp_path / "plain.m4a", hello))  # AAC's priming is no late start
    assert m4a.repairs == () and abs(len(m4a.samples) - len(hello)) < 0.1 * SAMPLE_RATE

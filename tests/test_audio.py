import av
import numpy as np
import pytest
from support.media import CODECS, read_sample, write_audio, write_video_without_audio

from preannotate.audio import SAMPLE_RATE, _Samples, declared_duration, decode_audio, is_silent, probe_duration
from preannotate.errors import AudioError


@pytest.fixture(scope="module")
def speech():
    return read_sample("en/quick_brown_fox")


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_every_format_decodes_to_16k_mono_float(tmp_path, speech, suffix):
    decoded = decode_audio(write_audio(tmp_path / f"clip{suffix}", speech))
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    # Lossy codecs add priming/padding of a few tens of ms.
    assert abs(decoded.duration - len(speech) / SAMPLE_RATE) < 0.15
    assert not decoded.truncated


def _fully_probed_and_resampled(path) -> tuple[np.ndarray, float | None]:
    """What decoding gave before the quick probe and the resampler-free path: the reference."""
    with av.open(str(path)) as container:
        stream, declared = container.streams.audio[0], declared_duration(container)
        resampler, pieces = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE), []
        for frame in container.decode(stream):
            frame.pts = None
            pieces += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        pieces += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(pieces), declared


@pytest.mark.parametrize("rate, channels", [(SAMPLE_RATE, 1), (44100, 2)])
@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_quick_probe_and_frames_taken_as_they_are_change_no_sample(tmp_path, speech, suffix, rate, channels):
    """Each format decodes and declares exactly what a full probe and the resampler on every frame give."""
    signal = np.interp(np.arange(0, len(speech), SAMPLE_RATE / rate), np.arange(len(speech)), speech)
    path = write_audio(tmp_path / f"clip{suffix}", signal, rate, channels)
    samples, declared = _fully_probed_and_resampled(path)
    decoded = decode_audio(path)
    assert decoded.samples.dtype == samples.dtype and np.array_equal(decoded.samples, samples)
    assert decoded.declared_duration == declared == probe_duration(path)


def test_stereo_44k_is_downmixed_and_resampled(tmp_path, speech):
    t44 = np.arange(int(len(speech) * 44100 / SAMPLE_RATE)) / 44100
    up = np.interp(t44, np.arange(len(speech)) / SAMPLE_RATE, speech).astype(np.float32)
    decoded = decode_audio(write_audio(tmp_path / "stereo.wav", np.stack([up, up], 1), rate=44100, channels=2))
    assert abs(decoded.duration - len(speech) / SAMPLE_RATE) < 0.01
    # The same signal on both channels averages to itself.
    assert np.corrcoef(decoded.samples[: len(speech)], speech[: len(decoded.samples)])[0, 1] > 0.95


def test_bad_files_raise_clear_errors(tmp_path):
    cases = {
        "empty.wav": (b"", "empty file"),
        "text.mp3": (b"this is not audio at all\n" * 20, "not a media file"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(AudioError, match=message) as err:
            decode_audio(path)
        assert str(path) in str(err.value)
    with pytest.raises(AudioError, match="no audio stream"):
        decode_audio(write_video_without_audio(tmp_path / "silent_film.mp4"))
    with pytest.raises(AudioError, match="file not found"):
        decode_audio(tmp_path / "missing.wav")


def test_truncated_file_is_flagged(tmp_path, speech):
    full = write_audio(tmp_path / "full.flac", speech)  # FLAC headers state the length
    cut = tmp_path / "cut.flac"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    decoded = decode_audio(cut)
    assert decoded.truncated and decoded.duration < decoded.declared_duration / 2


def test_silence_detection(speech):
    assert is_silent(np.zeros(16000, dtype=np.float32))
    assert is_silent(np.zeros(0, dtype=np.float32))
    assert not is_silent(speech)


def _frames(samples: np.ndarray, size: int) -> list[av.AudioFrame]:
    frames = []
    for start in range(0, len(samples), size):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + size], format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frames.append(frame)
    return frames


@pytest.mark.parametrize("declared", [None, 0.5, 2.0, 2.2, 60.0])
def test_decoded_samples_are_exact_whatever_the_header_declares(declared):
    # 2.2 s of samples, declared as unknown, far too short, about right, exact and far too long.
    samples = np.random.default_rng(0).uniform(-1, 1, int(2.2 * SAMPLE_RATE)).astype(np.float32)
    buffer = _Samples(declared)
    for n in range(0, len(samples), 4000):  # frames arrive in resampler batches
        buffer.extend(_frames(samples[n : n + 4000], 1024))
    out = buffer.array()
    assert out.dtype == np.float32 and np.array_equal(out, samples)
    held = out.base.nbytes if out.base is not None else out.nbytes
    assert held <= samples.nbytes + 4 * SAMPLE_RATE  # no room beyond the 1 s spare is kept

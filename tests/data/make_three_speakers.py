"""Regenerates tests/data/three_speakers.opus and three_speakers.json: three real people with known turns.

Two of them are Diane and Sheila, the real telephone conversation pyannote.audio ships as its sample
(`pyannote/audio/sample/sample.wav`, 30 s, 16 kHz, with the reference turns `sample.rttm`, overlapping speech
included; pyannote.audio 4.0.7, MIT). The third is Alan W Black, a real studio recording from CMU ARCTIC
(`cmu_us_awb_arctic`, `arctic_a0007.wav`, shipped in pysptk 1.0.1's source package; CMU ARCTIC's licence lets
anyone use and distribute it with its notice). His one utterance is band-limited to the telephone band
(300-3400 Hz) so that the voices, not the bandwidth, tell him apart, trimmed to its speech, and spoken twice:
before the call and at a silent point within it (21.63 s of the call, between two turns). Nothing is
synthesized. Needs the two packages' files, which pip fetches (no model, no hub); run from the repository root:

    .venv/bin/python tests/data/make_three_speakers.py [FOLDER]   # FOLDER: where the downloads are kept

three_speakers.json: every reference turn (start, end, speaker) in seconds, overlaps as the RTTM has them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RATE = 16_000
GAP = 0.6  # seconds of silence either side of an inserted turn
LEAD = 0.5
CUT = 21.63  # seconds into the call where nobody speaks (Diane stops at 21.49, Sheila starts at 21.78)
CALL_START = 6.2  # the call's first words are at 6.69 s; before that only line noise
NAMES = {"speaker90": "Diane", "speaker91": "Sheila"}
PYANNOTE, PYSPTK = "pyannote-audio==4.0.7", "pysptk==1.0.1"


def fetch(folder: Path) -> tuple[bytes, str, bytes]:
    """The call's audio and RTTM and the ARCTIC clip, from the packages pip downloads (no install)."""
    for spec, kind in ((PYANNOTE, "--only-binary"), (PYSPTK, "--no-binary")):  # pysptk is only a source package
        if not list(folder.glob(spec.split("==")[0].replace("-", "_") + "-*")):
            command = [sys.executable, "-m", "pip", "download", "--no-deps", kind, spec.split("==")[0], spec]
            subprocess.run([*command, "-d", str(folder)], check=True, capture_output=True)
    with zipfile.ZipFile(next(folder.glob("pyannote_audio-*.whl"))) as wheel:
        call = wheel.read("pyannote/audio/sample/sample.wav")
        rttm = wheel.read("pyannote/audio/sample/sample.rttm").decode()
    with tarfile.open(next(folder.glob("pysptk-*.tar.gz"))) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.endswith("example_audio_data/arctic_a0007.wav"))
        clip = sdist.extractfile(member).read()  # type: ignore[union-attr]
    return call, rttm, clip


def read_wav(data: bytes) -> np.ndarray:
    import io

    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate == RATE and samples.ndim == 1, (rate, samples.shape)
    return samples


def telephone_band(samples: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    return sosfiltfilt(sos, samples).astype(np.float32)


def trimmed(samples: np.ndarray, window: int = 160, threshold: float = 0.01) -> np.ndarray:
    """The clip from its first to its last 10 ms window above about -40 dBFS RMS."""
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > threshold)
    return samples[loud[0] * window : (loud[-1] + 1) * window]


def build(call: np.ndarray, rttm: str, clip: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Alan, the call up to CUT, Alan again, the rest of the call; the turns on the new timeline."""
    # Alan's clip is studio-loud; bring it to the call's speech level (RMS over the RTTM's turns).
    rows = [line.split() for line in rttm.splitlines() if line.startswith("SPEAKER")]
    call_turns = [(float(r[3]), float(r[3]) + float(r[4]), NAMES[r[7]]) for r in rows]
    level = np.sqrt(np.mean(np.concatenate([call[int(s * RATE) : int(e * RATE)] for s, e, _ in call_turns]) ** 2))
    alan = clip * (level / np.sqrt(np.mean(clip**2)))
    silence = np.zeros(int(GAP * RATE), np.float32)
    first, second = call[int(CALL_START * RATE) : int(CUT * RATE)], call[int(CUT * RATE) :]
    pieces = [np.zeros(int(LEAD * RATE), np.float32), alan, silence, first, silence, alan, silence, second]
    pieces.append(np.zeros(int(LEAD * RATE), np.float32))
    alan_s = len(alan) / RATE
    offset_first = LEAD + alan_s + GAP - CALL_START
    second_alan = offset_first + CUT + GAP
    offset_second = second_alan + alan_s + GAP - CUT
    turns = [{"start": LEAD, "end": LEAD + alan_s, "speaker": "Alan"}]
    turns.append({"start": second_alan, "end": second_alan + alan_s, "speaker": "Alan"})
    for start, end, name in call_turns:
        shift = offset_first if end <= CUT else offset_second
        assert end <= CUT or start >= CUT, "CUT must fall between turns"
        turns.append({"start": start + shift, "end": end + shift, "speaker": name})
    turns = [{**t, "start": round(t["start"], 3), "end": round(t["end"], 3)} for t in turns]
    return np.concatenate(pieces), sorted(turns, key=lambda t: t["start"])


def main() -> None:
    """Builds the file and its description."""
    sys.path.insert(0, str(HERE))
    from make_pauses import encode_opus

    with tempfile.TemporaryDirectory() as tmp:  # or a folder already holding the two downloads
        call, rttm, clip = fetch(Path(sys.argv[1] if len(sys.argv) > 1 else tmp))
    audio, turns = build(read_wav(call), rttm, trimmed(telephone_band(read_wav(clip))))
    encode_opus(audio, HERE / "three_speakers.opus", 32_000)
    description = {
        "generator": "tests/data/make_three_speakers.py",
        "sources": {
            "Diane, Sheila": f"{PYANNOTE} wheel, pyannote/audio/sample/sample.wav and sample.rttm (MIT)",
            "Alan": f"{PYSPTK} sdist, pysptk/example_audio_data/arctic_a0007.wav (CMU ARCTIC, cmu_us_awb_arctic)",
        },
        "audio": "three_speakers.opus",
        "duration": round(len(audio) / RATE, 4),
        "turns": turns,
    }
    (HERE / "three_speakers.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

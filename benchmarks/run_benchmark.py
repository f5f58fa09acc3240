"""Speed, memory and accuracy of preannotate's engines beside the plain `whisper` CLI and plain faster-whisper.

Builds the speech set (benchmarks/dataset.py), then runs each configuration as its own process on the
same files, with the same model and decoding options, one after another in this session, and prints
wall seconds, real-time factor, peak RSS (of the process and its children, from wait4), normalized WER
and the ratios to the `whisper` CLI. Results go to benchmarks/results.json. A one-hour file then shows
the peak RSS of both preannotate engines on long audio.

`--drafts` runs the drafts comparison instead (benchmarks/drafts.py): each bundled model with greedy decoding
and with beam 5 (preannotate's default), on faster-whisper and, for tiny.en, openai-whisper, with WER, time,
peak RSS and needs_review precision/recall against the references, beside the same model's greedy run; it
replaces only the `drafts` entry of the results file.

`--speakers` runs the speakers section instead (benchmarks/speakers.py): DER of the offline diarization on
conversations with known turns beside pyannote's published figures, and the wall time diarization adds to a
faster-whisper run on the same audio; it replaces only the `speakers` entry of the results file.

    .venv/bin/python benchmarks/run_benchmark.py              # or: make bench
    .venv/bin/python benchmarks/run_benchmark.py --skip-long --repeat 2
    .venv/bin/python benchmarks/run_benchmark.py --drafts     # or: make bench BENCH_ARGS=--drafts
    .venv/bin/python benchmarks/run_benchmark.py --drafts --files counting.wav weather_report.wav
    .venv/bin/python benchmarks/run_benchmark.py --speakers   # or: make bench BENCH_ARGS=--speakers
    .venv/bin/python benchmarks/run_benchmark.py --short-clips 150  # many short clips: packing against one by one

Then, unless skipped, a two-hour recording that is 90% silence before and after silence skipping
(benchmarks/silence.py, `--skip-silence`), and the costs around the model: per-file overhead on 2,000 quiet
files and start-up beside plain faster-whisper and the `whisper` command (benchmarks/overhead.py,
`--skip-overhead`), and the memory of the slowed decode on two hours of speech beside the draft's decode
(benchmarks/slowed_memory.py, `--skip-slowed-memory`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import overhead
import silence
import slowed_memory
from dataset import build_long_file, build_set
from drafts import drafts, review_columns
from measure import BIN, THREADS, Config, machine, preannotate_texts, read_json, run_all
from short_clips import short_clips
from speakers import speakers

from preannotate.asr.weights.device import ctranslate2_sees_cuda

HERE = Path(__file__).resolve().parent
SHARED = {"language": "en", "beam_size": 5, "best_of": 5, "word_timestamps": True}  # the CLI's beam and best_of
BATCH_SIZE = 8
# Batched inference decodes VAD chunks independently, without fallback: preannotate asks for these options.
BATCHED_TRANSCRIBE = ["transcribe.temperature=0", "transcribe.condition_on_previous_text=false"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=HERE.parent / "runs" / "bench", help="scratch folder")
    parser.add_argument("--model", help="default: bundled:tiny.en; with --speakers, bundled:base (a run's default)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration; the fastest counts")
    parser.add_argument("--only", nargs="*", help="configuration names to run")
    parser.add_argument("--long-minutes", type=float, default=60.0)
    parser.add_argument("--skip-long", action="store_true", help="skip the one-hour memory check")
    parser.add_argument("--results", type=Path, default=HERE / "results.json")
    parser.add_argument("--drafts", action="store_true", help="compare models and greedy / beam 5 decoding only")
    parser.add_argument("--files", nargs="*", help="only these files of the set (e.g. to fit a time budget)")
    parser.add_argument("--speakers", action="store_true", help="diarization error rate and added time only")
    parser.add_argument("--speakers-minutes", type=float, default=5.0, help="audio for the speakers timing")
    parser.add_argument("--skip-silence", action="store_true", help="skip the two-hour mostly silent recording")
    parser.add_argument("--skip-overhead", action="store_true", help="skip per-file overhead and start-up")
    parser.add_argument("--skip-slowed-memory", action="store_true", help="skip the slowed decode's memory")
    silence.add_arguments(parser)
    parser.add_argument("--short-clips", type=int, default=0, help="run only the short-clips section, on N clips")
    parser.add_argument("--gpu", action="store_true", help="with --short-clips: on CUDA, float16 (needs a GPU)")
    args = parser.parse_args()
    if args.short_clips:
        if args.gpu and not ctranslate2_sees_cuda():
            sys.exit("--gpu: no CUDA device here; the GPU section runs on a machine with one")
        args.model = args.model or "bundled:tiny.en"
        _, ct2 = prepare_model(args.model)
        clips = short_clips(args, preannotate, ct2)
        section = "short_clips_gpu" if args.gpu else "short_clips"
        return save(args.results, section, {"machine": machine(os.getloadavg()), "cuda": args.gpu, **clips})
    if args.speakers:
        args.model = args.model or "bundled:base"
        return save(args.results, "speakers", speakers(args))
    args.model = args.model or "bundled:tiny.en"
    data = args.work / "data"
    files = [f for f in build_set(data) if not args.files or f["file"] in args.files]
    audio_s = sum(f["duration"] for f in files)
    if args.drafts:
        return save(args.results, "drafts", drafts(args, data, files, audio_s, review=review_columns(files)))
    pt, ct2 = prepare_model(args.model)
    chosen = lambda configs: [c for c in configs if not args.only or c.name in args.only]  # noqa: E731
    load = os.getloadavg()
    records = run_all(chosen(configurations(args, data, files, pt, ct2)), files, audio_s, args.work, args.repeat)
    print_table(records)
    result = {"machine": machine(load), "model": args.model, "options": options_used(), "audio_s": audio_s,
              "files": [f["file"] for f in files], "records": records, "targets": targets(records)}  # fmt: skip
    if not args.skip_long:
        entry = build_long_file(data, files, args.long_minutes * 60, args.work / "long")
        configs = chosen(long_file_configurations(args, args.work / "long"))
        result["long_file"] = run_all(configs, [entry], entry["duration"], args.work, 1)
        print_table(result["long_file"])
        result["targets"] += memory_targets(result["long_file"])
    if not args.skip_silence:
        result["silence"] = silence.run(args)
        silence.print_records(result["silence"])
    if not args.skip_overhead:
        result["overhead"] = overhead.run(args.work, 2000, args.repeat)
    if not args.skip_slowed_memory:
        result["slowed_memory"] = slowed_memory.run(args.work, 120.0, max(2, args.repeat))
        slowed_memory.print_result(result["slowed_memory"])
        result["targets"] += result["slowed_memory"]["targets"]
    for target in result["targets"]:
        print(f"{'met' if target['met'] else 'NOT met'}: {target['target']} ({target['ratio']})")
    kept = json.loads(args.results.read_text()) if args.results.is_file() else {}
    kept = {k: v for k, v in kept.items() if k in SECTIONS}  # the sections other flags write stay
    args.results.write_text(json.dumps({**kept, **result}, indent=2) + "\n")
    print(f"\nresults in {args.results}")


# Written by their own flags, kept by a full run.
SECTIONS = ("drafts", "review", "speakers", "short_clips", "short_clips_gpu", "slowed_memory")


def save(path: Path, section: str, entry: dict) -> None:
    """Replaces one section of the results file, keeping the others and the section's `earlier` runs."""
    result = json.loads(path.read_text()) if path.is_file() else {}
    previous = result.get(section)
    if isinstance(previous, dict) and "earlier" in previous:  # the README cites them
        entry = {**entry, "earlier": previous["earlier"]}
    result[section] = entry
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults in {path} ({section})")


def prepare_model(name: str) -> tuple[Path, Path]:
    """Converts the model to openai-whisper's .pt once (the CLI needs a checkpoint) and finds its CTranslate2 folder."""
    imports = "from preannotate.asr import prepare, weights; from preannotate.options import ModelOptions"
    pt = _print_in_subprocess(
        f"{imports}; print(weights.converted_checkpoint(weights.resolve_model(ModelOptions(name={name!r}))))"
    )
    folder = _print_in_subprocess(
        f"{imports}; from preannotate.asr.faster_whisper.folder import model_folder; "
        f"print(model_folder(prepare(ModelOptions(name={name!r}, device='cpu', engine='faster-whisper')))[0])"
    )
    return Path(pt), Path(folder)


def _print_in_subprocess(code: str) -> str:
    """Runs Python code in a child process (its model and torch stay out of this one) and returns what it prints."""
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def configurations(args: argparse.Namespace, data: Path, files: list[dict], pt: Path, ct2: Path) -> list[Config]:
    """The five configurations the issue names, with the same model and decoding options."""
    paths = [str(data / f["file"]) for f in files]
    out = args.work / "out"
    out.mkdir(parents=True, exist_ok=True)
    cli = [str(BIN / "whisper"), *paths, "--model", str(pt), "--language", "en", "--beam_size", "5", "--best_of", "5",
           "--temperature", "0", "--temperature_increment_on_fallback", "0.2", "--word_timestamps", "True",
           "--fp16", "False", "--output_format", "json", "--verbose", "False",
           "--output_dir", str(out / "cli")]  # fmt: skip
    plain = [sys.executable, str(HERE / "plain_faster.py"), *paths, "--model-dir", str(ct2), "--threads", str(THREADS),
             "--out", str(out / "plain.json"), "--word-timestamps"]  # fmt: skip
    sequential = ["model.engine=faster-whisper"]
    batched = [*sequential, f"model.faster_whisper.batch_size={BATCH_SIZE}", *BATCHED_TRANSCRIBE]
    return [
        Config("whisper-cli", cli, lambda: cli_texts(out / "cli", files)),
        preannotate(args, data, out / "openai", []),
        Config("faster-whisper", plain, lambda: {Path(k).name: v for k, v in read_json(out / "plain.json").items()}),
        preannotate(args, data, out / "faster", sequential),
        preannotate(args, data, out / "batched", batched, "-batched"),
    ]


def long_file_configurations(args: argparse.Namespace, data: Path) -> list[Config]:
    """Each preannotate engine on the one-hour file, with preannotate's default options (beam 5 since issue 12)."""
    out, suffix = args.work / "out-long", f"-{args.long_minutes:g}min"
    fast = ["model.engine=faster-whisper"]
    batched = [*fast, f"model.faster_whisper.batch_size={BATCH_SIZE}", *BATCHED_TRANSCRIBE]
    split = [*fast, "model.faster_whisper.split_long_files=true"]
    return [
        preannotate(args, data, out / "openai", [], suffix, shared=False),
        preannotate(args, data, out / "faster", fast, suffix, shared=False),
        preannotate(args, data, out / "batched", batched, f"-batched{suffix}", shared=False),
        preannotate(args, data, out / "split", split, f"-split{suffix}", shared=False),
    ]


def preannotate(
    args: argparse.Namespace, data: Path, out: Path, overrides: list[str], suffix: str = "", shared: bool = True
) -> Config:
    engine = "faster-whisper" if "model.engine=faster-whisper" in overrides else "openai-whisper"
    settings = [f"model.name={args.model}", "model.device=cpu", "superannotate.dry_run=true", *overrides]
    greedy_only = "transcribe.temperature=0" in overrides  # best_of only applies to sampling: preannotate refuses it
    if shared:
        settings += [f"transcribe.{k}={str(v).lower()}" for k, v in SHARED.items() if k != "best_of" or not greedy_only]
    command = [str(BIN / "preannotate"), "-q", "run", "-i", str(data), "-o", str(out), "--force", "--no-progress"]
    command += [arg for s in settings for arg in ("--set", s)]
    return Config(f"preannotate-{engine}{suffix}", command, lambda: preannotate_texts(out))


def cli_texts(out: Path, files: list[dict]) -> dict[str, str]:
    return {f["file"]: read_json(out / f"{Path(f['file']).stem}.json")["text"] for f in files}


def print_table(records: list[dict]) -> None:
    print(f"\n{'name':38} {'wall s':>8} {'RTF':>7} {'peak MB':>8} {'WER %':>6} {'x CLI time':>10} {'speed-up':>8}")
    for r in records:
        ratio = r.get("wall_ratio_to_cli")
        cells = f"{ratio:10.3f} {1 / ratio:7.2f}x" if ratio else f"{'':10} {'':8}"
        print(
            f"{r['name']:38} {r['wall_s']:8.1f} {r['rtf']:7.3f} {r['peak_rss_mb']:8.0f} {100 * r['wer']:6.1f} {cells}"
        )


def targets(records: list[dict]) -> list[dict]:
    """The issue's three targets, checked against these figures."""
    r = {x["name"]: x for x in records}
    need = ("whisper-cli", "preannotate-openai-whisper", "faster-whisper", "preannotate-faster-whisper",
            "preannotate-faster-whisper-batched")  # fmt: skip
    if not all(n in r for n in need):
        return []
    cli, openai, plain = r["whisper-cli"], r["preannotate-openai-whisper"], r["faster-whisper"]
    fast, batched = r["preannotate-faster-whisper"], r["preannotate-faster-whisper-batched"]
    checks = [
        ("preannotate openai-whisper <= 1.05 x CLI time, same WER",
         openai["wall_s"] <= 1.05 * cli["wall_s"] and abs(openai["wer"] - cli["wer"]) < 0.005,
         openai["wall_s"] / cli["wall_s"]),
        ("preannotate faster-whisper >= 5 x faster than the CLI, WER within 1 point",
         cli["wall_s"] >= 5 * fast["wall_s"] and fast["wer"] <= cli["wer"] + 0.01, cli["wall_s"] / fast["wall_s"]),
        ("batched + VAD + int8 faster than plain faster-whisper, WER within 1 point",
         batched["wall_s"] < plain["wall_s"] and batched["wer"] <= plain["wer"] + 0.01,
         plain["wall_s"] / batched["wall_s"]),
    ]  # fmt: skip
    return [{"target": name, "met": bool(met), "ratio": round(ratio, 3)} for name, met, ratio in checks]


def memory_targets(records: list[dict]) -> list[dict]:
    """The one-hour file under 1.5 GB peak RSS, for each engine run on it (ratio: peak / 1.5 GB)."""
    limit_mb = 1500 * 1000**2 / 1024**2  # 1.5 GB in the MiB that peak_rss_mb counts
    return [
        {"target": f"{r['name']}: peak RSS under 1.5 GB", "met": r["peak_rss_mb"] < limit_mb,
         "ratio": round(r["peak_rss_mb"] / limit_mb, 3)}
        for r in records
    ]  # fmt: skip


def options_used() -> dict:
    return {**SHARED, "temperature": "0 to 1 by 0.2 (fallback); batched: 0 only (it has no fallback)",
            "condition_on_previous_text": "true; batched: false (it decodes VAD chunks independently)",
            "device": "cpu", "threads": THREADS, "faster_whisper_compute_type": "int8",
            "workers": {"faster-whisper": "1 file at a time on all cores, as its README shows",
                        "preannotate-faster-whisper": "num_workers auto: a file per core, 1 thread each",
                        "preannotate-faster-whisper-batched": "num_workers auto: 1, on all cores"},
            "batched": {"batch_size": BATCH_SIZE, "vad_filter": True}}  # fmt: skip


if __name__ == "__main__":
    main()

"""The exported dataset as an ML engineer loads it (helper audit, 2026-12-05).

Each case failed before its fix: clips of a channels-mode run mixed both parties, texts such as "NA" or "007"
changed in `datasets`' reading of metadata.csv, a second run's export replaced the first's dataset without a
word, an export that could not read an item's media dropped that item's clips from the earlier dataset, and two
items whose names differ only in replaced characters shared a clip name stem.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pyarrow.json as paj
import pytest
from support.media import read_sample
from support.pulled_runs import ANNOTATION, make_pulled_run, snapshot

from preannotate.correction.dataset import export_dataset
from preannotate.errors import CorrectionError, DestinationError
from preannotate.options import DatasetExportOptions

RATE = 16_000


def clip_samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def pcm16(samples: np.ndarray) -> np.ndarray:
    return np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")


def test_a_channels_mode_runs_clips_are_cut_from_each_speakers_channel(tmp_path: Path) -> None:
    """A stereo call: each party's words were transcribed from their channel alone, so are their clips."""
    agent, caller = read_sample("en/hello_world"), read_sample("en/counting")
    n = max(len(agent), len(caller))
    call = np.stack([np.pad(agent, (0, n - len(agent))), np.pad(caller, (0, n - len(caller)))], axis=1)
    spec = [(0.0, 1.2, "Hello world.", "Agent"), (0.0, 3.0, "One, two, three.", "ch2"), (1.0, 2.0, "Hm.", "Visitor")]
    out = make_pulled_run(
        tmp_path, {"call.wav": (call, spec)}, ["speakers.mode=channels", "speakers.channel_names=[Agent]"]
    )
    report = export_dataset(out, DatasetExportOptions(), ANNOTATION)
    clips = sorted((out / "dataset" / "clips").iterdir())
    assert report.clips == 3 and [c.name for c in clips] == [f"call.wav-000{i}.wav" for i in range(3)]
    pcm = pcm16(call).astype(float)  # the WAV the run read, as 16-bit samples

    def near(clip: Path, expected: np.ndarray) -> bool:  # to a step of 16-bit rounding
        got = clip_samples(clip).astype(float)
        return len(got) == len(expected) and np.abs(got - expected).max() <= 1.5

    assert near(clips[0], pcm[: int(1.2 * RATE), 0])  # the agent's channel alone
    assert near(clips[1], pcm[: 3 * RATE, 1])  # the caller's
    assert near(clips[2], pcm[RATE : 2 * RATE].mean(axis=1))  # no channel's speaker: both channels mixed, said so
    assert any("Visitor name no channel of the run (Agent, ch2)" in note for note in report.notes["call.wav"])


def test_texts_like_missing_values_or_numbers_load_as_the_exact_text(tmp_path: Path) -> None:
    """`datasets` reads metadata.jsonl with pyarrow's JSON reader (as here); a metadata.csv went through pandas,
    which made "NA" and "None" missing values and a column of "007" floats."""
    texts = ["NA", "None", "007", "1.50", "null"]
    spec = [(1.0 * i, 1.0 * i + 0.8, text) for i, text in enumerate(texts)]
    out = make_pulled_run(tmp_path, {"a.wav": (np.zeros(6 * RATE, dtype=np.float32), spec)})
    export_dataset(out, DatasetExportOptions(), ANNOTATION)
    table = paj.read_json(out / "dataset" / "metadata.jsonl")
    assert str(table.schema.field("transcription").type) == "string"
    assert table.column("transcription").to_pylist() == texts
    assert not (out / "dataset" / "metadata.csv").exists()
    numbers = make_pulled_run(tmp_path / "numbers", {"b.wav": (np.zeros(5 * RATE, dtype=np.float32), spec[2:4])})
    export_dataset(numbers, DatasetExportOptions(), ANNOTATION)
    assert paj.read_json(numbers / "dataset" / "metadata.jsonl").column("transcription").to_pylist() == ["007", "1.50"]


def test_another_runs_export_is_not_replaced(tmp_path: Path) -> None:
    """Two runs exported into one shared folder: the second replaced the first's dataset without a word."""
    first = make_pulled_run(tmp_path / "a", {"one.wav": (read_sample("en/hello_world"), [(0.0, 1.2, "Hello.")])})
    second = make_pulled_run(tmp_path / "b", {"two.wav": (read_sample("en/counting"), [(0.0, 2.0, "One, two.")])})
    dest = tmp_path / "shared"
    export_dataset(first, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    before = snapshot(dest)
    with pytest.raises(
        DestinationError, match=r"holds clips of recordings that are not items of the run .*\(one\.wav\)"
    ):
        export_dataset(second, DatasetExportOptions(dir=str(dest)), ANNOTATION)
    assert snapshot(dest) == before
    export_dataset(first, DatasetExportOptions(dir=str(dest), sample_rate=8000), ANNOTATION)  # its own run: replaced
    assert snapshot(dest) != before


def test_an_export_that_cannot_read_an_item_it_held_keeps_the_earlier_dataset(tmp_path: Path) -> None:
    items = {
        "one.wav": (read_sample("en/hello_world"), [(0.0, 1.2, "Hello world.")]),
        "two.wav": (read_sample("en/counting"), [(0.0, 2.0, "One, two."), (2.0, 3.0, "Three.")]),
    }
    out = make_pulled_run(tmp_path, items)
    export_dataset(out, DatasetExportOptions(), ANNOTATION)
    before = snapshot(out / "dataset")
    shutil.move(tmp_path / "in" / "two.wav", tmp_path / "two.wav")  # moved away: its clips here may be the last
    with pytest.raises(CorrectionError, match=r"holds clips of 1 item\(s\) whose media cannot be read now.*two\.wav"):
        export_dataset(out, DatasetExportOptions(), ANNOTATION)
    assert snapshot(out / "dataset") == before
    done = subprocess.run(
        [sys.executable, "-m", "preannotate", "export", "-o", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr and "two.wav: cannot read its source" in done.stderr
    assert snapshot(out / "dataset") == before
    partial = export_dataset(out, DatasetExportOptions(dir=str(tmp_path / "new")), ANNOTATION)  # elsewhere: as before
    assert partial.clips == 1 and "two.wav" in partial.problems


def test_items_whose_names_differ_in_replaced_characters_keep_one_stem_each(tmp_path: Path) -> None:
    silence = np.zeros(5 * RATE, dtype=np.float32)
    items = {"a b.wav": (silence, [(0.0, 1.0, "one"), (1.0, 2.0, "two")])}
    items["a_b.wav"] = (silence, [(1.0 * i, 1.0 * i + 0.9, f"w{i}") for i in range(4)])
    out = make_pulled_run(tmp_path, items)
    export_dataset(out, DatasetExportOptions(), ANNOTATION)
    names = sorted(p.name for p in (out / "dataset" / "clips").iterdir())
    assert names == ["a_b.wav-0000.wav", "a_b.wav-0001.wav", *(f"a_b.wav~1-000{i}.wav" for i in range(4))]
    lines = (out / "dataset" / "manifest.jsonl").read_text().splitlines()
    texts = {json.loads(line)["audio_filepath"]: json.loads(line)["text"] for line in lines}
    assert texts["clips/a_b.wav~1-0003.wav"] == "w3" and texts["clips/a_b.wav-0001.wav"] == "two"


def test_a_mount_point_destination_is_refused_before_any_work(tmp_path: Path) -> None:
    """A volume's root (Docker, Kubernetes) cannot be renamed: the export failed after all its work, EBUSY."""
    out = make_pulled_run(tmp_path, {"one.wav": (read_sample("en/hello_world"), [(0.0, 1.2, "Hello world.")])})
    volume = tmp_path / "volume"
    volume.mkdir()
    export = f"{sys.executable} -m preannotate export -o {out} --dest {volume}"
    script = f"mount -t tmpfs tmpfs {volume} || exit 77; {export}; echo rc=$?; ls -A {volume} {tmp_path}"
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True, text=True
    )
    if done.returncode == 77 or "unshare" in done.stderr and "rc=" not in done.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert "rc=2" in done.stdout and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert f"cannot export to {volume}: it is a mount point" in done.stderr
    assert ".volume.partial" not in done.stdout  # no staging folder left beside it

"""Audit of the first promise where a bucket is involved: nothing of the user's is written over or fed back.

Only `input.dir` may be a bucket: every place the tool writes (`-o`, `--dest`, `--out`, a notebook's
`output_dir`, the model cache) named as a bucket URL is refused before any work, as `Path("s3://b/x")` would
silently be the local folder `s3:/b/x`. A dataset `preannotate export` made, copied into the input prefix, is
left out of the next run, as it is from a local input folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.cloud_s3 import BUCKET

from preannotate import cli
from preannotate.discover import discover
from preannotate.errors import ConfigError
from preannotate.naming import EXPORT_MARKER
from preannotate.notebook import config_from_parameters
from preannotate.options import MEDIA_EXTENSIONS

SAYS = "only input.dir may be a bucket"
# The user's objects under the prefix given as output, named like what a run writes (another tool's, or edited).
THEIRS = {"out/run.json": b"{}", "out/chunks.csv": b"theirs\n", "out/transcripts/a.wav.json": b"{}", "out/x.tmp": b"t"}
# A dataset `preannotate export` made, copied into the input prefix next to the recordings.
EXPORT = ["set/dataset/" + EXPORT_MARKER, "set/dataset/clips/a_0000.wav", "set/dataset/metadata.csv"]


def _objects(s3) -> dict[str, str]:
    """Every key of the bucket with its ETag: what must stay as it was."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def _put(s3, keys: dict[str, bytes]) -> None:
    for key, body in keys.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _leaves_no_local_scheme_folder(cwd: Path) -> None:
    assert not [p.name for p in cwd.iterdir() if p.name.endswith(":")], "a local `s3:` folder was written"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "-i", f"s3://{BUCKET}/set", "-o", f"s3://{BUCKET}/out"], "output.dir"),
        (["run", "-i", f"s3://{BUCKET}/set", "-o", "S3A://recordings/out"], "output.dir"),
        (["run", "-i", f"s3://{BUCKET}/set", "-o", "run", "--set", "model.download_root=gs://m/cache"], "model.down"),
        (["upload", "-o", f"s3://{BUCKET}/out"], "output.dir"),
        (["pull", "-o", f"s3://{BUCKET}/out"], "output.dir"),
        (["export", "-o", "run", "--dest", f"s3://{BUCKET}/out"], "dataset.dir"),
        (["export", "-o", "run", "--set", "dataset.dir=az://c/dataset"], "dataset.dir"),
        (["calibrate", "-o", "run", "--out", f"s3://{BUCKET}/out/model.json"], "--out"),
        (["calibrate", "-o", f"s3://{BUCKET}/out"], "output.dir"),
        (["batch", "--datasets", "in", "--out", f"s3://{BUCKET}/out"], "--out"),
    ],
)
def test_a_bucket_url_where_the_tool_writes_is_refused_before_any_work(
    s3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, args: list[str], named: str
) -> None:
    _put(s3, {**THEIRS, "set/a.wav": b"RIFF"})
    before = _objects(s3)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in" / "one").mkdir(parents=True)
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and named in err and SAYS in err and "Traceback" not in err, err
    assert _objects(s3) == before
    _leaves_no_local_scheme_folder(tmp_path)


def test_a_notebook_or_batch_run_with_a_bucket_output_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"output.dir is a bucket URL \\(gs://...\\): {SAYS}"):
        config_from_parameters({"input_dir": "gs://team/calls", "output_dir": "gs://team/runs/calls"})
    runs = tmp_path / "runs.yaml"
    runs.write_text(yaml.safe_dump({"runs": [{"name": "a", "output_dir": f"s3://{BUCKET}/out"}]}), encoding="utf-8")
    code = cli.main(["batch", "--runs", str(runs), "--out", str(tmp_path / "batch")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and f"run 'a': output.dir is a bucket URL (s3://...): {SAYS}" in err, err
    assert not (tmp_path / "batch").exists()
    _leaves_no_local_scheme_folder(tmp_path)


def test_the_message_never_quotes_a_key_in_the_url() -> None:
    with pytest.raises(ConfigError) as refused:
        config_from_parameters({"output_dir": "s3://bucket/AKIAEXAMPLEKEY/out"})
    assert "AKIAEXAMPLEKEY" not in str(refused.value) and "bucket" in str(refused.value)


def _tree(root: Path, keys: list[str]) -> None:
    for key in keys:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"x")


def test_an_export_copied_into_the_input_prefix_is_not_transcribed_as_new_audio(s3, tmp_path: Path) -> None:
    recordings = ["set/a.wav", "set/day1/b.wav", "set/deep/er/c.wav"]
    keys = [*recordings, *EXPORT, *(k.replace("set/dataset", "set/deep/ds") for k in EXPORT)]
    _put(s3, {key: b"x" for key in keys})
    _tree(tmp_path, keys)
    remote = discover(f"s3://{BUCKET}/set", MEDIA_EXTENSIONS)
    local = discover(tmp_path / "set", MEDIA_EXTENSIONS)
    assert [m.source for m in remote] == [m.source for m in local] == ["a.wav", "day1/b.wav", "deep/er/c.wav"]
    assert [m.item for m in remote] == [m.item for m in local]


def test_an_export_given_as_the_input_prefix_itself_is_read(s3, tmp_path: Path) -> None:
    _put(s3, {key: b"x" for key in EXPORT})
    _tree(tmp_path, EXPORT)
    remote = discover(f"s3://{BUCKET}/set/dataset", MEDIA_EXTENSIONS)
    local = discover(tmp_path / "set" / "dataset", MEDIA_EXTENSIONS)
    assert [m.source for m in remote] == [m.source for m in local] == ["clips/a_0000.wav"]

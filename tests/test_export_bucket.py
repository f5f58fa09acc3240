"""`preannotate export` after a run over a bucket: clips cut from the objects the run transcribed.

Against a real S3 API on loopback (moto's ThreadedMotoServer, see support/cloud_s3.py). Export reads each
item's object pinned to the ETag and size its transcript recorded, so an object overwritten since fails that
item (its clips would not match the corrections), a deleted one fails alone, and a dead endpoint stops it.
Before, export decoded the local path `s3:/recordings/set/<source>` and failed every item.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.cloud_runs import CLIPS, check_run_like_local, upload_clips
from support.cloud_s3 import BUCKET, free_port
from support.correction_runs import run_cli
from support.media import read_sample, write_wav16
from support.pulled_runs import ANNOTATION, make_pulled_run

from preannotate.cloud import filesystem as cloud_filesystem
from preannotate.correction.dataset import export_dataset
from preannotate.correction.destination import MARKER
from preannotate.correction.media import CHANGED
from preannotate.correction.pull import PulledItem, PullReport
from preannotate.discover import discover
from preannotate.errors import CorrectionError, StorageLostError
from preannotate.options import MEDIA_EXTENSIONS, DatasetExportOptions
from preannotate.run.resume import source_state
from preannotate.storage import write_json_atomic

URL = f"s3://{BUCKET}/set"
FOX = read_sample("en/quick_brown_fox")
ITEMS = {
    "fox.wav": (FOX, [(0.0, 1.2, "The quick brown fox"), (1.2, 2.8, "jumps over the lazy dog.")]),
    "hello.wav": (read_sample("en/hello_world"), [(0.0, 1.1, "Hello world.")]),
    "count.wav": (read_sample("en/counting"), [(0.2, 1.5, "Counting"), (1.5, 2.9, "slowly.")]),
}


def snapshot(dataset: Path) -> dict[str, bytes]:
    """The dataset's files but export.json and the marker (which hold its time and folder)."""
    files = sorted(p for p in dataset.rglob("*") if p.is_file() and p.name not in ("export.json", MARKER))
    return {p.relative_to(dataset).as_posix(): p.read_bytes() for p in files}


def export(out: Path, dest: Path, input_dir: str | Path | None = None):
    return export_dataset(out, DatasetExportOptions(dir=str(dest)), ANNOTATION, input_dir)


def bucket_run(s3, root: Path) -> Path:
    """ITEMS as `set/<item>` in the bucket (and under root/in), and a run over the bucket, pulled unchanged.

    Written without a model: run.json names the bucket as its input, and each transcript records its object
    as the run does (`source_state` of the listed object: URL, ETag, version id, size).
    """
    out = make_pulled_run(root, ITEMS)
    for path in sorted((root / "in").iterdir()):
        s3.put_object(Bucket=BUCKET, Key=f"set/{path.name}", Body=path.read_bytes())
    record = json.loads((out / "run.json").read_text())
    record["config"]["input"]["dir"] = URL
    (out / "run.json").write_text(json.dumps(record))
    (out / "transcripts").mkdir()
    for media in discover(URL, MEDIA_EXTENSIONS):
        meta = {"item": media.item, "source": {"path": media.source, **source_state(media.path, None)}}
        (out / "transcripts" / f"{media.item}.json").write_text(json.dumps({"meta": meta}))
    return out


def pull_unchanged(out: Path) -> None:
    """Each draft the run exported pulled back Completed, as annotators who changed nothing."""
    (out / "corrected").mkdir()
    pulled = []
    for draft in sorted((out / "superannotate").glob("*.json")):
        shutil.copy(draft, out / "corrected" / draft.name)
        pulled.append(PulledItem(draft.name.removesuffix(".json"), status="Completed", file=f"corrected/{draft.name}"))
    write_json_atomic(out / "pulled.json", PullReport("Project", "target", items=pulled).to_dict())


def test_a_bucket_runs_export_cuts_the_clips_of_the_same_run_over_a_local_copy(s3, tmp_path, tiny_model):
    upload_clips(lambda key, body: s3.put_object(Bucket=BUCKET, Key=key, Body=body), tmp_path)
    check_run_like_local(f"s3://{BUCKET}", tmp_path)  # real runs of the bundled model: the same chunks
    for out in (tmp_path / "remote", tmp_path / "local"):
        pull_unchanged(out)
    remote, local = export(tmp_path / "remote", tmp_path / "ds-remote"), export(tmp_path / "local", tmp_path / "ds")
    assert remote.problems == {} and remote.clips == local.clips >= len(CLIPS)
    assert snapshot(tmp_path / "ds-remote") == snapshot(tmp_path / "ds")

    hello = (tmp_path / "in" / "en" / "hello_world.wav").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="set/en/counting.wav", Body=hello)  # overwritten since the run
    s3.delete_object(Bucket=BUCKET, Key="set/en/hello_world.wav")
    before = snapshot(tmp_path / "ds-remote")
    with pytest.raises(CorrectionError, match=r"holds clips of 2 item\(s\) whose media cannot be read now"):
        export(tmp_path / "remote", tmp_path / "ds-remote")  # their clips there may be the only ones left
    assert snapshot(tmp_path / "ds-remote") == before
    again = export(tmp_path / "remote", tmp_path / "ds-new")
    changed = f"{URL}/en/counting.wav: {CHANGED}"
    assert again.problems["en__counting.wav"].startswith(changed), again.problems
    assert "no longer exists" in again.problems["en__hello_world.wav"] and len(again.problems) == 2
    fox = {name: data for name, data in snapshot(tmp_path / "ds").items() if "quick_brown_fox" in name}
    assert fox and {n: d for n, d in snapshot(tmp_path / "ds-new").items() if n.startswith("clips/")} == fox


def test_a_bucket_run_exports_the_clips_a_local_copy_gives(s3, tmp_path):
    out = bucket_run(s3, tmp_path)
    report = export(out, tmp_path / "ds")
    assert report.problems == {} and report.clips == 5
    local = export(out, tmp_path / "ds-local", input_dir=tmp_path / "in")  # --input: a local copy, read as before
    assert local.problems == {} and snapshot(tmp_path / "ds") == snapshot(tmp_path / "ds-local")


def test_an_object_overwritten_since_the_run_fails_its_item_and_the_others_export(s3, tmp_path):
    out = bucket_run(s3, tmp_path)
    other = write_wav16(tmp_path / "other.wav", FOX[::-1])  # the same size: only the ETag tells
    s3.put_object(Bucket=BUCKET, Key="set/fox.wav", Body=other.read_bytes())
    proc = run_cli("export", "-o", str(out), "--dest", str(tmp_path / "ds"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"fox.wav: {URL}/fox.wav: {CHANGED} (the run read ETag" in proc.stderr, proc.stderr
    assert "exported 3 clip(s)" in proc.stdout and "1 item(s) with problems" in proc.stdout, proc.stdout
    names = sorted(p.name for p in (tmp_path / "ds" / "clips").iterdir())
    assert names == ["count.wav-0000.wav", "count.wav-0001.wav", "hello.wav-0000.wav"]


def test_a_deleted_object_or_an_unrecorded_one_fails_alone(s3, tmp_path):
    out = bucket_run(s3, tmp_path)
    s3.delete_object(Bucket=BUCKET, Key="set/hello.wav")
    (out / "transcripts" / "count.wav.json").unlink()  # no identity to check the object against
    report = export(out, tmp_path / "ds")
    assert report.problems == {
        "hello.wav": f"cannot read its source media: {URL}/hello.wav: the object no longer exists "
        "(deleted since it was listed)",
        "count.wav": f"{URL}/count.wav: transcripts/count.wav.json records no ETag and size of the object the run "
        "read, so it cannot be checked to be the one transcribed",
    }
    assert report.clips == 2 and sorted(p.name for p in (tmp_path / "ds" / "clips").iterdir())[0].startswith("fox")


def test_a_dead_endpoint_stops_the_export_and_writes_nothing(s3, tmp_path, monkeypatch):
    out = bucket_run(s3, tmp_path)
    monkeypatch.setattr(cloud_filesystem, "S3_MAX_ATTEMPTS", 1)  # a refused connection fails at once
    monkeypatch.setattr(cloud_filesystem, "S3FS_RETRIES", 1)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(StorageLostError, match=r"the export stops: 3 objects in a row could not be read") as lost:
        export(out, tmp_path / "ds")
    assert "Nothing was written" in str(lost.value) and "could not be reached" in str(lost.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # no dataset, no staging folder left
    proc = run_cli("export", "-o", str(out), "--dest", str(tmp_path / "ds"))
    assert proc.returncode == 1 and "the export stops" in proc.stderr and "Traceback" not in proc.stderr


def test_a_bucket_input_is_no_local_folder_to_protect(s3, tmp_path, monkeypatch):
    out = bucket_run(s3, tmp_path)
    monkeypatch.chdir(tmp_path)
    # `Path("s3://recordings/set")` is the local folder s3:/recordings/set, which this dataset folder would hold.
    report = export(out, Path("s3:"))
    assert report.problems == {} and (tmp_path / "s3:" / "metadata.jsonl").is_file()


def test_no_credentials_stop_the_export_before_any_item(s3, tmp_path, monkeypatch):
    out = bucket_run(s3, tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    proc = run_cli("export", "-o", str(out), "--dest", str(tmp_path / "ds"))
    assert proc.returncode == 2 and "no AWS credentials found" in proc.stderr, proc.stderr
    assert not (tmp_path / "ds").exists()


def local_run(root: Path) -> Path:
    """ITEMS in root/in and a run over that folder, each transcript recording its file as the run does."""
    out = make_pulled_run(root, ITEMS)
    (out / "transcripts").mkdir()
    for media in discover(root / "in", MEDIA_EXTENSIONS):
        meta = {"item": media.item, "source": {"path": media.source, **source_state(media.path, None)}}
        (out / "transcripts" / f"{media.item}.json").write_text(json.dumps({"meta": meta}))
    return out


def test_a_local_file_changed_since_the_run_fails_its_item_and_a_copy_or_a_touch_does_not(tmp_path):
    out = local_run(tmp_path)
    before = export(out, tmp_path / "ds")
    assert before.problems == {} and before.clips == 5
    copy = shutil.copytree(tmp_path / "in", tmp_path / "copy")  # another mtime: hashed, the same content
    (tmp_path / "in" / "hello.wav").touch()  # a new mtime alone
    assert export(out, tmp_path / "ds-copy", input_dir=copy).problems == {}
    assert snapshot(tmp_path / "ds-copy") == snapshot(tmp_path / "ds")
    write_wav16(tmp_path / "in" / "fox.wav", FOX[::-1])  # the same size: only the content tells
    after = export(out, tmp_path / "ds-changed")
    assert list(after.problems) == ["fox.wav"] and CHANGED in after.problems["fox.wav"], after.problems
    assert after.clips == 3

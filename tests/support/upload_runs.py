"""Finished runs for upload tests: an input folder and the superannotate/*.json a run would have written.

`make_run` writes them without a model; `run_upload` sends them with the real SDK (to the loopback server
when a test uses the `sa_server` fixture).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from preannotate import sa_format
from preannotate.naming import item_name
from preannotate.options import AnnotationOptions, SuperAnnotateOptions
from preannotate.superannotate import preflight, upload_run

from .sa_server import SuperAnnotateServer

ANNOTATION = AnnotationOptions(review_group=None, reason_group=None, doubtful_group=None)
PROJECT = "Podcasts"
PREFIX = "https://media.example.org/audio"
SOURCES = ["en/interview one.mp3", "es/clip.wav", "fr/clip.m4a"]


def class_defs(annotation: AnnotationOptions = ANNOTATION) -> list[dict]:
    """The exporter's class definitions."""
    return sa_format.annotation_classes(annotation)


def video_json(item: str, chunks: list[tuple[float, float, str]], duration: float = 30.0) -> dict:
    """A Video annotation as the notes describe it: events with the text at start and end."""
    instances = []
    for start, end, text in chunks:
        s, e = int(start * 1_000_000), int(end * 1_000_000)
        attrs = [{"groupName": ANNOTATION.text_group, "name": text}]
        stamps = [{"timestamp": s, "attributes": attrs}, {"timestamp": e, "attributes": attrs}]
        meta = {"type": "event", "className": ANNOTATION.class_name, "start": s, "end": e}
        instances.append({"meta": meta, "parameters": [{"start": s, "end": e, "timestamps": stamps}]})
    return {"metadata": {"name": item, "duration": int(duration * 1_000_000)}, "instances": instances, "tags": []}


def make_run(root: Path, sources: list[str] = SOURCES, failed: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """An input folder and the output of a finished run over it: run.json and superannotate/*.json."""
    inp, out = root / "input", root / "output"
    files = []
    for n, source in enumerate(sources):
        (inp / source).parent.mkdir(parents=True, exist_ok=True)
        (inp / source).write_bytes(b"not really audio")
        item = item_name(source)
        status = "failed" if source in failed else "ok"
        files.append({"item": item, "source": source, "status": status})
        if status == "ok":
            chunks = [(0.0, 2.5, f"hello {n}"), (2.5, 4.0, f"world {n}")]
            write_json(out / "superannotate" / f"{item}.json", video_json(item, chunks))
    write_json(out / "run.json", {"files": files, "upload": None})
    return inp, out


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def options(**changes: object) -> SuperAnnotateOptions:
    return replace(SuperAnnotateOptions(project=PROJECT, url_prefix=PREFIX, backoff_seconds=0.0), **changes)


def run_upload(root: Path, opts: SuperAnnotateOptions, force: bool = False):
    session = preflight(opts)
    return upload_run(root / "output", opts, ANNOTATION, root / "input", session, force, classes=class_defs())


def items_of(sources: list[str] = SOURCES) -> list[str]:
    return [item_name(s) for s in sources]


def upload_stopped_at_second_batch(root: Path, opts: SuperAnnotateOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs the upload with Ctrl-C coming as its second batch goes up: the first batch is in, the rest is not."""
    from preannotate.superannotate.client import UploadSession

    real_upload, calls = UploadSession.upload, []

    def upload_then_stop(self, project, annotations):
        calls.append(len(annotations))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_upload(self, project, annotations)

    monkeypatch.setattr(UploadSession, "upload", upload_then_stop)
    try:
        try:
            run_upload(root, opts)
        except KeyboardInterrupt:
            return
        raise AssertionError("the upload was not stopped at its second batch")
    finally:
        monkeypatch.setattr(UploadSession, "upload", real_upload)


def redraft(out: Path, text: str = "another model") -> None:
    """What a re-run with another model or options writes: other drafts for every item."""
    for item in items_of():
        write_json(out / "superannotate" / f"{item}.json", video_json(item, [(0.0, 3.0, f"{text} {item}")]))


def edit(server: SuperAnnotateServer, item: str, text: str, status: str | None = None) -> dict:
    """An annotator's saved fix of the first event at every keyframe (status unchanged unless given)."""
    annotation = server.annotation(PROJECT, item)
    for stamp in annotation["instances"][0]["parameters"][0]["timestamps"]:
        stamp["attributes"] = [{"groupName": ANNOTATION.text_group, "name": text}]
    server.set_annotation(PROJECT, item, annotation)
    if status:
        server.set_status(PROJECT, item, status)
    return annotation


def first_texts(server: SuperAnnotateServer) -> dict[str, str]:
    """The first event's text of every item on the server."""
    texts = {}
    for name in server.items(PROJECT):
        stamp = server.annotation(PROJECT, name)["instances"][0]["parameters"][0]["timestamps"][0]
        texts[name] = stamp["attributes"][0]["name"]
    return texts

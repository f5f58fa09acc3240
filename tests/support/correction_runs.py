"""A finished run over real audio, uploaded and corrected as annotators would: for the correction tests.

`make_run` writes the run without a model, `upload` sends it with the real SDK, `annotate` edits it on the
loopback server (text, times, a split, a deletion, new events), and the `corrected_run` fixture does all
three and pulls the corrections back.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from preannotate.chunking import Chunk
from preannotate.cli import main
from preannotate.config import config_to_dict, load_config
from preannotate.correction import pull_run
from preannotate.correction.pull import open_session
from preannotate.exports import ItemChunks, annotation_classes, write_exports
from preannotate.options import AnnotationOptions, SuperAnnotateOptions
from preannotate.report import FileResult, RunReport
from preannotate.results import Word
from preannotate.superannotate import preflight, upload_run, write_upload_record
from preannotate.superannotate.client import UploadSession

from .media import SAMPLES, read_sample, write_wav16
from .sa_server import SuperAnnotateServer

PROJECT = "Corrections"
ANNOTATION = AnnotationOptions()
US = 1_000_000

# (start, end, text, needs_review, mean word probability) per draft chunk.
TALK = [
    (0.0, 2.0, "Hello world.", False, 0.95),
    (2.5, 4.5, "The quick brown fox.", True, 0.40),  # annotator: brown -> red
    (5.0, 6.5, "jumps over the dog.", False, 0.90),  # annotator: end moved 6.5 -> 6.8 s
    (7.0, 8.0, "Thank you.", True, 0.30),  # annotator: deleted
    (8.5, 11.5, "Then we split this long sentence here.", True, 0.45),  # annotator: split at 10.000023 s
]
FOX = [(0.0, 1.2, "The quick brown fox", False, 0.9), (1.2, 2.8, "jumps over the lazy dog.", True, 0.6)]
COUNT = [(0.2, 2.9, "Counting slowly.", False, 0.85)]
SPLIT_AT = 10_000_023  # µs: 220500.507 samples at 22.05 kHz, so clips test the rounding
FOX_DURATION = 46218 / 16000  # samples/en/quick_brown_fox.wav
COUNT_DURATION = 47771 / 16000  # samples/en/counting.wav


def chunks(spec: list[tuple]) -> list[Chunk]:
    return [
        Chunk(i, s, e, t, mean_word_probability=p, needs_review=r, review_reason="low_word_probability" if r else "")
        for i, (s, e, t, r, p) in enumerate(spec)
    ]


def make_run(root: Path, speakers: dict[str, list[str]] | None = None) -> tuple[Path, Path]:
    """An input folder of real audio and a finished run over it, written without the model.

    `speakers`: item -> the speaker of each of its chunks, for a run with speakers; None: without.
    """
    inp, out = root / "in", root / "out"
    inp.mkdir()
    talk = np.zeros(12 * 16000, dtype=np.float32)
    for offset, name in ((0.0, "hello_world"), (2.5, "quick_brown_fox"), (8.5, "counting")):
        speech = read_sample(f"en/{name}")
        talk[int(offset * 16000) : int(offset * 16000) + len(speech)] = speech
    write_wav16(inp / "talk.wav", talk)
    for item, name in (("fox.wav", "quick_brown_fox"), ("hello.wav", "hello_world"), ("count.wav", "counting")):
        shutil.copy(SAMPLES / "en" / f"{name}.wav", inp / item)
    entries = [
        ItemChunks("talk.wav", "talk.wav", "en", 12.0, chunks(TALK)),
        ItemChunks("fox.wav", "fox.wav", "en", FOX_DURATION, chunks(FOX)),
        ItemChunks("hello.wav", "hello.wav", "en", 18294 / 16000, chunks([(0.0, 1.1, "Hello world.", False, 0.9)])),
        ItemChunks("count.wav", "count.wav", "en", COUNT_DURATION, chunks(COUNT)),
    ]
    if speakers:
        entries = [replace(e, chunks=[replace(c, speaker=s) for c, s in zip(e.chunks, speakers[e.item], strict=True)])
                   for e in entries]  # fmt: skip
    write_exports(out, entries, ANNOTATION)
    config = config_to_dict(load_config(None, [f"input.dir={inp}", f"output.dir={out}"]))
    files = [FileResult(e.item, e.source, "ok", duration=e.duration, language="en", chunks=len(e.chunks))
             for e in entries]  # fmt: skip
    RunReport(out, config, files=files).write()
    return inp, out


def sa_options() -> SuperAnnotateOptions:
    return SuperAnnotateOptions(project=PROJECT, url_prefix="https://media.example.org/a", backoff_seconds=0.0)


def upload(inp: Path, out: Path) -> None:
    opts = sa_options()
    report = upload_run(out, opts, ANNOTATION, inp, preflight(opts), classes=annotation_classes(ANNOTATION))
    assert len(report.succeeded) == 4, report.items


def send(inp: Path, out: Path, opts: SuperAnnotateOptions | None = None, force: bool = False):
    """`preannotate upload`: uploads the run with the real SDK and records the outcome in run.json."""
    opts = opts or sa_options()
    report = upload_run(out, opts, ANNOTATION, inp, preflight(opts), force, classes=annotation_classes(ANNOTATION))
    write_upload_record(out, report)
    return report


def stopped(inp: Path, out: Path, monkeypatch: pytest.MonkeyPatch, **kwargs) -> None:
    """`send` with Ctrl-C just after SuperAnnotate took its batch: nothing confirmed, run.json unchanged."""
    real_upload = UploadSession.upload

    def upload_then_stop(self, project, annotations):
        real_upload(self, project, annotations)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(UploadSession, "upload", upload_then_stop)
        with pytest.raises(KeyboardInterrupt):
            send(inp, out, **kwargs)


# What annotators do in the editor, on the annotation SuperAnnotate holds.
def set_text(annotation: dict, n: int, text: str) -> None:
    for stamp in annotation["instances"][n]["parameters"][0]["timestamps"]:
        for attribute in stamp["attributes"]:
            if attribute["groupName"] == ANNOTATION.text_group:
                attribute["name"] = text


def redraft_texts(out: Path, texts: list[str], item: str = "fox.wav") -> None:
    """The item's local draft rewritten (another model's): other texts, the same events."""
    path = out / "superannotate" / f"{item}.json"
    annotation = json.loads(path.read_text())
    for n, text in enumerate(texts):
        set_text(annotation, n, text)
    path.write_text(json.dumps(annotation))


def set_times(instance: dict, start: int, end: int) -> None:
    instance["meta"].update(start=start, end=end)
    parameter = instance["parameters"][0]
    parameter.update(start=start, end=end)
    parameter["timestamps"][0]["timestamp"], parameter["timestamps"][-1]["timestamp"] = start, end


def new_event(start: float, end: float, text: str | None) -> dict:
    s, e = round(start * US), round(end * US)
    attributes = [{"groupName": ANNOTATION.text_group, "name": text}] if text else []
    stamps = [{"timestamp": t, "attributes": copy.deepcopy(attributes)} for t in (s, e)]
    meta = {"type": "event", "className": ANNOTATION.class_name, "start": s, "end": e}
    return {"meta": meta, "parameters": [{"start": s, "end": e, "timestamps": stamps}]}


def annotate(server: SuperAnnotateServer) -> None:
    talk = server.annotation(PROJECT, "talk.wav")
    set_text(talk, 1, "The quick red fox.")
    set_times(talk["instances"][2], 5 * US, 6_800_000)
    first, second = copy.deepcopy(talk["instances"][4]), talk["instances"][4]
    set_times(first, 8_500_000, SPLIT_AT)
    set_times(second, SPLIT_AT, 11_500_000)
    talk["instances"][4:] = [first, second]
    set_text(talk, 4, "Then we split this")
    set_text(talk, 5, "long sentence here.")
    del talk["instances"][3]
    talk["instances"].append(new_event(11.6, 11.9, "See you."))
    server.set_annotation(PROJECT, "talk.wav", talk)
    count = server.annotation(PROJECT, "count.wav")
    count["instances"] += [new_event(1.0, 1.5, None), new_event(5.0, 6.0, "ghost words")]
    server.set_annotation(PROJECT, "count.wav", count)
    for item in ("talk.wav", "fox.wav"):
        server.set_status(PROJECT, item, "Completed")
    with server.state.lock:  # the item was removed from the project
        del server.state.items[server.project(PROJECT)["id"]]["hello.wav"]


@pytest.fixture
def corrected_run(sa_server: SuperAnnotateServer, tmp_path: Path) -> Path:
    """A run uploaded, corrected on the server and pulled; returns its output folder."""
    inp, out = make_run(tmp_path)
    upload(inp, out)
    annotate(sa_server)
    pull_run(out, PROJECT, open_session(sa_options()))
    return out


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`preannotate ARGS` in this process: `cli.main`, which `python -m preannotate` calls (test_exit_codes runs
    that in a subprocess), with what it prints and logs (INFO and up, as its stderr would show) captured.

    A subprocess per call would import torch (Whisper's text normalizer), pandas and matplotlib again: seconds.
    """
    out, err = io.StringIO(), io.StringIO()
    root, handler = logging.getLogger(), logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return subprocess.CompletedProcess(["preannotate", *args], code, out.getvalue(), err.getvalue())


# --- a long run: 40 chunks of one item, for calibrate and the report's advice ------------------------------------

N_CHUNKS = 40
DOUBTFUL = {i for i in range(N_CHUNKS) if i % 3 == 0}  # 14 chunks with one unsure word


def long_chunk(i: int) -> Chunk:
    """Chunk i of the long run: four words, the first at probability 0.08 in DOUBTFUL chunks, else 0.93."""
    start = 2.0 * i
    texts = (f"word{i}", "alpha", "beta", "gamma")
    probabilities = (0.08 if i in DOUBTFUL else 0.93, 0.9, 0.95, 0.97)
    words = tuple(
        Word(f" {t}", start + 0.1 + 0.35 * k, start + 0.4 + 0.35 * k, p)
        for k, (t, p) in enumerate(zip(texts, probabilities))
    )
    mean = sum(probabilities) / 4
    return Chunk(i, start, start + 1.5, " ".join(texts), words, mean, min(probabilities), avg_logprob=-0.3)


def make_long_run(
    server: SuperAnnotateServer, root: Path, changed: set[int], flagged: frozenset[int] = frozenset()
) -> Path:
    """One 80-s item of N_CHUNKS chunks uploaded with the real SDK, the `changed` ones corrected there, pulled.

    `flagged`: the chunks uploaded with needs_review (none by default: calibrate's tests start from no flags).
    """
    inp, out = root / "in", root / "out"
    inp.mkdir()
    write_wav16(inp / "long.wav", np.zeros(80 * 16000, dtype=np.float32))
    drafts = [replace(long_chunk(i), needs_review=i in flagged) for i in range(N_CHUNKS)]
    write_exports(out, [ItemChunks("long.wav", "long.wav", "en", 80.0, drafts)], ANNOTATION)
    config = config_to_dict(load_config(None, [f"input.dir={inp}", f"output.dir={out}"]))
    RunReport(out, config, files=[FileResult("long.wav", "long.wav", "ok", duration=80.0, language="en")]).write()
    opts = sa_options()
    report = upload_run(out, opts, ANNOTATION, inp, preflight(opts), classes=annotation_classes(ANNOTATION))
    assert len(report.succeeded) == 1, report.items
    annotation = server.annotation(PROJECT, "long.wav")
    for i in changed:
        set_text(annotation, i, f"corrected{i} alpha beta gamma")
    server.set_annotation(PROJECT, "long.wav", annotation)
    server.set_status(PROJECT, "long.wav", "Completed")  # reviewed to the end: `report` compares it
    pull_run(out, PROJECT, open_session(sa_options()))
    return out

"""Speakers on SuperAnnotate: the Speaker group in the JSON and the class, upload, an annotator's fix read back.

The export is checked by the schema test and the uploader's own check; the upload goes through the real SDK to
the loopback server (tests/support/sa_server.py), which refuses values a choice group does not define.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from support.correction_runs import PROJECT, make_run, sa_options
from support.fixed_entries import fixed_entries, fixed_speaker_entries
from support.media import read_sample
from support.pulled_runs import make_pulled_run
from support.sa_schema import assert_valid_sa_annotation, video_errors
from support.sa_server import SuperAnnotateServer

from preannotate.cli import main
from preannotate.correction import compare_run, pull_run
from preannotate.correction.dataset import export_dataset
from preannotate.correction.pull import open_session
from preannotate.correction.report import headline, item_table, summary_table, write_report
from preannotate.errors import UploadError
from preannotate.exports import annotation_classes, sa_annotation
from preannotate.options import AnnotationOptions, CorrectionOptions, DatasetExportOptions
from preannotate.routing import FROM_SCRATCH
from preannotate.sa_format import speaker_values
from preannotate.superannotate import preflight, upload_run
from preannotate.superannotate.validate import annotation_problems, class_index

ANNOTATION = AnnotationOptions()
EIGHT = [f"SPEAKER_0{n}" for n in range(1, 9)]
# Per item, the speaker of each draft chunk (see correction_runs.TALK, FOX...).
S1, S2 = "SPEAKER_01", "SPEAKER_02"
SPEAKERS = {"talk.wav": [S1, S2, S1, S2, S1], "fox.wav": [S1, S2], "hello.wav": [S1], "count.wav": [S1]}


def speakers_at(annotation: dict, group: str = "Speaker") -> list[list[str]]:
    """Each event's Speaker values, one per keyframe."""
    return [
        [a["name"] for t in i["parameters"][0]["timestamps"] for a in t["attributes"] if a["groupName"] == group]
        for i in annotation["instances"]
    ]


def test_speaker_values_cover_the_run_and_spares() -> None:
    assert speaker_values([]) == [] and speaker_values(["", ""]) == []
    assert speaker_values([S2, S1, S2]) == EIGHT  # diarization names: SPEAKER_01..08 at least
    assert speaker_values(["SPEAKER_11", S1])[-3:] == ["SPEAKER_09", "SPEAKER_10", "SPEAKER_11"]
    assert speaker_values(["ch10", "Bob", "ch9"]) == ["Bob", "ch9", "ch10"]  # names given by people: as found


def test_export_carries_the_speaker_group() -> None:
    talk = fixed_speaker_entries()[0]
    d = sa_annotation(talk.item, talk.duration, list(talk.chunks), ANNOTATION)
    assert_valid_sa_annotation(d, "talk.wav")
    [cls] = annotation_classes(ANNOTATION, [c.speaker for c in talk.chunks if c.speaker])
    group = next(g for g in cls["attribute_groups"] if g["name"] == "Speaker")
    assert group == {"name": "Speaker", "group_type": "radio", "attributes": [{"name": s} for s in EIGHT]}
    assert annotation_problems(d, "talk.wav", class_index([cls])) == []
    assert video_errors(d, "talk.wav", {"talk.wav": {}}, [cls]) == []  # what the loopback server accepts
    assert speakers_at(d) == [[S1, S1], [S2, S2], [S1, S1]]  # one value, at the start and the end keyframe
    # A class without the speakers (made before speakers were on) does not fit: both checks say so.
    [plain] = annotation_classes(ANNOTATION)
    assert "Speaker" not in {g["name"] for g in plain["attribute_groups"]}
    assert any("'Speaker' is not in the class" in p for p in annotation_problems(d, "talk.wav", class_index([plain])))
    assert ("attributeGroup", "Speaker") in video_errors(d, "talk.wav", {"talk.wav": {}}, [plain])
    # Routed from scratch, the event keeps its speaker (the annotator types only the text).
    textless = sa_annotation(talk.item, talk.duration, list(talk.chunks), ANNOTATION, FROM_SCRATCH)
    assert (
        speakers_at(textless) == speakers_at(d) and annotation_problems(textless, "talk.wav", class_index([cls])) == []
    )


def test_the_server_refuses_a_speaker_the_class_lacks() -> None:
    talk = fixed_speaker_entries()[0]
    d = sa_annotation(talk.item, talk.duration, list(talk.chunks), ANNOTATION)
    d["instances"][0]["parameters"][0]["timestamps"][0]["attributes"][-1]["name"] = "SPEAKER_09"
    classes = annotation_classes(ANNOTATION, [S1, S2])
    assert video_errors(d, "talk.wav", {"talk.wav": {}}, classes) == [("attribute", "Speaker: SPEAKER_09")]
    assert annotation_problems(d, "talk.wav", class_index(classes)) == [
        "instances[0]: 'SPEAKER_09' is not a value of attribute group 'Speaker'"
    ]


def test_runs_without_speakers_or_with_the_group_off_export_as_before() -> None:
    plain, spoken = fixed_entries()[0], fixed_speaker_entries()[0]
    before = sa_annotation(plain.item, plain.duration, list(plain.chunks), ANNOTATION)
    assert speakers_at(before) == [[], [], []] and annotation_classes(ANNOTATION, []) == annotation_classes(ANNOTATION)
    off = AnnotationOptions(speaker_group=None)
    assert speakers_at(sa_annotation(spoken.item, spoken.duration, list(spoken.chunks), off)) == [[], [], []]
    assert annotation_classes(off, [S1]) == annotation_classes(ANNOTATION)


def upload_speaker_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run with speakers uploaded by the pipeline's path (classes made from the run's own JSON)."""
    inp, out = make_run(tmp_path, SPEAKERS)
    report = upload_run(out, sa_options(), ANNOTATION, inp, preflight(sa_options()))
    assert len(report.succeeded) == 4, report.items
    return inp, out


def test_upload_creates_the_speaker_group_with_the_class(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    _, out = upload_speaker_run(tmp_path)
    [cls] = sa_server.classes(PROJECT)
    group = next(g for g in cls["attribute_groups"] if g["name"] == "Speaker")
    assert group["group_type"] == "radio" and [a["name"] for a in group["attributes"]] == EIGHT
    assert speakers_at(sa_server.annotation(PROJECT, "talk.wav")) == [[s, s] for s in SPEAKERS["talk.wav"]]


def test_a_later_run_with_a_new_speaker_is_refused_clearly(sa_server: SuperAnnotateServer, tmp_path: Path) -> None:
    inp, out = upload_speaker_run(tmp_path)
    path = out / "superannotate" / "fox.wav.json"  # a later run found a ninth speaker in one item
    path.write_text(path.read_text(encoding="utf-8").replace(S2, "SPEAKER_09"), encoding="utf-8")
    with pytest.raises(UploadError, match="attribute group 'Speaker' of class 'transcription' lacks SPEAKER_09"):
        upload_run(out, sa_options(), ANNOTATION, inp, preflight(sa_options()))
    assert speakers_at(sa_server.annotation(PROJECT, "fox.wav")) == [[S1, S1], [S2, S2]]  # nothing was replaced


def fix_speaker(server: SuperAnnotateServer) -> None:
    """An annotator gives talk.wav's first chunk ("Hello world.") to SPEAKER_02, at its end keyframe only."""
    talk = server.annotation(PROJECT, "talk.wav")
    end = talk["instances"][0]["parameters"][0]["timestamps"][-1]
    [attribute] = [a for a in end["attributes"] if a["groupName"] == "Speaker"]
    attribute["name"] = S2
    server.set_annotation(PROJECT, "talk.wav", talk)
    for item in ("talk.wav", "fox.wav"):
        server.set_status(PROJECT, item, "Completed")


@pytest.fixture
def speaker_fixed_run(sa_server: SuperAnnotateServer, tmp_path: Path) -> Path:
    """A run with speakers, uploaded, one chunk's speaker fixed on the server, pulled back."""
    _, out = upload_speaker_run(tmp_path)
    fix_speaker(sa_server)
    pull_run(out, PROJECT, open_session(sa_options()))
    return out


def test_report_counts_the_speaker_change_and_the_cpwer(speaker_fixed_run: Path, capsys) -> None:
    result = compare_run(speaker_fixed_run, ANNOTATION, CorrectionOptions())
    s = result.summary
    assert s["wer"] == 0 and s["keyframe_disagreements"] == 1  # the new value sits at one keyframe: it wins
    # The Completed items only (talk.wav, fox.wav): the others are not compared.
    assert (s["speaker_changed"], s["speaker_chunks"]) == (1, 7) and s["speaker_changed_share"] == pytest.approx(1 / 7)
    # Reference words 19 + 9; "hello world" under the wrong speaker: 2 insertions and 2 deletions.
    assert (s["cpwer_errors"], s["cpwer_ref_words"]) == (4, 28) and s["cpwer"] == pytest.approx(4 / 28)
    changed = result.chunks[result.chunks["speaker_changed"] == True]  # noqa: E712 (a pandas mask)
    assert changed[["item", "chunk", "speaker", "corrected_speaker"]].values.tolist() == [["talk.wav", 0, S1, S2]]
    talk = item_table(result).set_index("item").loc["talk.wav"]
    assert talk["speaker_changed"] == 1 and talk["cpwer"] == pytest.approx(4 / 19)
    table = dict(summary_table(result).values.tolist())
    assert table["chunks that changed speaker"] == "1" and table["share of chunks that changed speaker"] == "14.3%"
    assert table["cpWER (speaker-attributed WER, draft vs corrected)"] == "14.3%"
    assert "1 of 7 chunk(s) changed speaker (14.3%), cpWER 14.3%" in headline(result)
    write_report(result, speaker_fixed_run / "correction")
    saved = json.loads((speaker_fixed_run / "correction" / "summary.json").read_text(encoding="utf-8"))["summary"]
    assert saved["speaker_changed"] == 1 and saved["cpwer"] == pytest.approx(4 / 28)
    assert "cpWER" in (speaker_fixed_run / "correction" / "report.html").read_text(encoding="utf-8")
    assert main(["report", "-o", str(speaker_fixed_run)]) == 0  # the console report shows both
    shown = capsys.readouterr().out
    assert "1 of 7 chunk(s) changed speaker" in shown and re.search(r"cpWER \(speaker-attributed.*\)\s+14\.3%", shown)


def test_report_of_a_run_without_speakers_shows_none(corrected_run: Path) -> None:
    result = compare_run(corrected_run, ANNOTATION, CorrectionOptions())
    assert not {"cpwer", "speaker_changed"} & set(result.summary) and "speaker_changed" not in result.chunks
    assert "cpwer" not in item_table(result) and "speaker" not in headline(result)
    assert not any("speaker" in m for m in summary_table(result)["measure"])


def test_dataset_export_carries_the_speaker(speaker_fixed_run: Path, tmp_path: Path) -> None:
    report = export_dataset(speaker_fixed_run, DatasetExportOptions(dir=str(tmp_path / "ds")), ANNOTATION)
    assert report.clips == 7  # talk.wav's 5 and fox.wav's 2: the Completed items
    metadata = pd.read_json(tmp_path / "ds" / "metadata.jsonl", lines=True, dtype=False)
    assert list(metadata.columns) == ["file_name", "transcription", "speaker"]
    assert list(metadata["speaker"]) == [S2, S2, S1, S2, S1, S1, S2]  # talk.wav's first chunk as corrected
    manifest = [json.loads(line) for line in (tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()]
    assert [m["speaker"] for m in manifest] == list(metadata["speaker"])
    assert [m["text"] for m in manifest] == list(metadata["transcription"])
    segments = pd.read_csv(tmp_path / "ds" / "segments.csv")
    assert list(segments.columns[7:10]) == ["text", "speaker", "exported"]


def test_dataset_export_without_speakers_has_no_speaker_column(tmp_path: Path) -> None:
    out = make_pulled_run(tmp_path, {"fox.wav": (read_sample("en/quick_brown_fox"), [(0.0, 2.8, "The fox.")])})
    export_dataset(out, DatasetExportOptions(dir=str(tmp_path / "ds")), ANNOTATION)
    metadata = pd.read_json(tmp_path / "ds" / "metadata.jsonl", lines=True, dtype=False)
    assert list(metadata.columns) == ["file_name", "transcription"]
    assert "speaker" not in json.loads((tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()[0])

"""The correction report's figures on cases computed by hand (helper audit, 2026-12-05).

Each case failed before its fix: the run's WER counted the words typed into items uploaded without text (from
scratch, control arm) as words the drafts missed, and every event typed into their boundaries as a boundary
added; a re-segmented stretch cost nothing in the hours saved; the
HTML gave the range of drafts that cost time high to low.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from support.correction_runs import ANNOTATION as SA_ANNOTATION
from support.correction_runs import set_text, set_times
from support.pulled_runs import ANNOTATION, make_pulled_run

from preannotate.correction import compare_run
from preannotate.correction.arms import item_edits
from preannotate.correction.report import headline
from preannotate.correction.savings import effort_line, evidence, evidence_sections
from preannotate.options import CorrectionOptions

WORDS = ("apple banana cherry date elder", "fig grape honey iris jade")


def edit(out: Path, item: str, change) -> None:
    path = out / "corrected" / f"{item}.json"
    annotation = json.loads(path.read_text())
    change(annotation)
    path.write_text(json.dumps(annotation))


def typed(annotation: dict) -> None:
    """What an annotator does with an item uploaded without text: types each event's words."""
    for instance, text in zip(annotation["instances"], WORDS):
        for stamp in instance["parameters"][0]["timestamps"]:
            stamp["attributes"].insert(0, {"groupName": SA_ANNOTATION.text_group, "name": text})


def test_items_uploaded_without_text_are_left_out_of_the_runs_wer(tmp_path: Path) -> None:
    spec = [(0.0, 3.0, WORDS[0]), (4.0, 7.0, WORDS[1])]
    silence = np.zeros(10 * 16000, dtype=np.float32)
    items = {name: (silence, spec) for name in ("a.wav", "f.wav", "c.wav")}
    out = make_pulled_run(tmp_path, items, routes={"f.wav": "from_scratch", "c.wav": "control"})
    edit(out, "a.wav", lambda a: set_text(a, 0, "apple banana cherry date elderberry"))  # 1 of 10 words
    edit(out, "f.wav", typed)
    edit(out, "c.wav", typed)
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    s = result.summary
    assert (s["wer"], s["ref_words"], s["substitutions"], s["deletions"], s["added"]) == (0.1, 10, 1, 0, 0)
    assert (s["compared"], s["compared_without_text"], s["draft_chunks"]) == (1, 2, 2)
    assert headline(result).startswith("WER 10.0% over 1 of 3 item(s) compared (2 more uploaded without text")
    # Typed into the boundaries given, none moved: 10 words and no boundary edit (every event was "added").
    control = evidence(result).arms["arms"]["control"]
    assert (control["word_edits"], control["segment_edits"], control["edits_per_audio_minute"]) == (10, 0, 60.0)


def test_a_re_segmented_stretch_costs_a_boundary_edit(tmp_path: Path) -> None:
    """Two chunks made three with the same words: `regrouped`, which cost nothing in the hours-saved model."""
    spec = [(0.0, 3.0, WORDS[0]), (3.0, 6.0, WORDS[1])]
    out = make_pulled_run(tmp_path, {"a.wav": (np.zeros(8 * 16000, dtype=np.float32), spec)})

    def three(annotation: dict) -> None:
        first, second = annotation["instances"]
        middle = json.loads(json.dumps(second))
        set_times(first, 0, 2_000_000), set_times(middle, 2_000_000, 4_000_000), set_times(second, 4_000_000, 6_000_000)
        annotation["instances"] = [first, middle, second]
        for n, text in enumerate(("apple banana cherry", "date elder fig grape", "honey iris jade")):
            set_text(annotation, n, text)

    edit(out, "a.wav", three)
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    assert result.summary["wer"] == 0.0 and result.summary["regrouped"] == 1
    assert result.items.iloc[0][["retimed", "added", "removed", "split", "merged"]].sum() == 0
    [edits] = item_edits(result.items)
    assert edits.segment_edits == 1 and edits.word_edits == 0


def test_the_html_range_of_drafts_that_cost_time_reads_low_to_high(tmp_path: Path) -> None:
    spec = [(0.0, 3.0, WORDS[0]), (4.0, 7.0, WORDS[1])]
    out = make_pulled_run(tmp_path, {"a.wav": (np.zeros(8 * 16000, dtype=np.float32), spec)})
    edit(out, "a.wav", lambda a: [set_text(a, n, "one two three four five six seven eight") for n in (0, 1)])
    found = evidence(compare_run(out, ANNOTATION, CorrectionOptions()))
    assert found.effort["saved_per_audio_hour"] < 0  # every word wrong: the draft cost time
    [(_, html)] = [(title, text) for title, text in evidence_sections(found) if title.startswith("Hours saved")]
    low, high = (float(x) for x in re.search(r"range (-?[\d.]+) to (-?[\d.]+)", html).groups())
    assert low <= high and effort_line(found.effort).endswith(f"(range {low:g} to {high:g}); see the report")


def test_report_export_and_calibrate_read_the_corrections_by_the_names_the_run_recorded(tmp_path: Path) -> None:
    """A run made with its own text group: `report` without a config read no text ("WER n/a"), exit 0."""
    from support.correction_runs import run_cli
    from support.media import read_sample

    fox = read_sample("en/quick_brown_fox")
    spec = [(0.0, 1.2, "The quick brown fox"), (1.2, 2.8, "jumps over the dog.")]
    out = make_pulled_run(tmp_path, {"fox.wav": (fox, spec)}, ["annotation.text_group=Transkript"])

    def corrected(annotation: dict) -> None:
        for stamp in annotation["instances"][1]["parameters"][0]["timestamps"]:
            for attribute in stamp["attributes"]:
                if attribute["groupName"] == "Transkript":
                    attribute["name"] = "jumps over the lazy dog."

    edit(out, "fox.wav", corrected)
    report = run_cli("report", "-o", str(out))
    assert report.returncode == 0 and "WER 11.1% over 1 of 1 item(s) compared" in report.stdout, report.stdout
    export = run_cli("export", "-o", str(out))
    assert export.returncode == 0, export.stderr
    texts = [
        json.loads(line)["transcription"] for line in (out / "dataset" / "metadata.jsonl").read_text().splitlines()
    ]
    assert texts == ["The quick brown fox", "jumps over the lazy dog."]
    other = make_pulled_run(tmp_path / "other", {"fox.wav": (fox, spec)})  # the default names
    both = run_cli("calibrate", "-o", str(out), "-o", str(other))
    assert both.returncode == 2 and "were run with other annotation options" in both.stderr, both.stderr


def test_the_control_arm_holds_only_items_that_would_have_been_drafted(tmp_path: Path) -> None:
    """Drafts (predicted WER up to draft_max_wer) were set against control items of every difficulty: 0.27."""
    spec = [(0.0, 3.0, WORDS[0]), (4.0, 7.0, WORDS[1])]
    minute = np.zeros(60 * 16000, dtype=np.float32)
    routes = {"a.wav": "draft", "h.wav": "from_scratch", "c1.wav": "control", "c2.wav": "control"}
    out = make_pulled_run(tmp_path, {name: (minute, spec) for name in routes}, routes=routes)
    run = json.loads((out / "run.json").read_text())
    for record in run["files"]:
        record["predicted_wer"] = {"a.wav": 0.1, "h.wav": 0.6, "c1.wav": 0.1, "c2.wav": 0.6}[record["item"]]
    (out / "run.json").write_text(json.dumps(run))
    for name in ("h.wav", "c1.wav", "c2.wav"):
        edit(out, name, typed)
    found = evidence(
        compare_run(out, ANNOTATION, CorrectionOptions()), {"a.wav": 120, "h.wav": 600, "c1.wav": 300, "c2.wav": 600}
    )
    arms = found.arms
    assert arms["arms"]["control"]["items"] == 1 and arms["control_left_out"] == 1
    assert arms["ratio"] == 0.4  # 2 h per audio hour drafted against 5 typed, like for like
    assert (
        "1 control item(s) predicted above"
        in dict(evidence_sections(found))["Control arm: drafts against typing from scratch"]
    )


def test_each_items_route_is_the_one_it_was_uploaded_with(tmp_path: Path) -> None:
    """run.json holds the last run's routes: routed otherwise after the upload, a typed item counted as a draft."""
    spec = [(0.0, 3.0, WORDS[0]), (4.0, 7.0, WORDS[1])]
    silence = np.zeros(10 * 16000, dtype=np.float32)
    out = make_pulled_run(tmp_path, {n: (silence, spec) for n in ("a.wav", "f.wav")}, routes={"f.wav": "from_scratch"})
    edit(out, "f.wav", typed)
    run = json.loads((out / "run.json").read_text())
    for record in run["files"]:  # a later run with another draft_max_wer swapped them
        record["route"] = {"a.wav": "from_scratch", "f.wav": "draft"}[record["item"]]
    (out / "run.json").write_text(json.dumps(run))
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    assert dict(zip(result.items["item"], result.items["route"])) == {"a.wav": "draft", "f.wav": "from_scratch"}
    assert (result.summary["wer"], result.summary["compared"], result.summary["compared_without_text"]) == (0.0, 1, 1)


def test_a_word_moved_across_a_chunk_boundary_is_no_error_of_the_draft(tmp_path: Path) -> None:
    """Aligned group by group, a word moved to the next chunk counted a deletion and an insertion: WER 33%."""
    spec = [(0.0, 3.0, "apple banana cherry"), (3.0, 6.0, "date elder fig")]
    out = make_pulled_run(tmp_path, {"a.wav": (np.zeros(8 * 16000, dtype=np.float32), spec)})

    def moved(annotation: dict) -> None:
        first, second = annotation["instances"]
        set_times(first, 0, 2_200_000), set_times(second, 2_200_000, 6_000_000)
        set_text(annotation, 0, "apple banana"), set_text(annotation, 1, "cherry date elder fig")

    edit(out, "a.wav", moved)
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    item = result.items.iloc[0]
    assert (item["wer"], item["cer"], result.summary["wer"]) == (0.0, 0.0, 0.0)
    assert item["retimed"] == 2  # both chunks' boundaries moved: the chunks did change

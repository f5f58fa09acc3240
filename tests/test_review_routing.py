"""Predicted WER and doubtful words in every export; routing to drafts, from scratch or the control arm."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from support.fixed_entries import TEST_REVIEWER, fixed_entries
from support.media import SAMPLES
from support.sa_schema import assert_valid_sa_annotation
from support.sa_server import SuperAnnotateServer

from preannotate.chunking import Chunk
from preannotate.config import config_to_dict, load_config
from preannotate.errors import ConfigError
from preannotate.exports import ItemChunks, annotation_classes, write_exports
from preannotate.options import AnnotationOptions, ChunkingOptions, CorrectionOptions, SuperAnnotateOptions
from preannotate.report import FileResult, RunReport, summary_table
from preannotate.results import Segment, Transcript, Word
from preannotate.review import Reviewer, item_predicted_wer
from preannotate.routing import CONTROL, DRAFT, FROM_SCRATCH, control_draw, route_item, strata, wer_band
from preannotate.run import chunk_item
from preannotate.sa_format import sa_annotation
from preannotate.superannotate import preflight, upload_run
from preannotate.superannotate.validate import annotation_problems, class_index

ANNOTATION = AnnotationOptions()
RIVER = "The river carries water to the sea."


def transcript(text: str, probabilities: list[float], avg_logprob: float = -0.2, duration: float = 10.0) -> Transcript:
    words = tuple(
        Word(" " + w, 1.0 + i * 0.3, 1.3 + i * 0.3, p) for i, (w, p) in enumerate(zip(text.split(), probabilities))
    )
    segment = Segment(0, 1.0, words[-1].end, "".join(w.word for w in words), avg_logprob=avg_logprob, words=words)
    return Transcript("", "en", (segment,), duration)


def one_doubtful_word(reviewer: Reviewer | None = None, options: ChunkingOptions | None = None) -> ItemChunks:
    """'carries' at probability 0.05, every other word at 0.95; the word-probability rule off unless given."""
    probabilities = [0.95, 0.95, 0.05, 0.95, 0.95, 0.95, 0.95]
    options = options or ChunkingOptions(review_min_word_probability=None)
    return chunk_item("river.wav", "river.wav", transcript(RIVER, probabilities), options, reviewer)


def test_a_word_at_005_is_listed_everywhere_with_the_shipped_model(tmp_path: Path) -> None:
    entry = one_doubtful_word()
    [chunk] = entry.chunks
    assert 0 <= chunk.predicted_wer <= 1 and chunk.doubtful_words == ((2, "carries", 0.05),)
    write_exports(tmp_path, [entry], ANNOTATION)
    row = pd.read_csv(tmp_path / "chunks.csv", keep_default_na=False).iloc[0]
    assert row["doubtful_words"] == "carries:0.05" and 0 <= float(row["predicted_wer"]) <= 1
    record = json.loads((tmp_path / "chunks.jsonl").read_text(encoding="utf-8"))
    assert record["doubtful_words"] == [{"index": 2, "word": "carries", "probability": 0.05}]
    assert record["predicted_wer"] == chunk.predicted_wer
    annotation = json.loads((tmp_path / "superannotate" / "river.wav.json").read_text(encoding="utf-8"))
    stamps = annotation["instances"][0]["parameters"][0]["timestamps"]
    assert all({"groupName": "Doubtful words", "name": "carries (p=0.05)"} in s["attributes"] for s in stamps)


def test_a_word_at_005_is_flagged_with_the_default_options() -> None:
    """The issue's case ("McWhorgley" at 0.05 marked ok): flagged whatever the shipped model predicts."""
    [chunk] = one_doubtful_word(options=ChunkingOptions()).chunks
    assert chunk.needs_review and "low_word_probability" in chunk.review_reason.split(";")


def test_a_word_at_005_flags_the_chunk_when_the_predicted_wer_crosses_the_threshold() -> None:
    [chunk] = one_doubtful_word(TEST_REVIEWER).chunks
    assert chunk.predicted_wer > TEST_REVIEWER.threshold
    assert chunk.needs_review and chunk.review_reason == "predicted_wer;doubtful_words"
    [calm] = one_doubtful_word(dataclasses.replace(TEST_REVIEWER, threshold=0.99)).chunks
    assert not calm.needs_review and calm.review_reason == "" and calm.doubtful_words  # listed, not flagged


def test_review_options_load_a_model_and_override_its_threshold(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    TEST_REVIEWER.model.save(path)
    reviewer = Reviewer.from_options(AnnotationOptions(review_model=str(path), review_threshold=0.5))
    assert reviewer.model == TEST_REVIEWER.model and reviewer.threshold == 0.5
    assert Reviewer.from_options(ANNOTATION).threshold == Reviewer.default().model.threshold
    with pytest.raises(ConfigError, match="annotation.review_model"):
        Reviewer.from_options(AnnotationOptions(review_model=str(tmp_path / "missing.json")))
    with pytest.raises(ConfigError, match="draft_max_wer"):
        AnnotationOptions(draft_max_wer=1.5).validate()


def test_item_wer_weights_chunks_by_words() -> None:
    short = Chunk(0, 0.0, 5.0, "one", predicted_wer=0.9)
    long = Chunk(1, 5.0, 6.0, "one two three", predicted_wer=0.1)
    assert item_predicted_wer([short, long]) == pytest.approx((0.9 + 3 * 0.1) / 4)
    assert item_predicted_wer([Chunk(0, 0.0, 1.0, "x")]) is None


@pytest.mark.parametrize(
    ("mark", "srt_line", "vtt_line"), [(False, RIVER, RIVER), (True, *(["The river [carries?] water to the sea."] * 2))]
)
def test_subtitles_mark_doubtful_words_only_when_asked(
    tmp_path: Path, mark: bool, srt_line: str, vtt_line: str
) -> None:
    write_exports(tmp_path, [one_doubtful_word()], AnnotationOptions(mark_doubtful=mark))
    assert (tmp_path / "subtitles" / "river.wav.srt").read_text(encoding="utf-8").splitlines()[2] == srt_line
    assert (tmp_path / "subtitles" / "river.wav.vtt").read_text(encoding="utf-8").splitlines()[3] == vtt_line


def bad_transcript() -> Transcript:
    """A transcript as Whisper gives for unintelligible audio: every word unsure."""
    return transcript("so the uh river um carries it the sea", [0.12] * 9, avg_logprob=-1.3)


def bad_clip() -> ItemChunks:
    return chunk_item("bad.wav", "bad.wav", bad_transcript(), ChunkingOptions())


def test_a_high_wer_item_is_routed_to_textless_events_that_validate() -> None:
    entry = bad_clip()
    assert entry.predicted_wer > 0.3
    route = route_item(entry.item, entry.predicted_wer, 0.3, 0.0, 0)
    assert route == FROM_SCRATCH and route_item(entry.item, entry.predicted_wer, None, 0.0, 0) == DRAFT
    d = sa_annotation(entry.item, entry.duration, list(entry.chunks), ANNOTATION, route)
    assert_valid_sa_annotation(d, "bad.wav")
    assert annotation_problems(d, "bad.wav", class_index(annotation_classes(ANNOTATION))) == []
    for stamp in d["instances"][0]["parameters"][0]["timestamps"]:
        assert stamp["attributes"] == [
            {"groupName": "Review", "name": "needs_review"},
            {"groupName": "Review reason", "name": "transcribe_from_scratch"},
        ]
    control = sa_annotation(entry.item, entry.duration, list(entry.chunks), ANNOTATION, CONTROL)
    assert control["instances"][0]["parameters"][0]["timestamps"][0]["attributes"][1]["name"] == "control"


def test_control_arm_is_reproducible_stable_and_stratified() -> None:
    names = [f"file{n:03d}.wav" for n in range(200)]
    strata_of = {name: (("en", "de")[n % 2], (0.05, 0.15, 0.25, 0.6)[n // 2 % 4]) for n, name in enumerate(names)}
    share = 0.25

    def arms(items: list[str], seed: int = 7) -> dict[str, str]:
        return {i: route_item(i, strata_of.get(i, ("en", 0.05))[1], None, share, seed) for i in items}

    first = arms(names)
    assert first == arms(list(reversed(names)))  # the same items, whatever the order
    assert {k: v for k, v in arms([*names, "new.wav", "other.wav"]).items() if k in first} == first
    assert arms(names, seed=8) != first
    chosen = [i for i, route in first.items() if route == CONTROL]
    assert abs(len(chosen) / 200 - share) <= 0.05
    counts = strata([(strata_of[i][0], strata_of[i][1], first[i]) for i in names])
    assert len(counts) == 8 and all(c["items"] == 25 for c in counts.values())
    assert all(abs(c["control"] / c["items"] - share) <= 0.2 for c in counts.values()), counts
    assert all(0 <= control_draw(i, 7) < 1 for i in names)
    assert route_item(chosen[0], None, 0.3, share, 7) == DRAFT  # no speech, nothing to type: never routed


def test_wer_bands() -> None:
    assert [wer_band(w) for w in (None, 0.0, 0.1, 0.25, 0.31, 0.9)] == [
        "none",
        "0-0.1",
        "0-0.1",
        "0.2-0.3",
        "0.3-0.5",
        "0.5-1",
    ]


def test_run_summary_counts_items_per_route(tmp_path: Path) -> None:
    files = [
        FileResult("a.wav", "a.wav", "ok", language="en", chunks=2, predicted_wer=0.05, route=DRAFT),
        FileResult("b.wav", "b.wav", "skipped", language="en", chunks=1, predicted_wer=0.6, route=FROM_SCRATCH),
        FileResult("c.wav", "c.wav", "ok", language="de", chunks=1, predicted_wer=0.12, route=CONTROL),
        FileResult("d.wav", "d.wav", "failed", error="broken"),
    ]
    summary = RunReport(tmp_path, {}, files=files).to_dict()["summary"]
    assert summary["routes"] == {"draft": 1, "from_scratch": 1, "control": 1}
    assert summary["control_strata"]["de|0.1-0.2"] == {"items": 1, "control": 1}
    table = summary_table(files)
    assert table.splitlines()[-1] == "routes: 1 draft, 1 from_scratch, 1 control"
    assert "60%" in table and "from_scratch" in table


def run_with_routes(root: Path) -> tuple[Path, Path]:
    """A run of two real clips: one draft, one to transcribe from scratch (exports written without the model)."""
    inp, out = root / "in", root / "out"
    inp.mkdir()
    for item, name in (("fox.wav", "quick_brown_fox"), ("count.wav", "counting")):
        shutil.copy(SAMPLES / "en" / f"{name}.wav", inp / item)
    fox = dataclasses.replace(fixed_entries()[0], item="fox.wav", source="fox.wav", duration=16.25)
    count = dataclasses.replace(bad_clip(), item="count.wav", source="count.wav", route=FROM_SCRATCH)
    write_exports(out, [fox, count], ANNOTATION)
    config = config_to_dict(load_config(None, [f"input.dir={inp}", f"output.dir={out}"]))
    files = [FileResult(e.item, e.source, "ok", duration=e.duration, language="en", chunks=len(e.chunks),
                        predicted_wer=e.predicted_wer, route=e.route) for e in (fox, count)]  # fmt: skip
    RunReport(out, config, files=files).write()
    return inp, out


def test_textless_item_uploads_to_the_loopback_server_and_the_report_still_works(
    sa_server: SuperAnnotateServer, tmp_path: Path
) -> None:
    from preannotate.correction import compare_run, pull_run
    from preannotate.correction.pull import open_session
    from preannotate.correction.report import write_report

    inp, out = run_with_routes(tmp_path)
    opts = SuperAnnotateOptions(project="Routes", url_prefix="https://media.example.org/a", backoff_seconds=0.0)
    report = upload_run(out, opts, ANNOTATION, inp, preflight(opts))
    assert sorted(report.succeeded) == ["count.wav", "fox.wav"], report.items
    stored = sa_server.annotation("Routes", "count.wav")
    attributes = [a for i in stored["instances"] for t in i["parameters"][0]["timestamps"] for a in t["attributes"]]
    assert attributes and all(a["groupName"] != "Content" for a in attributes)
    for instance in stored["instances"]:  # the annotator types the text
        for stamp in instance["parameters"][0]["timestamps"]:
            stamp["attributes"].append({"groupName": "Content", "name": "one two three"})
    sa_server.set_annotation("Routes", "count.wav", stored)
    sa_server.set_status("Routes", "count.wav", "Completed")
    pull_run(out, "Routes", open_session(opts))
    result = compare_run(out, ANNOTATION, CorrectionOptions())
    items = result.items.set_index("item")
    given = len(stored["instances"])  # the boundaries it was uploaded with, the annotator's text typed in them
    assert items.loc["count.wav", "draft_chunks"] == items.loc["count.wav", "corrected_events"] == given
    assert items.loc["count.wav", ["added", "removed", "retimed"]].sum() == 0  # no boundary edited
    assert result.chunks.empty or "count.wav" not in set(result.chunks["item"])  # no draft chunk to assess
    path = write_report(result, out / "correction")
    assert path.exists() and (out / "correction" / "report.html").is_file()


def test_export_chunks_records_predicted_wer_share_and_route_per_file(tmp_path: Path) -> None:
    from preannotate.run import export_chunks

    out = tmp_path / "out"
    files = []
    for item, t in (("good.wav", transcript(RIVER, [0.99] * 7, avg_logprob=-0.1)), ("bad.wav", bad_transcript())):
        (out / "transcripts").mkdir(parents=True, exist_ok=True)
        (out / "transcripts" / f"{item}.json").write_text(json.dumps(t.to_dict()), encoding="utf-8")
        files.append(FileResult(item, item, "ok", duration=10.0, language="en"))
    config = load_config(None, [f"output.dir={out}", "input.dir=."])
    report = RunReport(out, {}, files=files)
    export_chunks(config, report)
    by_item = {f.item: f for f in report.files}
    assert by_item["good.wav"].route == DRAFT and by_item["bad.wav"].route == FROM_SCRATCH
    assert all(0 <= f.predicted_wer <= 1 for f in report.files)
    assert by_item["bad.wav"].doubtful_share == 1.0 and by_item["good.wav"].doubtful_share == 0.0
    assert report.to_dict()["summary"]["routes"] == {"draft": 1, "from_scratch": 1, "control": 0}
    sa = json.loads((out / "superannotate" / "bad.wav.json").read_text(encoding="utf-8"))
    assert not [a for i in sa["instances"] for t in i["parameters"][0]["timestamps"] for a in t["attributes"]
                if a["groupName"] == "Content"]  # fmt: skip
    everyone = load_config(None, [f"output.dir={out}", "input.dir=.", "superannotate.control_share=1.0"])
    export_chunks(everyone, report)
    assert {f.route for f in report.files} == {CONTROL}
    assert bad_clip().predicted_wer == by_item["bad.wav"].predicted_wer

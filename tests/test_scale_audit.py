"""Work after transcription stays in proportion to the run's size (benchmarks/scale_bookkeeping.py times it).

No timings here: the counts that made it grow faster than the number of items (uploads.json rewritten whole
around every batch, a scan of every chunk per item, one plot bar per item) are checked instead.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.sa_server import SuperAnnotateServer
from support.upload_runs import items_of, make_run, options, run_upload, video_json, write_json

from preannotate.correction.report import MAX_BARS, _wer_figure
from preannotate.correction.rundata import quality_lookups
from preannotate.superannotate import Ledger
from preannotate.superannotate.client import UploadSession
from preannotate.superannotate.send import ROUND_SHARE

SOURCES = [f"clip_{i:04d}.wav" for i in range(240)]
BATCH = 4


def _count_saves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each ledger save from now on appends the number of entries it writes."""
    sizes: list[int] = []
    real_save = Ledger.save

    def counting_save(self: Ledger) -> None:
        sizes.append(self.size())
        real_save(self)

    monkeypatch.setattr(Ledger, "save", counting_save)
    return sizes


def test_ledger_writes_grow_with_the_run_not_its_square(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_run(tmp_path, SOURCES)
    sizes = _count_saves(monkeypatch)
    report = run_upload(tmp_path, options(batch_size=BATCH))

    assert sorted(report.succeeded) == sorted(items_of(SOURCES)) and not report.failed
    uploads = [p for p in sa_server.paths("POST") if p.endswith("/annotations/upload")]
    assert len(uploads) == len(SOURCES) // BATCH  # still one request per batch
    # Before: three saves per batch, 180 saves writing 22,000 entries; in rounds, 72 writing 6,100 (a round
    # of at least 1/ROUND_SHARE of the ledger, three saves each: under 3 * (ROUND_SHARE + 1) final ledgers).
    assert len(sizes) < 90
    assert sum(sizes) <= 3 * (ROUND_SHARE + 1) * len(SOURCES)
    ledger = Ledger.load(tmp_path / "output")
    assert set(ledger.items(report.target or "")) == set(items_of(SOURCES))
    assert not ledger.data["targets"][report.target].get("pending")


def test_an_upload_stopped_inside_a_round_is_resumed_as_its_own(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = make_run(tmp_path, SOURCES)
    run_upload(tmp_path, options(batch_size=BATCH))
    for item in items_of(SOURCES):  # a re-run with another model: every draft is new
        write_json(out / "superannotate" / f"{item}.json", video_json(item, [(0.0, 3.0, f"redrafted {item}")]))
    real_upload, calls = UploadSession.upload, []

    def upload_then_stop(self: UploadSession, project: str, annotations: list[dict]) -> dict:
        calls.append(len(annotations))
        if len(calls) == 3:  # the first round (240 // 8 = 30 items: 8 batches) is half sent
            raise KeyboardInterrupt
        return real_upload(self, project, annotations)

    monkeypatch.setattr(UploadSession, "upload", upload_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_upload(tmp_path, options(batch_size=BATCH))
    monkeypatch.setattr(UploadSession, "upload", real_upload)
    ledger = Ledger.load(out)
    target = next(iter(ledger.data["targets"]))
    assert len(ledger.data["targets"][target]["pending"]) > 2 * BATCH  # the round, recorded before it was sent

    again = run_upload(tmp_path, options(batch_size=BATCH))
    assert sorted(again.succeeded) == sorted(items_of(SOURCES)) and not again.kept_human_edits
    assert not Ledger.load(out).data["targets"][target].get("pending")


def quality_lookup(table: pd.DataFrame, item: str) -> dict[str, list[dict]]:
    """One item's records grouped by text, selected as the report did before: the reference for `quality_lookups`."""
    found: dict[str, list[dict]] = {}
    for record in table[table["item"] == item].to_dict("records"):
        found.setdefault(record["text"], []).append(record)
    return found


def test_quality_lookups_group_every_item_as_quality_lookup_does() -> None:
    rows = [{"item": f"i{n % 7}", "start_us": n * 1000, "text": f"t{n % 3}", "needs_review": n % 2 == 0}
            for n in range(60)]  # fmt: skip
    table = pd.DataFrame(rows)
    grouped = quality_lookups(table)
    assert set(grouped) == {f"i{k}" for k in range(7)}
    assert all(grouped[item] == quality_lookup(table, item) for item in grouped)
    assert quality_lookups(table.iloc[0:0]) == {}


def test_wer_plot_shows_the_highest_wers_only() -> None:
    n = 5 * MAX_BARS
    items = pd.DataFrame({"item": [f"clip_{i}" for i in range(n)], "compared": True, "wer": [i / n for i in range(n)]})
    ax = _wer_figure(items).axes[0]
    assert len(ax.patches) == MAX_BARS  # before: one bar per item, 0.3 inch each
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == f"clip_{n - 1}"
    assert ax.get_title() == f"WER per item: the {MAX_BARS} highest of {n}"
    few = _wer_figure(items.head(3)).axes[0]
    assert len(few.patches) == 3 and few.get_title() == "WER per item"


def test_a_first_upload_giving_a_human_status_stopped_inside_a_round_keeps_nothing_as_human_edited(
    sa_server: SuperAnnotateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`superannotate.status: QualityCheck` is a status people give too: only the ledger's record that this
    folder gave it vouches for an item in it. Saved once per round, a stop inside a round lost that record for
    the round's earlier batches, whose items the next upload then kept as human-edited, for good."""
    make_run(tmp_path, SOURCES)
    real_upload, calls = UploadSession.upload, []

    def upload_then_stop(self: UploadSession, project: str, annotations: list[dict]) -> dict:
        calls.append(len(annotations))
        if len(calls) == 40:  # late in the run, when a round holds several batches
            raise KeyboardInterrupt
        return real_upload(self, project, annotations)

    monkeypatch.setattr(UploadSession, "upload", upload_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_upload(tmp_path, options(batch_size=BATCH, status="QualityCheck"))
    monkeypatch.setattr(UploadSession, "upload", real_upload)
    again = run_upload(tmp_path, options(batch_size=BATCH, status="QualityCheck"))
    assert not again.kept_human_edits
    assert sorted(again.succeeded + again.skipped) == sorted(items_of(SOURCES)) and not again.failed

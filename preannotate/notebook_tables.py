"""What the notebooks show of a run: its tables and a timeline plot, and where relative paths lead.

Relative paths are relative to the project root (the checkout holding `pyproject.toml`), wherever
the kernel was started: Jupyter starts it in `notebooks/`, papermill in the caller's folder, Colab in
`/content`. `preannotate.notebook` re-exports all of these for the notebooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .journal import read_run
from .storage import expand_home

if TYPE_CHECKING:  # pandas is imported where tables are made: batch and the CLI start faster
    import pandas as pd


def project_root() -> Path:
    """The checkout relative paths refer to: the nearest one above the working folder, else the package's."""
    here = Path.cwd().resolve()
    package_parent = Path(__file__).resolve().parent.parent
    for folder in (here, *here.parents, package_parent):
        if (folder / "pyproject.toml").is_file() and (folder / "preannotate").is_dir():
            return folder
    return here


def resolve_path(path: str | Path) -> Path:
    """An absolute path: `~` expanded, relative paths taken from the project root."""
    path = expand_home(path)
    return path if path.is_absolute() else project_root() / path


def _run_json(output_dir: str | Path) -> dict[str, Any]:
    path = resolve_path(output_dir) / "run.json"
    data = read_run(path.parent)
    if not isinstance(data, dict):
        raise InputError(f"no run in {path.parent}: run.json is missing (run notebooks/preannotate.ipynb first)")
    return data


def summary_line(output_dir: str | Path) -> str:
    """One line about a run: files by status, hours of audio, chunks and how many need review."""
    summary = _run_json(output_dir)["summary"]
    chunks = chunk_table(output_dir)
    doubtful = int(chunks["needs_review"].sum()) if len(chunks) else 0
    return (
        f"{summary['files']} files ({summary['ok']} transcribed, {summary['skipped']} already done, "
        f"{summary['failed']} failed), {summary['audio_seconds'] / 3600:.2f} h of audio, "
        f"{summary['chunks']} chunks, {doubtful} to review"
    )


def run_table(output_dir: str | Path) -> pd.DataFrame:
    """The run's per-file results from run.json: one row per file, failures first."""
    import pandas as pd

    files = _run_json(output_dir)["files"]
    columns = ["source", "status", "duration", "language", "segments", "chunks", "seconds", "error"]
    frame = pd.DataFrame(files, columns=[*columns, "warnings"])
    frame["warnings"] = frame["warnings"].map(lambda w: "; ".join(w or []))
    order = frame["status"].map({"failed": 0}).fillna(1)
    return frame.assign(_order=order).sort_values(["_order", "source"], kind="stable").drop(columns="_order")


def chunk_table(output_dir: str | Path) -> pd.DataFrame:
    """The run's chunks (chunks.csv), the ones flagged for review first, then in file and time order.

    Texts are shown as transcribed: the quote chunks.csv puts before a text starting with `=`, `+`,
    `-` or `@` (so that spreadsheets do not run it) is taken off.
    """
    import pandas as pd

    from .exports import QUALITY_COLUMNS
    from .spreadsheet import raw_frame

    path = resolve_path(output_dir) / "chunks.csv"
    if not path.is_file():
        raise InputError(f"no chunks in {path.parent}: chunks.csv is missing (run notebooks/preannotate.ipynb first)")
    # Texts stay texts ("NA" and "null" are words); only empty quality signals are missing values.
    frame = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in QUALITY_COLUMNS})
    frame = raw_frame(frame, ("item", "source", "text", "speaker", "language", "review_reason"))
    frame["needs_review"] = frame["needs_review"].astype(str).eq("True")
    return frame.sort_values(["needs_review", "item", "start"], ascending=[False, True, True], kind="stable")


def upload_table(output_dir: str | Path) -> pd.DataFrame:
    """What the upload did per item (from run.json); empty when nothing was uploaded or checked."""
    import pandas as pd

    upload = _run_json(output_dir).get("upload") or {}
    columns = ["item", "source", "status", "reason", "url"]
    return pd.DataFrame(upload.get("items") or [], columns=columns)


def plot_timeline(output_dir: str | Path, item: str | None = None, start: float = 0.0, end: float | None = 60.0):
    """Draws one file's waveform with its chunks: spans, boundaries and text.

    Chunks are coloured by speaker (with a legend) when the run has speakers; otherwise flagged ones are orange.

    Args:
        output_dir: The run's output folder.
        item: The item to draw; the first one with chunks when None.
        start: Seconds where the picture starts.
        end: Seconds where it ends (None: the end of the file); long files would be unreadable whole.

    Returns:
        The matplotlib Figure (closed, so that a notebook shows it once, as the cell's result); None, with a
        line saying so, when `item` is None and no file of the run has chunks.
    """
    from .audio import SAMPLE_RATE
    from .cloud import is_bucket_url
    from .correction.media import source_media
    from .errors import CorrectionError
    from .timeline import draw_timeline

    run, chunks = _run_json(output_dir), chunk_table(output_dir)
    item = item or _first_item(run, chunks)
    if item is None:  # silence only, or every file failed: Run-all goes on to the upload cell (a batch's outcome)
        print(f"nothing to draw: no file of the run in {resolve_path(output_dir)} has chunks")
        return None
    source = next((f["source"] for f in run["files"] if f["item"] == item), None)
    if source is None:
        raise InputError(f"item {item!r} is not in the run in {resolve_path(output_dir)}")
    root = str(run["config"]["input"]["dir"])  # a bucket's objects are read as export reads them
    media = source_media(resolve_path(output_dir), root if is_bucket_url(root) else resolve_path(root))
    try:
        samples = media.decode(item, source).samples
    except CorrectionError as e:
        raise InputError(f"{item}: {e}") from e
    shown = samples[int(start * SAMPLE_RATE) : None if end is None else int(end * SAMPLE_RATE)]
    return draw_timeline(shown, chunks[chunks["item"] == item], item, start)


def _first_item(run: dict[str, Any], chunks: pd.DataFrame) -> str | None:
    with_chunks = [f["item"] for f in run["files"] if f["item"] in set(chunks["item"])]
    return with_chunks[0] if with_chunks else None

"""CSV cells that spreadsheets would run as formulas, written so that they open as plain text.

OWASP's advice against CSV injection: a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return gets a leading single quote, which spreadsheets take as "this is text" and do not show.
Used for the CSVs people open (chunks.csv, the correction report's tables, segments.csv); JSON,
JSON lines and training metadata keep the exact text. Readers of those CSVs undo it with `raw_cell`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the functions only call the frames' methods: a run that writes no table never loads pandas
    import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def safe_cell(value: Any) -> Any:
    """The value with a leading quote when it is a text a spreadsheet would run; others unchanged."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return QUOTE + value
    return value


def raw_cell(value: Any) -> Any:
    """Undoes `safe_cell`: drops a leading quote that precedes a trigger character.

    A raw text that itself starts with a quote and a trigger character cannot be told apart; such
    texts are not in transcripts in practice, and chunks.jsonl holds every text exactly.
    """
    if isinstance(value, str) and value.startswith(QUOTE) and value[1:].startswith(TRIGGERS):
        return value[1:]
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the table with every text cell made safe (`safe_cell`); numbers stay numbers."""
    texts = frame.select_dtypes(include=["object", "string"]).columns
    return frame.assign(**{str(c): frame[c].map(safe_cell) for c in texts}) if len(texts) else frame


def frame_csv(frame: pd.DataFrame) -> str:
    r"""The table as CSV text without its index, Unix line ends, every cell holding a line break quoted.

    Python's csv writer (before 3.13) quotes a cell holding a carriage return only when the line terminator
    holds one: with `\n` rows, a text with a lone `\r` would end its row early for every reader. A table
    with one is written with `\r\n` rows, which quotes it, then its rows' ends (outside quotes) made `\n`.
    """
    text = frame.to_csv(index=False, lineterminator="\n")
    if "\r" not in text:
        return text
    parts = frame.to_csv(index=False, lineterminator="\r\n").split('"')  # even parts lie outside quotes
    return '"'.join(part.replace("\r\n", "\n") if i % 2 == 0 else part for i, part in enumerate(parts))


def raw_frame(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy of a table read from a safe CSV with `columns` (those present) back to their raw text."""
    present = [c for c in columns if c in frame.columns]
    return frame.assign(**{c: frame[c].map(raw_cell) for c in present}) if present else frame

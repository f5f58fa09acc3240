"""The notebook's timeline picture: a waveform with its chunks, coloured by speaker when the run has speakers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .audio import SAMPLE_RATE

if TYPE_CHECKING:  # matplotlib and pandas load only when a picture is drawn
    import pandas as pd
    from matplotlib.figure import Figure

REVIEW, PLAIN = "tab:orange", "tab:blue"
# Speaker colours: tab10 without orange, which marks chunks to review when there are no speakers.
SPEAKER_COLOURS = ("tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def speaker_colours(chunks: pd.DataFrame) -> dict[str, str]:
    """One colour per speaker, in order of first appearance; empty when the chunks have no speakers."""
    if "speaker" not in chunks.columns:
        return {}
    named = [s for s in chunks.sort_values("start")["speaker"] if isinstance(s, str) and s]
    order = list(dict.fromkeys(named))
    return {s: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i, s in enumerate(order)}


def draw_timeline(samples: Any, chunks: pd.DataFrame, item: str, start: float) -> Figure:
    """Draws `samples` (16 kHz, starting at `start` seconds) with one item's chunks: spans, boundaries, text.

    Without speakers, chunks flagged for review are orange and the others blue; with speakers, each speaker
    has a colour (the legend names them) and flagged chunks are hatched.

    Returns:
        The matplotlib Figure (closed, so that a notebook shows it once, as the cell's result).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colours = speaker_colours(chunks)
    fig, ax = plt.subplots(figsize=(14, 3.5))
    ax.fill_between(*_envelope(samples, start), color="0.55", linewidth=0.5)
    for row in chunks.itertuples():
        colour = colours.get(getattr(row, "speaker", ""), "0.3") if colours else REVIEW if row.needs_review else PLAIN
        hatch = "//" if colours and row.needs_review else None
        ax.axvspan(row.start, row.end, facecolor=colour, alpha=0.18, linewidth=0, hatch=hatch, edgecolor=colour)
        ax.axvline(row.start, color=colour, linewidth=1)
        ax.axvline(row.end, color=colour, linewidth=1, linestyle="--")
        label = row.text if len(row.text) <= 60 else row.text[:57] + "..."
        ax.text(row.start, 0.97, label, transform=ax.get_xaxis_transform(), va="top", fontsize=8, clip_on=True)
    ax.set_xlim(start, start + len(samples) / SAMPLE_RATE)
    if colours:
        handles = [Patch(facecolor=c, alpha=0.5, label=s) for s, c in colours.items()]
        handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="//", label="needs review"))
        ax.legend(handles=handles, loc="lower right", fontsize=8, title="speaker", title_fontsize=8)
        title = f"{item}: chunks by speaker ({len(colours)} speakers; hatched: needs review; dashed: chunk end)"
    else:
        title = f"{item}: chunks (orange: needs review; dashed: chunk end)"
    ax.set(xlabel="seconds", title=title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _envelope(samples: Any, start: float, points: int = 4000) -> tuple[Any, Any, Any]:
    """Times, minima and maxima of about `points` blocks: a long waveform drawn fast, peaks kept."""
    import numpy as np

    step = max(1, len(samples) // points)
    blocks = samples[: len(samples) // step * step].reshape(-1, step)
    return start + np.arange(len(blocks)) * step / SAMPLE_RATE, blocks.min(axis=1), blocks.max(axis=1)

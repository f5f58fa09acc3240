"""Measured errors per chunk: a file's chunks aligned against its reference text.

The whole file's hypothesis (every chunk's normalized words, in order) is aligned to the
whole reference in one pass, so a chunk boundary that falls between the model's and the
reference's sentence breaks costs nothing. Substitutions and insertions belong to the
chunk of the hypothesis word; a deleted reference word goes to the neighbouring chunk
nearest to it in time (or, without reference times, the chunk before it). Both texts go
through the same normalizer (Whisper's English one by default), so case, punctuation and
spelling of numbers are not errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..chunking import Chunk
from ..text_normalize import text_normalizer

Normalizer = Callable[[str], str]
# A reference sentence with its time span in the file (None when unknown).
Sentence = tuple[str, float | None, float | None]


@dataclass(frozen=True)
class ChunkLabel:
    """What the reference says about one chunk.

    Attributes:
        errors: Word edits attributed to the chunk (substitutions + insertions + deletions).
        ref_words: Reference words attributed to the chunk.
        wrong_words: Indices into `chunk.words` of the words substituted or inserted.
    """

    errors: int
    ref_words: int
    wrong_words: tuple[int, ...] = ()

    @property
    def wer(self) -> float:
        """Chunk WER clipped to [0, 1]; a chunk with errors and no reference words counts 1."""
        if not self.ref_words:
            return 1.0 if self.errors else 0.0
        return min(self.errors / self.ref_words, 1.0)

    @property
    def has_error(self) -> bool:
        """True when the chunk holds at least one error."""
        return self.errors > 0


@dataclass(frozen=True)
class _Token:
    text: str
    chunk: int  # position in the chunk list
    word: int | None  # index into that chunk's words; None without words


def english_normalizer() -> Normalizer:
    """Whisper's English text normalizer, as the correction report normalizes (`text_normalize`)."""
    return text_normalizer("en")


def label_chunks(
    chunks: Sequence[Chunk], reference: str | Sequence[Sentence], normalize: Normalizer, max_gap: float = 1.0
) -> tuple[list[ChunkLabel], int]:
    """Attributes the errors of a file's chunks against its reference.

    Args:
        chunks: One file's chunks in time order.
        reference: The reference text, or its sentences with their spans (times place deletions).
        normalize: The text normalizer, applied to each chunk's text and each reference sentence.
        max_gap: A deleted word farther than this (s) from both neighbouring chunks is left unattributed
            (speech the model skipped entirely is no chunk's error).

    Returns:
        One label per chunk, and the number of reference words attributed to no chunk.
    """
    sentences = [(reference, None, None)] if isinstance(reference, str) else list(reference)
    ref = [(t, time) for text, start, end in sentences for t, time in _timed_tokens(normalize(text), start, end)]
    hyp = [token for k, chunk in enumerate(chunks) for token in _chunk_tokens(k, chunk, normalize)]
    errors, refs = [0] * len(chunks), [0] * len(chunks)
    wrong: list[set[int]] = [set() for _ in chunks]
    unattributed = 0
    for kind, ref_span, hyp_span in _alignment([t for t, _ in ref], [t.text for t in hyp]):
        if kind == "delete":
            for _, time in ref[ref_span[0] : ref_span[1]]:
                k = _deletion_chunk(chunks, hyp, hyp_span[0], time, max_gap)
                if k is None:
                    unattributed += 1
                else:
                    errors[k], refs[k] = errors[k] + 1, refs[k] + 1
            continue
        for offset, token in enumerate(hyp[hyp_span[0] : hyp_span[1]]):
            refs[token.chunk] += offset < ref_span[1] - ref_span[0]
            if kind != "equal":
                errors[token.chunk] += 1
                if token.word is not None:
                    wrong[token.chunk].add(token.word)
        # A substitution with more reference than hypothesis words: the extra ones are deletions.
        extra = (ref_span[1] - ref_span[0]) - (hyp_span[1] - hyp_span[0])
        if extra > 0:
            k = hyp[hyp_span[1] - 1].chunk
            errors[k], refs[k] = errors[k] + extra, refs[k] + extra
    labels = [ChunkLabel(e, r, tuple(sorted(w))) for e, r, w in zip(errors, refs, wrong)]
    return labels, unattributed


def _alignment(ref: list[str], hyp: list[str]) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """(kind, ref span, hyp span) blocks; kinds are jiwer's: equal, substitute, insert, delete."""
    if not ref or not hyp:
        return [("delete", (0, len(ref)), (0, 0))] if ref else [("insert", (0, 0), (0, len(hyp)))] if hyp else []
    import jiwer  # only labelling (fitting, evaluating) needs it, not a run that assesses chunks

    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return [(a.type, (a.ref_start_idx, a.ref_end_idx), (a.hyp_start_idx, a.hyp_end_idx)) for a in out.alignments[0]]


def _timed_tokens(text: str, start: float | None, end: float | None) -> list[tuple[str, float | None]]:
    """A sentence's tokens, each at a time spread evenly over the sentence's span."""
    tokens = text.split()
    if start is None or end is None:
        return [(t, None) for t in tokens]
    step = (end - start) / max(len(tokens), 1)
    return [(t, start + step * (i + 0.5)) for i, t in enumerate(tokens)]


def _chunk_tokens(k: int, chunk: Chunk, normalize: Normalizer) -> list[_Token]:
    """The chunk's normalized tokens, each owned by the word that first brought it in."""
    words = [w.word for w in chunk.words]
    if not words:
        return [_Token(t, k, None) for t in normalize(chunk.text).split()]
    tokens = normalize("".join(words)).split()
    owners: list[int] = []
    # Normalizing growing prefixes tells which word each token comes from, even where the
    # normalizer merges words ("twenty five" -> "25": the token goes to "twenty").
    for i in range(len(words)):
        count = min(len(normalize("".join(words[: i + 1])).split()), len(tokens))
        owners.extend([i] * (count - len(owners)))
    owners.extend([len(words) - 1] * (len(tokens) - len(owners)))
    return [_Token(t, k, i) for t, i in zip(tokens, owners)]


def _deletion_chunk(
    chunks: Sequence[Chunk], hyp: Sequence[_Token], at: int, time: float | None, max_gap: float
) -> int | None:
    """The chunk a reference word missing before hyp[at] belongs to."""
    candidates = [hyp[i].chunk for i in (at - 1, at) if 0 <= i < len(hyp)]
    if not candidates:
        return None
    if time is None:
        return candidates[0]
    distance = {k: max(chunks[k].start - time, time - chunks[k].end, 0.0) for k in candidates}
    best = min(candidates, key=lambda k: distance[k])
    return best if distance[best] <= max_gap else None

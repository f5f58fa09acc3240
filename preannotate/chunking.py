"""Turning one file's transcript into chunks: the units annotators see, with quality signals.

`chunk_transcript` is a pure function of a `Transcript` and `ChunkingOptions`, so
changing only the chunking options re-chunks stored transcripts without running
the model again. Whatever the input, the chunks it returns are ordered, never
overlap, lie within [0, duration], have end > start and non-empty text, and
together hold every non-blank word of the transcript in order. The one exception
is a transcript made per channel (its segments carry their speaker): there this
holds for each speaker's chunks, and chunks of different speakers may overlap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, TypedDict

from . import chunk_timing
from .chunk_timing import Unit, ends_clause, ends_sentence
from .options import ChunkingOptions
from .results import Segment, Transcript, Word
from .speakers import Turn, speaker_of

# Review reasons, in the order they are reported.
LOW_WORD_PROBABILITY = "low_word_probability"
LOW_AVG_LOGPROB = "low_avg_logprob"
HIGH_NO_SPEECH_PROB = "high_no_speech_prob"
REPETITION = "repetition"
FALLBACK_TEMPERATURE = "fallback_temperature"
# Added after chunking by the review model (preannotate.review): chunking stays pure and never imports it.
PREDICTED_WER = "predicted_wer"
DOUBTFUL_WORDS = "doubtful_words"  # listed with a flag when the chunk has words under the model's word threshold
# Item-level routes (preannotate.routing): their events carry no text, so the annotator types it.
TRANSCRIBE_FROM_SCRATCH = "transcribe_from_scratch"
CONTROL = "control"
RULE_REASONS = (LOW_WORD_PROBABILITY, LOW_AVG_LOGPROB, HIGH_NO_SPEECH_PROB, REPETITION, FALLBACK_TEMPERATURE)
REVIEW_REASONS = (*RULE_REASONS, PREDICTED_WER, DOUBTFUL_WORDS, TRANSCRIBE_FROM_SCRATCH, CONTROL)

# Costs of the segmentation search, in units of "one more chunk". A cut at a sentence end
# is free, after a comma it costs more than a chunk, between two words even more; a pause
# makes any cut cheaper, up to free at `gap_threshold`.
CHUNK_COST = 1.0
BALANCE_COST = 0.5  # times (duration / max_duration) squared: evens out the chunks of a long stretch
SHORT_COST = 2.0  # for a chunk under min_duration that a pause does not force
CLAUSE_CUT_COST = 1.5
WORD_CUT_COST = 4.0
SEGMENT_CUT_BONUS = 0.5  # Whisper's own segment ends are a hint where punctuation is missing

_TOKENS = re.compile(r"\s*\S+")
# Scripts written without spaces (Han, kana, Thai, Lao, Myanmar, Khmer): each character is a boundary.
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Chunk:
    """One annotation unit: a time span, its text and the model's confidence in it.

    Attributes:
        index: Position in the file, from 0.
        start: Start in seconds, where the speech starts (plus padding).
        end: End in seconds, where the speech ends (plus padding).
        text: The text, stripped, never empty.
        words: The model's words, times unchanged (chunk bounds may differ after repairs); empty without words.
        mean_word_probability: Mean probability of the words; None without words.
        min_word_probability: Lowest word probability; None without words.
        avg_logprob: Duration-weighted mean of the segments' average log probability.
        no_speech_prob: Highest no-speech probability of the segments.
        compression_ratio: Highest gzip compression ratio of the segments (high means repetitions).
        temperature: Highest decoding temperature of the segments (above 0 means Whisper fell back).
        needs_review: True when a review threshold of the options is crossed, or (after
            `preannotate.review`) the predicted WER is above the review threshold.
        review_reason: The reasons, `;`-separated, from REVIEW_REASONS; empty when none.
        predicted_wer: The review model's expected word error rate, 0 to 1; None until assessed.
        doubtful_words: (index in `words`, word, probability) of the words under the model's word
            threshold, in order; empty until assessed.
        speaker: Who speaks in it (`preannotate.speakers`); None when speakers are off (then it is
            left out of `to_dict`, so outputs stay as they were).
    """

    index: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    mean_word_probability: float | None = None
    min_word_probability: float | None = None
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    temperature: float = 0.0
    needs_review: bool = False
    review_reason: str = ""
    predicted_wer: float | None = None
    doubtful_words: tuple[tuple[int, str, float], ...] = ()
    speaker: str | None = None

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-ready dict form (words as openai-whisper's dicts)."""
        d = asdict(self)
        d["words"] = [asdict(w) for w in self.words]
        d["doubtful_words"] = [{"index": i, "word": w, "probability": p} for i, w, p in self.doubtful_words]
        if self.speaker is None:
            del d["speaker"]
        return d


def chunk_transcript(
    transcript: Transcript, options: ChunkingOptions, turns: Sequence[Turn] | None = None
) -> list[Chunk]:
    """Splits one file's transcript into chunks under the options' policy and limits.

    Args:
        transcript: The model's result for one file.
        options: Policy, limits, padding and review thresholds.
        turns: Speaker turns (`preannotate.speakers`): each word gets the speaker whose turns overlap it
            most, and a chunk is also cut at every speaker change, so it has exactly one speaker (under
            `policy: segments` a segment stays whole and gets the speaker that overlaps it most).
            None: no speakers.

    Returns:
        The chunks in time order; empty when the transcript holds no text. A transcript whose segments
        carry their speaker (one per channel) is chunked one speaker at a time: each chunk has its
        segments' speaker, and chunks of different speakers may overlap (they talk at once).

    Raises:
        ChunkingError: The transcript has text but a duration too short to hold it.
    """
    if any(s.speaker is not None for s in transcript.segments):
        return _chunk_each_speaker(transcript, options)
    return _chunk_one_timeline(transcript, options, turns)


def _chunk_each_speaker(transcript: Transcript, options: ChunkingOptions) -> list[Chunk]:
    """Chunks each speaker's segments on their own, then puts every chunk in order of start.

    A speaker's chunk is also cut where another speaker says something in a pause of theirs (a turn
    change), not where their words only overlap (both talking at once).
    """
    chunks: list[Chunk] = []
    for speaker in dict.fromkeys(s.speaker for s in transcript.segments):
        own = replace(transcript, segments=tuple(s for s in transcript.segments if s.speaker == speaker))
        others = chunk_timing.Spans([s for s in transcript.segments if s.speaker != speaker])
        chunks += [replace(c, speaker=speaker) for c in _chunk_one_timeline(own, options, None, others)]
    chunks.sort(key=lambda c: c.start)  # stable: a tie keeps the order speakers first speak in
    return [replace(c, index=k) for k, c in enumerate(chunks)]


def _chunk_one_timeline(
    transcript: Transcript,
    options: ChunkingOptions,
    turns: Sequence[Turn] | None,
    others: chunk_timing.Spans | None = None,
) -> list[Chunk]:
    duration = max(transcript.duration, 0.0)
    if options.policy == "segments":
        groups = [[u] for u in chunk_timing.sanitize(_segment_units(transcript.segments), duration)]
    elif transcript.has_words:
        units = chunk_timing.sanitize(_word_units(transcript.segments), duration)
        groups = _regroup(chunk_timing.trim_stretched(units, options.word_stretch), options, turns, others)
    else:
        units = chunk_timing.sanitize(_segment_units(transcript.segments), duration)
        groups = _regroup(_split_long_segments(units, options), options, turns, others)
    placed = chunk_timing.place(groups, duration, options.padding_before, options.padding_after)
    chunks = [_chunk(k, g, s, e, transcript.segments, options) for k, (g, s, e) in enumerate(placed)]
    if turns is None:
        return chunks
    return [replace(c, speaker=_speaker(g[0], turns)) for c, (g, _, _) in zip(chunks, placed)]


def _word_units(segments: Sequence[Segment]) -> list[Unit]:
    """One unit per non-blank word; a segment with text but no words (alignment failed) stays whole."""
    units = []
    for i, segment in enumerate(segments):
        words = [Unit(w.word, w.start, w.end, i, (w,)) for w in segment.words or () if w.word.strip()]
        units.extend(words or _segment_units([segment], first=i))
    return units


def _segment_units(segments: Sequence[Segment], first: int = 0) -> list[Unit]:
    units = []
    for i, segment in enumerate(segments, start=first):
        if not segment.text.strip():
            continue
        text = segment.text if segment.text[:1].isspace() else " " + segment.text
        words = tuple(w for w in segment.words or () if w.word.strip())
        units.append(Unit(text, segment.start, segment.end, i, words))
    return units


def _split_long_segments(units: Sequence[Unit], options: ChunkingOptions) -> list[Unit]:
    """Splits segments over the limits into word pieces with times interpolated by characters."""
    out: list[Unit] = []
    for unit in units:
        text = unit.text.strip()
        if unit.end - unit.start <= options.max_duration and len(text) <= options.max_chars:
            out.append(unit)
            continue
        tokens = _pieces(unit.text)
        total = sum(len(t) for t in tokens)
        span, seen = unit.end - unit.start, 0
        for token in tokens:
            start = unit.start + span * seen / total
            seen += len(token)
            out.append(Unit(token, start, unit.start + span * seen / total, unit.segment))
    return out


def _pieces(text: str) -> list[str]:
    """Splits text into words with their leading spaces, and unspaced scripts into characters."""
    pieces = []
    for token in _TOKENS.findall(text):
        if _UNSPACED.search(token):
            body = token.lstrip()
            pieces.extend([token[: len(token) - len(body)] + body[0], *body[1:]])
        else:
            pieces.append(token)
    return pieces


def _regroup(
    units: Sequence[Unit], options: ChunkingOptions, turns: Sequence[Turn] | None, others: chunk_timing.Spans | None
) -> list[list[Unit]]:
    groups: list[list[Unit]] = []
    for run in _runs(units, options.gap_threshold, others):
        for part in split_at_speakers(run, turns or ()):
            groups.extend(_split_run(part, options))
    return groups


def split_at_speakers(units: Sequence[Unit], turns: Sequence[Turn]) -> list[list[Unit]]:
    """Splits units wherever the speaker (the turn overlapping each unit most) changes; no turns: one run."""
    parts: list[list[Unit]] = []
    previous: object = object()
    for unit in units:
        speaker = _speaker(unit, turns)
        if parts and speaker == previous:
            parts[-1].append(unit)
        else:
            parts.append([unit])
        previous = speaker
    return parts


def _runs(units: Sequence[Unit], gap_threshold: float, others: chunk_timing.Spans | None = None) -> list[list[Unit]]:
    """Splits units at every silence longer than the gap threshold, and where another speaker speaks between."""
    runs: list[list[Unit]] = []
    for unit in units:
        gap = (runs[-1][-1].end, unit.start) if runs else (0.0, 0.0)
        if runs and gap[1] - gap[0] <= gap_threshold and not (others and others.inside(*gap)):
            runs[-1].append(unit)
        else:
            runs.append([unit])
    return runs


def _split_run(run: Sequence[Unit], options: ChunkingOptions) -> list[list[Unit]]:
    """Cuts a run into chunks of least total cost (dynamic programming over cut positions)."""
    n = len(run)
    chars = [0]
    for unit in run:
        chars.append(chars[-1] + len(unit.text))
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        cut = _cut_cost(run, j, options) if j < n else 0.0
        for i in range(j - 1, -1, -1):
            seconds = run[j - 1].end - run[i].start
            length = chars[j] - chars[i] - (len(run[i].text) - len(run[i].text.lstrip()))
            if j - i > 1 and (seconds > options.max_duration or length > options.max_chars):
                break  # earlier starts only make the chunk longer
            cost = best[i] + _chunk_cost(seconds, i == 0 and j == n, options) + cut
            if cost < best[j]:
                best[j], back[j] = cost, i
    bounds = [n]
    while bounds[-1] > 0:
        bounds.append(back[bounds[-1]])
    bounds.reverse()
    return [list(run[a:b]) for a, b in zip(bounds, bounds[1:])]


def _chunk_cost(seconds: float, whole_run: bool, options: ChunkingOptions) -> float:
    cost = CHUNK_COST + BALANCE_COST * (seconds / options.max_duration) ** 2
    if seconds < options.min_duration and not whole_run:
        cost += SHORT_COST
    return cost


def _cut_cost(run: Sequence[Unit], j: int, options: ChunkingOptions) -> float:
    """The cost of ending a chunk after run[j - 1]."""
    before, after = run[j - 1], run[j]
    if ends_sentence(before.text):
        cost = 0.0
    elif ends_clause(before.text):
        cost = CLAUSE_CUT_COST
    else:
        cost = WORD_CUT_COST
    cost -= WORD_CUT_COST * min(max(after.start - before.end, 0.0) / options.gap_threshold, 1.0)
    if after.segment != before.segment:
        cost -= SEGMENT_CUT_BONUS
    return max(cost, 0.0)


def _speaker(unit: Unit, turns: Sequence[Turn]) -> str | None:
    """The unit's speaker, from the model's word times (trimming a stretched word must not move it)."""
    if unit.words:
        return speaker_of(unit.words[0].start, unit.words[-1].end, turns)
    return speaker_of(unit.start, unit.end, turns)


def _chunk(
    index: int, units: Sequence[Unit], start: float, end: float, segments: Sequence[Segment], options: ChunkingOptions
) -> Chunk:
    words = tuple(w for u in units for w in u.words)
    probabilities = [w.probability for w in words]
    chunk = Chunk(
        index=index,
        start=start,
        end=end,
        text="".join(u.text for u in units).strip(),
        words=words,
        mean_word_probability=sum(probabilities) / len(probabilities) if probabilities else None,
        min_word_probability=min(probabilities) if probabilities else None,
        **_segment_signals(units, segments),
    )
    reasons = review_reasons(chunk, options)
    return replace(chunk, needs_review=bool(reasons), review_reason=";".join(reasons))


class _SegmentSignals(TypedDict):
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float


def _segment_signals(units: Sequence[Unit], segments: Sequence[Segment]) -> _SegmentSignals:
    """Aggregates the segment-level signals of the segments a chunk draws from."""
    spans: dict[int, list[float]] = {}
    for unit in units:
        span = spans.setdefault(unit.segment, [unit.start, unit.end])
        span[0], span[1] = min(span[0], unit.start), max(span[1], unit.end)
    used = [segments[i] for i in spans]
    weights = [e - s for s, e in spans.values()]
    if sum(weights) <= 0:
        weights = [1.0] * len(used)
    return {
        "avg_logprob": sum(w * s.avg_logprob for w, s in zip(weights, used)) / sum(weights),
        "no_speech_prob": max(s.no_speech_prob for s in used),
        "compression_ratio": max(s.compression_ratio for s in used),
        "temperature": max(s.temperature for s in used),
    }


def review_reasons(chunk: Chunk, options: ChunkingOptions) -> list[str]:
    """Returns why a chunk needs review under the options' thresholds, in RULE_REASONS order.

    Args:
        chunk: A chunk with its quality signals.
        options: The thresholds; a None threshold is never crossed.

    Returns:
        The crossed reasons; empty when the chunk looks fine.
    """
    reasons = []
    mean_low = _below(chunk.mean_word_probability, options.review_mean_word_probability)
    if mean_low or _below(chunk.min_word_probability, options.review_min_word_probability):
        reasons.append(LOW_WORD_PROBABILITY)
    if _below(chunk.avg_logprob, options.review_avg_logprob):
        reasons.append(LOW_AVG_LOGPROB)
    if options.review_no_speech_prob is not None and chunk.no_speech_prob > options.review_no_speech_prob:
        reasons.append(HIGH_NO_SPEECH_PROB)
    if options.review_compression_ratio is not None and chunk.compression_ratio > options.review_compression_ratio:
        reasons.append(REPETITION)
    if options.review_fallback_temperature and chunk.temperature > 0:
        reasons.append(FALLBACK_TEMPERATURE)
    return reasons


def _below(value: float | None, threshold: float | None) -> bool:
    return value is not None and threshold is not None and value < threshold

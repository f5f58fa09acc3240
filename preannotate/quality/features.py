"""Per-chunk features for predicting how wrong a chunk's text is.

Pure functions of a `Chunk` and its file's duration: the same chunk always gives the
same numbers, so features can be computed again from stored transcripts. Every feature
is a finite float, also for chunks without word timestamps (their word probabilities
are None): those take the segments' mean token probability, exp(avg_logprob), instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..chunking import Chunk

# A word under this probability counts as low (Whisper's words at 0.5 are right about as often as wrong).
LOW_PROBABILITY = 0.5
# A chunk whose speech starts or ends within this many seconds of the file's edge touches it: edge words
# are often cut off mid-word, and Whisper drops or invents words there.
EDGE_MARGIN = 0.5
# Probabilities are floored here before taking logs: Whisper reports words down to 0.0.
PROBABILITY_FLOOR = 1e-4

# The fixed order of the feature vector; `ReviewModel` files list the names they were fitted on.
FEATURE_NAMES = (
    "log_min_prob",
    "min_prob",
    "mean_prob",
    "share_low",
    "n_low",
    "avg_logprob",
    "no_speech_prob",
    "compression_ratio",
    "temperature",
    "words_per_second",
    "chars_per_second",
    "duration",
    "log_n_words",
    "at_start",
    "at_end",
)

# The sign a feature's effect on the error must have (+1: more of it, more errors). Fitting drops a
# feature whose coefficient comes out the other way, so predictions stay monotonic in these signals:
# a lower word probability never lowers the predicted WER.
DIRECTIONS: Mapping[str, int] = {
    "log_min_prob": -1,
    "min_prob": -1,
    "mean_prob": -1,
    "share_low": 1,
    "n_low": 1,
    "avg_logprob": -1,
    "no_speech_prob": 1,
    "compression_ratio": 1,
    "temperature": 1,
}


def chunk_features(chunk: Chunk, transcript_duration: float, edge_margin: float = EDGE_MARGIN) -> dict[str, float]:
    """Returns the chunk's features, keyed by FEATURE_NAMES.

    Args:
        chunk: A chunk with its quality signals (words optional).
        transcript_duration: Seconds of the whole file the chunk belongs to.
        edge_margin: Speech this close (s) to the file's start or end touches it.

    Returns:
        One finite float per name in FEATURE_NAMES.
    """
    probabilities = [w.probability for w in chunk.words if w.word.strip()]
    n_words = len(probabilities) or len(chunk.text.split())
    start, end = _speech_span(chunk)
    seconds = max(end - start, 0.1)  # a floor: one-word chunks can have near-zero spans
    features = {
        **probability_features(probabilities, chunk.avg_logprob),
        "avg_logprob": float(chunk.avg_logprob),
        "no_speech_prob": float(chunk.no_speech_prob),
        "compression_ratio": float(chunk.compression_ratio),
        "temperature": float(chunk.temperature),
        "words_per_second": n_words / seconds,
        "chars_per_second": len(chunk.text) / seconds,
        "duration": float(chunk.duration),
        "log_n_words": math.log1p(n_words),
        "at_start": float(start <= edge_margin),
        "at_end": float(end >= transcript_duration - edge_margin),
    }
    return {name: features[name] for name in FEATURE_NAMES}


def probability_features(probabilities: Sequence[float], avg_logprob: float) -> dict[str, float]:
    """Summarizes word probabilities; without words, the segments' mean token probability stands in.

    Args:
        probabilities: The chunk's word probabilities, possibly empty.
        avg_logprob: The chunk's average token log probability.

    Returns:
        log_min_prob, min_prob, mean_prob, share_low and n_low.
    """
    if not probabilities:
        probabilities = [min(math.exp(avg_logprob), 1.0)]
    low = sum(p < LOW_PROBABILITY for p in probabilities)
    lowest = min(probabilities)
    return {
        "log_min_prob": math.log(max(lowest, PROBABILITY_FLOOR)),
        "min_prob": float(lowest),
        "mean_prob": sum(probabilities) / len(probabilities),
        "share_low": low / len(probabilities),
        "n_low": float(low),
    }


def feature_vector(features: Mapping[str, float], names: Sequence[str] = FEATURE_NAMES) -> list[float]:
    """Returns the features in the order of `names`.

    Raises:
        KeyError: A name is missing from `features`.
    """
    missing = [n for n in names if n not in features]
    if missing:
        raise KeyError(f"features missing: {', '.join(missing)}")
    return [float(features[n]) for n in names]


def _speech_span(chunk: Chunk) -> tuple[float, float]:
    """Where the words are (the chunk's bounds include padding); the chunk's bounds without words."""
    words = [w for w in chunk.words if w.word.strip()]
    if not words:
        return chunk.start, chunk.end
    return min(w.start for w in words), max(w.end for w in words)

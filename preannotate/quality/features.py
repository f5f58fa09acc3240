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
    "sum_log_prob",
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
    "unconfirmed_words",
    "unstable_words",
    "lm_rival",
)

# The features the shipped model is fitted on. Left out: duration, log_n_words, chars_per_second, min_prob
# and share_low. Length says "errors" on synthetic speech, where nearly every long chunk holds one, and
# did not carry over to cleaner held-out speech; sum_log_prob already grows with the number of unsure
# words. min_prob and share_low repeat log_min_prob and n_low.
MODEL_FEATURES = (
    "log_min_prob",
    "sum_log_prob",
    "n_low",
    "mean_prob",
    "avg_logprob",
    "no_speech_prob",
    "compression_ratio",
    "temperature",
    "words_per_second",
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
    "sum_log_prob": -1,
    "avg_logprob": -1,
    "no_speech_prob": 1,
    "compression_ratio": 1,
    "temperature": 1,
    "unconfirmed_words": 1,
    "unstable_words": 1,
    "lm_rival": 1,
}

# The features of the shipped model for drafts with a check model's words (`annotation.cross_check`).
CHECKED_FEATURES = (*MODEL_FEATURES, "unconfirmed_words")
# The features of the shipped model for checked drafts whose model also decoded the audio slowed down
# (`annotation.slowed_check`): tools/review_perturbed.py's rule chose it, on held-out speech only.
SLOWED_FEATURES = (*CHECKED_FEATURES, "unstable_words")
# The features of the shipped model for English drafts without a check: the language model's rival words
# (`rivals.lm_rival`); tools/review_lm.py's rule chose it, on held-out speech only.
ENGLISH_FEATURES = (*MODEL_FEATURES, "lm_rival")


def chunk_features(
    chunk: Chunk,
    transcript_duration: float,
    edge_margin: float = EDGE_MARGIN,
    unconfirmed: int = 0,
    unstable: int = 0,
    rival: float = 0.0,
) -> dict[str, float]:
    """Returns the chunk's features, keyed by FEATURE_NAMES.

    Args:
        chunk: A chunk with its quality signals (words optional).
        transcript_duration: Seconds of the whole file the chunk belongs to.
        edge_margin: Speech this close (s) to the file's start or end touches it.
        unconfirmed: Words of the chunk a check model heard otherwise (`crosscheck.unconfirmed_words`);
            0 without a check (models fitted without it leave the feature out).
        unstable: Words of the chunk the draft model itself heard otherwise in the audio slowed down
            (`annotation.slowed_check`); 0 without that decode (models fitted without it leave it out).
        rival: The chunk's `rivals.lm_rival` (nats); 0 when not computed (models fitted without it leave it out).

    Returns:
        One finite float per name in FEATURE_NAMES.
    """
    probabilities = [w.probability for w in chunk.words if w.word.strip()]
    n_words = len(probabilities) or len(chunk.text.split())
    start, end = _speech_span(chunk)
    seconds = max(end - start, 0.1)  # a floor: one-word chunks can have near-zero spans
    features = {
        **probability_features(probabilities, chunk.avg_logprob, n_words),
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
        "unconfirmed_words": float(unconfirmed),
        "unstable_words": float(unstable),
        "lm_rival": float(rival),
    }
    return {name: features[name] for name in FEATURE_NAMES}


def probability_features(probabilities: Sequence[float], avg_logprob: float, n_words: int = 1) -> dict[str, float]:
    """Summarizes word probabilities; without words, the segments' mean token probability stands in.

    Args:
        probabilities: The chunk's word probabilities, possibly empty.
        avg_logprob: The chunk's average token log probability.
        n_words: Words in the chunk's text, used without probabilities (each gets exp(avg_logprob)).

    Returns:
        log_min_prob, min_prob, mean_prob, share_low, n_low and sum_log_prob.
    """
    if not probabilities:
        probabilities = [min(math.exp(avg_logprob), 1.0)] * max(n_words, 1)
    low = sum(p < LOW_PROBABILITY for p in probabilities)
    logs = [math.log(max(p, PROBABILITY_FLOOR)) for p in probabilities]
    return {
        "log_min_prob": min(logs),
        "min_prob": float(min(probabilities)),
        "mean_prob": sum(probabilities) / len(probabilities),
        "share_low": low / len(probabilities),
        "n_low": float(low),
        # log P(every word right) if the words' errors were independent: one very unsure word
        # weighs as much as many slightly unsure ones.
        "sum_log_prob": sum(logs),
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

"""Predicted WER and review flags for chunks, from the model's own confidence signals.

At run time numpy is needed (and, for English drafts, pocketsphinx's language model):
`assess_chunk` (or `chunk_features` with `ReviewModel.predict_wer`) gives a chunk's
predicted WER, whether it needs review and its doubtful words, using the parameters
shipped in `review_model*.json` (see README.md beside them for how they were made).
`fit_review_model` refits them on chunks with measured WER (needs scikit-learn);
`evaluate_review_model` scores a model on such chunks.
"""

from .evaluate import FlagMetrics, chunk_rows, evaluate_review_model, flag_metrics, measured_rows
from .features import FEATURE_NAMES, chunk_features
from .fit import fit_review_model, fit_word_threshold, recalibrate_review_model
from .labels import ChunkLabel, label_chunks
from .model import Assessment, DoubtfulWord, ReviewModel, assess_chunk, default_model, doubtful_words

__all__ = [
    "FEATURE_NAMES",
    "Assessment",
    "ChunkLabel",
    "DoubtfulWord",
    "FlagMetrics",
    "ReviewModel",
    "assess_chunk",
    "chunk_features",
    "chunk_rows",
    "default_model",
    "doubtful_words",
    "evaluate_review_model",
    "fit_review_model",
    "fit_word_threshold",
    "flag_metrics",
    "label_chunks",
    "measured_rows",
    "recalibrate_review_model",
]

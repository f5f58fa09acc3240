"""A long file's speech stretches packed: what silence skipping kept, transcribed like short files.

Silence skipping (preannotate/silence.py) hands on the speech of a mostly quiet recording as pieces laid
end to end. Decoded as one signal, that audio runs window after window on one core. Here each piece up to
`SHORT_FILE_S` is packed with the others into shared 30-s windows decoded in batches (`packing`, as
WhisperX merges VAD segments), a longer piece is transcribed alone, and the pieces' transcripts are laid
back end to end on the kept audio's time. The language is detected once, on the kept audio's first 30 s,
as transcribing it as one signal would; the pieces are then decoded in that language.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...audio import SAMPLE_RATE
from ...errors import PreannotateError
from ...options import TranscribeOptions
from ...results import Transcript
from ...silence import Timeline
from .packing import SHORT_FILE_S, detect_languages, given_language, transcribe_packed

if TYPE_CHECKING:
    from .engine import FasterWhisperEngine


def transcribe_stretches(
    engine: FasterWhisperEngine, samples: np.ndarray, offsets: Sequence[int], options: TranscribeOptions
) -> Transcript:
    """Transcribes kept audio piece by piece, short pieces packed; times are on the kept audio.

    Args:
        engine: The loaded faster-whisper engine.
        samples: The kept audio (16 kHz mono).
        offsets: Each piece's first sample in `samples`, in order (the first is 0).
        options: The transcription options.

    Raises:
        TranscriptionError: The model failed on a piece.
    """
    bounds = [*offsets, samples.shape[0]]
    pieces = [samples[start:end] for start, end in itertools.pairwise(bounds)]
    language, probability = _language(engine, samples, options)
    given = dataclasses.replace(options, language=language)
    short = [i for i, piece in enumerate(pieces) if piece.shape[0] / SAMPLE_RATE <= SHORT_FILE_S]
    packed = dict(zip(short, transcribe_packed(engine, [pieces[i] for i in short], given)))
    placed: list[Transcript] = []
    for i, piece in enumerate(pieces):
        got = packed[i] if i in packed else engine.transcribe(piece, given)
        if isinstance(got, PreannotateError):
            raise got
        placed.append(Timeline((bounds[i],), (0,), samples.shape[0], SAMPLE_RATE).restore(got))
    segments = [s for transcript in placed for s in transcript.segments]
    segments = [dataclasses.replace(s, id=k) for k, s in enumerate(segments)]
    text = "".join(s.text for s in segments).strip()
    return Transcript(text, language, tuple(segments), samples.shape[0] / SAMPLE_RATE, probability)


def _language(engine: FasterWhisperEngine, samples: np.ndarray, options: TranscribeOptions) -> tuple[str, float | None]:
    """The given language, an English-only model's, or the one detected on the first 30 s with its probability."""
    given = given_language(engine, options)
    if given is not None:
        return given, None
    return detect_languages(engine, [samples[: 30 * SAMPLE_RATE]])[0]

"""The draft model's own second opinion: the same audio decoded again, slowed down (tools/review_variants.py).

A check by a second Whisper model misses the errors both models make (base's benchmark misses are mostly
such). Test-time augmentation asks the draft model itself: a word that the model hears otherwise when the
audio is played 10% slower (resampled, so the pitch falls too, as Kaldi's speed perturbation does) rests on
the acoustics less firmly than one it hears alike. `unstable_words` counts a chunk's words that the slowed
decode does not confirm (the check's alignment, `crosscheck.unconfirmed_words`), with the slowed words' times
mapped back to the file's.

Decision rule, fixed on 2026-12-03 before any slowed decode existed: the variant `unstable` (the checked
recipe, `review_model_checked.json`'s features, plus `unstable_words`, fitted on both models' training rows
like the shipped file) replaces the shipped checked model, and a run's check decodes the slowed audio too,
only if, against the shipped recipe refitted on the same rows in the same run,
1. on the pooled held-out espeak-ng splits base's AUC is higher by at least 0.010, and tiny.en's lower by
   at most 0.005;
2. on the same rows both models keep recall >= 0.8 at precision >= 0.6;
3. on the held-out flite and festival voices (`heldout_voices`, never fitted on) base's AUC is lower by at
   most 0.005.
The benchmark set's figures are printed and reported, and choose nothing.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import fit_review_model as F
import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

from preannotate.config import load_config
from preannotate.quality.crosscheck import CheckWord
from preannotate.results import Transcript
from preannotate.run import run_pipeline

SPEED = 0.9  # the slowed audio plays at this speed: 10/9 as many samples at the same rate
UP, DOWN = 10, 9  # resample_poly's factors for SPEED


def slowed_folder(folder: Path, dest: Path) -> Path:
    """Writes each wav of `folder` slowed to SPEED into `dest` (files already there are kept); returns dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in sorted(folder.glob("*.wav")):
        target = dest / source.name
        if target.is_file():
            continue
        rate, samples = wavfile.read(source)
        slowed = resample_poly(samples.astype(np.float64), UP, DOWN, axis=0)
        if np.issubdtype(samples.dtype, np.integer):
            info = np.iinfo(samples.dtype)
            slowed = np.clip(np.round(slowed), info.min, info.max)
        temporary = target.with_suffix(".part")
        wavfile.write(temporary, rate, slowed.astype(samples.dtype))
        temporary.replace(target)
    return dest


def decode_slowed(work: Path, folders: dict[str, Path]) -> None:
    """Decodes each folder's slowed copy with both models, the draft's options (finished files are reused)."""
    for (name, folder), model in itertools.product(folders.items(), F.MODELS):
        slowed = slowed_folder(folder, work / "audio_slowed" / name)
        out = slowed_run(work / "runs", name, model)
        overrides = [f"input.dir={slowed}", f"output.dir={out}", f"model.name={model}", *F.OVERRIDES]
        run_pipeline(load_config(None, overrides), progress=False)


def slowed_run(runs: Path, split: str, model: str) -> Path:
    """The run folder of a split's slowed audio decoded by a model."""
    return runs / f"{split}-{model.split(':')[-1]}-slowed"


def slowed_words(run: Path, item: str) -> list[CheckWord]:
    """An item's words in a slowed run, at the original audio's times."""
    transcript = Transcript.from_dict(json.loads((run / "transcripts" / f"{item}.json").read_text()))
    return [CheckWord(w.start * SPEED, w.end * SPEED, w.word) for s in transcript.segments for w in (s.words or ())]

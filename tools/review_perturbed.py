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

Outcome (2026-12-03, `tools/review_variants.py --perturbed`): all three held, so `annotation.slowed_check`
ships on: held-out AUC base 0.897 against 0.886, tiny.en 0.964 against 0.959; held out base 0.961 at 0.858
and tiny.en 0.990 at 0.901; held-out voices base 0.948 against 0.940 (docs/review-flags.md).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
from review_checked import section_text
from scipy.io import wavfile
from scipy.signal import resample_poly

from preannotate.audio import decode_audio
from preannotate.audio_speed import DOWN, SPEED, UP
from preannotate.config import load_config
from preannotate.quality.crosscheck import CheckWord, unconfirmed_words
from preannotate.results import Transcript
from preannotate.run import run_pipeline


def slowed_folder(folder: Path, dest: Path) -> Path:
    """Writes each recording of `folder` slowed to SPEED into `dest` as wav (files there are kept); returns dest.

    A wav keeps its rate and sample type; any other recording (the benchmark's `pauses.opus`) is decoded to
    16 kHz first and named `slowed_name` of it.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for source in sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".opus", ".flac", ".mp3")):
        target = dest / slowed_name(source.name)
        if target.is_file():
            continue
        if source.suffix == ".wav":
            rate, samples = wavfile.read(source)
        else:
            rate, samples = 16000, decode_audio(source).samples
        slowed = resample_poly(samples.astype(np.float64), UP, DOWN, axis=0)
        if np.issubdtype(samples.dtype, np.integer):
            info = np.iinfo(samples.dtype)
            slowed = np.clip(np.round(slowed), info.min, info.max)
        temporary = target.with_suffix(".part")
        wavfile.write(temporary, rate, slowed.astype(samples.dtype))
        temporary.replace(target)
    return dest


def decode_slowed(work: Path, folders: dict[str, Path], models: list[str], overrides: list[str]) -> None:
    """Decodes each folder's slowed copy with each model and the drafts' `overrides` (finished files are reused)."""
    for (name, folder), model in itertools.product(folders.items(), models):
        slowed = slowed_folder(folder, work / "audio_slowed" / name)
        out = slowed_run(work / "runs", name, model)
        options = [f"input.dir={slowed}", f"output.dir={out}", f"model.name={model}", *overrides]
        run_pipeline(load_config(None, options), progress=False)


def unstable_records(checked: dict, runs: Path) -> dict:
    """The checked records (`review_checked.checked_records`) with `unstable_words` from their model's slowed run."""
    out = {}
    for (split, model), rows in checked.items():
        run, cache = slowed_run(runs, split, model), {}
        for r in rows:
            if r["file"] not in cache:
                cache[r["file"]] = slowed_words(run, r["file"])
        out[split, model] = [
            {
                **r,
                "features": {**r["features"], "unstable_words": float(unconfirmed_words(r["chunk"], cache[r["file"]]))},
            }
            for r in rows
        ]
    return out


def slowed_note(model) -> str:
    """The note's section on the model for checked drafts with the slowed decode, from its provenance."""
    return section_text(model, [
        "## The model for checked drafts decoded slowed down too (`review_model_slowed.json`)",
        "The checked model's rows with one more feature, `unstable_words`: how many of the chunk's words the draft's",
        "own model heard otherwise in the audio slowed to 0.9 speed (`preannotate/audio_speed.py`; the `check`",
        "stage with `annotation.slowed_check`). The training rows' slowed decodes are the splits' copies written by",
        "tools/review_perturbed.py (16-bit wav; a run slows the decoded samples in memory), decoded by each model;",
        "its rule chose this model on held-out speech only.",
    ])  # fmt: skip


def slowed_name(name: str) -> str:
    """The slowed copy's file name (and item) of a recording: always a wav."""
    return name if name.endswith(".wav") else f"{name}.wav"


def slowed_run(runs: Path, split: str, model: str) -> Path:
    """The run folder of a split's slowed audio decoded by a model."""
    return runs / f"{split}-{model.split(':')[-1]}-slowed"


def slowed_words(run: Path, item: str) -> list[CheckWord]:
    """An item's words in a slowed run, at the original audio's times."""
    path = run / "transcripts" / f"{slowed_name(item)}.json"
    transcript = Transcript.from_dict(json.loads(path.read_text()))
    return [CheckWord(w.start * SPEED, w.end * SPEED, w.word) for s in transcript.segments for w in (s.words or ())]

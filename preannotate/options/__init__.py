"""Typed options, one frozen dataclass per stage, validated in one place each.

Each field carries its help (`base.option`); `configs/default.yaml` and the notebooks'
parameter comments are generated from it (`make options-docs`) and tests keep them in step.
Names and defaults of `TranscribeOptions` follow `whisper.transcribe` so that its
documentation applies unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..locations import is_bucket_url, refuse_bucket
from .base import check, section
from .chunking import AnnotationOptions, ChunkingOptions
from .correction import CorrectionOptions, DatasetExportOptions
from .execution import RayOptions, RunOptions
from .silence import SilenceOptions
from .speakers import SPEAKER_MODES, SpeakerOptions
from .transcription import (
    DEFAULT_APPEND_PUNCTUATIONS,
    DEFAULT_PREPEND_PUNCTUATIONS,
    DEFAULT_TEMPERATURE,
    MEDIA_EXTENSIONS,
    FasterWhisperOptions,
    InputOptions,
    ModelOptions,
    OutputOptions,
    TranscribeOptions,
    VadParameters,
)
from .upload import SUPERANNOTATE_STATUSES, SuperAnnotateOptions

__all__ = [
    "DEFAULT_APPEND_PUNCTUATIONS",
    "DEFAULT_PREPEND_PUNCTUATIONS",
    "DEFAULT_TEMPERATURE",
    "MEDIA_EXTENSIONS",
    "SUPERANNOTATE_STATUSES",
    "AnnotationOptions",
    "ChunkingOptions",
    "CorrectionOptions",
    "DatasetExportOptions",
    "FasterWhisperOptions",
    "InputOptions",
    "ModelOptions",
    "OutputOptions",
    "RayOptions",
    "RunConfig",
    "RunOptions",
    "SPEAKER_MODES",
    "SilenceOptions",
    "SpeakerOptions",
    "SuperAnnotateOptions",
    "TranscribeOptions",
    "VadParameters",
]


@dataclass(frozen=True)
class RunConfig:
    """The whole configuration of one run: one section per stage."""

    input: InputOptions = section(InputOptions, "Where the recordings are.")
    output: OutputOptions = section(OutputOptions, "Where results go.")
    model: ModelOptions = section(ModelOptions, "Which Whisper model runs, and where.")
    transcribe: TranscribeOptions = section(
        TranscribeOptions,
        "openai-whisper's transcribe and decoding options, same names and defaults.",
    )
    silence: SilenceOptions = section(
        SilenceOptions,
        "long quiet stretches cut out before the model (both engines), times kept on the file's timeline.",
    )
    speakers: SpeakerOptions = section(
        SpeakerOptions,
        "who said what: one speaker per channel, or offline diarization; chunks never span two speakers.",
    )
    chunking: ChunkingOptions = section(
        ChunkingOptions,
        "transcripts into annotation units, and which units are flagged for review.",
    )
    annotation: AnnotationOptions = section(
        AnnotationOptions,
        "names in the SuperAnnotate annotation JSON and the class the uploader creates.",
    )
    superannotate: SuperAnnotateOptions = section(
        SuperAnnotateOptions,
        "uploading pre-annotations; the token comes from SA_TOKEN, never from here.",
    )
    correction: CorrectionOptions = section(
        CorrectionOptions,
        "`preannotate pull` and `report`: comparing annotators' corrections with the drafts.",
    )
    dataset: DatasetExportOptions = section(DatasetExportOptions, "`preannotate export`: the corrected dataset.")
    run: RunOptions = section(RunOptions, "How the run executes: here, or on a Ray cluster.")
    ray: RayOptions = section(RayOptions, "The Ray cluster when run.executor is ray (pip install 'preannotate[ray]').")

    def validate(self) -> None:
        """Validates every section."""
        sections = (self.input, self.output, self.model, self.transcribe, self.chunking, self.annotation)
        for part in (
            *sections,
            self.silence,
            self.speakers,
            self.superannotate,
            self.correction,
            self.dataset,
            self.run,
            self.ray,
        ):
            part.validate()
        check(
            self.superannotate.urls is None or is_bucket_url(self.input.dir),
            f"superannotate.urls needs a bucket input.dir (s3://, gs://, az://), got {self.input.dir!r}",
        )
        written = (self.output.dir, self.dataset.dir, self.model.download_root)  # nothing writes to a bucket
        for key, place in zip(("output.dir", "dataset.dir", "model.download_root"), written):
            refuse_bucket(place, key)
        check(  # the Ray actors decode each file mixed to mono (preannotate/run/ray_data.py)
            self.speakers.mode != "channels" or self.run.executor != "ray",
            "speakers.mode channels runs with run.executor local only, not on Ray",
        )

"""Typed options, one frozen dataclass per stage, validated in one place each.

`configs/default.yaml` and the notebooks' parameters mirror these classes; a test
keeps the three in step. Names and defaults of `TranscribeOptions` follow
`whisper.transcribe` so that its documentation applies unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .chunking import AnnotationOptions, ChunkingOptions
from .correction import CorrectionOptions, DatasetExportOptions
from .execution import RayOptions, RunOptions
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
    "SuperAnnotateOptions",
    "TranscribeOptions",
    "VadParameters",
]


@dataclass(frozen=True)
class RunConfig:
    """The whole configuration of one run: one section per stage."""

    input: InputOptions = field(default_factory=InputOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    model: ModelOptions = field(default_factory=ModelOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    annotation: AnnotationOptions = field(default_factory=AnnotationOptions)
    superannotate: SuperAnnotateOptions = field(default_factory=SuperAnnotateOptions)
    correction: CorrectionOptions = field(default_factory=CorrectionOptions)
    dataset: DatasetExportOptions = field(default_factory=DatasetExportOptions)
    run: RunOptions = field(default_factory=RunOptions)
    ray: RayOptions = field(default_factory=RayOptions)

    def validate(self) -> None:
        """Validates every section."""
        sections = (self.input, self.output, self.model, self.transcribe, self.chunking, self.annotation)
        for section in (*sections, self.superannotate, self.correction, self.dataset, self.run, self.ray):
            section.validate()

"""Running a job: the orchestrator and its stages (decode, transcribe, speakers, chunk, export, upload).

pipeline.py         run_pipeline: early checks, the plan, then each stage in order
stages.py           the stage list, each stage's options, the per-stage resume keys
context.py          what the stages of one run share
speakers.py         the speakers stage: speakers/<item>.json, keyed on the speaker options
plan.py             which files are finished, which need transcribing
resume.py           content identity and key hashing
decode.py           decoding audio on a background thread as transcription asks
transcribe_jobs.py  transcribing the files in turn or several at once
chunks.py           chunking, assessing and routing transcripts; writing the exports
"""

from __future__ import annotations

from .chunks import chunk_item, export_chunks
from .pipeline import run_pipeline
from .stages import STAGES, Stage, stage_keys

__all__ = ["STAGES", "Stage", "chunk_item", "export_chunks", "run_pipeline", "stage_keys"]

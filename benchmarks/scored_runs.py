"""The chunks of a finished run's files that have reference texts, with their measured errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from preannotate.chunking import Chunk, chunk_transcript
from preannotate.config import load_config
from preannotate.quality import ChunkLabel, chunk_rows
from preannotate.quality.labels import Normalizer, english_normalizer
from preannotate.results import Transcript


def labelled_files(
    run: Path, references: dict[str, str], chunking: Any = None, normalize: Normalizer | None = None
) -> Iterator[tuple[dict, list[Chunk], list, list[ChunkLabel]]]:
    """Each finished file of a run that has a reference: its run.json record, chunks, rows and labels.

    Args:
        run: A `preannotate run` output folder (its run.json and transcripts/).
        references: Reference text by source file name; files without one are left out.
        chunking: Chunking options; None uses the defaults (what `preannotate run` exports with).
        normalize: The text normalizer of both sides; None: Whisper's English one.
    """
    chunking = chunking if chunking is not None else load_config(None, []).chunking
    normalize = normalize or english_normalizer()
    for record in json.loads((run / "run.json").read_text())["files"]:
        if record["status"] == "failed" or record["source"] not in references:
            continue
        transcript = Transcript.from_dict(json.loads((run / "transcripts" / f"{record['item']}.json").read_text()))
        chunks = chunk_transcript(transcript, chunking)
        rows, labels = chunk_rows(chunks, transcript.duration, references[record["source"]], normalize)
        yield record, chunks, rows, labels

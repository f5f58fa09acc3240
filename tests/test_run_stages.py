"""The run's stages and resume keys: a stored artefact is redone exactly when an option that shaped it changes."""

from __future__ import annotations

import dataclasses
import json

from support.configs import config, english_folder

from preannotate.options import (
    AnnotationOptions,
    ChunkingOptions,
    RunConfig,
    SpeakerOptions,
    SuperAnnotateOptions,
    TranscribeOptions,
)
from preannotate.quality.model import DEFAULT_PATH as SHIPPED_REVIEW_MODEL
from preannotate.run import STAGES, run_pipeline, stage_keys

# What preannotate/resume.py's options_key gave before the run package existed: transcripts stored by
# earlier versions carry these keys, and must stay finished.
EARLIER_KEYS = {
    ("official|tiny", TranscribeOptions()): "b0d641df972ef6fb",
    (
        "bundled|tiny.en|openai-whisper==1|faster-whisper|beam",
        TranscribeOptions(initial_prompt="Numbers.", beam_size=None, best_of=None),
    ): "8aff97fd0e7a0f8c",
}


def test_transcript_key_is_the_one_earlier_versions_stored() -> None:
    for (identity, options), key in EARLIER_KEYS.items():
        assert stage_keys(RunConfig(transcribe=options), identity)["transcribe"] == key


def test_stages_run_in_order_and_read_only_earlier_keys() -> None:
    names = [stage.name for stage in STAGES]
    assert names == ["decode", "transcribe", "speakers", "check", "chunk", "export", "upload"]
    for position, stage in enumerate(STAGES):
        assert set(stage.inputs) <= {"model", *names[:position]}, stage.name


def changed(keys: dict[str, str], other: dict[str, str]) -> set[str]:
    return {name for name in keys if keys[name] != other[name]}


def test_each_option_changes_the_keys_of_the_stages_it_shapes_and_those_after() -> None:
    base = RunConfig()
    keys = stage_keys(base, "official|tiny")
    assert set(keys) == {"transcribe", "check", "chunk", "export"}
    cases = {
        "check model": (
            dataclasses.replace(base, annotation=AnnotationOptions(cross_check="bundled:base")),
            {"check", "chunk", "export"},
        ),
        "chunking": (dataclasses.replace(base, chunking=ChunkingOptions(max_duration=5.0)), {"chunk", "export"}),
        "review threshold": (
            dataclasses.replace(base, annotation=AnnotationOptions(review_threshold=0.2)),
            {"chunk", "export"},
        ),
        "control arm": (
            dataclasses.replace(base, superannotate=SuperAnnotateOptions(control_share=0.5)),
            {"chunk", "export"},
        ),
        "class name": (dataclasses.replace(base, annotation=AnnotationOptions(class_name="speech")), {"export"}),
        "transcribe": (
            dataclasses.replace(base, transcribe=TranscribeOptions(initial_prompt="Numbers.")),
            {"transcribe", "check", "chunk", "export"},
        ),
        "upload only": (dataclasses.replace(base, superannotate=SuperAnnotateOptions(project="other")), set()),
    }
    for name, (other, stages) in cases.items():
        assert changed(keys, stage_keys(other, "official|tiny")) == stages, name
    assert changed(keys, stage_keys(base, "official|base")) == {"transcribe", "check", "chunk", "export"}
    unchecked = stage_keys(dataclasses.replace(base, annotation=AnnotationOptions(cross_check=None)), "official|tiny")
    assert set(unchecked) == {"transcribe", "chunk", "export"} and unchecked["transcribe"] == keys["transcribe"]


def test_a_refitted_review_model_at_the_same_path_reassesses_the_chunks(tmp_path) -> None:
    # The shipped model is `annotation.review_model: null` before and after an upgrade refits it: its content keys.
    shipped = RunConfig()
    path = tmp_path / "review_model.json"
    path.write_text(SHIPPED_REVIEW_MODEL.read_text())
    chosen = dataclasses.replace(shipped, annotation=AnnotationOptions(review_model=str(path)))
    keys = stage_keys(chosen, "official|tiny")
    # the path is an option; a team's own model is fitted without checks: the check stage is off
    assert set(keys) == {"transcribe", "chunk", "export"}
    assert changed(keys, stage_keys(shipped, "official|tiny")) == {"chunk", "export"}
    model = json.loads(path.read_text())
    path.write_text(json.dumps({**model, "threshold": model["threshold"] / 2}))
    assert changed(keys, stage_keys(chosen, "official|tiny")) == {"chunk", "export"}


def test_speakers_key_covers_only_the_speaker_options() -> None:
    on = RunConfig(speakers=SpeakerOptions(mode="diarize"))
    keys = stage_keys(on, "official|tiny")
    assert set(keys) == {"transcribe", "speakers", "check", "chunk", "export"}
    assert keys["transcribe"] == stage_keys(RunConfig(), "official|tiny")["transcribe"]
    counted = dataclasses.replace(on, speakers=SpeakerOptions(mode="diarize", max_speakers=2))
    assert changed(keys, stage_keys(counted, "official|tiny")) == {"speakers", "chunk", "export"}
    prompted = dataclasses.replace(on, transcribe=TranscribeOptions(initial_prompt="Numbers."))
    assert changed(keys, stage_keys(prompted, "official|tiny")) == {"transcribe", "check", "chunk", "export"}
    assert changed(keys, stage_keys(on, "official|base")) == {"transcribe", "check", "chunk", "export"}


def test_channel_names_redo_nothing_outside_channels_mode() -> None:
    """Names given in diarize mode shape nothing, but re-diarized every file; in channels mode they re-chunk."""
    diarize = RunConfig(speakers=SpeakerOptions(mode="diarize"))
    named = RunConfig(speakers=SpeakerOptions(mode="diarize", channel_names=("Agent", "Caller")))
    assert stage_keys(named, "official|tiny") == stage_keys(diarize, "official|tiny")
    assert stage_keys(diarize, "official|tiny")["speakers"].startswith("90d0d00a5b7c")  # as earlier versions keyed
    channels = RunConfig(speakers=SpeakerOptions(mode="channels"))
    renamed = RunConfig(speakers=SpeakerOptions(mode="channels", channel_names=("Agent", "Caller")))
    keys = stage_keys(channels, "official|tiny")
    assert changed(keys, stage_keys(renamed, "official|tiny")) == {"speakers", "chunk", "export"}


def stored_keys(tmp_path) -> dict[str, str]:
    return json.loads((tmp_path / "out" / "run.json").read_text())["stages"]


def test_a_chunking_option_rechunks_without_transcribing_and_a_transcribe_option_transcribes(tmp_path, tiny_model):
    english_folder(tmp_path)
    first = run_pipeline(config(tmp_path), progress=False)
    assert [f.status for f in first.files] == ["ok"] * 3
    keys, chunks = stored_keys(tmp_path), (tmp_path / "out" / "chunks.csv").read_text()
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "transcripts").iterdir()}
    stored = json.loads((tmp_path / "out" / "transcripts" / "counting.wav.json").read_text())
    assert stored["meta"]["options_key"] == keys["transcribe"]

    short = run_pipeline(config(tmp_path, "chunking.max_duration=1.5", "chunking.min_duration=0.5"), progress=False)
    assert [f.status for f in short.files] == ["skipped"] * 3  # not transcribed again
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "transcripts").iterdir()} == stamps
    assert changed(keys, stored_keys(tmp_path)) == {"chunk", "export"}
    assert sum(f.chunks for f in short.files) > sum(f.chunks for f in first.files)  # chunked again, shorter
    assert (tmp_path / "out" / "chunks.csv").read_text() != chunks

    prompted = run_pipeline(config(tmp_path, "transcribe.initial_prompt=Numbers."), progress=False)
    assert [f.status for f in prompted.files] == ["ok"] * 3
    assert changed(keys, stored_keys(tmp_path)) == {"transcribe", "chunk", "export"}  # tiny: auto checks nothing

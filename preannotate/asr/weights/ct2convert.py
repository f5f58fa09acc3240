"""Read a CTranslate2 Whisper model (`model.bin` + `config.json`) as an openai-whisper checkpoint, numpy only.

The `ctranslate2` package is never imported: the file format is small and stable (writer:
`ModelSpec._serialize` in `ctranslate2/specs/model_spec.py`), and openai-whisper then runs the weights
with its own decoding and word timestamps. See `shared/notes/models.md` for the name mapping.
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import torch
from whisper.model import ModelDimensions

from ...errors import ModelError

BINARY_VERSION = 6  # the only `model.bin` layout read here: the one ctranslate2 4.x writes
SPEC_NAME = "WhisperSpec"
MAX_RANK = 8  # a sanity bound: Whisper variables have rank 0 to 3
MAX_VARIABLES = 100_000  # a sanity bound against reading garbage as a count
# dtype ids of the format; bfloat16 (5) has no numpy type and is widened by hand.
_DTYPES = {0: "<f4", 1: "<i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "<u2"}
_BFLOAT16 = 5
_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/")  # not `encoder/layer_norm/...`


class _Stream:
    """Reads several files as one byte stream (a model.bin split into parts), failing on truncation."""

    def __init__(self, paths: Sequence[Path], label: str) -> None:
        self._paths = list(paths)
        self._label = label
        self._files: list[io.BufferedReader] = []
        self.offset = 0  # bytes consumed, for error messages

    def __enter__(self) -> _Stream:
        try:
            self._files = [open(p, "rb") for p in self._paths]  # noqa: SIM115 - closed in __exit__
        except OSError as e:
            self.__exit__()
            raise ModelError(f"{self._label}: cannot open: {e}") from e
        return self

    def __exit__(self, *_: object) -> None:
        for f in self._files:
            f.close()

    def read(self, n: int, what: str) -> bytearray:
        """Returns exactly n bytes; raises ModelError naming `what` when the stream ends first."""
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n and self._files:
            k = self._files[0].readinto(view[got:])
            if not k:
                self._files.pop(0).close()
            got += k or 0
        if got < n:
            raise ModelError(
                f"{self._label}: truncated: needed {n} bytes for {what} at offset {self.offset}, got {got}"
            )
        self.offset += n
        return buf

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt), what))

    def string(self, what: str) -> str:
        (length,) = self.unpack("H", what)  # counts the trailing NUL
        return bytes(self.read(length, what)[:-1]).decode("utf-8", errors="replace")

    def at_end(self) -> bool:
        return all(not f.read(1) for f in self._files)


def read_model_bin(parts: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """Reads a CTranslate2 `model.bin`, possibly split into parts read back to back.

    Args:
        parts: The file, or its parts in order (their bytes concatenated form the model.bin).

    Returns:
        Every variable by its CTranslate2 name, aliases resolved, int8/int16 weights dequantized to float32.

    Raises:
        ModelError: Wrong format version or spec, truncated or trailing bytes, inconsistent sizes.
    """
    label = " + ".join(str(p) for p in parts)
    with _Stream([Path(p) for p in parts], label) as s:
        _read_header(s, label)
        (count,) = s.unpack("I", "the variable count")
        _require(count <= MAX_VARIABLES, label, f"implausible variable count {count}")
        variables = dict(_read_variable(s, label) for _ in range(count))
        (n_aliases,) = s.unpack("I", "the alias count")
        for _ in range(n_aliases):
            alias, target = s.string("an alias name"), s.string("an alias target")
            _require(target in variables, label, f"alias {alias} points to missing variable {target}")
            variables[alias] = variables[target]
        _require(s.at_end(), label, f"unexpected bytes after the aliases (offset {s.offset})")
    return _dequantize(variables)


def _read_header(s: _Stream, label: str) -> None:
    (version,) = s.unpack("I", "the format version")
    _require(
        version == BINARY_VERSION,
        label,
        f"format version {version}, expected {BINARY_VERSION}: not a CTranslate2 model.bin, or from an "
        "unsupported CTranslate2 release",
    )
    spec = s.string("the spec name")
    _require(spec == SPEC_NAME, label, f"holds a {spec!r} model, not a Whisper model ({SPEC_NAME})")
    s.unpack("I", "the spec revision")


def _read_variable(s: _Stream, label: str) -> tuple[str, np.ndarray]:
    name = s.string("a variable name")
    (rank,) = s.unpack("B", f"the rank of {name}")
    _require(rank <= MAX_RANK, label, f"variable {name}: implausible rank {rank}")
    shape = s.unpack(f"{rank}I", f"the shape of {name}")
    (dtype_id, n_bytes) = s.unpack("BI", f"the dtype of {name}")
    _require(dtype_id in _DTYPES, label, f"variable {name}: unknown dtype id {dtype_id}")
    dtype = np.dtype(_DTYPES[dtype_id])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    _require(n_bytes == expected, label, f"variable {name}: {n_bytes} bytes for shape {shape} of {dtype}")
    array = np.frombuffer(s.read(n_bytes, f"the data of {name}"), dtype=dtype).reshape(shape)
    if dtype_id == _BFLOAT16:  # bfloat16 is the top half of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return name, array


def _dequantize(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Turns quantized `x` + `x_scale` pairs back into float32 (`x / scale`, one scale per output row)."""
    out = dict(variables)
    for name, scale in variables.items():
        base = name.removesuffix("_scale")
        if base == name or base not in variables:
            continue
        value = variables[base].astype(np.float32)
        scale = scale.astype(np.float32)
        out[base] = value / scale.reshape(scale.shape + (1,) * (value.ndim - scale.ndim))
        del out[name]
    return out


def read_alignment_heads(config_path: str | Path) -> list[list[int]]:
    """Reads `alignment_heads` (`[layer, head]` pairs) from a CTranslate2 `config.json`; [] when absent.

    Raises:
        ModelError: The file cannot be read, is not JSON, or the heads are not integer pairs.
    """
    try:
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{config_path}: cannot read config: {e}") from e
    heads = (config.get("alignment_heads") or []) if isinstance(config, dict) else None
    if not _int_pairs(heads):
        raise ModelError(f"{config_path}: alignment_heads must be a list of [layer, head] integer pairs")
    return [list(p) for p in heads]


def _int_pairs(value: object) -> TypeGuard[list[list[int]]]:
    return isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) for x in p) for p in value
    )


def model_dimensions(variables: dict[str, np.ndarray], label: str) -> ModelDimensions:
    """Derives openai-whisper's `ModelDimensions` from the CTranslate2 tensor shapes.

    Raises:
        ModelError: A variable the dimensions come from is missing, or layers are not numbered 0..n-1.
    """
    need = ["encoder/conv1/weight", "encoder/position_encodings/encodings", "encoder/num_heads"]
    need += ["decoder/embeddings/weight", "decoder/position_encodings/encodings", "decoder/num_heads"]
    _require_variables(variables, need, label)
    conv1, embeddings = variables["encoder/conv1/weight"], variables["decoder/embeddings/weight"]
    return ModelDimensions(
        n_mels=conv1.shape[1],
        n_audio_ctx=variables["encoder/position_encodings/encodings"].shape[0],
        n_audio_state=conv1.shape[0],
        n_audio_head=int(variables["encoder/num_heads"]),
        n_audio_layer=_count_layers(variables, "encoder", label),
        n_vocab=embeddings.shape[0],
        n_text_ctx=variables["decoder/position_encodings/encodings"].shape[0],
        n_text_state=embeddings.shape[1],
        n_text_head=int(variables["decoder/num_heads"]),
        n_text_layer=_count_layers(variables, "decoder", label),
    )


def _count_layers(variables: dict[str, np.ndarray], side: str, label: str) -> int:
    found = {int(m[2]) for m in map(_LAYER.match, variables) if m and m[1] == side}
    _require(bool(found), label, f"no {side} layers")
    _require(found == set(range(len(found))), label, f"{side} layers are not numbered 0..n-1: {sorted(found)}")
    return len(found)


# (CTranslate2 name, openai-whisper names: one per stacked block on dim 0, None drops a block).
_Rule = tuple[str, tuple[str | None, ...]]


def _linear(src: str, *dst: str, drop_key_bias: bool = False) -> list[_Rule]:
    # openai-whisper's key projection has no bias; CTranslate2 stores zeros. Dropping any key bias is exact
    # anyway: q.b_k is the same for every key, and softmax ignores a constant shift.
    biases = tuple(None if drop_key_bias and d.endswith(".key") else d + ".bias" for d in dst)
    return [(src + "/weight", tuple(d + ".weight" for d in dst)), (src + "/bias", biases)]


def _norm(src: str, dst: str) -> list[_Rule]:
    return [(src + "/gamma", (dst + ".weight",)), (src + "/beta", (dst + ".bias",))]


def _block_rules(src: str, dst: str, cross: bool) -> list[_Rule]:
    rules = _linear(f"{src}/self_attention/linear_0", f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value",
                    drop_key_bias=True)  # fmt: skip
    rules += _linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
    rules += _norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    if cross:
        rules += _linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        rules += _linear(f"{src}/attention/linear_1", f"{dst}.cross_attn.key", f"{dst}.cross_attn.value",
                         drop_key_bias=True)  # fmt: skip
        rules += _linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        rules += _norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
    rules += _linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0") + _linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2")
    return rules + _norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


def _rules(dims: ModelDimensions) -> list[_Rule]:
    rules = _linear("encoder/conv1", "encoder.conv1") + _linear("encoder/conv2", "encoder.conv2")
    rules.append(("encoder/position_encodings/encodings", ("encoder.positional_embedding",)))
    for i in range(dims.n_audio_layer):
        rules += _block_rules(f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    rules += _norm("encoder/layer_norm", "encoder.ln_post")
    rules.append(("decoder/embeddings/weight", ("decoder.token_embedding.weight",)))
    rules.append(("decoder/position_encodings/encodings", ("decoder.positional_embedding",)))
    for i in range(dims.n_text_layer):
        rules += _block_rules(f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    return rules + _norm("decoder/layer_norm", "decoder.ln")


def to_state_dict(variables: dict[str, np.ndarray], dims: ModelDimensions, label: str) -> dict[str, torch.Tensor]:
    """Maps CTranslate2 variables onto the state dict of openai-whisper's `Whisper(dims)`.

    Tensors keep their stored float dtype (float16 stays float16); `load_state_dict` casts to the model's.

    Raises:
        ModelError: A variable is missing, not a float tensor, or cannot be split as the layout requires.
    """
    rules = _rules(dims)
    _require_variables(variables, [src for src, _ in rules], label)
    state: dict[str, torch.Tensor] = {}
    for src, dsts in rules:
        value = variables[src]
        _require(value.dtype.kind == "f", label, f"variable {src} is {value.dtype}, expected floats")
        _require(value.shape[0] % len(dsts) == 0, label, f"variable {src} {value.shape} splits not in {len(dsts)}")
        for dst, part in zip(dsts, np.split(value, len(dsts))):
            if dst is not None:  # views: torch.save writes a shared storage once
                state[dst] = torch.from_numpy(part)
    return state


def convert(parts: Sequence[str | Path], config_path: str | Path) -> dict[str, Any]:
    """Converts a CTranslate2 Whisper model into an openai-whisper checkpoint dict.

    Args:
        parts: `model.bin`, or its parts in order.
        config_path: The model's `config.json` (for the alignment heads).

    Returns:
        `{"dims": dict, "model_state_dict": dict, "alignment_heads": [[layer, head], ...]}`, which
        `torch.save` writes as a file that `whisper.load_model(path)` accepts (it ignores the extra key).

    Raises:
        ModelError: Anything wrong with either file, naming the file and the problem.
    """
    label = " + ".join(str(p) for p in parts)
    variables = read_model_bin(parts)
    dims = model_dimensions(variables, label)
    heads = read_alignment_heads(config_path)
    bad = [h for h in heads if not (0 <= h[0] < dims.n_text_layer and 0 <= h[1] < dims.n_text_head)]
    _require(not bad, str(config_path), f"alignment heads {bad} outside {dims.n_text_layer}x{dims.n_text_head}")
    state = to_state_dict(variables, dims, label)
    return {"dims": asdict(dims), "model_state_dict": state, "alignment_heads": heads}


def _require_variables(variables: dict[str, np.ndarray], names: list[str], label: str) -> None:
    missing = [n for n in names if n not in variables]
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    _require(not missing, label, f"missing variables {', '.join(missing[:5])}{more}")


def _require(ok: bool, label: str, problem: str) -> None:
    if not ok:
        raise ModelError(f"{label}: {problem}")

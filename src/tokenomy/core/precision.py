"""Number formats: bytes per element and the precision of weights, activations and KV cache.

A Precision names one weight format, one activation format and one KV-cache format. Parts of the
model listed in ``bf16_parts`` keep 16-bit weights and activations whatever the formats say: that
is how checkpoints ship (gpt-oss quantizes only its MoE experts to MXFP4; attention and router stay
bf16). Embedding tables and the LM head are always 16-bit (core/graph.py).

MXFP4 (OCP microscaling): 32 fp4 (e2m1) elements share one 8-bit scale, so 4 + 8/32 = 4.25 bits
= 0.53125 bytes per weight; its matrix rate is the chip's fp4 rate. fp8 block scales (DeepSeek-V3:
one fp32 per 128 x 128 block, 4 / 16384 = 0.02% extra) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import SpecError

BYTES_PER_ELEMENT = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "mxfp4": 4.25 / 8}
FORMATS = ("bf16", "fp8", "int8", "fp4", "mxfp4")
RATE_FORMAT = {"mxfp4": "fp4"}            # formats that run at another format's matrix rate
# which part of a layer each GEMM of core/graph.py belongs to (for bf16_parts)
PART_OF_GEMM = {
    "q_a": "attention", "q_b": "attention", "q": "attention", "kv_a": "attention", "kv_b": "attention",
    "uk_absorb": "attention", "uv_absorb": "attention", "o": "attention", "qkv": "attention",
    "gate_up": "mlp", "down": "mlp", "gate_up_dense": "mlp", "down_dense": "mlp", "router": "router",
    "gate_up_expert": "experts", "down_expert": "experts", "gate_up_shared": "shared_experts",
    "down_shared": "shared_experts",
}
PARTS = ("attention", "mlp", "router", "experts", "shared_experts")


def rate_format(fmt: str) -> str:
    """The matrix rate (hardware peak key) a format runs at: 'mxfp4' -> 'fp4', else itself."""
    return RATE_FORMAT.get(fmt, fmt)


@dataclass(frozen=True)
class Precision:
    """Formats of weights, activations (GEMM inputs) and the KV cache; ``source`` says where they
    came from ('' = given by the caller, e.g. 'shipped mxfp4')."""

    weights: str = "bf16"
    activations: str = "bf16"
    kv_cache: str = "bf16"
    bf16_parts: frozenset[str] = frozenset()
    source: str = ""
    kv_source: str = ""          # why this KV format: 'given' (kv=...), 'checkpoint', or the engine's convention

    @property
    def compute(self) -> str:
        """Matrix rate of the quantized GEMMs: the wider of weights and activations (weight-only
        quantization, e.g. w=mxfp4,a=bf16, runs at the activation format)."""
        wb, ab = BYTES_PER_ELEMENT[self.weights], BYTES_PER_ELEMENT[self.activations]
        return rate_format(self.activations if ab >= wb else self.weights)

    def formats(self, gemm_name: str) -> tuple[str, str]:
        """(weight format, activation format) of one GEMM of core/graph.py, by name."""
        if PART_OF_GEMM.get(gemm_name) in self.bf16_parts:
            return "bf16", "bf16"
        return self.weights, self.activations

    @property
    def label(self) -> str:
        if self.weights == self.activations and self.kv_cache in (self.weights, "bf16"):
            text = self.weights
        else:
            text = f"w={self.weights},a={self.activations},kv={self.kv_cache}"
        if self.bf16_parts:
            text += "; bf16 " + "+".join(p for p in PARTS if p in self.bf16_parts)
        return f"{text} ({self.source})" if self.source else text


FP8_KV_WEIGHTS = ("fp8", "fp4", "mxfp4")   # checkpoints a 'fp8-when-weights-fp8' engine runs with an fp8 KV cache


def engine_kv(precision: Precision, kv_cache_format: str) -> Precision:
    """``precision`` with the KV format the engine uses (spec/engine.py ``kv_cache_format``) unless
    ``kv=`` was given: 'checkpoint' keeps the checkpoint's (bf16: no catalog checkpoint ships a
    quantized KV cache); 'fp8-when-weights-fp8' runs fp8 KV with fp8/fp4 weights (TensorRT-LLM)."""
    if precision.kv_source == "given":
        return precision
    if kv_cache_format == "fp8-when-weights-fp8" and precision.weights in FP8_KV_WEIGHTS:
        return replace(precision, kv_cache="fp8", kv_source="engine: fp8 KV with fp8/fp4 weights")
    return replace(precision, kv_cache="bf16", kv_source="checkpoint")


def shipped_precision(quant_weights: str, quant_activations: str, bf16_parts, quant_method: str | None,
                      chip_rates) -> Precision:
    """The precision a checkpoint runs in as shipped, on a chip with matrix rates ``chip_rates``
    (format -> FLOP/s).

    Weights stay in the shipped format. Activations use the shipped activation format when the chip
    has a matrix rate for it (DeepSeek-V3: fp8 dynamic, so W8A8 on H100), else bf16: weight-only
    quantization, weights dequantized into 16-bit GEMMs (gpt-oss MXFP4 on any chip, as Marlin and
    Triton MoE kernels run it; fp8 weights on A100). Engines that also quantize activations on
    Blackwell (MXFP4 x MXFP8) are an explicit choice: ``w=mxfp4,a=fp8``.
    """
    if quant_weights == "bf16":
        return Precision(source=f"shipped {quant_method} is not modelled, bf16 assumed" if quant_method else "")
    acts = quant_activations if rate_format(quant_activations) in chip_rates else "bf16"
    source = f"shipped {quant_method}" + ("" if acts == quant_activations else ", weight-only on this chip")
    return Precision(quant_weights, acts, "bf16", frozenset(bf16_parts), source)


def parse_precision(text: str | Precision | None) -> Precision:
    """``bf16``/``fp8``/``int8``/``fp4``/``mxfp4`` (weights and activations in that format: the chip
    must have that matrix rate), or explicit ``w=fp4,a=fp8,kv=fp8`` (weight-only quantization runs
    the matrix units at the activation format). None means bf16. Without ``kv=`` the KV format is
    the engine's convention (engine_kv, applied by core/predict.py); ``kv=`` overrides it."""
    if isinstance(text, Precision):
        return text
    if text is not None and not isinstance(text, str):
        raise SpecError(f"precision must be a format name such as 'bf16' or 'w=fp8,a=fp8,kv=bf16', "
                        f"got {text!r} ({type(text).__name__}).")
    text = (text or "bf16").strip().lower()
    if "=" not in text:
        if text not in FORMATS:
            raise SpecError(f"Unknown precision {text!r}. Use one of {', '.join(FORMATS)} "
                            "or 'w=fp8,a=fp8,kv=bf16'.")
        return Precision(text, text, "bf16")   # KV format: the engine's convention (engine_kv)
    parts: dict[str, str] = {"weights": "bf16", "activations": "bf16", "kv_cache": "bf16"}
    keys = {"w": "weights", "weights": "weights", "a": "activations", "activations": "activations",
            "kv": "kv_cache", "kv_cache": "kv_cache"}
    for item in text.split(","):
        if "=" not in item:
            raise SpecError(f"Bad precision part {item!r} in {text!r}: write key=format, e.g. 'w=fp8,a=fp8,kv=bf16'.")
        k, v = (x.strip() for x in item.split("=", 1))
        if k not in keys:
            raise SpecError(f"Unknown precision key {k!r} in {text!r}: use w, a or kv.")
        if v not in FORMATS:
            raise SpecError(f"Unknown format {v!r} for {k!r}: use one of {', '.join(FORMATS)}.")
        parts[keys[k]] = v
    given = any(k.strip() in ("kv", "kv_cache") for k in (i.split("=", 1)[0] for i in text.split(",")))
    return Precision(parts["weights"], parts["activations"], parts["kv_cache"], kv_source="given" if given else "")

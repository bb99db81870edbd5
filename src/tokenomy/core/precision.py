"""Number formats: bytes per element and the precision of weights, activations and KV cache."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError

BYTES_PER_ELEMENT = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5}
FORMATS = ("bf16", "fp8", "int8", "fp4")


@dataclass(frozen=True)
class Precision:
    """Formats of weights, activations (GEMM inputs) and the KV cache."""

    weights: str = "bf16"
    activations: str = "bf16"
    kv_cache: str = "bf16"

    @property
    def compute(self) -> str:
        """Format the matrix units run in: the wider of weights and activations."""
        wb, ab = BYTES_PER_ELEMENT[self.weights], BYTES_PER_ELEMENT[self.activations]
        return self.activations if ab >= wb else self.weights

    @property
    def label(self) -> str:
        if self.weights == self.activations == self.kv_cache:
            return self.weights
        if self.weights == self.activations and self.kv_cache == "bf16":
            return self.weights
        return f"w={self.weights},a={self.activations},kv={self.kv_cache}"


def parse_precision(text: str | Precision | None) -> Precision:
    """``bf16``/``fp8``/``int8``/``fp4`` (weights and activations in that format, KV cache bf16: the
    chip must have that matrix rate), or explicit ``w=fp4,a=fp8,kv=fp8`` (weight-only quantization
    runs the matrix units at the activation format)."""
    if isinstance(text, Precision):
        return text
    text = (text or "bf16").strip().lower()
    if "=" not in text:
        if text not in FORMATS:
            raise SpecError(f"Unknown precision {text!r}. Use one of {', '.join(FORMATS)} "
                            "or 'w=fp8,a=fp8,kv=bf16'.")
        return Precision(text, text, "bf16")
    parts = {}
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
    return Precision(**{"weights": "bf16", "activations": "bf16", "kv_cache": "bf16", **parts})

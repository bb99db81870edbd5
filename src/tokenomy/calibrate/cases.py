"""What one calibration run measures: the decoder's shape and the case lists per device.

No torch here. The CUDA default is sized to finish in about 2-3 minutes on an H100 with
Llama-3.1-8B (16 GB of bf16 weights); decode cases keep b * ctx <= 262,144 so that the KV cache
(34 GB at most for Llama-3.1-8B) fits beside the weights on an 80 GB card.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError
from ..spec.model import ModelSpec


@dataclass(frozen=True)
class ModelShape:
    """The Llama-architecture decoder that is built and timed (random weights)."""

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int

    @classmethod
    def from_spec(cls, m: ModelSpec) -> ModelShape:
        if m.attention != "gqa" or m.is_moe:
            raise SpecError(f"calibrate builds dense Llama-architecture models; {m.name} is "
                            f"{'MoE' if m.is_moe else m.attention}. Pass a dense model, e.g. --model llama-3.1-8b.")
        return cls(m.name, m.n_layers, m.d_model, m.n_heads, m.n_kv_heads, m.d_head, m.d_ff, m.vocab_size)

    def row(self, elem_bytes: int = 2) -> dict:
        H = self.head_dim
        per_layer = self.hidden * (self.heads + 2 * self.kv_heads) * H + self.hidden * self.heads * H \
            + 3 * self.hidden * self.intermediate
        weight_bytes = elem_bytes * (self.layers * per_layer + 2 * self.vocab * self.hidden)  # + embedding, head
        return dict(kind="model", weight_bytes=weight_bytes, name=self.name, layers=self.layers, hidden=self.hidden,
                    heads=self.heads, kv_heads=self.kv_heads, intermediate=self.intermediate, vocab=self.vocab,
                    head_dim=self.head_dim, precision="bf16")

    def gemm_shapes(self) -> list[tuple[int, int, str]]:
        """(n, k, tag) of every linear layer: y[m,n] = x[m,k] @ w[n,k]^T."""
        H = self.head_dim
        return [((self.heads + 2 * self.kv_heads) * H, self.hidden, "qkv"), (self.hidden, self.heads * H, "o"),
                (2 * self.intermediate, self.hidden, "gate_up"), (self.hidden, self.intermediate, "down"),
                (self.vocab, self.hidden, "lm_head")]


# tiny decoders for CPU runs (quick: tests; default: a few seconds per step)
TINY = ModelShape("tiny-llama-2x256", 2, 256, 4, 2, 64, 768, 2048)
SMALL = ModelShape("small-llama-4x1024", 4, 1024, 8, 4, 128, 2816, 8192)


@dataclass(frozen=True)
class Sizes:
    """Every case one calibration run measures."""

    model: ModelShape
    copy_bytes: int
    peak_m: int
    gemm_ms: tuple[int, ...]
    gemm_extra: tuple[tuple[int, int, int, str], ...]    # (m, n, k, tag): misaligned and square shapes
    fp8: bool
    attn_prefill: tuple[tuple[int, int], ...]            # (b, s)
    attn_decode: tuple[tuple[int, int], ...]             # (b, ctx)
    prefill: tuple[tuple[int, int], ...]                 # (b, s)
    decode: tuple[tuple[int, int], ...]                  # (b, ctx)
    energy: tuple[tuple[str, int, int], ...]             # (phase, b, n)
    energy_s: float = 2.0                                # seconds of sustained run per energy row
    kv_budget_bytes: float = float("inf")                # skip decode cases whose KV cache exceeds this


def default_sizes(device: str, quick: bool, model: ModelSpec | None = None, mem_bytes: float | None = None) -> Sizes:
    """The default case lists. CUDA default: about 2-3 minutes on an H100 for Llama-3.1-8B."""
    if device == "cpu":
        shape = ModelShape.from_spec(model) if model else (TINY if quick else SMALL)
        if quick:
            return Sizes(shape, 32 << 20, 512, (1, 4, 16, 64, 256), (), False,
                         ((1, 64), (1, 128), (2, 256), (1, 512)), ((1, 128), (4, 256), (8, 512)),
                         ((1, 16), (1, 64), (2, 128), (4, 64)), ((1, 32), (4, 64), (8, 128), (16, 64)), ())
        return Sizes(shape, 256 << 20, 1024, (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), (), False,
                     ((1, 128), (1, 512), (1, 1024), (2, 512), (1, 2048)),
                     ((1, 256), (1, 1024), (4, 1024), (8, 512), (16, 256)),
                     ((1, 32), (1, 128), (1, 512), (2, 256), (8, 64)),
                     ((1, 64), (1, 512), (4, 256), (8, 128), (16, 512), (32, 64)), ())
    from ..loaders.models import load_model
    shape = ModelShape.from_spec(model or load_model("llama-3.1-8b"))
    d = shape.hidden
    # alignment pairs: k*2 bytes % 16 != 0 (d+4) and only n misaligned, each beside an aligned neighbour
    extra = tuple((2048, n, k, tag) for n, k, tag in
                  ((d, d, "square"), (d + 4, d + 4, "square"), (4 * d, d, "up4x"), (4 * (d + 4), d + 4, "up4x"),
                   (d + 4, d, "n_misaligned"), (d + 904, d + 904, "square"), (d + 908, d + 908, "square")))
    kv_budget = 0.45 * mem_bytes if mem_bytes else 30e9
    if quick:
        return Sizes(shape, 1 << 30, 8192, (1, 16, 64, 256, 1024, 4096), extra[:4], True,
                     ((1, 1024), (1, 4096), (8, 1024), (1, 8192)), ((1, 1024), (8, 4096), (32, 1024), (128, 1024)),
                     ((1, 512), (1, 2048), (4, 1024), (16, 256)), ((1, 1024), (8, 1024), (32, 1024), (64, 4096)),
                     (("decode", 8, 1024), ("decode", 64, 1024), ("prefill", 1, 4096)), energy_s=1.0,
                     kv_budget_bytes=kv_budget)
    ms = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
    dec = tuple((b, c) for b in (1, 4, 16, 32, 64, 128, 256) for c in (128, 1024, 4096, 16384) if b * c <= 262144)
    return Sizes(shape, 1 << 30, 8192, ms, extra, True,
                 ((1, 512), (1, 1024), (1, 2048), (1, 4096), (1, 8192), (1, 16384), (8, 1024), (8, 4096)),
                 ((1, 1024), (1, 8192), (1, 32768), (8, 1024), (8, 8192), (32, 1024), (32, 8192), (128, 1024),
                  (128, 4096), (256, 2048)),
                 ((1, 128), (1, 512), (1, 2048), (1, 8192), (1, 16384), (4, 1024), (8, 2048), (32, 256), (64, 128)),
                 dec,
                 (("decode", 1, 1024), ("decode", 8, 1024), ("decode", 32, 1024), ("decode", 128, 1024),
                  ("decode", 256, 1024), ("prefill", 1, 8192)), energy_s=2.0, kv_budget_bytes=kv_budget)

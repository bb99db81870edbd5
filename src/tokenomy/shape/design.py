"""``design_shape``: a whole Llama-style shape for a parameter budget that runs efficiently on one chip."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..core.params import param_counts
from ..core.precision import parse_precision
from ..errors import SpecError
from ..gemm import DEFAULT_ENGINE, resolve_chip
from ..loaders.engines import load_engine
from ..loaders.hardware import load_hardware
from ..spec import args as argcheck
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.limits import MAX_DIM
from ..spec.model import ModelSpec
from .timing import plain, step_sizes, time_model


@dataclass(frozen=True)
class ShapeDesign:
    """A proposed shape for a parameter budget, with the reasoning behind each number."""

    hardware: str
    params_target: float
    params_total: int
    params_error_frac: float
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_head: int
    d_ff: int
    vocab_size: int
    prefill_efficiency_frac: float
    decode_efficiency_frac: float
    reasoning: tuple[str, ...]
    spec: ModelSpec

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "spec"}
        return plain(d)

    def rows(self) -> list[dict]:
        """The proposed shape as one flat row, glossary keys (``shape --design --json``); the reasoning is
        ``to_dict()['reasoning']``."""
        return [{k: getattr(self, k) for k in ("hardware", "n_layers", "d_model", "n_heads", "n_kv_heads", "d_head",
                                                 "d_ff", "vocab_size", "params_total", "params_error_frac",
                                                 "prefill_efficiency_frac", "decode_efficiency_frac")}]



D_HEAD = 128            # h/a = 128: FlashAttention's best Hopper tile, wgmma-friendly
KV_HEADS = 8            # GQA with 8 KV heads (Llama 3): 8 divides every tp up to 8
ASPECT = 128            # d_model / n_layers of Llama 2/3 7-13B (4096/32, 5120/40)
ASPECT_RANGE = (64, 192)
MAX_DESIGN_PARAMS = 1e14   # 100T parameters: ~50x the largest model built so far


def _design_spec(name: str, D: int, F: int, L: int, V: int) -> ModelSpec:
    N = D // D_HEAD
    K = math.gcd(N, KV_HEADS)
    return ModelSpec(name=name, family="llama", n_layers=L, d_model=D, n_heads=N, n_kv_heads=K, d_head=D_HEAD,
                     d_ff=F, vocab_size=V, source="tokenomy design_shape")


def design_shape(params: float, hardware: str | HardwareSpec, layers: int | None = None, *,
                 vocab_size: int = 128256, tolerance: float = 0.02, engine: str | EngineProfile = DEFAULT_ENGINE,
                 prefill_tokens: int = 4096, decode_batch: int = 64) -> ShapeDesign:
    """A Llama-style shape of about ``params`` total parameters that runs efficiently on ``hardware``.

    d_model a multiple of 128 with d_head 128 and 8 KV heads (GQA), d_ff near 8/3 d_model on a
    multiple of 256, vocabulary padded to a multiple of 128, layers chosen for the budget (or
    ``layers`` fixed). Among the shapes within ``tolerance`` of the budget, the one with the best
    predicted GEMM efficiency on the chip wins, with a small preference for d_model/n_layers
    near 128 and for a closer parameter count.
    """
    target = argcheck.number("params", params, maximum=MAX_DESIGN_PARAMS, allow_minimum=False)
    if layers is not None:
        layers = argcheck.positive_int("layers", layers, maximum=MAX_DIM)
    vocab_size = argcheck.positive_int("vocab_size", vocab_size, maximum=MAX_DIM)
    prefill_tokens, _, decode_batch, tolerance = step_sizes(prefill_tokens, decode_batch, tolerance)
    argcheck.name_or_spec("hardware", hardware, HardwareSpec, argcheck.HARDWARE_HINT)
    argcheck.optional_text("engine", engine, argcheck.ENGINE_HINT, spec_type=EngineProfile)
    hw, eng, *_ = resolve_chip(hardware if isinstance(hardware, HardwareSpec) else load_hardware(hardware),
                               engine if isinstance(engine, EngineProfile) else load_engine(engine), "bf16")
    V = -(-int(vocab_size) // 128) * 128
    prec = parse_precision("bf16")

    def total(D, F, L):
        return param_counts(_design_spec("x", D, F, L, V)).total

    def search(step):
        found = []   # (D, F, L, params)
        for D in range(step, 65536 + 1, step):
            f0 = round(8 / 3 * D / 256) * 256
            per_layer = total(D, f0, 2) - total(D, f0, 1)
            fixed = total(D, f0, 1) - per_layer
            if layers is None:
                if target <= fixed:
                    continue
                x = (target - fixed) / per_layer
                Ls = {L for L in {max(1, math.floor(x)), max(1, math.ceil(x))}
                      if ASPECT_RANGE[0] <= D / L <= ASPECT_RANGE[1]}
            else:
                Ls = {int(layers)}
            for L in Ls:
                F, P = min(((F, total(D, F, L)) for F in (f0 + 256 * j for j in range(-2, 3)) if F > 0),
                           key=lambda fp: abs(fp[1] / target - 1))
                if abs(P / target - 1) <= tolerance:
                    found.append((D, F, L, P))
        return found

    # d_model a multiple of 128 * KV_HEADS keeps n_heads a multiple of the 8 KV heads; finer steps
    # (4, 2, 1 KV heads) only when no such shape reaches the budget (small models, fixed layers)
    options = []
    for step in (D_HEAD * KV_HEADS, D_HEAD * 4, D_HEAD * 2, D_HEAD):
        options = search(step)
        if options:
            break
    if not options:
        raise SpecError(f"No Llama-style shape with d_model a multiple of 128"
                        f"{'' if layers is None else f' and {layers} layers'} reaches {target:.3g} parameters "
                        f"within {tolerance:.0%} (vocabulary {V}); change --params, --layers or the tolerance.")
    scored = []
    for D, F, L, P in options:
        t = time_model(_design_spec("x", D, F, L, V), hw, eng, prec, 1, prefill_tokens, 1, decode_batch)
        eff_pf, eff_dc = t.prefill_ideal_s / t.prefill_s, t.decode_ideal_s / t.decode_s
        score = (eff_pf + eff_dc) / 2 - abs(P / target - 1)
        if layers is None:
            score -= 0.05 * abs(math.log2(D / L / ASPECT))
        scored.append((score, D, F, L, P, eff_pf, eff_dc))
    scored.sort(key=lambda s: -s[0])
    _, D, F, L, P, eff_pf, eff_dc = scored[0]
    spec = _design_spec(f"design-{target:.3g}-{hw.id}", D, F, L, V)
    N, K = spec.n_heads, spec.n_kv_heads
    reasoning = [
        f"d_model {D}: a multiple of 128 ({D // 128} x 128), so every GEMM row is 16-byte aligned and fills "
        f"whole 128-wide tiles; d_model/n_layers = {D / L:.0f} (Llama 7-13B use 128).",
        f"{N} query heads x d_head {D_HEAD}: h/a = 128 suits FlashAttention tiles and the wgmma K step; "
        f"{K} KV heads (GQA, group of {N // K}) shrink the KV cache {N // K}x and split evenly for tp up to {K}"
        + ("." if K == KV_HEADS or N < KV_HEADS else
           f" (not {KV_HEADS}: no shape with n_heads a multiple of {KV_HEADS} reached the budget)."),
        f"d_ff {F}: near 8/3 x d_model = {8 / 3 * D:.0f} (SwiGLU), on a multiple of 256; an unaligned width "
        f"such as 10922 runs at 273 vs 398 TFLOP/s for 10944 on H100 (ml-engineering).",
        f"vocabulary {V}: {vocab_size} padded to a multiple of 128 (nanoGPT's 50257 -> 50304 made the LM head ~3x "
        f"faster)." if vocab_size != V else f"vocabulary {V}: already a multiple of 128.",
        f"{L} layers: {P / 1e9:.3f}B parameters, {P / target - 1:+.2%} from the {target / 1e9:.3g}B budget"
        f"{'' if layers is None else ' (layers fixed)'}.",
        f"Predicted GEMM efficiency on {hw.id} ({hw.compute_units or 128} compute units) with the "
        f"{eng.name} profile: {eff_pf:.1%} of the aligned ideal in prefill ({prefill_tokens} tokens), "
        f"{eff_dc:.1%} in decode (batch {decode_batch}); chosen over {len(scored) - 1} other shapes within "
        f"{tolerance:.0%} of the budget.",
    ]
    if len(scored) > 1:
        _, D2, F2, L2, P2, e2p, e2d = scored[1]
        reasoning.append(f"Runner-up: d_model {D2}, d_ff {F2}, {L2} layers ({P2 / 1e9:.3f}B; efficiency "
                         f"{e2p:.1%} prefill, {e2d:.1%} decode).")
    return ShapeDesign(hardware=hw.id, params_target=target, params_total=int(P), params_error_frac=P / target - 1,
                       n_layers=L, d_model=D, n_heads=N, n_kv_heads=K, d_head=D_HEAD, d_ff=F, vocab_size=V,
                       prefill_efficiency_frac=eff_pf, decode_efficiency_frac=eff_dc, reasoning=tuple(reasoning),
                       spec=spec)

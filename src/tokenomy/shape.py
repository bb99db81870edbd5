"""Public API: hardware-aware model shapes. Pure logic on top of ``tokenomy.gemm``.

``analyze_shape`` times every GEMM of a model (the kernel list of ``core.graph.build_recipe``, so
the same GEMMs the core engine times) for one prefill step and one decode step, flags the
misaligned or badly quantized ones, and tries nearby dimensions (d_model, d_ff, heads x d_head,
vocabulary padding) that keep the total parameter count within a tolerance.

``design_shape`` proposes a whole Llama-style shape for a parameter budget on one chip.

Rules (Anthony et al., arXiv 2401.14489; NVIDIA "Matrix Multiplication Background" guide; see
shared/reference/shapes-and-disaggregation.md Part A): rows whose byte size is not a multiple
of 16 leave the TMA / tensor-core fast path; dimensions that are multiples of 64 (bf16: 128
bytes) per tensor-parallel shard avoid it and fill whole tiles; SwiGLU width near 8/3 d.

Speed-ups are ratios of whole-model GEMM time per step (old / new). A proposal is kept when its
*gain* (useful GEMM FLOP/s new / old, i.e. the speed-up at equal work) reaches ``min_gain`` in
prefill or decode without losing as much in the other: a shape that is faster only because it
is smaller is not a better shape.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .core.graph import build_recipe, gemm_compute_format, gemm_rows
from .core.params import param_counts
from .core.precision import Precision, parse_precision
from .errors import SpecError
from .gemm import DEFAULT_ENGINE, gemm_prediction, resolve_chip
from .loaders.engines import load_engine
from .loaders.hardware import load_hardware
from .loaders.models import load_model
from .spec.engine import EngineProfile
from .spec.hardware import HardwareSpec
from .spec.model import ModelSpec

ALIGN_BYTES = 16          # TMA global stride rule (cuTensorMapEncodeTiled): row bytes % 16 == 0
WIDE_BYTES = 128          # "most efficient" multiple (NVIDIA guide: 64 bf16 / 128 fp8 elements on A100+)
ROUNDING_UNITS = (64, 128, 256)   # candidate multiples for d_model and d_ff (per tensor-parallel shard)
VOCAB_UNITS = (64, 128)           # nanoGPT pads 50257 -> 50304 (64); Megatron pads to 128 * tp
HEAD_DIMS = (64, 128, 256)        # h/a in {64, 128, 256} (FlashAttention tiles)
TILE_FLAG = 0.90          # flag a compute-bound GEMM losing > 10% to partial tiles
WAVE_FLAG = 0.95          # ... or > 5% to wave quantization


@dataclass(frozen=True)
class ShapeGemm:
    """One GEMM kind of the model on one chip: m rows in each phase, y[m,n] = x[m,k] @ w[n,k]^T.

    Times are per step, summed over the ``count`` instances (layers); efficiencies are
    ideal / predicted time of one instance (1 = aligned, whole tiles, whole waves).
    """

    name: str
    n: int
    k: int
    count: float
    prefill_m: float
    decode_m: float
    prefill_s: float
    decode_s: float
    prefill_tflops: float
    decode_tflops: float
    prefill_efficiency_frac: float
    decode_efficiency_frac: float
    prefill_bound: str
    decode_bound: str
    align_factor: float
    tile_factor: float           # prefill
    wave_factor: float           # prefill
    flags: tuple[str, ...]


@dataclass(frozen=True)
class ShapeProposal:
    """A nearby shape: the fields it changes (old -> new) and what it buys on this chip."""

    dimension: str               # d_model | d_ff | d_ff_expert | heads | vocab_size
    changes: dict                # field -> [old, new]
    description: str
    params_total: int
    params_change_frac: float
    prefill_speedup: float       # whole-model GEMM time per prefill step, old / new
    decode_speedup: float
    prefill_gain: float          # useful GEMM FLOP/s, new / old (speed-up at equal work)
    decode_gain: float
    gemm_speedups: dict          # GEMM name -> {"prefill": old/new, "decode": old/new}, changed ones


@dataclass(frozen=True)
class ShapeAnalysis:
    model: str
    hardware: str
    engine: str
    precision: str
    tp: int
    tolerance: float
    prefill_tokens: int
    prefill_seqs: int
    decode_batch: int
    params_total: int
    gemms: tuple[ShapeGemm, ...]
    prefill_gemm_s: float
    decode_gemm_s: float
    prefill_efficiency_frac: float   # ideal / predicted, whole-model GEMM time
    decode_efficiency_frac: float
    proposals: tuple[ShapeProposal, ...]
    source: str

    def to_dict(self) -> dict:
        return _plain(asdict(self))


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
        return _plain(d)


def _plain(x):
    """Tuples to lists, recursively (JSON-ready)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# ---- timing one model ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Timed:
    gemms: tuple[ShapeGemm, ...]
    prefill_s: float
    decode_s: float
    prefill_flop: float
    decode_flop: float
    prefill_ideal_s: float
    decode_ideal_s: float


def _flags(op, prefill) -> tuple[str, ...]:
    flags = []
    in_bytes = min(op.a_bytes, op.w_bytes)
    if (op.k * in_bytes) % ALIGN_BYTES:
        flags.append("misaligned_k")
    if (op.n * op.out_bytes) % ALIGN_BYTES:
        flags.append("misaligned_n")
    if not flags and ((op.k * in_bytes) % WIDE_BYTES or (op.n * op.out_bytes) % WIDE_BYTES):
        flags.append(f"not_{WIDE_BYTES}B_multiple")
    compute_bound = str(prefill.bound[()]) == "compute"
    if compute_bound and float(prefill.tile_factor[()]) < TILE_FLAG:
        flags.append("tile_quantization")
    if compute_bound and float(prefill.wave_factor[()]) < WAVE_FLAG:
        flags.append("wave_quantization")
    return tuple(flags)


def _time_model(spec: ModelSpec, hw: HardwareSpec, eng: EngineProfile, precision: Precision, tp: int,
                prefill_tokens: int, prefill_seqs: int, decode_batch: int) -> _Timed:
    top_k = max(spec.n_experts_active, 1)
    steps = {}
    for phase, tokens, seqs in (("prefill", prefill_tokens, prefill_seqs), ("decode", decode_batch, decode_batch)):
        recipe = build_recipe(spec, eng, precision, phase=phase, tp=tp)
        steps[phase] = {}
        for op in recipe.gemms:
            m, batch = gemm_rows(op, tokens, seqs, top_k=top_k, n_experts=max(spec.n_experts, 1))
            steps[phase][op.name] = (op, gemm_prediction(
                hw, eng, m, op.n, op.k, dtype=gemm_compute_format(op, precision), a_bytes=op.a_bytes,
                w_bytes=op.w_bytes, out_bytes=op.out_bytes, batch=batch))
    tot = {}   # phase -> (seconds, flop, ideal seconds), summed over every GEMM of the step
    for phase, ops in steps.items():
        tot[phase] = tuple(sum(float(getattr(g, f)[()]) * op.count for op, g in ops.values())
                           for f in ("latency_s", "flop", "ideal_latency_s"))
    rows = []
    for name, (op, pf) in steps["prefill"].items():
        if name not in steps["decode"]:
            continue                                   # prefill-only GEMMs (MLA kv_b) count in totals only
        dop, dc = steps["decode"][name]
        rows.append(ShapeGemm(
            name=name, n=op.n, k=op.k, count=op.count, prefill_m=float(pf.m[()]), decode_m=float(dc.m[()]),
            prefill_s=float(pf.latency_s[()]) * op.count, decode_s=float(dc.latency_s[()]) * dop.count,
            prefill_tflops=float(pf.tflops[()]), decode_tflops=float(dc.tflops[()]),
            prefill_efficiency_frac=float(pf.efficiency_frac[()]), decode_efficiency_frac=float(dc.efficiency_frac[()]),
            prefill_bound=str(pf.bound[()]), decode_bound=str(dc.bound[()]),
            align_factor=float(min(pf.align_factor[()], dc.align_factor[()])),
            tile_factor=float(pf.tile_factor[()]), wave_factor=float(pf.wave_factor[()]),
            flags=_flags(op, pf)))
    (ps, pflop, pid), (ds, dflop, did) = tot["prefill"], tot["decode"]
    return _Timed(tuple(rows), ps, ds, pflop, dflop, pid, did)


# ---- proposals -----------------------------------------------------------------------------


def _round_candidates(value: int, units, up_only: bool = False) -> list[int]:
    out = set()
    for u in units:
        hi = -(-value // u) * u
        lo = (value // u) * u
        out.add(hi)
        if not up_only and lo > 0:
            out.add(lo)
    out.discard(value)
    return sorted(out)


def _candidates(spec: ModelSpec, tp: int) -> list[tuple[str, dict, str]]:
    """(dimension, field updates, description) near the current shape."""
    out = []
    for v in _round_candidates(spec.d_model, ROUNDING_UNITS):
        out.append(("d_model", {"d_model": v}, f"d_model {spec.d_model} -> {v} (multiple of "
                                               f"{math.gcd(v, 256)})"))
    units_tp = tuple(u * tp for u in ROUNDING_UNITS)
    if spec.d_ff > 0:
        for v in _round_candidates(spec.d_ff, units_tp):
            out.append(("d_ff", {"d_ff": v}, f"d_ff {spec.d_ff} -> {v} ({v // tp} per shard)"))
    if spec.is_moe and spec.d_ff_expert > 0:
        for v in _round_candidates(spec.d_ff_expert, units_tp):
            out.append(("d_ff_expert", {"d_ff_expert": v}, f"d_ff_expert {spec.d_ff_expert} -> {v}"))
    for v in _round_candidates(spec.vocab_size, tuple(u * tp for u in VOCAB_UNITS), up_only=True):
        out.append(("vocab_size", {"vocab_size": v}, f"pad vocabulary {spec.vocab_size} -> {v} "
                                                     f"(multiple of {math.gcd(v, 128 * tp)})"))
    if spec.attention == "gqa" and spec.d_head % 64:
        group = spec.n_heads // spec.n_kv_heads
        width = spec.n_heads * spec.d_head
        for h in HEAD_DIMS:
            kv = max(1, round(spec.n_kv_heads * spec.d_head / h))
            n = kv * group
            if n * h == width or n % tp or (kv % tp and tp % kv):
                continue
            out.append(("heads", {"n_heads": n, "n_kv_heads": kv, "d_head": h},
                        f"heads {spec.n_heads}x{spec.d_head} (kv {spec.n_kv_heads}) -> {n}x{h} (kv {kv})"))
    return out


def _with(spec: ModelSpec, update: dict) -> ModelSpec:
    return ModelSpec.model_validate({**spec.model_dump(), **update})


def analyze_shape(model: str | ModelSpec, hardware: str | HardwareSpec, tp: int = 1, tolerance: float = 0.02,
                  prefill_tokens: int = 4096, decode_batch: int = 64, *, prefill_seqs: int = 1,
                  precision: str | Precision = "bf16", engine: str | EngineProfile = DEFAULT_ENGINE,
                  min_gain: float = 0.01) -> ShapeAnalysis:
    """Time every GEMM of ``model`` per ``tp`` shard for one prefill step (``prefill_tokens`` tokens
    in ``prefill_seqs`` prompts; the LM head runs on last positions only, as in the core engine)
    and one decode step (``decode_batch`` sequences), flag weak ones and propose nearby shapes
    whose total parameter count stays within ``tolerance`` (fraction) of the current one.
    """
    spec = model if isinstance(model, ModelSpec) else load_model(str(model))
    prec = parse_precision(precision)
    hw, eng, *_ = resolve_chip(hardware if isinstance(hardware, HardwareSpec) else load_hardware(str(hardware)),
                               engine if isinstance(engine, EngineProfile) else load_engine(engine), prec.compute)
    for name, v in (("tp", tp), ("prefill_tokens", prefill_tokens), ("prefill_seqs", prefill_seqs),
                    ("decode_batch", decode_batch)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise SpecError(f"{name} must be a positive integer, got {v!r}.")
    if prefill_seqs > prefill_tokens:
        raise SpecError(f"prefill_seqs ({prefill_seqs}) cannot exceed prefill_tokens ({prefill_tokens}).")
    if not (isinstance(tolerance, (int, float)) and 0 <= tolerance < 1):
        raise SpecError(f"tolerance must be a fraction in [0, 1), got {tolerance!r} (0.02 = 2%).")
    args = (hw, eng, prec, int(tp), int(prefill_tokens), int(prefill_seqs), int(decode_batch))
    base = _time_model(spec, *args)
    p0 = param_counts(spec).total
    proposals = []
    for dim, update, desc in _candidates(spec, int(tp)):
        try:
            cand = _with(spec, update)
            t = _time_model(cand, *args)
        except (SpecError, ValueError):
            continue                         # e.g. tp no longer divides the heads
        p1 = param_counts(cand).total
        if abs(p1 / p0 - 1) > tolerance:
            continue
        gains = ((t.prefill_flop / t.prefill_s) / (base.prefill_flop / base.prefill_s),
                 (t.decode_flop / t.decode_s) / (base.decode_flop / base.decode_s))
        if max(gains) < 1 + min_gain or min(gains) < 1 - min_gain:
            continue
        old = {g.name: g for g in base.gemms}
        per = {}
        for g in t.gemms:
            o = old.get(g.name)
            if o is None:
                continue
            sp = {"prefill": o.prefill_s / g.prefill_s, "decode": o.decode_s / g.decode_s}
            if abs(sp["prefill"] - 1) > 0.005 or abs(sp["decode"] - 1) > 0.005:
                per[g.name] = sp
        proposals.append(ShapeProposal(
            dimension=dim, changes={k: [getattr(spec, k), v] for k, v in update.items()}, description=desc,
            params_total=p1, params_change_frac=p1 / p0 - 1, prefill_speedup=base.prefill_s / t.prefill_s,
            decode_speedup=base.decode_s / t.decode_s, prefill_gain=gains[0], decode_gain=gains[1],
            gemm_speedups=per))
    # best gain first (to 0.5%), then the smallest change of the parameter count
    proposals.sort(key=lambda p: (p.dimension, -round(max(p.prefill_gain, p.decode_gain) * 200),
                                  abs(p.params_change_frac)))
    source = eng.source_for(hw.id)
    return ShapeAnalysis(
        model=spec.name, hardware=hw.id, engine=eng.name, precision=prec.label, tp=int(tp), tolerance=float(tolerance),
        prefill_tokens=int(prefill_tokens), prefill_seqs=int(prefill_seqs), decode_batch=int(decode_batch),
        params_total=p0, gemms=base.gemms, prefill_gemm_s=base.prefill_s, decode_gemm_s=base.decode_s,
        prefill_efficiency_frac=base.prefill_ideal_s / base.prefill_s,
        decode_efficiency_frac=base.decode_ideal_s / base.decode_s, proposals=tuple(proposals), source=source)


# ---- design --------------------------------------------------------------------------------

D_HEAD = 128            # h/a = 128: FlashAttention's best Hopper tile, wgmma-friendly
KV_HEADS = 8            # GQA with 8 KV heads (Llama 3): 8 divides every tp up to 8
ASPECT = 128            # d_model / n_layers of Llama 2/3 7-13B (4096/32, 5120/40)
ASPECT_RANGE = (64, 192)


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
    try:
        target = float(params)
    except (TypeError, ValueError):
        raise SpecError(f"params must be a number of parameters (e.g. 7e9), got {params!r}.") from None
    if not math.isfinite(target) or target <= 0:
        raise SpecError(f"params must be a positive number of parameters (e.g. 7e9), got {params!r}.")
    if layers is not None and (isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 1):
        raise SpecError(f"layers must be a positive integer, got {layers!r}.")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
        raise SpecError(f"vocab_size must be a positive integer, got {vocab_size!r}.")
    hw, eng, *_ = resolve_chip(hardware if isinstance(hardware, HardwareSpec) else load_hardware(str(hardware)),
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
        t = _time_model(_design_spec("x", D, F, L, V), hw, eng, prec, 1, prefill_tokens, 1, decode_batch)
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
        f"faster)." if V != vocab_size else f"vocabulary {V}: already a multiple of 128.",
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


__all__ = ["analyze_shape", "design_shape", "ShapeAnalysis", "ShapeDesign", "ShapeGemm", "ShapeProposal"]

"""Time every GEMM of a model on a chip for one prefill and one decode step, and flag the weak ones.

Flags (NVIDIA "Matrix Multiplication Background"; TMA stride rule): rows whose byte size is not a
multiple of ALIGN_BYTES leave the fast path; WIDE_BYTES multiples fill whole tiles; a compute-bound
GEMM losing more than 10% to partial tiles or 5% to wave quantization is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.graph import build_recipe, gemm_compute_format, gemm_rows
from ..core.precision import Precision
from ..errors import SpecError
from ..gemm import gemm_prediction
from ..spec import args as argcheck
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.model import ModelSpec

ALIGN_BYTES = 16          # TMA global stride rule (cuTensorMapEncodeTiled): row bytes % 16 == 0
WIDE_BYTES = 128          # "most efficient" multiple (NVIDIA guide: 64 bf16 / 128 fp8 elements on A100+)
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


def plain(x):
    """Tuples to lists, recursively (JSON-ready)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


@dataclass(frozen=True)
class TimedModel:
    """Whole-step GEMM totals of one model: seconds, FLOP and ideal seconds per phase, and the rows."""

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


def time_model(spec: ModelSpec, hw: HardwareSpec, eng: EngineProfile, precision: Precision, tp: int,
                prefill_tokens: int, prefill_seqs: int, decode_batch: int) -> TimedModel:
    top_k = max(spec.n_experts_active, 1)
    steps: dict[str, dict] = {}
    for phase, tokens, seqs in (("prefill", prefill_tokens, prefill_seqs), ("decode", decode_batch, decode_batch)):
        recipe = build_recipe(spec, eng, precision, phase=phase, tp=tp)
        steps[phase] = {}
        for op in recipe.gemms:
            m, batch = gemm_rows(op, np.asarray(float(tokens)), np.asarray(float(seqs)), top_k=top_k,
                                 n_experts=max(spec.n_experts, 1))
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
    return TimedModel(tuple(rows), ps, ds, pflop, dflop, pid, did)


def step_sizes(prefill_tokens: object, decode_batch: object, tolerance: object,
               prefill_seqs: object = 1) -> tuple[int, int, int, float]:
    """The step sizes and parameter tolerance shape analysis and design share, checked: whole numbers
    within tokenomy's bounds, ``prefill_seqs <= prefill_tokens``, ``tolerance`` a fraction in [0, 0.9]."""
    tokens = argcheck.positive_int("prefill_tokens", prefill_tokens, maximum=argcheck.MAX_TOKENS)
    seqs = argcheck.positive_int("prefill_seqs", prefill_seqs, maximum=argcheck.MAX_BATCH)
    batch = argcheck.positive_int("decode_batch", decode_batch, maximum=argcheck.MAX_BATCH)
    if seqs > tokens:
        raise SpecError(f"prefill_seqs ({seqs}) cannot exceed prefill_tokens ({tokens}).")
    tol = argcheck.number("tolerance", tolerance, maximum=0.9)
    return tokens, seqs, batch, tol

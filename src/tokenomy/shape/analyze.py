"""Public API: hardware-aware model shapes. Pure logic on top of ``tokenomy.gemm``.

``analyze_shape`` times every GEMM of a model (the kernel list of ``core.graph.build_recipe``, so
the same GEMMs the core engine times) for one prefill step and one decode step, flags the
misaligned or badly quantized ones, and tries nearby dimensions (d_model, d_ff, heads x d_head,
vocabulary padding) that keep the total parameter count within a tolerance.

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

from ..api import resolve
from ..core.params import param_counts
from ..core.precision import Precision
from ..errors import SpecError
from ..gemm import DEFAULT_ENGINE, resolve_chip
from ..spec import args as argcheck
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.model import ModelSpec
from .timing import ShapeGemm, plain, step_sizes, time_model

ROUNDING_UNITS = (64, 128, 256)   # candidate multiples for d_model and d_ff (per tensor-parallel shard)
VOCAB_UNITS = (64, 128)           # nanoGPT pads 50257 -> 50304 (64); Megatron pads to 128 * tp
HEAD_DIMS = (64, 128, 256)        # h/a in {64, 128, 256} (FlashAttention tiles)


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

    def record(self) -> dict:
        """JSON object keyed by glossary names (``shape --json`` summary.proposals): ``changes`` a list of
        {field, value} (the new values), ``gemm_speedups`` a list of {gemm, prefill_speedup, decode_speedup}."""
        d = {k: v for k, v in asdict(self).items() if k not in ("changes", "gemm_speedups")}
        return {**d, "changes": [{"field": k, "value": new} for k, (_, new) in self.changes.items()],
                "gemm_speedups": [{"gemm": g, "prefill_speedup": s["prefill"], "decode_speedup": s["decode"]}
                                  for g, s in self.gemm_speedups.items()]}


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
        return plain(asdict(self))

    def rows(self) -> list[dict]:
        """One flat row per GEMM kind, glossary keys (``shape --json`` rows): times summed over the
        ``gemm_count`` instances of a step, rates and efficiencies of one instance."""
        return [{"gemm": g.name, "n": g.n, "k": g.k, "gemm_count": g.count, "prefill_m": g.prefill_m,
                 "decode_m": g.decode_m, "prefill_gemm_s": g.prefill_s, "decode_gemm_s": g.decode_s,
                 "prefill_flop_per_s": g.prefill_tflops * 1e12, "decode_flop_per_s": g.decode_tflops * 1e12,
                 "prefill_efficiency_frac": g.prefill_efficiency_frac,
                 "decode_efficiency_frac": g.decode_efficiency_frac, "prefill_bound": g.prefill_bound,
                 "decode_bound": g.decode_bound, "align_factor": g.align_factor, "tile_factor": g.tile_factor,
                 "wave_factor": g.wave_factor, "flags": ", ".join(g.flags)} for g in self.gemms]

    def summary(self) -> dict:
        """The whole step's figures and the proposals (``shape --json`` summary)."""
        keys = ("params_total", "prefill_seqs", "prefill_gemm_s", "decode_gemm_s", "prefill_efficiency_frac",
                "decode_efficiency_frac", "source")
        return {**{k: getattr(self, k) for k in keys}, "proposals": [p.record() for p in self.proposals]}


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
                  precision: str | Precision | None = None, engine: str | EngineProfile = DEFAULT_ENGINE,
                  min_gain: float = 0.01) -> ShapeAnalysis:
    """Time every GEMM of ``model`` per ``tp`` shard for one prefill step (``prefill_tokens`` tokens
    in ``prefill_seqs`` prompts; the LM head runs on last positions only, as in the core engine)
    and one decode step (``decode_batch`` sequences), flag weak ones and propose nearby shapes
    whose total parameter count stays within ``tolerance`` (fraction) of the current one.
    """
    spec, hw, eng, prec = resolve(model, hardware, engine, precision)   # precision None: as shipped
    hw, eng, *_ = resolve_chip(hw, eng, prec.compute)
    tp = argcheck.positive_int("tp", tp)
    prefill_tokens, prefill_seqs, decode_batch, tolerance = step_sizes(prefill_tokens, decode_batch, tolerance,
                                                                       prefill_seqs)
    args = (hw, eng, prec, int(tp), int(prefill_tokens), int(prefill_seqs), int(decode_batch))
    base = time_model(spec, *args)
    p0 = param_counts(spec).total
    proposals = []
    for dim, update, desc in _candidates(spec, int(tp)):
        try:
            cand = _with(spec, update)
            t = time_model(cand, *args)
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
    source = "calibrated" if hw.id in eng.calibrated_hardware else "extrapolated"
    return ShapeAnalysis(
        model=spec.name, hardware=hw.id, engine=eng.name, precision=prec.label, tp=int(tp), tolerance=float(tolerance),
        prefill_tokens=int(prefill_tokens), prefill_seqs=int(prefill_seqs), decode_batch=int(decode_batch),
        params_total=p0, gemms=base.gemms, prefill_gemm_s=base.prefill_s, decode_gemm_s=base.decode_s,
        prefill_efficiency_frac=base.prefill_ideal_s / base.prefill_s,
        decode_efficiency_frac=base.decode_ideal_s / base.decode_s, proposals=tuple(proposals), source=source)

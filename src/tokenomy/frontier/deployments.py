"""Which deployments (tp, pp, ep) of a model the frontier sweep evaluates on one chip.

- HBM chips (GPUs, TPUs, ASICs, SambaNova): chips per replica n = 1, 2, 4, ... from the smallest
  n whose weights fit up to max(4 n_min, 8); for each n the largest valid tp <= min(n, scale-up
  domain) with pp = n / tp, plus one step more pipelining (tp/2, 2 pp). MoE: ep in {1, tp}.
- Chips whose weights live in SRAM (core/sram.weights_in_sram: Groq LPU, Cerebras WSE-3): for each
  valid tp (powers of two up to the heads limit, within the scale-up domain) the smallest pp <= n_layers
  whose weights fit the SRAM (the chip count follows from model size), and 2x that pp for KV room.
  Pipelined, the embedding and LM head sit on chips of their own (core/memory.sram_tables), so a stage
  is sized on its layers. SambaNova SN40L (SRAM, HBM, DDR tiers) is swept like an HBM chip, sized on its
  HBM. Every chip keeps tp within its scale-up domain (an SRAM system's is its whole fabric, wider than
  any model's heads).
- Sizing counts only the fast tier (HBM, or SRAM where it holds the weights): a DDR or MemoryX
  tier is a capacity tier (model switching, experts, KV offload), never weight memory, so the sweep
  proposes no deployment that streams its weights every token. A fixed deployment (predict with
  tp / pp) that does is costed with the DDR bandwidth and labelled (Prediction.weights_streamed).
- ``chips=N``: every (tp, pp) with tp * pp = N that the model allows, ep in {1, tp}. N above the
  most chips one replica can use (tp up to the heads and the scale-up domain, pp up to the layers)
  is rejected before any loop runs.
- ``tp``/``pp``/``ep`` fixed (``fixed_candidates``): every deployment with those values whose weights fit:
  the free tp runs over the powers of two the model allows within the scale-up domain, the free pp over
  1, 2, 4, ... (and L), from the smallest that fits plus one step more pipelining; the free ep over {1, tp}.
  ``chips`` fixes tp * pp as well. Values the model or chip cannot take raise SpecError (``fixed_error``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.graph import build_recipe, parallel_error
from ..core.memory import fast_tier_bytes, sram_tables
from ..core.sram import weights_in_sram
from ..errors import SpecError

MAX_REPLICA_CHIPS = 1024        # the automatic enumeration stops at this many chips per replica


def _valid_tp(model, tp: int) -> bool:
    return not parallel_error(model, tp)


def _eps(model, tp: int) -> list[int]:
    if not model.is_moe:
        return [1]
    return sorted({e for e in (1, tp) if model.n_experts % e == 0})


def _pow2_upto(n: int) -> list[int]:
    return [2 ** i for i in range(int(math.log2(max(n, 1))) + 1)]


def bytes_text(n: float) -> str:
    """Bytes in a readable unit, 4 significant digits: 231.4 MB, 1.41 TB, 80 GB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.4g} {unit}"
    return f"{n:.0f} B"


@dataclass
class DeploymentContext:
    """One (model, engine, precision, chip) with a cache of weight bytes per (tp, pp, ep)."""

    model: Any
    engine: Any
    prec: Any
    hw: Any
    reserve_frac: float
    _w: dict = field(default_factory=dict)

    def weights(self, tp: int, pp: int, ep: int) -> float:
        """Weight bytes on the busiest chip of (tp, pp, ep)."""
        key = (tp, pp, ep)
        if key not in self._w:
            w = build_recipe(self.model, self.engine, self.prec, phase="decode", tp=tp, pp=pp, ep=ep).weight_bytes
            tables = sram_tables(self.model, self.hw, tp, pp, self.reserve_frac, stage_weight_bytes=w)
            self._w[key] = w if tables is None else max(w - tables.moved_bytes, tables.weight_bytes)
        return self._w[key]

    def fits_weights(self, tp: int, pp: int, ep: int, capacity: float) -> bool:
        return self.weights(tp, pp, ep) <= capacity * (1.0 - self.reserve_frac)


def max_replica_chips(model, hw) -> tuple[int, str]:
    """The most chips one replica of ``model`` can use on ``hw``, and the limits that set it."""
    heads_tp = max(t for t in range(1, model.n_heads + 1) if model.n_heads % t == 0 and _valid_tp(model, t))
    domain = max(hw.scaleup_domain, 1)
    tp_max = max(t for t in range(1, min(heads_tp, domain) + 1) if _valid_tp(model, t))
    why = f"tp up to {tp_max} (scale-up domain of {domain}, {model.n_heads} attention heads)"
    return tp_max * model.n_layers, f"{why} x pp up to {model.n_layers} (the layers)"


def candidates(c: DeploymentContext, chips: int | None) -> tuple[list[tuple[int, int, int]], str]:
    """(tp, pp, ep) deployments to evaluate, and a reason when there are none."""
    m, hw = c.model, c.hw
    L = m.n_layers
    cap_all = fast_tier_bytes(hw)              # HBM (or SRAM): a DDR tier is never weight memory for sizing
    if chips is not None:
        limit, why = max_replica_chips(m, hw)
        if chips > limit:
            return [], f"{chips} chips per replica is more than {m.name} can use on {hw.id}: at most {limit} ({why})"
        tp_limit = limit // L
        out = []
        for tp in range(1, min(chips, tp_limit) + 1):
            if chips % tp or not _valid_tp(m, tp) or chips // tp > L:
                continue
            for ep in _eps(m, tp):
                if c.fits_weights(tp, chips // tp, ep, cap_all):
                    out.append((tp, chips // tp, ep))
        if not out:
            w1 = c.weights(1, 1, 1)
            return [], (f"weights ({bytes_text(w1)} in all) do not fit on {chips} x {hw.id} with any tp x pp the "
                        f"model allows ({bytes_text(cap_all)} per chip, {c.reserve_frac:.0%} reserved)")
        return out, ""
    if weights_in_sram(hw):
        return sram_candidates(c)
    domain = max(hw.scaleup_domain, 1)
    out = []
    n_min = None
    n = 1
    while n <= MAX_REPLICA_CHIPS:
        tps = [t for t in reversed(_pow2_upto(min(n, domain))) if _valid_tp(m, t) and n // t <= L and n % t == 0]
        for tp in tps[:2]:
            for ep in _eps(m, tp):
                if c.fits_weights(tp, n // tp, ep, cap_all):
                    out.append((tp, n // tp, ep))
        if out and n_min is None:
            n_min = n
        if n_min is not None and n >= max(4 * n_min, 8):
            break
        n *= 2
    if not out:
        w1 = c.weights(1, 1, 1)
        return [], (f"weights ({bytes_text(w1)} in all) do not fit on up to {MAX_REPLICA_CHIPS} x {hw.id} "
                    f"({bytes_text(cap_all)} per chip) with tp within the scale-up domain of {domain} and pp up "
                    f"to {L} layers")
    return out, ""


def sram_candidates(c: DeploymentContext) -> tuple[list[tuple[int, int, int]], str]:
    """Deployments of an SRAM chip whose SRAM holds the weights (see the module docstring)."""
    m, hw = c.model, c.hw
    L = m.n_layers
    fast = fast_tier_bytes(hw)
    out: list[tuple[int, int, int]] = []
    tps = [t for t in _pow2_upto(min(m.n_heads, max(hw.scaleup_domain, 1))) if _valid_tp(m, t)]
    for tp in tps:
        for ep in _eps(m, tp):
            if not c.fits_weights(tp, L, ep, fast):
                continue                          # even one layer per stage is too much for this tp
            lo, hi = 1, L                         # smallest pp whose weights fit the SRAM
            while lo < hi:
                mid = (lo + hi) // 2
                if c.fits_weights(tp, mid, ep, fast):
                    hi = mid
                else:
                    lo = mid + 1
            for pp in sorted({lo, min(2 * lo, L)}):
                out.append((tp, pp, ep))
    if not out:
        tp_max = max(tps) if tps else 1
        w1 = c.weights(1, 1, 1)
        return [], (f"weights ({bytes_text(w1)}) do not fit the {bytes_text(fast)} SRAM of {tp_max} x {L} = "
                    f"{tp_max * L} {hw.id} chips (tp up to the heads limit, pp up to the layers), "
                    f"the most this model can be split over")
    return out, ""


def memory_reason(pred, i: int, what: str) -> str:
    """Why point ``i`` of a core prediction does not fit: memory needed against memory available."""
    import numpy as np

    shape = np.shape(pred.latency_s)

    def pick(a: Any) -> float:
        return float(np.broadcast_to(a, shape).ravel()[i]) if shape else float(np.asarray(a))
    return (f"{what} needs {bytes_text(pick(pred.memory_bytes))} per chip (weights {bytes_text(pred.weight_bytes)}, "
            f"KV cache {bytes_text(pick(pred.kv_cache_bytes))}, plus activations) but "
            f"{bytes_text(pred.memory_capacity_bytes)} is available after the reserve")


def fixed_error(model, hw, chips: int | None, tp: int | None, pp: int | None, ep: int | None) -> None:
    """SpecError (one line) when fixed tp / pp / ep cannot deploy ``model`` on ``hw`` at all."""
    why = parallel_error(model, tp or ep or 1, pp or 1, ep or 1)     # a free tp: the smallest that carries ep
    if not why and tp and tp > max(hw.scaleup_domain, 1):
        why = (f"tp={tp} exceeds the scale-up domain of {hw.id} ({hw.scaleup_domain} chips); "
               f"use tp <= {hw.scaleup_domain} and pp for more chips.")
    if not why and chips and tp and pp and tp * pp != chips:
        why = f"--chips {chips} differs from tp x pp = {tp} x {pp} = {tp * pp}; give one or make them agree."
    if not why and chips and any(v and chips % v for v in (tp, pp)):
        why = f"--chips {chips} is not a multiple of the fixed tp / pp ({tp or '-'} / {pp or '-'})."
    if why:
        raise SpecError(f"Cannot fix the deployment of {model.name} on {hw.id}: {why}")


def fixed_candidates(c: DeploymentContext, chips: int | None, tp: int | None, pp: int | None,
                     ep: int | None) -> tuple[list[tuple[int, int, int]], str]:
    """Deployments with the fixed parts (module docstring), and a reason when none fits."""
    m, hw = c.model, c.hw
    L = m.n_layers
    cap = fast_tier_bytes(hw)
    domain = max(hw.scaleup_domain, 1)
    tps = [tp] if tp else [t for t in _pow2_upto(min(domain, chips or domain)) if _valid_tp(m, t)]
    pps = [pp] if pp else sorted(set(_pow2_upto(L)) | {L})
    out: list[tuple[int, int, int]] = []
    for t in tps:
        found = 0
        for p in pps:
            if (chips and t * p != chips) or t * p > MAX_REPLICA_CHIPS or parallel_error(m, t, p):
                continue
            eps = [e for e in ([ep] if ep else _eps(m, t)) if not parallel_error(m, t, p, e)]
            fit = [(t, p, e) for e in eps if c.fits_weights(t, p, e, cap)]
            out += fit
            found += bool(fit)
            if found >= 2 and not chips:
                break                     # the smallest pp that fits and one step more pipelining
    if out:
        return out, ""
    fixed = ", ".join(f"{k}={v}" for k, v in (("chips", chips), ("tp", tp), ("pp", pp), ("ep", ep)) if v)
    return [], (f"weights ({bytes_text(c.weights(1, 1, 1))} in all) do not fit on {hw.id} with {fixed} "
                f"({bytes_text(cap)} per chip, {c.reserve_frac:.0%} reserved)")

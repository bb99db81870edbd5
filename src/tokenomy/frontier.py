"""Deployment sweep, steady-state serving estimate and throughput-interactivity frontiers.

``sweep(model, ["h100-sxm", "groq-lpu", ...], isl=1024, osl=1024)`` enumerates deployments (chips
per replica, tp, pp, ep, precision) for each chip, evaluates every concurrency of each deployment
in ONE vectorized decode call and ONE vectorized prefill call (a Python loop over deployments,
tens per chip, never over batch), drops what does not fit, and builds Pareto frontiers.

Serving model: ``core/serving.py`` (continuous batching, prefill and decode on the same replica;
N = b * pp concurrent sequences reported as ``batch``), at the mean cached context
ctx = isl + osl/2. With a length distribution (``isl``/``osl`` arrays of paired samples) the means
enter the formulas and prefill times are averaged over the samples. $/chip-hour comes from the
economics model (``usd_per_chip_hour``).

Parallelism enumeration (``_candidates``):
- HBM chips (GPUs, TPUs, ASICs, SambaNova): chips per replica n = 1, 2, 4, ... from the smallest
  n whose weights fit up to max(4 n_min, 8); for each n the largest valid tp <= min(n, scale-up
  domain) with pp = n / tp, plus one step more pipelining (tp/2, 2 pp). MoE: ep in {1, tp}.
  Pipeline hand-offs that cross a scale-up domain use a scale-out link of SCALEOUT_BYTES_PER_S.
- SRAM chips (kind 'sram', SRAM holds weights: Groq LPU, Cerebras WSE-3): for each valid tp
  (powers of two up to the heads limit) the smallest pp <= n_layers whose weights fit the SRAM
  (the chip count follows from model size), and 2x that pp for KV room. A chip with an external
  DDR tier (Cerebras MemoryX) also gets smaller replicas whose weights stream from DDR every step
  (the core adds spill / ddr_bytes_per_s). SambaNova SN40L (kind 'asic': SRAM, HBM, DDR tiers) is
  swept like an HBM chip; the core treats HBM as its fast tier and streams the rest from DDR.
- ``chips=N``: every (tp, pp) with tp * pp = N that the model allows, ep in {1, tp}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .loaders.engines import load_engine
from .api import resolve
from .core.graph import build_recipe, parallel_error
from .core.memory import fast_tier_bytes
from .core.pareto import pareto_mask, pareto_mask_grouped
from .core.precision import parse_precision
from .core.predict import predict_core
from .core.serving import serving_estimate
from .errors import NothingFitsError, SpecError

# Concurrency per micro-batch: 1, 2, 3, 4, 6, 8, 12, ... 4096 (powers of two and 1.5x steps).
BATCHES = np.unique(np.concatenate([2.0 ** np.arange(13), np.round(1.5 * 2.0 ** np.arange(1, 12))]))
SCALEOUT_BYTES_PER_S = 50e9      # 400 Gb/s NIC per accelerator (ConnectX-7 class), one direction
AUTO_PRECISIONS = ("bf16", "fp8", "fp4")   # what "sweep the precision" tries, where the chip has the rate
SPEED_BANDS = (10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)   # tokens/s/user, summary bands
TIE_FRAC = 0.05                  # costs within 5% count as even when finding crossovers
EXPLODE_FACTOR = 3.0             # "costs explode" where $/Mtok passes this multiple of the chip's cheapest

#: Columns of every point, in output order; the first ones are the CLI's JSON contract.
COLUMNS = ("hardware", "chips", "tp", "pp", "ep", "precision", "batch", "tokens_per_s_per_user", "tokens_per_s",
           "tokens_per_s_per_chip", "ttft_s", "usd_per_mtok", "j_per_token", "tokens_per_s_per_mw", "on_frontier",
           "model", "kind", "micro_batch", "tpot_s", "input_tokens_per_s", "usd_per_mtok_output",
           "usd_per_mtok_input", "usd_per_mtok_blended", "usd_per_chip_hour", "power_w", "memory_bytes_per_chip",
           "prefill_time_frac", "meets_slo", "on_frontier_usd", "on_frontier_j", "on_global_frontier_usd",
           "on_global_frontier_j")


def usd_per_chip_hour(hw) -> float:
    """USD per busy chip-hour (tokenomy.economics, default scenario: owned at the catalog price, or the
    catalog rent; NaN with neither, and such points stay off the $ frontiers)."""
    from .economics import effective_usd_per_chip_hour

    return effective_usd_per_chip_hour(hw)


# ----------------------------------------------------------------------------- enumeration


def _valid_tp(model, tp: int) -> bool:
    return not parallel_error(model, tp)


def _eps(model, tp: int) -> list[int]:
    if not model.is_moe:
        return [1]
    return sorted({e for e in (1, tp) if model.n_experts % e == 0})


def _pow2_upto(n: int) -> list[int]:
    return [2 ** i for i in range(int(math.log2(max(n, 1))) + 1)]


@dataclass
class _Ctx:
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
            self._w[key] = build_recipe(self.model, self.engine, self.prec, phase="decode", tp=tp, pp=pp,
                                        ep=ep).weight_bytes
        return self._w[key]


def _fits_weights(c: _Ctx, tp, pp, ep, capacity) -> bool:
    return c.weights(tp, pp, ep) <= capacity * (1.0 - c.reserve_frac)


def _candidates(c: _Ctx, chips: int | None) -> tuple[list[tuple[int, int, int]], str]:
    """(tp, pp, ep) deployments to evaluate, and a reason when there are none."""
    m, hw = c.model, c.hw
    L = m.n_layers
    cap_all = hw.weight_memory_bytes
    if chips is not None:
        out = []
        for tp in range(1, chips + 1):
            if chips % tp or not _valid_tp(m, tp) or chips // tp > L:
                continue
            if hw.kind != "sram" and tp > max(hw.scaleup_domain, 1):
                continue
            for ep in _eps(m, tp):
                if _fits_weights(c, tp, chips // tp, ep, cap_all):
                    out.append((tp, chips // tp, ep))
        if not out:
            return [], (f"weights do not fit on {chips} x {hw.id} with any tp x pp the model allows "
                        f"({cap_all / 1e9:.1f} GB per chip)")
        return out, ""
    if hw.kind == "sram" and not hw.sram_is_cache:
        return _sram_candidates(c)
    domain = max(hw.scaleup_domain, 1)
    out: list[tuple[int, int, int]] = []
    n_min = None
    n = 1
    while n <= 1024:
        tps = [t for t in reversed(_pow2_upto(min(n, domain))) if _valid_tp(m, t) and n // t <= L and n % t == 0]
        for tp in tps[:2]:
            for ep in _eps(m, tp):
                if _fits_weights(c, tp, n // tp, ep, cap_all):
                    out.append((tp, n // tp, ep))
        if out and n_min is None:
            n_min = n
        if n_min is not None and n >= max(4 * n_min, 8):
            break
        n *= 2
    if not out:
        return [], (f"weights do not fit on up to 1024 x {hw.id} ({cap_all / 1e9:.1f} GB per chip) "
                    f"with tp within the scale-up domain of {domain} and pp up to {L} layers")
    return out, ""


def _sram_candidates(c: _Ctx) -> tuple[list[tuple[int, int, int]], str]:
    m, hw = c.model, c.hw
    L = m.n_layers
    fast = fast_tier_bytes(hw)
    out: list[tuple[int, int, int]] = []
    tps = [t for t in _pow2_upto(m.n_heads) if _valid_tp(m, t)]
    best_need = None
    for tp in tps:
        for ep in _eps(m, tp):
            if not _fits_weights(c, tp, L, ep, fast):
                # even one layer per stage is too much for this tp
                lo = None
            else:
                lo_, hi = 1, L                    # smallest pp whose weights fit the SRAM
                while lo_ < hi:
                    mid = (lo_ + hi) // 2
                    if _fits_weights(c, tp, mid, ep, fast):
                        hi = mid
                    else:
                        lo_ = mid + 1
                lo = lo_
            if lo is None:
                continue
            best_need = tp * lo if best_need is None else min(best_need, tp * lo)
            for pp in sorted({lo, min(2 * lo, L)}):
                out.append((tp, pp, ep))
            if hw.ddr_bytes > 0 and tp == 1:        # weights streamed from the external tier
                out.extend((1, p, ep) for p in _pow2_upto(lo - 1) if p < lo)
    if not out:
        if hw.ddr_bytes > 0:
            out = [(1, p, 1) for p in _pow2_upto(min(L, 16))]
            return out, ""
        tp_max = max(tps) if tps else 1
        w1 = c.weights(1, 1, 1)
        return [], (f"weights ({w1 / 1e9:.1f} GB) do not fit the {fast / 1e6:.0f} MB SRAM of {tp_max} x {L} = "
                    f"{tp_max * L} {hw.id} chips (tp up to the heads limit, pp up to the layers), "
                    f"the most this model can be split over")
    return out, ""


# ----------------------------------------------------------------------------- evaluation


def _crossdomain_p2p_s(model, hw, tp: int, pp: int, tokens) -> np.ndarray | float:
    """Extra seconds per step when pipeline hand-offs cross scale-up domains (scale-out link)."""
    domain = max(hw.scaleup_domain, 1)
    chips = tp * pp
    if pp <= 1 or chips <= domain:
        return 0.0
    crossings = math.ceil(chips / domain) - 1
    up = hw.scaleup_bytes_per_s_unidir or SCALEOUT_BYTES_PER_S
    out = SCALEOUT_BYTES_PER_S
    if out >= up:
        return 0.0
    nbytes = np.asarray(tokens, dtype=float) * model.d_model * 2.0      # bf16 activations per token
    return crossings * (nbytes / out - nbytes / up)


def _as_lengths(name: str, v) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(v, dtype=float)).ravel()
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a whole number of tokens (or an array of them), got {v!r}.") from None
    if arr.size == 0:
        raise SpecError(f"{name} is empty; give at least one length, e.g. --{name} 1024.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 1) or np.any(arr != np.round(arr)):
        bad = arr[~(np.isfinite(arr) & (arr >= 1) & (arr == np.round(arr)))][0]
        raise SpecError(f"{name} must be a whole number of tokens >= 1, got {bad:g}; e.g. --{name} 1024.")
    return arr


def _precisions(precision, hw) -> list[str]:
    if precision is None or (isinstance(precision, str) and precision.strip().lower() == "auto"):
        return [p for p in AUTO_PRECISIONS if hw.peak(p) is not None]
    if isinstance(precision, str):
        if "=" in precision:                      # one explicit 'w=..,a=..,kv=..' format
            return [precision]
        return [s.strip() for s in precision.split(",") if s.strip()]
    return list(precision)


# ----------------------------------------------------------------------------- result


@dataclass
class FrontierResult:
    """Every evaluated point that fits, plus what was dropped and the derived summaries.

    ``columns`` holds the raw NumPy columns (no pandas needed); ``points``, ``frontier`` and
    ``best_per_chip`` are pandas DataFrames built on first use.
    """

    model: str
    hardware: list[str]
    isl: float
    osl: float
    columns: dict[str, np.ndarray]
    dropped: dict[str, dict[str, int]]          # hardware -> reason -> points dropped
    infeasible: dict[str, str]                  # hardware -> why nothing was evaluated
    min_tokens_per_s_per_user: float | None = None
    max_ttft_s: float | None = None
    evaluated: int = 0                          # configurations evaluated (fitting or not)
    _cache: dict = field(default_factory=dict, repr=False)

    # -- tables
    def __len__(self) -> int:
        return int(self.columns["tokens_per_s"].size)

    @property
    def dropped_total(self) -> int:
        return sum(sum(r.values()) for r in self.dropped.values())

    def records(self, mask=None) -> list[dict]:
        """Plain dicts (JSON-ready) of the points, COLUMNS order."""
        cols = {k: (self.columns[k] if mask is None else self.columns[k][mask]).tolist() for k in COLUMNS}
        return [dict(zip(COLUMNS, row)) for row in zip(*(cols[k] for k in COLUMNS))]

    def _df(self, key, mask):
        if key not in self._cache:
            import pandas as pd
            self._cache[key] = pd.DataFrame({k: self.columns[k][mask] for k in COLUMNS})
        return self._cache[key]

    @property
    def points(self):
        """pandas DataFrame of all evaluated points that fit (one row per deployment x batch)."""
        return self._df("points", slice(None))

    @property
    def frontier(self):
        """Points on their chip's tokens/s/user vs tokens/s-per-chip frontier (meeting the SLO)."""
        return self._df("frontier", self.columns["on_frontier"])

    @property
    def best_per_chip(self):
        """Per chip, the cheapest point that meets the SLO (most tokens/s per chip when unpriced)."""
        return self._df("best", self.best_index())

    def best_index(self) -> np.ndarray:
        c = self.columns
        idx = []
        for hw in self.hardware:
            sel = np.flatnonzero((c["hardware"] == hw) & c["meets_slo"])
            if sel.size == 0:
                continue
            usd = c["usd_per_mtok"][sel]
            if np.all(np.isnan(usd)):
                idx.append(sel[np.argmax(c["tokens_per_s_per_chip"][sel])])
            else:
                order = np.lexsort((-c["tokens_per_s_per_user"][sel], np.where(np.isnan(usd), np.inf, usd)))
                idx.append(sel[order[0]])
        return np.asarray(idx, dtype=int)

    @property
    def max_tokens_per_s_per_user(self) -> dict[str, float]:
        """Each chip's highest reachable tokens/s/user (over all points that fit; TTFT limit applied)."""
        c = self.columns
        out = {}
        for hw in self.hardware:
            sel = c["hardware"] == hw
            if self.max_ttft_s is not None:
                sel = sel & (c["ttft_s"] <= self.max_ttft_s)
            if sel.any():
                out[hw] = float(np.max(c["tokens_per_s_per_user"][sel]))
        return out

    # -- cost curves and crossovers
    def cost_curves(self, n: int = 240) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(speeds, {chip: lowest $/Mtok at >= speed}) on a log grid of tokens/s/user (inf: unreachable)."""
        c = self.columns
        ok = c["meets_slo"] & np.isfinite(c["usd_per_mtok"])
        if not ok.any():
            return np.array([]), {}
        s = c["tokens_per_s_per_user"][ok]
        grid = np.geomspace(max(s.min(), 1e-3), s.max(), n)
        curves = {}
        for hw in self.hardware:
            sel = ok & (c["hardware"] == hw)
            if not sel.any():
                continue
            sp, usd = c["tokens_per_s_per_user"][sel], c["usd_per_mtok"][sel]
            order = np.argsort(-sp)
            sp, usd = sp[order], np.minimum.accumulate(usd[order])       # cheapest at >= speed
            k = np.searchsorted(-sp, -grid, side="right") - 1             # last point with speed >= grid
            curves[hw] = np.where(k >= 0, usd[np.clip(k, 0, None)], np.inf)
        return grid, curves

    @property
    def crossovers(self) -> list[dict]:
        """Speeds where one chip becomes cheaper than another (pairwise, on the $ frontiers)."""
        grid, curves = self.cost_curves()
        out = []
        names = list(curves)
        for i, a in enumerate(names):
            for b_ in names[i + 1:]:
                ca, cb = curves[a], curves[b_]
                both = np.isfinite(ca) & np.isfinite(cb)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel = (ca - cb) / np.minimum(ca, cb)
                # within TIE_FRAC the two are even: keep the last clear winner (no flip-flopping)
                sign = np.where(~both, 0, np.where(rel > TIE_FRAC, 1, np.where(rel < -TIE_FRAC, -1, 0)))
                last, last_j = 0, -1
                for j in np.flatnonzero(sign):
                    if last and sign[j] != last:
                        below, above = (b_, a) if last > 0 else (a, b_)
                        s = float(np.sqrt(grid[j] * grid[last_j]))
                        out.append({"tokens_per_s_per_user": s, "cheaper_below": below, "cheaper_above": above,
                                    "usd_per_mtok": float(min(ca[j], cb[j]))})
                    last, last_j = sign[j], j
        return sorted(out, key=lambda d: d["tokens_per_s_per_user"])

    @staticmethod
    def cheapest_changes(grid, curves) -> list[dict]:
        """Where the cheapest chip (the lower envelope of the $ curves) changes, ties within TIE_FRAC kept."""
        if not curves:
            return []
        names = list(curves)
        cost = np.vstack([curves[n] for n in names])
        out, cur = [], None
        for j in range(grid.size):
            col = cost[:, j]
            if not np.isfinite(col).any():
                continue
            best = int(np.argmin(col))
            if cur is None:
                cur = best
            elif best != cur and (not np.isfinite(col[cur]) or col[cur] > (1 + TIE_FRAC) * col[best]):
                out.append({"tokens_per_s_per_user": float(grid[j]), "cheaper_below": names[cur],
                            "cheaper_above": names[best], "usd_per_mtok": float(col[best])})
                cur = best
        return out

    def summary(self) -> list[str]:
        """Plain-language lines: cheapest chip per speed band, where costs explode, top speeds."""
        lines = []
        grid, curves = self.cost_curves()
        if curves:
            for lo in (0.0,) + SPEED_BANDS:
                costs = {hw: float(cur[np.searchsorted(grid, lo)]) if np.searchsorted(grid, lo) < grid.size
                         else np.inf for hw, cur in curves.items()}
                costs = {k: v for k, v in costs.items() if np.isfinite(v)}
                if not costs:
                    continue
                best = min(costs, key=costs.get)
                others = sorted((v, k) for k, v in costs.items() if k != best)
                tail = f" (next: {others[0][1]} ${others[0][0]:.3g})" if others else ""
                at = "at any speed" if lo == 0 else f"at >= {lo:g} tok/s/user"
                lines.append(f"{at} the cheapest is {best} at ${costs[best]:.3g}/Mtok output{tail}")
            for hw, cur in curves.items():
                fin = np.isfinite(cur)
                if not fin.any():
                    continue
                base = cur[fin].min()
                over = np.flatnonzero(fin & (cur > EXPLODE_FACTOR * base))
                if over.size:
                    lines.append(f"{hw}: cost passes {EXPLODE_FACTOR:g}x its cheapest (${base:.3g}/Mtok) above "
                                 f"~{grid[over[0]]:.0f} tok/s/user")
        for x in self.cheapest_changes(grid, curves):
            lines.append(f"near {x['tokens_per_s_per_user']:.0f} tok/s/user the cheapest chip changes from "
                         f"{x['cheaper_below']} to {x['cheaper_above']}")
        mx = self.max_tokens_per_s_per_user
        if mx:
            lines.append("fastest single user: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                          sorted(mx.items(), key=lambda kv: -kv[1])) + " tok/s")
        if self.dropped_total:
            lines.append(f"dropped {self.dropped_total} configurations that do not fit in memory or lack the precision")
        return lines


# ----------------------------------------------------------------------------- sweep


def sweep(model, hardware_list: Sequence | str, isl, osl, chips: int | None = None, precision="bf16",
          engine=None, min_tokens_per_s_per_user: float | None = None, max_ttft_s: float | None = None,
          batches=None) -> FrontierResult:
    """Evaluate every deployment of ``model`` on each chip of ``hardware_list`` for a workload of
    ``isl`` input and ``osl`` output tokens (ints, or arrays of paired samples).

    ``chips`` fixes chips per replica; ``precision`` is one format, a list, or None/"auto" for
    bf16, fp8 and fp4 wherever the chip has the matrix rate. Points that do not fit are dropped
    and counted in ``.dropped``. Raises SpecError on bad input and NothingFitsError (exit 2)
    when the model fits on none of the chips.
    """
    if isinstance(hardware_list, str):
        hardware_list = [h.strip() for h in hardware_list.split(",") if h.strip()]
    if not hardware_list:
        raise SpecError("give at least one chip, e.g. --hardware h100-sxm,b200.")
    isl_a, osl_a = _as_lengths("isl", isl), _as_lengths("osl", osl)
    if isl_a.size != osl_a.size and min(isl_a.size, osl_a.size) != 1:
        raise SpecError(f"isl and osl samples differ in count ({isl_a.size} and {osl_a.size}); pair them.")
    if chips is not None and (int(chips) != chips or chips < 1):
        raise SpecError(f"chips must be a positive whole number, got {chips!r}.")
    for name, v in (("min_tokens_per_s_per_user", min_tokens_per_s_per_user), ("max_ttft_s", max_ttft_s)):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise SpecError(f"{name} must be a positive number, got {v!r}.")
    isl_mean, osl_mean = float(isl_a.mean()), float(osl_a.mean())
    isl_u = np.unique(isl_a)
    ctx = isl_mean + osl_mean / 2.0
    bs = BATCHES if batches is None else np.asarray(batches, dtype=float)

    specs = []
    seen = set()
    default_engine = load_engine(engine)         # the given profile, or 'serving'
    sram_engine = load_engine("dataflow") if engine is None else default_engine
    for h in hardware_list:
        m, hw, _, _ = resolve(model, h, default_engine, "bf16")
        model = m                        # load the model once
        # SRAM dataflow systems run compiled graphs, not kernels launched by a serving engine
        eng = sram_engine if (hw.kind == "sram" and not hw.sram_is_cache) else default_engine
        if hw.id in seen:
            continue
        seen.add(hw.id)
        specs.append((m, hw, eng))
    m = specs[0][0]
    parts: list[dict[str, np.ndarray]] = []
    dropped: dict[str, dict[str, int]] = {}
    infeasible: dict[str, str] = {}
    evaluated = 0
    for m, hw, eng in specs:
        drop = dropped.setdefault(hw.id, {})
        price = usd_per_chip_hour(hw)
        precs = _precisions(precision, hw)
        reasons = []
        for ptxt in precs:
            prec = parse_precision(ptxt)
            if hw.peak(prec.compute) is None:
                have = ", ".join(sorted(hw.peak_flop_per_s))
                reasons.append(f"no {prec.compute} matrix rate (it has {have})")
                drop[f"no {prec.compute} rate"] = drop.get(f"no {prec.compute} rate", 0) + bs.size
                evaluated += bs.size
                continue
            cx = _Ctx(m, eng, prec, hw, eng.memory.reserve_frac)
            cands, why = _candidates(cx, None if chips is None else int(chips))
            if not cands:
                reasons.append(f"{prec.label}: {why}")
                key = "weights do not fit"
                drop[key] = drop.get(key, 0) + bs.size
                evaluated += bs.size
                continue
            for tp, pp, ep in cands:
                dec = predict_core(m, hw, eng, prec, phase="decode", batch=bs, length=ctx, tp=tp, pp=pp, ep=ep)
                pre = predict_core(m, hw, eng, prec, phase="prefill", batch=1.0, length=isl_u, tp=tp, pp=pp, ep=ep)
                evaluated += bs.size
                fits = np.asarray(dec.fits, dtype=bool) & bool(np.all(pre.fits))
                nbad = int(bs.size - fits.sum())
                if nbad:
                    key = "KV cache does not fit at this batch" if fits.any() else "does not fit at batch 1"
                    drop[key] = drop.get(key, 0) + nbad
                if not fits.any():
                    reasons.append(f"{prec.label} tp={tp} pp={pp}: {dec.fit_reason(0)}")
                    continue
                w = np.array([np.count_nonzero(isl_a == v) for v in isl_u], dtype=float)
                pmean = {k: float(np.average(np.broadcast_to(getattr(pre, k), isl_u.shape), weights=w))
                         for k in ("stage_s", "latency_s", "power_w")}      # weighted by how often each isl occurs
                extra_p = float(np.mean(_crossdomain_p2p_s(m, hw, tp, pp, isl_a)))
                est = serving_estimate(
                    dec, pmean["stage_s"], pmean["latency_s"] + extra_p, pmean["power_w"], isl=isl_mean,
                    osl=osl_mean, usd_per_hour=price, pp=pp, extra_decode_s=_crossdomain_p2p_s(m, hw, tp, pp, bs))
                n = int(fits.sum())
                part = {k: np.asarray(v)[fits] for k, v in est.items()}
                part["memory_bytes_per_chip"] = np.asarray(dec.memory_bytes)[fits]
                part["hardware"] = np.full(n, hw.id, dtype=object)
                part["kind"] = np.full(n, hw.kind, dtype=object)
                part["precision"] = np.full(n, prec.label, dtype=object)
                part["model"] = np.full(n, m.name, dtype=object)
                for k, v in (("chips", tp * pp), ("tp", tp), ("pp", pp), ("ep", ep)):
                    part[k] = np.full(n, v, dtype=np.int64)
                part["usd_per_chip_hour"] = np.full(n, price)
                parts.append(part)
        if not any(p["hardware"][0] == hw.id for p in parts):
            infeasible[hw.id] = "; ".join(dict.fromkeys(reasons)) or "no deployment fits"
    if not parts:
        detail = " | ".join(f"{k}: {v}" for k, v in infeasible.items())
        raise NothingFitsError(f"{m.name} fits on none of {', '.join(infeasible)}. {detail}")
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    cols["batch"] = cols["batch"].astype(np.int64)
    cols["micro_batch"] = cols["micro_batch"].astype(np.int64)
    slo = np.ones(cols["tokens_per_s"].size, dtype=bool)
    if min_tokens_per_s_per_user is not None:
        slo &= cols["tokens_per_s_per_user"] >= min_tokens_per_s_per_user
    if max_ttft_s is not None:
        slo &= cols["ttft_s"] <= max_ttft_s
    cols["meets_slo"] = slo
    _mark_frontiers(cols)
    return FrontierResult(model=m.name, hardware=[s[1].id for s in specs], isl=isl_mean, osl=osl_mean,
                          columns=cols, dropped={k: v for k, v in dropped.items() if v}, infeasible=infeasible,
                          min_tokens_per_s_per_user=min_tokens_per_s_per_user, max_ttft_s=max_ttft_s,
                          evaluated=evaluated)


def _mark_frontiers(cols: dict[str, np.ndarray]) -> None:
    """Per-chip and global Pareto flags, among the points that meet the SLO."""
    slo = cols["meets_slo"]
    hw = cols["hardware"]
    x = np.where(slo, cols["tokens_per_s_per_user"], np.nan)
    cols["on_frontier"] = pareto_mask_grouped(hw, x, cols["tokens_per_s_per_chip"], (True, True))
    cols["on_frontier_usd"] = pareto_mask_grouped(hw, x, cols["usd_per_mtok"], (True, False))
    cols["on_frontier_j"] = pareto_mask_grouped(hw, x, cols["j_per_token"], (True, False))
    cols["on_global_frontier_usd"] = pareto_mask(x, cols["usd_per_mtok"], (True, False))
    cols["on_global_frontier_j"] = pareto_mask(x, cols["j_per_token"], (True, False))


__all__ = ["sweep", "FrontierResult", "usd_per_chip_hour", "NothingFitsError", "COLUMNS"]

"""Tables and linear terms of one engine step, taken from the core once (sim/steps.py's decomposition).

A ``StepParts`` holds, for one model on one chip (one attention group, one pipeline stage), every
device-time term of a step as a function the simulator can evaluate in a few microseconds:

    base(T)      linear layers (all but the LM head), elementwise kernels, TP/EP collectives: a table
                 over T = rows of the step, from core/phases.step_time on a recipe without attention
                 and without the LM head; every integer T up to ``dense`` (exact, no interpolation),
                 then a log-spaced grid (ratio GRID_RATIO) interpolated linearly, extrapolated past the end
    experts(T)   routed-expert GEMMs under attention data-parallel D > 1 (they see every group's tokens)
    head(R)      LM head and last-position norm over R rows (decode: every query token; prefill: one per
                 sequence); it is the ``once_s`` of core/predict.py's pipeline rule
    decode attn  fixed + c * keys: core/attention.decode_attention_time_s is fixed + smoothmax(mem, math)
                 with both terms proportional to the keys read, and smoothmax is homogeneous, so the
                 per-key coefficient is exact; windowed layers read min(keys, seqs * window)
    prefill attn fixed + a * blocks + c * critical blocks (core/attention.prefill_attention_time_s),
                 a and c read off the core at one and two 128-token sequences; on a dataflow system
                 fixed + e * pairs (core/attention.dataflow_prefill_attention_time_s: exact, linear in the
                 causal pairs P; windowed layers min(P, Tp * w): each new token sees at most w keys, exact for
                 one uncached chunk of at most w tokens)
Each term carries five columns: device s, compute-bound s, FLOP / peak (s), bytes / bandwidth (s) and
SM-active s, which is what core/energy.chip_power needs for the power cap.
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.attention import BLOCK, dataflow_prefill_attention_time_s, decode_attention_time_s, prefill_attention_time_s
from ..core.graph import StepRecipe
from ..core.phases import step_time
from ..core.precision import BYTES_PER_ELEMENT, Precision
from ..core.rates import attention_rate, chip_rates
from ..core.sram import is_dataflow_system
from ..errors import UnsupportedError
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec

GRID_RATIO = 1.01          # spacing of the log grid past the dense integers (interpolation error < 0.1%)
GRID_MAX = float(1 << 26)  # last grid point, rows; beyond it the last segment's slope extrapolates
COLS = 5                   # device s, compute-bound s, flop / peak s, bytes / bandwidth s, active s


@dataclass(frozen=True)
class Table:
    """Five columns over a grid of row counts: every integer 0..dense-1, then log-spaced points."""

    dense: int
    rows: list[tuple[float, ...]]     # dense part, index = row count
    xs: list[float]                   # coarse grid (starts at dense - 1)
    coarse: list[tuple[float, ...]]
    x_all: np.ndarray                 # whole grid, for numpy interpolation
    y_all: np.ndarray                 # (n, COLS)

    def at(self, x: float) -> tuple[float, ...]:
        """Columns at row count ``x`` >= 0 (python floats; exact at integers below ``dense``)."""
        i = int(x)
        if i < self.dense - 1:
            a = self.rows[i]
            f = x - i
            if f == 0.0:
                return a
            b = self.rows[i + 1]
        else:
            xs = self.xs
            j = min(bisect_right(xs, x) - 1, len(xs) - 2)
            a, b = self.coarse[j], self.coarse[j + 1]
            f = (x - xs[j]) / (xs[j + 1] - xs[j])
        return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2]),
                a[3] + f * (b[3] - a[3]), a[4] + f * (b[4] - a[4]))

    def at_array(self, x: np.ndarray) -> list[np.ndarray]:
        """Columns at every element of ``x`` (numpy; linear extrapolation past the grid)."""
        xa, ya = self.x_all, self.y_all
        slope = (ya[-1] - ya[-2]) / (xa[-1] - xa[-2])
        over = np.maximum(x - xa[-1], 0.0)
        return [np.interp(x, xa, ya[:, c]) + over * slope[c] for c in range(COLS)]


def grid(dense: int) -> np.ndarray:
    """0, 1, ..., dense - 1, then log-spaced to GRID_MAX."""
    n = max(math.ceil(math.log(GRID_MAX / (dense - 1)) / math.log(GRID_RATIO)), 1)
    coarse = np.unique(np.round((dense - 1) * GRID_RATIO ** np.arange(1, n + 1)))
    return np.concatenate([np.arange(dense, dtype=float), coarse])


def table(recipe: StepRecipe, hw: HardwareSpec, engine: EngineProfile, precision: Precision, tp: int,
          x: np.ndarray, dense: int) -> Table:
    """The five columns of ``recipe`` (no attention) as a decode step of x rows (x = 0 read as 1)."""
    peak, bw, _ = chip_rates(hw, precision)
    st = step_time(recipe, hw, engine, precision, np.maximum(x, 1.0), 0.0, tp=tp)
    y = np.stack([st.gpu_s, st.compute_bound_s, st.flop / peak, st.bytes / bw, st.active_s], axis=1)
    rows = [tuple(float(v) for v in r) for r in y[:dense]]
    coarse = [tuple(float(v) for v in r) for r in y[dense - 1:]]
    return Table(dense, rows, [float(v) for v in x[dense - 1:]], coarse, x, y)


@dataclass(frozen=True)
class StepParts:
    """Every device term of one step of one model (module docstring), per chip. Attention terms are
    scalars: s = seconds, flop_s = FLOP / peak, bytes_s = bytes / bandwidth; 'w' marks sliding-window layers."""

    base: Table
    experts: Table | None             # routed experts over all groups' tokens (dp_attention > 1 only)
    head: Table
    window: float                     # sliding window, tokens (0: none)
    dec_fixed_s: float                # decode attention launches (+ eager decode-only kernels), per step
    dec_key_s: float                  # decode attention per key read (full layers): s, flop_s, bytes_s
    dec_key_flop_s: float
    dec_key_bytes_s: float
    dec_wkey_s: float
    dec_wkey_flop_s: float
    dec_wkey_bytes_s: float
    dec_tok_s: float                  # eager: decode-only elementwise bytes per decode token (s = bytes_s / frac)
    dec_tok_bytes_s: float
    pre_fixed_s: float                # prefill attention launches, per step with prefill tokens
    pre_tok_bytes_s: float            # prefill attention bytes per new token (q, k, v, o, KV write)
    pre_blk_s: float                  # per 128x128 block (compute-bound), full layers
    pre_blk_flop_s: float
    pre_crit_s: float                 # per block on the longest query tile's path, full layers
    pre_wblk_s: float
    pre_wblk_flop_s: float
    pre_wcrit_s: float
    pre_pair_s: float = 0.0           # dataflow systems: per causal (query, key) pair instead of blocks, full layers
    pre_pair_flop_s: float = 0.0
    pre_wpair_s: float = 0.0
    pre_wpair_flop_s: float = 0.0


def build_parts(dec: StepRecipe, pre: StepRecipe, hw: HardwareSpec, engine: EngineProfile, precision: Precision, *,
                tp: int, queries: int, dense: int) -> StepParts:
    """StepParts from the decode and prefill recipes of one stage (module docstring)."""
    if dec.attention_impl in ("bmm", "best"):
        raise UnsupportedError(f"engine {engine.name!r} runs decode attention as '{dec.attention_impl}' (a "
                               "calibration profile of plain PyTorch); simulate a serving engine (vllm, sglang, "
                               "trtllm, serving) or one with decode_impl sdpa.")
    peak, bw, units = chip_rates(hw, precision)
    D = dec.dp_attention
    one = dataclasses.replace(pre, phase="decode", attns=(), dp_attention=1)    # prefill's elementwise kernels
    x = grid(dense)
    rows_ops = ("tokens",) if D > 1 else ("tokens", "expert")
    base = table(dataclasses.replace(one, gemms=tuple(g for g in dec.gemms if g.rows in rows_ops),
                                     ew_bytes_per_seq=0.0), hw, engine, precision, tp, x, dense)
    nothing: dict[str, Any] = dict(ew_kernels=0.0, ew_bytes_per_token=0.0, allreduce_count=0.0, alltoall_count=0.0)
    experts = None
    if D > 1 and any(g.rows == "expert" for g in dec.gemms):
        experts = table(dataclasses.replace(one, gemms=tuple(g for g in dec.gemms if g.rows == "expert"),
                                            ew_bytes_per_seq=0.0, **nothing), hw, engine, precision, tp, x, dense)
    head = table(dataclasses.replace(one, gemms=tuple(g for g in dec.gemms if g.rows == "seqs"),
                                     ew_bytes_per_seq=dec.ew_bytes_per_seq, **nothing), hw, engine, precision, tp,
                 x, dense)
    kvb = BYTES_PER_ELEMENT[precision.kv_cache]
    ap = engine.attention
    peak16 = attention_rate(hw, peak)
    acc: dict[str, float] = {}

    def add(key: str, v: float, n: float) -> None:
        acc[key] = acc.get(key, 0.0) + n * v

    for a in dec.attns:
        w = "w" if a.window else ""
        moved = a.kv_elements_per_token * kvb                        # per key read
        f = 2.0 * queries * a.n_heads * (a.decode_d_qk + a.decode_d_v)
        c = float(decode_attention_time_s(moved, f, peak_flop_per_s=peak16, hbm_bytes_per_s=bw, params=ap))
        add("dec_fixed_s", ap.decode_fixed_s, a.count)
        add(f"dec_{w}key_s", c - ap.decode_fixed_s, a.count)       # smoothmax is homogeneous: exact per key
        add(f"dec_{w}key_flop_s", f / peak, a.count)
        add(f"dec_{w}key_bytes_s", moved / bw, a.count)
        kw: dict[str, Any] = dict(n_heads=a.n_heads, d_qk=a.d_qk, d_v=a.d_v, peak_flop_per_s=peak16,
                                  compute_units=units, params=ap)
        add("pre_fixed_s", ap.prefill_fixed_s, a.count)
        if is_dataflow_system(hw):     # linear in causal pairs (core/attention.py): one sequence of one token
            kw.pop("compute_units")
            t1, f1 = (float(v) for v in dataflow_prefill_attention_time_s(1.0, 1.0, **kw))
            add(f"pre_{w}pair_s", t1 - ap.prefill_fixed_s, a.count)
            add(f"pre_{w}pair_flop_s", f1 / peak, a.count)
        else:
            t1, f1 = (float(v) for v in prefill_attention_time_s(1.0, BLOCK, **kw))    # 1 block, 1 critical block
            t2 = float(prefill_attention_time_s(2.0, BLOCK, **kw)[0])                  # 2 blocks, 1 critical block
            add(f"pre_{w}blk_s", t2 - t1, a.count)
            add(f"pre_{w}blk_flop_s", f1 / peak, a.count)
            add(f"pre_{w}crit_s", t1 - ap.prefill_fixed_s - (t2 - t1), a.count)
        add("pre_tok_bytes_s", (a.n_heads * (a.d_qk + a.d_v) * 2.0 + a.kv_elements_per_token * kvb) / bw, a.count)
    add("dec_fixed_s", (dec.ew_kernels - pre.ew_kernels) * engine.kernel_fixed_s, 1.0)
    extra = (dec.ew_bytes_per_token - pre.ew_bytes_per_token) / bw
    add("dec_tok_s", extra / engine.elementwise_hbm_frac, 1.0)
    add("dec_tok_bytes_s", extra, 1.0)
    names = [f.name for f in dataclasses.fields(StepParts)][4:]
    return StepParts(base=base, experts=experts, head=head, window=float(dec.window or 0),
                     **{k: acc.get(k, 0.0) for k in names})


class PyOps:
    """Scalar evaluation: python floats, builtins."""

    scalar = True
    max = staticmethod(max)
    min = staticmethod(min)
    ceil = staticmethod(math.ceil)

    @staticmethod
    def at(t: Table, x: float) -> tuple[float, ...]:
        return t.at(x)

    @staticmethod
    def where(c, a, b):
        return a if c else b


class NpOps:
    """Broadcast evaluation: numpy arrays."""

    scalar = False
    max = staticmethod(np.maximum)
    min = staticmethod(np.minimum)
    ceil = staticmethod(np.ceil)

    @staticmethod
    def at(t: Table, x):
        # a scalar row count (a decode run: only the KV size varies) takes the fast scalar lookup
        return t.at(float(x)) if np.ndim(x) == 0 else t.at_array(np.asarray(x, dtype=float))

    where = staticmethod(np.where)


def device_rows(p: StepParts, S, Tp, P, ps, T_all, q: float, X) -> tuple:
    """What one group's step costs apart from the cached keys it reads: S decode sequences of q query tokens,
    Tp prefill tokens over P causal (query, key) pairs in ps sequences; T_all = every group's tokens (routed
    experts). ``device_keys`` adds the decode attention over K cached keys; the two are split so that a decode
    run (only K varies) looks its tables up once. The result is the same number, operation for operation."""
    Sq = S * q
    g, cb, fl, by, ac = X.at(p.base, Sq + Tp)
    if p.experts is not None:
        e = X.at(p.experts, T_all)
        g, cb, fl, by, ac = g + e[0], cb + e[1], fl + e[2], by + e[3], ac + e[4]
    h = X.at(p.head, Sq + ps)
    g, cb, fl, by, ac = g + h[0], cb + h[1], fl + h[2], by + h[3], ac + h[4]
    dec = None
    if not X.scalar or S > 0:                 # decode attention: linear in keys read (module docstring)
        f0 = (S > 0) * p.dec_fixed_s
        dec = (Sq, f0, Sq * p.dec_tok_s, Sq * p.dec_tok_bytes_s, S * p.window)
    pre = None
    if not X.scalar or Tp > 0:                # prefill attention: 128x128 blocks (sim/steps.py docstring)
        nbq = Tp / BLOCK
        blocks = P / (BLOCK * BLOCK) + nbq / 2.0
        chunks = X.max(ps, 1.0)
        crit = X.ceil((P / X.max(Tp, 1.0) + (Tp / chunks - 1.0) / 2.0) / BLOCK) * (Tp > 0)
        a = blocks * p.pre_blk_s + crit * p.pre_crit_s
        fl1, fl2 = blocks * p.pre_blk_flop_s, None
        if p.window:
            wb = math.ceil(p.window / BLOCK) + 1.0
            wblocks = X.min(blocks, nbq * wb - (wb - 1.0) / 2.0 * X.min(nbq, chunks * wb))
            a = a + wblocks * p.pre_wblk_s + X.min(crit, wb) * p.pre_wcrit_s
            fl2 = wblocks * p.pre_wblk_flop_s
        if p.pre_pair_s or p.pre_wpair_s:     # dataflow: causal pairs; windowed ones at most w per token
            wpairs = X.min(P, Tp * p.window)
            a = a + P * p.pre_pair_s + wpairs * p.pre_wpair_s
            fl1, fl2 = fl1 + P * p.pre_pair_flop_s, (0.0 if fl2 is None else fl2) + wpairs * p.pre_wpair_flop_s
        pre = (a, (Tp > 0) * p.pre_fixed_s, fl1, fl2, Tp * p.pre_tok_bytes_s)
    return g, cb, fl, by, ac, h[0], dec, pre


def device_keys(p: StepParts, rows: tuple, K, X) -> tuple:
    """(device s, compute-bound s, flop / peak s, bytes / bandwidth s, active s, LM-head s) of the step of
    ``device_rows`` whose decode sequences read K cached keys before the step."""
    g, cb, fl, by, ac, once, dec, pre = rows
    if dec is not None:
        Sq, f0, sq_tok, sq_tok_bytes, s_window = dec
        keys = K + Sq
        a = f0 + keys * p.dec_key_s + sq_tok
        fl = fl + keys * p.dec_key_flop_s
        by = by + keys * p.dec_key_bytes_s + sq_tok_bytes
        act = a - f0
        if p.window:
            kw = X.min(keys, s_window)
            a, act = a + kw * p.dec_wkey_s, act + kw * p.dec_wkey_s
            fl, by = fl + kw * p.dec_wkey_flop_s, by + kw * p.dec_wkey_bytes_s
        g, ac = g + a, ac + act
    if pre is not None:
        a, fixed, fl1, fl2, by1 = pre
        fl = fl + fl1
        if fl2 is not None:
            fl = fl + fl2
        g, cb, ac = g + a + fixed, cb + a + fixed, ac + a
        by = by + by1
    return g, cb, fl, by, ac, once

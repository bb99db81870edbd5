"""Evaluation of one engine step from the step model's constants (sim/steps.py's decomposition).

``prepare`` computes what does not depend on the cached keys K (table lookups, prefill attention, host time),
``finish`` the rest, so a decode run (only K varies) prepares once per batch size. ``finish`` is generic over
``X`` (python floats or numpy arrays); ``finish_run`` is the same arithmetic for python floats, written out for
a run of k decode steps (or one scalar step), operation for operation (tests/test_sim_steps.py checks the two
agree bit for bit). Measured here: a scalar step 2.5 us (prepare 2 us), a decode run 1 us + 0.35 us per step,
numpy past SCALAR_RUN_MAX steps (25 us for 100 steps, 40 us for 400).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .steptable import PyOps, StepParts, device_keys, device_rows


@dataclass(frozen=True)
class Consts:
    """Everything the evaluation reads, flattened (attribute access is the hot path)."""

    parts: StepParts
    draft: StepParts | None
    q: float
    k_draft: float
    pp: int
    dp: int
    dp_draft: int
    chips: int
    step_fixed_s: float
    host_per_seq_s: float
    async_scheduling: bool
    capped: bool                # the chip has a power limit
    p_limit: float
    p_busy: float
    headroom: float
    c_occ: float                # (P_limit - P_idle) * occupancy_frac, and the flop / byte shares
    c_flop: float
    c_byte: float
    stretch: float              # 1 / MIN_CLOCK_FRAC - 1
    layers_ratio: float         # L / ceil(L / pp)
    p2p0: float
    p2p_per_token: float
    spill: tuple[float, float, float, float, float, float] | None   # fixed, per key, per windowed key, per
    # token, per head row, slow-tier bytes/s (memory beyond the fast tier streams every step)
    runs: dict = field(default_factory=dict)   # StepModel.decode_run: prepare's result per batch size


def evaluate(c: Consts, S, K, Tp, P, ps, X):
    """(step_s, replica power_w) of a non-empty step (module docstring)."""
    return finish(c, prepare(c, S, Tp, P, ps, X), K, X)


def prepare(c: Consts, S, Tp, P, ps, X) -> tuple:
    """Everything of ``evaluate`` that does not depend on the cached keys K (a decode run keeps it)."""
    m = 1.0
    if c.pp > 1:
        m = X.min(float(c.pp), X.max(S + ps, 1.0))
        psm = X.ceil(ps / m)                       # the busiest micro-batch: prefill chunks stay whole
        share = psm / X.max(ps, 1.0)
        S, Tp, P, ps = S / m, Tp * share, P * share, psm
    q = c.q
    T_all = S * q + Tp
    Sm = S
    dp = None
    if c.dp > 1:
        D = c.dp
        Sg, psg = X.ceil(S / D), X.ceil(ps / D)       # the busiest group: whole sequences and chunks
        dp = (Sg, X.max(S, 1.0))                     # K -> K * Sg / max(S, 1)
        share = psg / X.max(ps, 1.0)
        S, Tp, P, ps = Sg, Tp * share, P * share, psg
    rows = device_rows(c.parts, S, Tp, P, ps, T_all, q, X)
    host = c.step_fixed_s + c.host_per_seq_s * (S + ps)
    spill = None
    if c.spill is not None:
        _, _, _, ft, fh, _ = c.spill
        spill = (S * q, Tp, (S + ps) * c.parts.window, ft * (S * q + Tp), fh * (S + ps))
    pipe = None if c.pp == 1 else (c.pp - 1) * (c.p2p0 + c.p2p_per_token * T_all)
    draft = None
    if c.draft is not None and (not X.scalar or Sm > 0):     # K draft steps of device time (core/speculative)
        Sd = X.ceil(Sm / c.dp_draft) if c.dp_draft > 1 else Sm
        zero = 0.0 * Sd
        draft = (Sd, X.max(Sm, 1.0), device_rows(c.draft, Sd, zero, zero, zero, Sm, 1.0, X), Sm > 0)
    return m, dp, rows, host, spill, pipe, draft


def finish(c: Consts, prep: tuple, K, X):
    """(step_s, replica power_w) of the prepared step whose decode sequences hold K cached keys."""
    m, dp, rows, host, spill, pipe, draft = prep
    if c.pp > 1:
        K = K / m
    Km = K
    if dp is not None:
        K = K * dp[0] / dp[1]
    g, cb, fl, by, ac, once = device_keys(c.parts, rows, K, X)
    t = X.max(g, host) if c.async_scheduling else g + host
    if c.capped:                     # core/energy.chip_power on the step's columns
        e_dyn = c.c_occ * X.min(X.max(ac, 0.0), t) + c.c_flop * X.min(fl, t) + c.c_byte * X.min(by, t)
        stage = X.min(X.max(e_dyn / c.headroom, t), t + cb * c.stretch)
        power = X.min(c.p_busy * stage + e_dyn, c.p_limit * stage) / stage
    else:
        stage, power = t, math.nan
    if spill is not None and c.spill is not None:
        f0, fk, fw, _, _, slow = c.spill
        sq, tp, sw, mem_tok, mem_head = spill
        keys = K + sq + tp                           # cached after the step (core/memory.py)
        mem = f0 + fk * keys + fw * X.min(keys, sw) + mem_tok + mem_head
        stage = X.max(stage, X.max(mem, 0.0) / slow)
    latency = stage
    if pipe is not None:             # core/predict._pipeline_latency
        gpu = X.where(stage > host, stage, X.min(g, stage)) if c.async_scheduling else stage - host
        pipe = once + X.max(gpu - once, 0.0) * c.layers_ratio + pipe
        latency = X.max(pipe, host) if c.async_scheduling else pipe + host
    if draft is not None and c.draft is not None:
        Sd, sm1, drows, on = draft
        d = c.k_draft * device_keys(c.draft, drows, Km * Sd / sm1, X)[0] * on
        latency, stage = latency + d, stage + d
    return X.max(latency, m * stage), c.chips * power


def finish_run(c: Consts, prep: tuple, K0: float, dK: float, k: int) -> tuple[list[float], list[float]]:
    """``finish`` at K = K0 + i dK for i < k, python floats (a scalar step: k = 1; a decode run: k steps):
    the same operations in the same order (tests/test_sim_steps.py checks bit equality), with the loop's
    constants hoisted and min / max of the hot terms written out (``min(x, y)`` is ``y if y < x else x``, the
    same value, NaN included): about 0.7 us a step instead of 2.5."""
    m, dp, rows, host, spill, pipe, draft = prep
    p = c.parts
    g0, cb0, fl0, by0, ac0, once, dec, pre = rows
    Sq, f0, sq_tok, sq_tok_bytes, s_window = dec if dec is not None else (0.0,) * 5
    pa_, pfix, fl1, fl2, by1 = pre if pre is not None else (0.0, 0.0, 0.0, None, 0.0)
    kk, kf, kb, win, wk, wf, wb = (p.dec_key_s, p.dec_key_flop_s, p.dec_key_bytes_s, p.window, p.dec_wkey_s,
                                   p.dec_wkey_flop_s, p.dec_wkey_bytes_s)
    pp, asy, capped, chips = c.pp > 1, c.async_scheduling, c.capped, c.chips
    c_occ, c_flop, c_byte, headroom, stretch, p_busy, p_limit = (c.c_occ, c.c_flop, c.c_byte, c.headroom,
                                                                 c.stretch, c.p_busy, c.p_limit)
    ts: list[float] = []
    ws: list[float] = []
    for i in range(k):
        K = K0 + dK * i
        if pp:
            K = K / m
        Km = K
        if dp is not None:
            K = K * dp[0] / dp[1]
        g, cb, fl, by, ac = g0, cb0, fl0, by0, ac0      # steptable.device_keys, written out
        if dec is not None:
            keys = K + Sq
            a = f0 + keys * kk + sq_tok
            fl = fl + keys * kf
            by = by + keys * kb + sq_tok_bytes
            act = a - f0
            if win:
                kw = s_window if s_window < keys else keys                # min(keys, s_window)
                a, act = a + kw * wk, act + kw * wk
                fl, by = fl + kw * wf, by + kw * wb
            g, ac = g + a, ac + act
        if pre is not None:
            fl = fl + fl1
            if fl2 is not None:
                fl = fl + fl2
            g, cb, ac = g + pa_ + pfix, cb + pa_ + pfix, ac + pa_
            by = by + by1
        t = (host if host > g else g) if asy else g + host             # max(g, host)
        if capped:
            ac0_ = 0.0 if ac < 0.0 else ac                                  # max(ac, 0.0)
            e_dyn = (c_occ * (t if t < ac0_ else ac0_) + c_flop * (t if t < fl else fl)
                     + c_byte * (t if t < by else by))
            hi = e_dyn / headroom
            hi = t if t > hi else hi
            top = t + cb * stretch
            stage = top if top < hi else hi
            pa, pb = p_busy * stage + e_dyn, p_limit * stage
            power = (pb if pb < pa else pa) / stage
        else:
            stage, power = t, math.nan
        if spill is not None and c.spill is not None:
            sf0, fk, fw, _, _, slow = c.spill
            sq, tp, sw, mem_tok, mem_head = spill
            skeys = K + sq + tp
            mem = sf0 + fk * skeys + fw * min(skeys, sw) + mem_tok + mem_head
            stage = max(stage, max(mem, 0.0) / slow)
        latency = stage
        if pipe is not None:
            gpu = (stage if stage > host else min(g, stage)) if asy else stage - host
            pl = once + max(gpu - once, 0.0) * c.layers_ratio + pipe
            latency = max(pl, host) if asy else pl + host
        if draft is not None and c.draft is not None:
            Sd, sm1, drows, on = draft
            d = c.k_draft * device_keys(c.draft, drows, Km * Sd / sm1, PyOps)[0] * on
            latency, stage = latency + d, stage + d
        ms = m * stage
        ts.append(ms if ms > latency else latency)                     # max(latency, m * stage)
        ws.append(chips * power)
    return ts, ws

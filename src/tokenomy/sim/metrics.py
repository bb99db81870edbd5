"""What a simulation records and the summary it reports.

``Recorder`` (one per replica) takes every engine step, or a run of identical-composition decode steps,
and keeps: the timeline (one row per step until ``TIMELINE_ROWS`` rows, then adjacent rows are merged two
by two and later steps are grouped by the same factor, so its size stays bounded), the inter-token gaps
(one sample per step, weighted by the tokens the step emitted; beyond ``ITL_RAW`` samples they are folded
into (value rounded to ``ITL_DIGITS`` significant digits, summed weight) pairs), energy, busy time and the time-weighted
decode batch.

Conventions of the summary (``summarize``):
- percentiles of TTFT, TPOT and E2E: numpy's linear interpolation over completed requests; TPOT over
  requests with more than one output token;
- ITL percentiles: weighted inverted CDF (the smallest gap whose cumulative token weight reaches q);
- ``simulated_s``: first arrival to last finish; rates divide by it;
- ``mean_batch``: decode sequences per step, weighted by step time, over the busy time of all replicas;
- percentiles are flat keys ``<name>_<stat>_s`` (``ttft_mean_s``, ``ttft_p50_s``, ``ttft_p90_s``, ``ttft_p99_s``;
  likewise ``tpot``, ``itl``, ``e2e``), the glossary's names;
- ``fleet_power_w``: (step energy + idle_power_w * idle time of each replica over ``simulated_s``) / simulated_s;
- ``j_per_token_chip``: that energy per output token;
- ``usd_per_mtok_all_in``: replicas * usd_per_hour * simulated_s / 3600 per million output tokens.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TIMELINE_ROWS = 4096   # rows kept per replica before merging (bounded timeline for long runs)
ITL_RAW = 1 << 20      # raw inter-token gaps kept before folding them into a weighted histogram
ITL_DIGITS = 6         # significant digits of a folded gap (relative error <= 5e-6 on ITL percentiles)


class Recorder:
    """Steps of one replica: timeline rows, inter-token gaps, energy, busy time."""

    _COLS = ("t_s", "dt_s", "queued", "running", "batch", "kv_frac", "energy_j")

    def __init__(self, replica: int):
        self.replica = replica
        self.rows = array("d")            # timeline rows, flat: len(_COLS) values per row
        self.group = 1                    # steps per timeline row
        self._acc = [0.0] * 7
        self._acc_n = 0
        self.discarded = 0.0              # fractional tokens re-emitted after a recompute preemption (speculative)
        self.itl_s = array("d")           # gap of each step that emitted decode tokens
        self.itl_w = array("d")           # tokens emitted per gap, one entry per run of gaps ...
        self.itl_n = array("q")           # ... of this many steps (run-length coded)
        self.fold_s: np.ndarray = np.zeros(0)   # folded gaps (sorted, rounded) and their summed weights
        self.fold_w: np.ndarray = np.zeros(0)
        self.energy_j = 0.0
        self.busy_s = 0.0
        self.batch_s = 0.0                # integral of decode sequences over time
        self.kv_peak_frac = 0.0

    def step(self, t_end: float, dt: float, queued: float, running: int, batch: int, kv_frac: float,
             energy_j: float, tokens: float) -> None:
        """One engine step of ``dt`` seconds ending at ``t_end``; ``tokens``: decode tokens it emitted."""
        self.energy_j += energy_j
        self.busy_s += dt
        self.batch_s += batch * dt
        self.kv_peak_frac = max(self.kv_peak_frac, kv_frac)
        if tokens > 0:
            self.gap(dt, tokens)
        self._row(t_end, dt, queued * dt, running * dt, batch * dt, kv_frac, energy_j, 1)

    def decode_run(self, ends: list[float], dts: list[float], queued: float, running: int, batch: int,
                   kv_frac: float, energy_j: float, tokens_per_step: float, last_tokens: float | None = None) -> None:
        """``len(dts)`` identical-composition decode steps ending at ``ends`` (one timeline row); the last step
        emits ``last_tokens`` (default ``tokens_per_step``: less when a sequence needs less than a full step)."""
        total = ends[-1] - ends[0] + dts[0]
        self.energy_j += energy_j
        self.busy_s += total
        self.batch_s += batch * total
        self.kv_peak_frac = max(self.kv_peak_frac, kv_frac)
        self.itl_s.extend(dts)
        if last_tokens is None or last_tokens == tokens_per_step:
            self.itl_w.append(tokens_per_step)
            self.itl_n.append(len(dts))
        else:
            self.itl_w.extend((tokens_per_step, last_tokens))
            self.itl_n.extend((len(dts) - 1, 1))
        self._row(float(ends[-1]), total, queued * total, running * total, batch * total, kv_frac,
                  energy_j, len(dts))
        if len(self.itl_s) > ITL_RAW:
            self._fold()

    def gap(self, gap_s: float, tokens: float = 1.0) -> None:
        """One extra inter-token gap (a preempted sequence's first token after it resumes)."""
        self.itl_s.append(gap_s)
        self.itl_w.append(tokens)
        self.itl_n.append(1)

    def _row(self, t_end: float, dt: float, q_dt: float, r_dt: float, b_dt: float, kv: float,
             e: float, steps: int) -> None:
        if self._acc_n == 0 and steps >= self.group:       # a row of its own (always while group is 1)
            self.rows.extend((t_end, dt, q_dt, r_dt, b_dt, kv, e))
            if len(self.rows) >= 2 * TIMELINE_ROWS * len(self._COLS):
                self._halve()
            return
        a = self._acc
        a[0] = t_end
        a[1] += dt
        a[2] += q_dt
        a[3] += r_dt
        a[4] += b_dt
        a[5] = max(a[5], kv)
        a[6] += e
        self._acc_n += steps
        if self._acc_n >= self.group:
            self._flush()

    def _flush(self) -> None:
        if self._acc_n == 0:
            return
        self.rows.extend(self._acc)
        self._acc = [0.0] * 7
        self._acc_n = 0
        if len(self.rows) >= 2 * TIMELINE_ROWS * len(self._COLS):
            self._halve()

    def _halve(self) -> None:
        """Merge adjacent rows two by two (sums add, end time and KV peak take the later/larger)."""
        ncol = len(self._COLS)
        v = np.frombuffer(self.rows, dtype=np.float64)
        v = v[:len(v) // (2 * ncol) * 2 * ncol].reshape(-1, 2, ncol)
        merged = v.sum(axis=1)
        merged[:, 0] = v[:, 1, 0]
        merged[:, 5] = v[:, :, 5].max(axis=1)
        self.rows = array("d", np.ascontiguousarray(merged).tobytes())
        self.group *= 2

    def _raw_itl(self) -> tuple[np.ndarray, np.ndarray]:
        s = np.frombuffer(self.itl_s, dtype=np.float64) if len(self.itl_s) else np.zeros(0)
        w = np.repeat(np.frombuffer(self.itl_w, dtype=np.float64) if len(self.itl_w) else np.zeros(0),
                      np.frombuffer(self.itl_n, dtype=np.int64) if len(self.itl_n) else np.zeros(0, np.int64))
        return s, w

    def _fold(self) -> None:
        s, w = self._raw_itl()
        scale = 10.0 ** (np.floor(np.log10(np.maximum(s, 1e-300))) - (ITL_DIGITS - 1))
        v, inv = np.unique(np.concatenate([self.fold_s, np.round(s / scale) * scale]), return_inverse=True)
        self.fold_s, self.fold_w = v, np.bincount(inv, weights=np.concatenate([self.fold_w, w]))
        self.itl_s, self.itl_w, self.itl_n = array("d"), array("d"), array("q")

    def itl(self) -> tuple[np.ndarray, np.ndarray]:
        """The inter-token gaps and the tokens emitted with each (folded ones first)."""
        s, w = self._raw_itl()
        return np.concatenate([self.fold_s, s]), np.concatenate([self.fold_w, w])

    def timeline(self) -> pd.DataFrame:
        """Columns t_s (row end), replica, queued, running, batch (time-weighted means), kv_frac (peak),
        power_w (mean over the row)."""
        self._flush()
        flat = np.frombuffer(self.rows, dtype=np.float64) if len(self.rows) else np.zeros(0)
        r = dict(zip(self._COLS, flat.reshape(-1, len(self._COLS)).T, strict=True))
        dt = np.where(r["dt_s"] > 0, r["dt_s"], 1.0)
        return pd.DataFrame({"t_s": r["t_s"], "replica": np.full(len(dt), self.replica, dtype=np.int64),
                             "queued": r["queued"] / dt, "running": r["running"] / dt,
                             "batch": r["batch"] / dt, "kv_frac": r["kv_frac"], "power_w": r["energy_j"] / dt})


class RequestLog:
    """Per-request results as numpy arrays (compact for 1M requests)."""

    def __init__(self, n: int):
        self.arrival_s = np.full(n, np.nan)
        self.first_token_s = np.full(n, np.nan)
        self.finish_s = np.full(n, np.nan)
        self.replica = np.full(n, -1, dtype=np.int64)
        self.cached = np.zeros(n, dtype=np.int64)
        self.preemptions = np.zeros(n, dtype=np.int64)


@dataclass(frozen=True)
class SimResult:
    """Result of ``simulate_requests``: per-request table, bounded timeline, summary, optional event log."""

    requests: pd.DataFrame      # request_id, replica, arrival_s, input_tokens, output_tokens, cached_tokens,
                                # first_token_s, finish_s, ttft_s, tpot_s, e2e_s, preemptions, slo_met
    timeline: pd.DataFrame      # t_s, replica, queued, running, batch, kv_frac, power_w
    summary: dict[str, Any]     # the JSON keys (see module docstring for conventions)
    events: list[tuple] | None  # (t_s, replica, kind, request_id) when event_log=True
    emitted_tokens: float = 0.0  # tokens the steps emitted (first + decode + resumed); = sum of output_tokens
                                 # (a request's last step emits only the tokens it still needs)


def emitted_tokens(first_tokens: int, recorders: list[Recorder]) -> float:
    """Tokens emitted and kept: first tokens plus the token weights of the inter-token gaps, less the fractional
    progress a recompute preemption discards (speculative decoding; the ITL weights keep it: a bias < 1 token
    per preemption)."""
    return first_tokens + sum(float(np.sum(r.itl()[1])) - r.discarded for r in recorders)


def _stats(x: np.ndarray) -> dict[str, float]:
    if len(x) == 0:
        return {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0}
    p = np.percentile(x, [50, 90, 99])
    return {"mean": float(np.mean(x)), "p50": float(p[0]), "p90": float(p[1]), "p99": float(p[2])}


def weighted_stats(x: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Mean and inverted-CDF percentiles of samples ``x`` with weights ``w``."""
    if len(x) == 0 or float(w.sum()) <= 0:
        return {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0}
    order = np.argsort(x, kind="stable")
    xs, cw = x[order], np.cumsum(w[order])
    idx = np.searchsorted(cw, np.array([0.5, 0.9, 0.99]) * cw[-1] * (1 - 1e-12), side="left")
    p = xs[np.minimum(idx, len(xs) - 1)]
    return {"mean": float(np.dot(x, w) / w.sum()), "p50": float(p[0]), "p90": float(p[1]), "p99": float(p[2])}


STATS = ("mean", "p50", "p90", "p99")


def flat_stats(name: str, stats: dict[str, float]) -> dict[str, float]:
    """``{'mean': .., 'p50': ..}`` of a latency ``name`` (seconds) as the glossary's flat keys ``<name>_<stat>_s``."""
    return {f"{name}_{k}_s": stats[k] for k in STATS}


def summarize(req: pd.DataFrame, recorders: list[Recorder], *, idle_power_w: float,
              usd_per_hour: float, preemptions: int, has_slo: bool, wall_s: float) -> dict[str, Any]:
    """The summary dict of a simulation (glossary keys; conventions in the module docstring)."""
    ok = np.isfinite(req["finish_s"].to_numpy())
    done = req if ok.all() else req[ok]
    n = len(done)
    first = float(req["arrival_s"].min()) if len(req) else 0.0
    last = float(done["finish_s"].max()) if n else first
    sim_s = max(last - first, 0.0)
    div = sim_s if sim_s > 0 else 1.0
    out_tok = float(done["output_tokens"].sum())
    busy = sum(r.busy_s for r in recorders)
    energy = sum(r.energy_j for r in recorders) + idle_power_w * max(
        len(recorders) * sim_s - busy, 0.0)
    multi = done[done["output_tokens"] > 1]
    gaps = [r.itl() for r in recorders]
    itl_s = np.concatenate([g[0] for g in gaps]) if gaps else np.zeros(0)
    itl_w = np.concatenate([g[1] for g in gaps]) if gaps else np.zeros(0)
    met = int(done["slo_met"].sum()) if n else 0
    return {
        **flat_stats("ttft", _stats(done["ttft_s"].to_numpy())),
        **flat_stats("tpot", _stats(multi["tpot_s"].to_numpy())),
        **flat_stats("itl", weighted_stats(itl_s, itl_w)),
        **flat_stats("e2e", _stats(done["e2e_s"].to_numpy())),
        "fleet_tokens_per_s": out_tok / div,
        "fleet_input_tokens_per_s": float(done["input_tokens"].sum()) / div,
        "requests_per_s": n / div,
        "goodput_requests_per_s": met / div if has_slo else None,     # no SLO asked: nothing to attain
        "slo_attainment": (met / n if n else 0.0) if has_slo else None,
        "preemptions": int(preemptions),
        "mean_batch": sum(r.batch_s for r in recorders) / busy if busy > 0 else 0.0,
        "kv_peak_frac": max((r.kv_peak_frac for r in recorders), default=0.0),
        "fleet_power_w": energy / div,
        "j_per_token_chip": energy / out_tok if out_tok else 0.0,
        "usd_per_mtok_all_in": len(recorders) * usd_per_hour * sim_s / 3600 / (out_tok / 1e6) if out_tok else 0.0,
        "requests": n,
        "simulated_s": sim_s,
        "wall_s": wall_s,
    }

"""Hand-checkable stand-ins for the simulator's step model (the ``StepCost`` protocol of sim/kernel.py), shared by
the kernel tests: a linear step cost that records its calls, and a Workload builder."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokenomy.sim.workload import Workload


@dataclass
class Cost:
    """step_s = base + per_seq * decode_seqs + per_kv * decode_kv_tokens + per_new * prefill_tokens;
    records the scalar calls (single steps) in ``calls`` and each vectorized decode run, step by step, in
    ``runs`` (a run cut by an arrival keeps its planned steps here)."""

    base: float = 0.01
    per_seq: float = 0.0
    per_kv: float = 0.0
    per_new: float = 0.0
    kv_capacity_tokens: int = 1 << 20
    max_num_seqs: int = 64
    max_num_batched_tokens: int = 8192
    chips: int = 1
    tokens_per_step: float = 1.0
    idle_power_w: float = 100.0
    usd_per_hour: float = 3.6
    kv_bytes_per_token: float = 1e6
    swap_bytes_per_s: float = 1e9
    kv_tokens_per_seq: float = 0.0
    calls: list = field(default_factory=list)
    runs: list = field(default_factory=list)

    def step_s(self, d, kv, p, pairs):
        steps = [tuple(float(v) for v in x) for x in np.broadcast(d, kv, p, pairs)]
        if np.ndim(kv):
            self.runs.append(steps)
        else:
            self.calls += steps
        return self.base + self.per_seq * d + self.per_kv * np.asarray(kv) + self.per_new * p

    def power_w(self, d, kv, p, pairs):
        return 500.0 + 0.0 * np.asarray(kv)


def work(arrival, isl, osl, kind="open", conc=None) -> Workload:
    """A Workload from plain lists (no checks: the kernel's own are under test)."""
    return Workload(kind, np.asarray(arrival, float), np.asarray(isl), np.asarray(osl), conc, "test")

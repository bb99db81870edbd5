"""Speed work on the simulator must not change its results: a fixed set of runs against recorded summaries.

The summaries in tests/data/sim_golden.json (every key but wall_s, plus sums over the per-request table) were
recorded by ``python tests/test_sim_speed_equivalence.py --record`` on main before the speed work of issue 11
(commit 55da542), and re-recorded once after a deliberate fix (the scheduler now passes the number of prefill
chunks in a step to the step model: one LM-head row per chunk). Re-recorded after review fixes (issue 11):
preempt_swap moved because a swapped-in sequence now decodes in its swap-in step and that token's gap (the
time swapped out included) reaches ITL (itl p99 0.0500 -> 0.0517 s, 76 -> 79 preemptions, rates within 0.01%);
dp_spec moved because a request's last speculative step now emits only the tokens it still needs (emitted
tokens 72155.85 -> 71876 = the output tokens; itl mean -0.016%). dp_spec re-recorded when an MoE layer's expert
all-to-all became two collectives, dispatch (fp8) and combine (bf16), each with its latency (core/graph.py):
tpot mean 19.80 -> 21.41 ms, e2e mean 4.740 -> 5.120 s; the other runs (ep 1) did not move.
Each run must give the same numbers to 1e-12 relative. Runs cover a dense model, an MoE
model, pipeline parallelism, attention data-parallel with speculative decoding, KV-bound preemption (recompute
and swap), prefix caching, a closed loop and three replicas. Sliding-window models are left out on purpose:
their KV accounting was corrected after the recording (tests/test_sim_kernel.py checks it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "data" / "sim_golden.json"
REL = 1e-12


def _work(kind: str, n: int, rate: float, seed: int, conc: int | None = None) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    arr = arr - arr[0] if kind == "open" else np.zeros(n)
    return SimpleNamespace(kind=kind, arrival_s=arr, input_tokens=rng.integers(100, 2000, n),
                           output_tokens=rng.integers(10, 500, n), concurrency=conc, description=kind)


# name: (model, hardware, build kwargs, workload, simulate kwargs, kv capacity override)
RUNS: dict[str, tuple] = {
    "dense": ("llama-3.1-8b", "h100-sxm", {}, ("open", 400, 8.0, 0), {}, None),
    "moe": ("qwen3-30b-a3b", "h200-sxm", {}, ("open", 300, 10.0, 1), {}, None),
    "pp2": ("llama-3.1-70b", "h100-sxm", {"tp": 4, "pp": 2}, ("open", 300, 6.0, 2), {}, None),
    "dp_spec": ("deepseek-v3", "h200-sxm", {"tp": 8, "ep": 8, "dp_attention": 8, "spec": "mtp"},
                ("open", 300, 6.0, 3), {}, None),
    "preempt_recompute": ("llama-3.1-8b", "h100-sxm", {}, ("open", 300, 20.0, 4), {}, 24_000),
    "preempt_swap": ("llama-3.1-8b", "h100-sxm", {}, ("open", 300, 20.0, 5), {"preemption": "swap"}, 24_000),
    "prefix_hit": ("llama-3.1-8b", "h100-sxm", {}, ("open", 300, 10.0, 6), {"hit": 0.4}, None),
    "prefix_shared": ("llama-3.1-8b", "h100-sxm", {}, ("open", 300, 10.0, 7), {"shared": 300}, None),
    "closed": ("llama-3.1-8b", "h100-sxm", {}, ("closed", 600, 1.0, 8, 64), {}, None),
    "replicas3": ("llama-3.1-8b", "h100-sxm", {}, ("open", 600, 30.0, 9),
                  {"replicas": 3, "router": "least-loaded", "slo": (0.5, 0.02)}, None),
}


def run(name: str) -> dict[str, float]:
    from tokenomy.sim.kernel import simulate_requests
    from tokenomy.sim.scheduler import Policy
    from tokenomy.sim.steps import build_step_model
    from tokenomy.spec.sim import PrefixCache, Slo

    model, hw, kw, wl, sk, cap = RUNS[name]
    step = build_step_model(model, hw, **kw)
    if cap is not None:
        step = dataclasses.replace(step, kv_capacity_tokens=cap)
    pol = Policy(max_num_seqs=step.max_num_seqs, max_num_batched_tokens=step.max_num_batched_tokens,
                 preemption=sk.get("preemption", "recompute"))
    prefix = PrefixCache(hit_frac=sk.get("hit", 0.0), shared_prefix_tokens=sk.get("shared", 0))
    slo = Slo(*sk["slo"]) if "slo" in sk else None
    r = simulate_requests(_work(*wl), step, policy=pol, replicas=sk.get("replicas", 1),
                          router=sk.get("router", "round-robin"), prefix=prefix, slo=slo)
    out: dict[str, float] = {}
    for k, v in r.summary.items():
        if k == "wall_s" or v is None:       # None: goodput and attainment of a run without an SLO
            continue
        out[k] = float(v)
    req = r.requests
    for col in ("first_token_s", "finish_s", "preemptions", "cached_tokens", "replica"):
        out[f"sum.{col}"] = float(req[col].sum())
    out["emitted_tokens"] = float(r.emitted_tokens)
    return out


@pytest.mark.parametrize("name", sorted(RUNS))
def test_same_results_as_recorded(name: str) -> None:
    want = json.loads(GOLDEN.read_text())[name]
    got = run(name)
    assert sorted(got) == sorted(want)
    bad = {k: (got[k], want[k]) for k in want
           if not math.isclose(got[k], want[k], rel_tol=REL, abs_tol=1e-300 if want[k] else 1e-15)}
    assert not bad, bad


if __name__ == "__main__" and "--record" in sys.argv:
    GOLDEN.write_text(json.dumps({n: run(n) for n in RUNS}, indent=1, sort_keys=True) + "\n")

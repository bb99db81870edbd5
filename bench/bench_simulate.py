"""Speed and memory of the request-level simulator (issue 11 targets).

1. The Azure LLM conversation trace (19,366 requests) replayed on one replica: target <= 2 s.
2. 100,000 Poisson requests on one core: target <= 10 s.
3. 1,000,000 Poisson requests: target < 1 GB of memory (peak RSS of the process).
Plus how the time scales with the number of requests and with the batch size (closed loop at
concurrency N, 1000 in / 200 out tokens, 20 requests per client).

Step costs: the real step model (``sim.steps.build_step_model``, llama-3.1-8b on one h100-sxm by default;
``--real MODEL HARDWARE`` to change it), or ``--fake``: ``LinearCost``, a linear step model with figures of the
order of an 8B model on one H100 (a labelled assumption, for the kernel's speed alone).  Each scenario runs in
a fresh process so that its peak RSS is its own.  Poisson: 8 requests/s, input uniform 100-2000, output
uniform 10-500 tokens.

Run: python bench/bench_simulate.py [--quick] [--fake | --real llama-3.1-8b h100-sxm]

Measured with the real step model, llama-3.1-8b / h100-sxm, on the 2-core dev container (2026-12, shared
with other jobs, wall s):
    scenario          requests   wall s   requests/s   mean batch   peak RSS
    trace               19,366     1.0       19k          10.1        181 MB
    poisson 10k         10,000     0.45-0.65 15-22k       20.1        181 MB
    poisson 100k       100,000     5.0-5.2   19-20k       20.1        230 MB
    poisson 1M       1,000,000    50         20k          20.0        482 MB
    closed conc 1           20     0.009      2.3k         1.0
    closed conc 16         320     0.015     22k          14.3
    closed conc 64       1,280     0.021     60k          59.9
    closed conc 256      5,120     0.049    105k         246.9
Before the speed work (same machine): trace 2.6-3.1 s, 100k 13.5-18 s.  Time is linear in requests (a
fixed ~50 us of Python per request at batch ~20: ~2.6 events per request, arrival / prefill step / completion,
plus ~0.35 us per decode step evaluated); memory is per-request arrays, a bounded timeline and ITL gaps
folded past 2^20.  With batch size the cost per request falls (the Python per event is O(1) and a decode
run covers every running sequence at once), so larger batches serve more requests per second.
KV-bound runs (frequent preemption) are slower.  With ``--fake`` (a different batch: the fake steps are
faster): trace 0.70 s, 100k 3.9 s.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from tokenomy.loaders.traces import load_trace
from tokenomy.sim.workload import Workload

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT.parent / "shared" / "data" / "traces" / "azure_llm_2023_conv.csv"
DEFAULT_REAL = ("llama-3.1-8b", "h100-sxm")


@dataclass
class LinearCost:
    """Assumed step cost of the order of Llama-3.1-8B bf16 on one H100 (fake, for speed only):
    6 ms per step + 40 us per decode sequence + 25 ns per KV token read + 70 us per new prompt token."""

    chips: int = 1
    kv_capacity_tokens: int = 450_000
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    tokens_per_step: float = 1.0
    idle_power_w: float = 120.0
    usd_per_hour: float = 2.5
    kv_bytes_per_token: float = 131072.0     # 32 layers * 8 kv heads * 128 * 2 (k, v) * 2 bytes
    swap_bytes_per_s: float = 25e9           # PCIe Gen5 x16, one direction, achievable (assumption)

    def step_s(self, d, kv, p, pairs):
        return 0.006 + 4e-5 * d + 2.5e-8 * np.asarray(kv) + 7e-5 * p

    def power_w(self, d, kv, p, pairs):
        return 350.0 + 1.0 * d + 0.0 * np.asarray(kv) + 0.01 * p


def poisson(n: int, rate: float, seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    return Workload("open", arr - arr[0], rng.integers(100, 2000, n), rng.integers(10, 500, n), None, "poisson")


def trace() -> Workload:
    t = load_trace(TRACE)                      # the project's validated reader (loaders/traces.py)
    return Workload("open", t.arrival_s, t.input_tokens, t.output_tokens, None, "azure conv")


def closed(n: int, conc: int) -> Workload:
    return Workload("closed", np.zeros(n), np.full(n, 1000), np.full(n, 200), conc, "closed")


def scenario(name: str, real: list[str]) -> dict:
    from tokenomy.sim.kernel import simulate_requests
    if real:
        from tokenomy.sim.steps import build_step_model
        cost = build_step_model(real[0], real[1])
    else:
        cost = LinearCost()
    kind, _, arg = name.partition(":")
    w = (trace() if kind == "trace" else poisson(int(arg), 8.0) if kind == "poisson"
         else closed(20 * int(arg), int(arg)))
    t = time.perf_counter()
    r = simulate_requests(w, cost)
    wall = time.perf_counter() - t
    s = r.summary
    return {"scenario": name, "requests": s["requests"], "wall_s": round(wall, 3),
            "requests_per_s": round(s["requests"] / wall), "mean_batch": round(s["mean_batch"], 1),
            "preemptions": s["preemptions"], "peak_rss_mb": round(resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    args = sys.argv[1:]
    real = args[args.index("--real") + 1:args.index("--real") + 3] if "--real" in args else list(DEFAULT_REAL)
    if "--fake" in args:
        real = []
    if "--one" in args:
        print(json.dumps(scenario(args[args.index("--one") + 1], real)))
        return
    names = ["trace", "poisson:10000", "poisson:100000"]
    if "--quick" not in args:
        names += ["poisson:1000000"]
    names += [f"closed:{c}" for c in (1, 16, 64, 256)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    for name in names:
        extra = ["--real", *real] if real else ["--fake"]
        out = subprocess.run([sys.executable, __file__, "--one", name, *extra], capture_output=True, text=True,
                             env=env, check=True).stdout
        print(out.strip(), flush=True)


if __name__ == "__main__":
    main()

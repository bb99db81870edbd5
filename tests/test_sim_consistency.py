"""Issue 11's consistency criterion: a closed loop at concurrency N (``tokenomy.simulate``) matches the frontier's
steady state at batch N (``tokenomy.frontier.sweep``, the public path of ``tokenomy frontier``: ``core/serving.py``
``chunked_prefill`` + ``serving_estimate`` at the mean context isl + osl/2) within 5%, on output tokens/s and on
tokens/s per user, for dense and MoE models on two chips (h100-sxm, mi300x), isl = osl = 1024.

Steady state of the simulation, from its per-request table: the first and last quarter of the requests (by
arrival) are dropped (the first wave arrives together at t = 0 and prefills in a burst; the last drains a
shrinking batch). Over the middle half:
- output tokens/s = N * osl / mean E2E: Little's law for a closed loop with zero think time (N clients, each
  receiving osl tokens per E2E);
- tokens/s per user = 1 / mean TPOT (the frontier's tokens_per_s_per_user is 1 / its tpot_s).
With 12 requests per client this middle-half figure is within 0.2% of a 64-per-client run (measured on every
case below), while the whole-run summary is up to 1.8% high on per-user speed (llama-3.1-8b h100-sxm N=256:
28.08 vs 27.57 tokens/s), which is why the test uses the middle half.

The simulator must not preempt in these cases (its KV cache holds N * (isl + osl) tokens): the frontier checks
memory at the mean context only, so where the simulator's KV is binding at the peak context (llama-3.1-8b
h100-sxm N=256: 577 preemptions, ratio 0.955; qwen3-30b-a3b h100-sxm N=64; mixtral-8x7b h100-sxm tp=2 N=256) the
two legitimately differ; those are not consistency cases.
"""

import numpy as np
import pytest

import tokenomy
from tokenomy.frontier import sweep

ISL = OSL = 1024
PER_CLIENT = 12          # requests per client: 12 waves (module docstring)
TOL = 0.05               # the 5%

# (model, chip, tp, concurrencies); dense and MoE, each on h100-sxm and mi300x
CASES = [
    ("llama-3.1-8b", "h100-sxm", 1, (8, 64, 128)),
    ("llama-3.1-70b", "mi300x", 2, (8, 64, 256)),
    ("mixtral-8x7b", "h100-sxm", 2, (8, 64)),          # MoE, 8 experts top-2
    ("qwen3-30b-a3b", "mi300x", 1, (8, 64, 256)),      # MoE, 128 experts top-8
    ("gpt-oss-120b", "mi300x", 1, (64, 256)),          # MoE + sliding-window layers, mxfp4 weights
]


def steady_state(sim, n: int) -> tuple[float, float]:
    """(output tokens/s, tokens/s per user) over the middle half of the requests (module docstring)."""
    q = sim.requests.sort_values("arrival_s", kind="stable")
    mid = q.iloc[len(q) // 4: len(q) - len(q) // 4]
    assert len(mid) >= n                                   # at least one full wave of every client
    return n * OSL / float(mid["e2e_s"].mean()), 1.0 / float(mid["tpot_s"].mean())


def ratios(model: str, chip: str, tp: int, ns: tuple[int, ...]) -> list[tuple[int, float, float, int]]:
    """(N, sim/frontier output tokens/s, sim/frontier tokens/s per user, preemptions) for each N."""
    fr = sweep(model, [chip], ISL, OSL, tp=tp, pp=1, ep=1, batches=list(ns))
    c = fr.columns
    out = []
    for n in ns:
        i = int(np.flatnonzero(c["batch"] == n)[0])
        sim = tokenomy.simulate(model, chip, tp=tp, workload=f"closed:conc={n},isl={ISL},osl={OSL}",
                                requests=n * PER_CLIENT)
        assert str(c["precision"][i]) in sim.deployment          # the same deployment on both sides
        tps, per_user = steady_state(sim, n)
        out.append((n, tps / float(c["tokens_per_s"][i]), per_user / float(c["tokens_per_s_per_user"][i]),
                    int(sim.summary["preemptions"])))
    return out


@pytest.mark.parametrize(("model", "chip", "tp", "ns"), CASES, ids=[f"{m}-{h}-tp{t}" for m, h, t, _ in CASES])
def test_closed_loop_matches_the_frontier_steady_state(model, chip, tp, ns):
    # measured (sim/frontier, tokens/s and per user): llama-3.1-8b h100-sxm N=64 1.004 / 1.017;
    # the whole table is in docs/simulate.md
    for n, r_tps, r_user, preempted in ratios(model, chip, tp, ns):
        assert preempted == 0, f"N={n}: the KV cache is binding in the simulation, not a consistency case"
        assert abs(r_tps - 1) <= TOL, f"N={n}: output tokens/s ratio {r_tps:.3f}"
        assert abs(r_user - 1) <= TOL, f"N={n}: tokens/s per user ratio {r_user:.3f}"


def test_sliding_window_model_on_h100_is_not_kv_bound_at_64():
    # sliding-window KV as the core counts it (sim/steps.py: 36,864 B/token for the 18 full-attention layers +
    # 128 tokens-equivalent per sequence for the 18 windowed ones): 64 x (2,048 + 128) tokens fit in 184,909
    # N=256 (the lead's first pick) is no consistency case: the core itself says batch 256 at context 1536 needs
    # 81.1 GB per chip > 73.6 GB, so the frontier has no point there and the simulator must preempt
    [(_, r_tps, r_user, preempted)] = ratios("gpt-oss-120b", "h100-sxm", 1, (64,))
    assert preempted == 0
    assert abs(r_tps - 1) <= TOL and abs(r_user - 1) <= TOL

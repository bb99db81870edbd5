"""Steady-state TTFT (core/serving.steady_ttft_s): the chunk that carries a new request holds the prompts that
arrive in one decode cycle, not always a full max_num_batched_tokens chunk."""

import numpy as np
import pytest

from tokenomy.core.serving import steady_ttft_s
from tokenomy.frontier import sweep


def test_hand_computed():
    # one request's chunk 10 ms, a full chunk of r = 10 requests 100 ms
    assert steady_ttft_s(0.01, 0.1, 10, 0.3) == pytest.approx(0.01)     # fewer than 1 arrival: k = 1
    assert steady_ttft_s(0.01, 0.1, 10, 5.5) == pytest.approx(0.055)    # k = 5.5: (5.5 - 1) / 9 = 0.5 of the way
    assert steady_ttft_s(0.01, 0.1, 10, 50) == pytest.approx(0.1)       # capped at a full chunk
    assert steady_ttft_s(0.05, 0.05, 1, 3) == pytest.approx(0.05)       # a prompt that fills a chunk alone


def test_frontier_ttft_grows_with_load_and_matches_the_simulator_at_light_load():
    import tokenomy

    r = sweep("llama-3.1-8b", ["h100-sxm"], 1000, 200, tp=1, pp=1, ep=1, batches=[1, 16, 256])
    ttft = np.asarray(r.columns["ttft_s"])
    assert np.all(np.diff(ttft) >= 0)
    # light Poisson load (mean batch ~3): the simulator's mean TTFT is one request's prefill step (+ overhead)
    s = tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload="poisson:rate=2,isl=1000,osl=200", requests=600)
    assert s.summary["ttft_mean_s"] == pytest.approx(ttft[0], rel=0.05)

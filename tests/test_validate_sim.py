"""validate --serving through the request-level simulator (serving_sim.py) on rows copied into
tests/data/sim_validate/ (sources in its README). Loose pins: the path must be wired and in range."""

from pathlib import Path

import numpy as np
import pytest

from tokenomy.loaders.serving import read_serving
from tokenomy.serving_check import validate_serving
from tokenomy.serving_sim import closed_text, needs_sim, open_workload

DATA = Path(__file__).parent / "data/sim_validate"


@pytest.fixture(scope="module")
def blis():
    return validate_serving(DATA / "blis_rows.csv")


@pytest.fixture(scope="module")
def ix():
    return validate_serving(DATA / "inferencex_rows.csv")


def _median(res, metric):
    r = [c.predicted / c.measured for c in res.checks if c.metric == metric and c.predicted is not None]
    return float(np.median(r)), len(r)


def test_blis_rows_are_simulated_in_range(blis):
    assert all(c.predicted is not None for c in blis.checks), blis.skipped_rows()
    # the simulator replays each stage's Poisson load (light on these rows)
    for metric in ("ttft_s", "ttft_p90_s", "itl_s", "e2e_s", "e2e_p90_s"):
        med, n = _median(blis, metric)
        assert n == 8 and 0.5 <= med <= 2.0, (metric, med)


def test_steady_state_path_is_kept_when_asked(blis):
    off = validate_serving(DATA / "blis_rows.csv", simulate=False)
    # steady state: TTFT of the chunk carrying one decode cycle's arrivals (core/serving.steady_ttft_s); it was
    # ~8.7x when every request was charged a whole 8192-token chunk
    assert 0.5 <= _median(off, "ttft_s")[0] <= 2.0
    assert not any(c.metric == "ttft_p90_s" and c.predicted is not None for c in off.checks)


def test_inferencex_rows_are_simulated(ix):
    med, n = _median(ix, "ttft_s")
    assert n == 4 and 0.2 <= med <= 2.0
    for metric in ("tpot_s", "e2e_s"):
        med, n = _median(ix, metric)
        assert n == 4 and 0.7 <= med <= 1.4, (metric, med)


def test_workloads_follow_the_sources():
    _, rows = read_serving(DATA / "blis_rows.csv")
    r = rows[0]                                       # codegen, stage -1: 5 then 10 req/s
    assert needs_sim(r) and r.stage_rates == (5.0, 10.0) and r.max_batched_tokens == 2048
    wl, stage = open_workload(r)
    # 2000 requests split 5:10 -> 667 + 1333; arrivals sorted; input + output <= max_model_len 4096
    assert np.bincount(stage).tolist() == [667, 1333]
    assert np.all(np.diff(wl.arrival_s) >= 0) and int((wl.input_tokens + wl.output_tokens).max()) <= 4096
    _, xr = read_serving(DATA / "inferencex_rows.csv")
    # ISL 1024 read as mean round(0.9 * 1024) = 922; the workload draws uniform in [819, 1024]
    assert closed_text(xr[0]).endswith("isl=uniform:819:1024,osl=uniform:819:1024")

"""The engine term ``request_overhead_s``: per-request latency outside the engine steps (front end, tokenizer,
IPC, streaming), added to TTFT and E2E, not to TPOT/ITL, holding no GPU slot (spec/engine.py, sim/kernel.py,
core/serving.py), and its fit (calibrate/serving_fit.fit_overhead: median of measured - simulated TTFT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sim_fakes import Cost, work

import tokenomy
from tokenomy.calibrate import serving_fit as sf
from tokenomy.errors import SpecError
from tokenomy.loaders.engines import engine_from_dict, load_engine
from tokenomy.serving_check import Check
from tokenomy.sim.kernel import simulate_requests
from tokenomy.spec.engine import EngineProfile

ROOT = Path(__file__).resolve().parents[1]


def Linear() -> Cost:
    """step_s = 10 ms + 1 ms per decode sequence + 0.1 ms per prefill token (a hand-checkable step cost)."""
    return Cost(base=0.01, per_seq=0.001, per_new=1e-4)


def test_one_request_alone_adds_the_overhead_to_ttft_and_e2e_only():
    # isl 1000, osl 5: prefill step = 10 ms + 1000 x 0.1 ms = 0.110 s; 4 decode steps of 10 + 1 = 0.011 s each
    # overhead 0.080 s: TTFT = 0.110 + 0.080 = 0.190; E2E = 0.110 + 4 x 0.011 + 0.080 = 0.234; TPOT = 0.011
    r = simulate_requests(work([0.0], [1000], [5]), Linear(), request_overhead_s=0.08)
    row = r.requests.iloc[0]
    assert row.ttft_s == pytest.approx(0.190, rel=1e-12)
    assert row.e2e_s == pytest.approx(0.234, rel=1e-12)
    assert row.tpot_s == pytest.approx(0.011, rel=1e-12)
    # the engine's own times and every rate are unchanged: the overhead holds no slot
    assert (row.first_token_s, row.finish_s) == pytest.approx((0.110, 0.154), rel=1e-12)
    assert r.summary["simulated_s"] == pytest.approx(0.154, rel=1e-12)
    assert r.summary["ttft_p50_s"] == pytest.approx(0.190, rel=1e-12)
    assert r.summary["itl_mean_s"] == pytest.approx(0.011, rel=1e-12)
    zero = simulate_requests(work([0.0], [1000], [5]), Linear())
    assert zero.requests.ttft_s[0] == pytest.approx(0.110, rel=1e-12)
    same = [f"{n}_{k}_s" for n in ("tpot", "itl") for k in ("mean", "p50", "p90", "p99")]
    assert [zero.summary[k] for k in same] == [r.summary[k] for k in same]


def test_overhead_counts_against_a_ttft_slo():
    from tokenomy.spec.sim import Slo
    # TTFT 0.110 s meets ttft=0.15 alone, 0.190 s with 80 ms of overhead does not
    w = work([0.0], [1000], [5])
    assert simulate_requests(w, Linear(), slo=Slo(ttft_s=0.15)).summary["slo_attainment"] == 1.0
    assert simulate_requests(w, Linear(), slo=Slo(ttft_s=0.15), request_overhead_s=0.08).summary[
        "slo_attainment"] == 0.0


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), True, "0.1"])
def test_kernel_refuses_a_bad_overhead(bad):
    with pytest.raises(SpecError, match="request_overhead_s"):
        simulate_requests(work([0.0], [10], [2]), Linear(), request_overhead_s=bad)


def test_profile_field_validation():
    assert EngineProfile(name="x").request_overhead_s == 0.0
    assert EngineProfile(name="x", request_overhead_s=0.1).request_overhead_s == 0.1
    for bad in (-1e-3, True, float("nan"), 61.0):
        with pytest.raises(Exception, match="request_overhead_s"):
            EngineProfile(name="x", request_overhead_s=bad)
    with pytest.raises(Exception, match="request_overhead_s"):       # a catalog file goes through the loader
        engine_from_dict({"name": "x", "request_overhead_s": -1}, "x.yaml")


def test_simulate_and_steady_state_take_the_profile_term():
    base = load_engine("vllm")
    slow = base.model_copy(update={"request_overhead_s": 0.25})
    kw = {"workload": "poisson:rate=2,isl=500,osl=20", "requests": 20, "engine": None}
    a = tokenomy.simulate("llama-3.1-8b", "h100-sxm", **{**kw, "engine": base}).requests
    b = tokenomy.simulate("llama-3.1-8b", "h100-sxm", **{**kw, "engine": slow}).requests
    assert np.allclose(b.ttft_s - a.ttft_s, 0.25, rtol=0, atol=1e-12)
    assert np.allclose(b.e2e_s - a.e2e_s, 0.25, rtol=0, atol=1e-12)
    assert np.array_equal(a.tpot_s, b.tpot_s) and np.array_equal(a.finish_s, b.finish_s)
    # steady state (core/serving.serving_estimate, as frontier and validate call it): ttft + 0.25 s, all else equal
    from tokenomy.core.serving import serving_estimate
    dec = tokenomy.predict("llama-3.1-8b", "h100-sxm", phase="decode", batch=np.array([1, 8, 64]), context=510)
    est = [serving_estimate(dec, 0.01, 0.02, 500.0, isl=500, osl=20, usd_per_hour=2.0, request_overhead_s=o)
           for o in (0.0, 0.25)]
    assert np.allclose(est[1]["ttft_s"] - est[0]["ttft_s"], 0.25, rtol=0, atol=1e-12)
    assert all(np.array_equal(est[0][k], est[1][k]) for k in est[0] if k != "ttft_s")


def test_fit_is_the_clipped_median_of_ttft_residuals(monkeypatch):
    # residuals measured - simulated: 0.30-0.20 = 0.10, 0.25-0.20 = 0.05, 0.50-0.10 = 0.40 -> median 0.10
    pts = [(0.30, 0.20), (0.25, 0.20), (0.50, 0.10)]
    monkeypatch.setattr(sf, "fit_rows", lambda *a, **k: [])
    monkeypatch.setattr(sf, "check_rows", lambda rows, prof, simulate=False: [
        Check(i, "ttft_s", m, p, None, "inferencex", "h200-sxm") for i, (m, p) in enumerate(pts)])
    prof, why = sf.fit_overhead([], "sglang", EngineProfile(name="sglang"))
    assert prof.request_overhead_s == pytest.approx(0.10) and "median" in why
    # every simulated TTFT above the measured one: clipped at 0 (vLLM on the BLIS rows)
    pts[:] = [(0.02, 0.03), (0.05, 0.06), (0.04, 0.03)]
    assert sf.fit_overhead([], "vllm", EngineProfile(name="vllm"))[0].request_overhead_s == 0.0
    monkeypatch.setattr(sf, "check_rows", lambda rows, prof, simulate=False: [])
    prof, why = sf.fit_overhead([], "x", EngineProfile(name="x", request_overhead_s=0.3))
    assert prof.request_overhead_s == 0.0 and "no simulated row" in why


def test_shipped_overheads_are_fitted_and_say_on_what():
    sg, trt, v = (load_engine(e) for e in ("sglang", "trtllm", "vllm"))
    assert 0.05 < sg.request_overhead_s < 0.2 and 0.03 < trt.request_overhead_s < 0.15
    assert v.request_overhead_s == 0.0
    for p in (sg, trt, v):
        assert "request_overhead_s fitted on ttft_s of" in p.fitted_on
        assert any(a.startswith("request_overhead_s:") for a in p.assumptions)
    assert load_engine("dynamo").request_overhead_s == trt.request_overhead_s


def test_held_out_overhead_carries_from_h200_to_mi300x():
    # SGLang's overhead fitted on its H200 rows only, then MI300X's fit rows (8, ISL 1024 and 8192) simulated with
    # it and the shipped kernel terms: measured median predicted/measured TTFT 0.86 (0.40 at zero overhead)
    rows = sf.read_all(ROOT / "tests/data/serving")
    zero = load_engine("sglang").model_copy(update={"request_overhead_s": 0.0})
    h200, _ = sf.fit_overhead([r for r in rows if r.chip != "mi300x"], "sglang", zero)
    assert h200.request_overhead_s == pytest.approx(0.101, abs=0.01)
    mi = sf.fit_rows([r for r in rows if r.chip == "mi300x"], "sglang", zero, ("ttft_s",), simulated=True)
    checks = sf.check_rows(mi, h200, simulate=True)
    ratio = np.median([c.predicted / c.measured for c in checks if c.metric == "ttft_s" and c.predicted])
    assert ratio == pytest.approx(0.86, abs=0.08)


def test_named_engine_carries_its_overhead_and_the_alias_its_own():
    """The overhead comes from the profile that builds the steps: 'sglang' its fitted value, the 'serving' alias 0
    (not its vendor engine's: the default would otherwise add a vendor offset to every chip's TTFT)."""
    import tokenomy
    from tokenomy.loaders.engines import load_engine

    work = "poisson:rate=1,isl=200,osl=20"
    sg = load_engine("sglang").request_overhead_s
    assert sg > 0
    a = tokenomy.simulate("llama-3.1-8b", "mi300x", workload=work, requests=50, engine="sglang").requests
    b = tokenomy.simulate("llama-3.1-8b", "mi300x", workload=work, requests=50).requests
    assert (a["ttft_s"] - (a["first_token_s"] - a["arrival_s"])).to_numpy() == pytest.approx(sg)
    assert (b["ttft_s"] - (b["first_token_s"] - b["arrival_s"])).to_numpy() == pytest.approx(0.0, abs=1e-12)

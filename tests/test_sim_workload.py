"""Workloads of the simulator: distributions match their definitions, arrival processes their rate and cv,
traces load exactly, everything repeats for a seed, and every bad input is one SpecError line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy.errors import SpecError
from tokenomy.loaders.traces import load_trace
from tokenomy.sim.workload import parse_workload
from tokenomy.spec.args import MAX_TOKENS
from tokenomy.spec.sim import PrefixCache, Slo, parse_dist, parse_prefix_cache, parse_slo

DATA = Path(__file__).parent / "data" / "traces"
CONV300 = DATA / "azure_llm_2023_conv_head300.csv"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces"
N = 200_000


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(SpecError) as e:
        call(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg and msg.strip()
    return msg


# ---- distributions ----------------------------------------------------------------------------------------

def test_constant_and_uniform():
    assert set(parse_dist("250", "osl").sample(rng(), 100)) == {250}
    d = parse_dist("uniform:500:600", "isl")
    x = d.sample(rng(), N)
    assert x.dtype == np.int64 and x.min() == 500 and x.max() == 600     # both ends included
    # mean (500 + 600) / 2 = 550; sd of 101 equally likely values = sqrt((101^2 - 1) / 12) = 29.15
    assert d.mean_tokens == 550
    assert abs(x.mean() - 550) < 4 * 29.15 / np.sqrt(N)


def test_normal_and_lognormal_match_their_definitions():
    x = parse_dist("normal:1000:300", "isl").sample(rng(), N)
    assert abs(x.mean() - 1000) < 4 * 300 / np.sqrt(N) + 0.05
    assert abs(x.std() - 300) < 3
    d = parse_dist("lognormal:1000:0.8", "isl")
    x = d.sample(rng(1), N)
    # median 1000; mean = 1000 exp(0.8^2 / 2) = 1000 exp(0.32) = 1377.1; p90 = 1000 exp(0.8 x 1.2816) = 2787.5
    assert d.mean_tokens == pytest.approx(1377.13, rel=1e-4)
    assert np.median(x) == pytest.approx(1000, rel=0.01)
    assert np.percentile(x, 90) == pytest.approx(2787.5, rel=0.02)
    assert x.mean() == pytest.approx(1377.1, rel=0.01)


def test_clipping_keeps_samples_whole_and_in_range():
    d = parse_dist("normal:2:100", "isl")             # most of the mass below 1: clipped to 1
    x = d.sample(rng(), N)
    assert x.min() == 1 and x.dtype == np.int64
    assert x.mean() == pytest.approx(d.mean_tokens, rel=0.02)
    big = parse_dist(f"lognormal:{MAX_TOKENS}:20", "isl").sample(rng(), 1000)
    assert big.max() == MAX_TOKENS and big.min() >= 1


def test_zipf_pmf_by_hand():
    # zipf:2:3: P(k) ~ k^-2 on 1..3; H = 1 + 1/4 + 1/9 = 49/36 -> P = 36/49, 9/49, 4/49; mean = (1 + 1/2 + 1/3) / H
    # = (11/6)(36/49) = 66/49
    d = parse_dist("zipf:2:3", "osl")
    x = d.sample(rng(), N)
    assert set(np.unique(x)) == {1, 2, 3}
    for k, p in ((1, 36 / 49), (2, 9 / 49), (3, 4 / 49)):
        assert abs((x == k).mean() - p) < 4 * np.sqrt(p * (1 - p) / N)
    assert d.mean_tokens == pytest.approx(66 / 49, rel=1e-12)


@pytest.mark.parametrize("a", [0.5, 1.0, 1.3])
def test_zipf_mean_large_support(a):
    """Past 10^6 terms the normaliser uses Euler-Maclaurin: compare with the direct sum."""
    n = 3_000_000
    k = np.arange(1, n + 1, dtype=float)
    exact = np.sum(k ** (1 - a)) / np.sum(k**-a)
    d = parse_dist(f"zipf:{a}:{n}", "isl")
    assert d.mean_tokens == pytest.approx(exact, rel=1e-9)
    x = d.sample(rng(), N)
    assert x.min() >= 1 and x.max() <= n
    p1 = 1 / np.sum(k**-a)
    assert abs((x == 1).mean() - p1) < 4 * np.sqrt(p1 * (1 - p1) / N)


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "1.5", "nan", "inf", "uniform:600:500", "uniform:5",
                                  "uniform:1:2:3", "gauss:1:2", "normal:100:-1", "normal:nan:1", "lognormal:0:1",
                                  "lognormal:100:25", "zipf:0:100", "zipf:1.2:0", "zipf:1:1e12", "trace:x.csv",
                                  "uniform:a:b", f"{MAX_TOKENS + 1}"])
def test_bad_dist_is_one_line(text):
    msg = one_line_error(parse_dist, text, "isl")
    assert repr(text) in msg and "DIST is" in msg


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="unifomrlgzpace:0123456789.-e+ ", max_size=24))
def test_parse_dist_never_crashes(text):
    try:
        d = parse_dist(text, "isl")
    except SpecError as e:
        assert "\n" not in str(e)
        return
    x = d.sample(rng(), 64)
    assert x.dtype == np.int64 and x.min() >= 1 and x.max() <= MAX_TOKENS
    assert 1 <= d.mean_tokens <= MAX_TOKENS


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**6), st.integers(0, 10**6))
def test_uniform_round_trips(a, width):
    d = parse_dist(f"uniform:{a}:{a + width}", "isl")
    assert parse_dist(d.text(), "isl") == d
    x = d.sample(rng(), 50)
    assert x.min() >= a and x.max() <= a + width


# ---- prefix cache and SLO ---------------------------------------------------------------------------------

def test_prefix_cache_and_slo():
    assert parse_prefix_cache(None) == PrefixCache() == parse_prefix_cache("off")
    assert parse_prefix_cache("hit=0.25") == PrefixCache(hit_frac=0.25)
    assert parse_prefix_cache("shared-prefix=1024") == PrefixCache(shared_prefix_tokens=1024)
    assert parse_slo(None) is None
    assert parse_slo("ttft=1,tpot=50ms") == Slo(ttft_s=1.0, tpot_s=0.05)
    assert parse_slo("tpot=0.04") == Slo(tpot_s=0.04)
    for bad in ("hit=1.5", "hit=-0.1", "hit=nan", "hit=0.1,shared-prefix=5", "miss=0.1", "hit=0.1,hit=0.2",
                "shared-prefix=1.5", ""):
        assert repr(bad) in one_line_error(parse_prefix_cache, bad)
    for bad in ("ttft=0", "ttft=-1", "ttft=inf", "ttft=1,ttft=2", "e2e=3", "ttft", "tpot=abc"):
        assert "--slo" in one_line_error(parse_slo, bad)


# ---- arrival processes ------------------------------------------------------------------------------------

def test_poisson_rate_and_cv():
    w = parse_workload("poisson:rate=5,isl=100,osl=uniform:10:20", requests=50_000, seed=3)
    gaps = np.diff(w.arrival_s)
    # exponential gaps: mean 1/5 = 0.2 s, sd 0.2 s -> standard error of the mean 0.2 / sqrt(5e4) = 9e-4
    assert abs(gaps.mean() - 0.2) < 4 * 0.2 / np.sqrt(len(gaps))
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)
    assert w.kind == "open" and w.concurrency is None and len(w) == 50_000
    assert np.all(np.diff(w.arrival_s) >= 0) and w.arrival_s[0] > 0
    assert set(w.input_tokens) == {100} and w.output_tokens.min() >= 10


@pytest.mark.parametrize("cv", [0.5, 1.0, 2.0])
def test_gamma_mean_and_cv(cv):
    w = parse_workload(f"gamma:rate=10,cv={cv},isl=100,osl=100", requests=100_000, seed=1)
    gaps = np.diff(w.arrival_s)
    assert gaps.mean() == pytest.approx(0.1, rel=4 * cv / np.sqrt(len(gaps)))
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.05)


def test_duration_bounds_open_arrivals_and_keeps_their_prefix():
    w = parse_workload("poisson:rate=20,isl=100,osl=100", duration_s=500.0, seed=7)
    assert w.arrival_s.max() < 500 and abs(len(w) - 10_000) < 4 * np.sqrt(10_000)
    first = parse_workload("poisson:rate=20,isl=100,osl=100", requests=100, seed=7)
    np.testing.assert_array_equal(first.arrival_s, w.arrival_s[:100])   # one stream, whatever the bound
    assert "in 500 s" in w.description


def test_closed_loop_fields():
    w = parse_workload("closed:conc=16,isl=uniform:100:200,osl=300", seed=0)
    assert (w.kind, w.concurrency, len(w)) == ("closed", 16, 1000)
    assert not w.arrival_s.any() and w.arrival_s.dtype == np.float64
    assert w.description == "closed conc=16, isl uniform:100:200, osl 300; 1000 requests"
    # duration 10 s, osl 100, 1000 tok/s per client at most: ceil(10 x 1000 / 100) + 1 = 101 per client, x 2
    d = parse_workload("closed:conc=2,isl=10,osl=100", duration_s=10.0)
    assert len(d) == 202
    assert len(parse_workload("closed:conc=2,isl=10,osl=100", duration_s=10.0, client_tokens_per_s=50)) == 2 * 6


def test_same_seed_same_workload():
    text = "gamma:rate=3,cv=2,isl=lognormal:800:1,osl=zipf:1.1:4000"
    a, b = (parse_workload(text, requests=500, seed=11) for _ in range(2))
    c = parse_workload(text, requests=500, seed=12)
    for f in ("arrival_s", "input_tokens", "output_tokens"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        assert not np.array_equal(getattr(a, f), getattr(c, f))


# ---- traces -----------------------------------------------------------------------------------------------

def test_azure_trace_loads_exactly():
    tr = load_trace(CONV300)
    assert (len(tr), tr.fmt) == (300, "azure")
    # 18:15:50.9951690 - 18:15:46.6805900 = 4.3145790 s; last row 18:17:10.7096920 -> 84.0291020 s
    assert tr.arrival_s[:2] == pytest.approx([0.0, 4.314579], abs=1e-9)
    assert tr.arrival_s[-1] == pytest.approx(84.029102, abs=1e-9)
    assert (tr.input_tokens[0], tr.output_tokens[0], tr.input_tokens[-1], tr.output_tokens[-1]) == (374, 44, 212, 183)


def test_trace_workload_speedup_and_bounds():
    w1 = parse_workload(f"trace:{CONV300}")
    w2 = parse_workload(f"trace:{CONV300.name},speedup=2", base_dir=DATA)
    assert len(w1) == len(w2) == 300
    np.testing.assert_allclose(w2.arrival_s, w1.arrival_s / 2)
    np.testing.assert_array_equal(w2.input_tokens, w1.input_tokens)
    assert len(parse_workload(f"trace:{CONV300}", requests=10)) == 10
    short = parse_workload(f"trace:{CONV300},speedup=2", duration_s=2.2)   # arrivals 0 and 4.31 / 2 = 2.157 s
    assert len(short) == 2 and short.description.startswith("trace azure_llm_2023_conv_head300.csv (azure, speedup 2)")


def test_seconds_format_sorted_and_trace_dist_keeps_pairs(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("arrival_s,input_tokens,output_tokens,note\n2.5,10,20,x\n\n0.5,30,40,y\n1.0,50,60,z\n")
    tr = load_trace(f)
    assert tr.fmt == "seconds" and list(tr.arrival_s) == [0.5, 1.0, 2.5] and list(tr.input_tokens) == [30, 50, 10]
    w = parse_workload(f"poisson:rate=2,isl=trace:{f.name},osl=trace:{f.name}", requests=2000, base_dir=tmp_path)
    assert set(zip(w.input_tokens.tolist(), w.output_tokens.tolist(), strict=True)) == {(30, 40), (50, 60), (10, 20)}
    alone = parse_workload(f"poisson:rate=2,isl=trace:{f},osl=7", requests=100)
    assert set(alone.input_tokens) <= {10, 30, 50} and set(alone.output_tokens) == {7}
    assert "no request arrives before duration_s=0.4" in one_line_error(parse_workload, f"trace:{f}", duration_s=0.4)


@pytest.mark.parametrize("content, words", [
    ("", "empty"),
    ("arrival_s,input_tokens,output_tokens\n", "no data rows"),
    ("a,b,c\n1,2,3\n", "not a trace"),
    ("arrival_s,input_tokens,output_tokens\n0,10,20\n1,0,5\n", "line 3, column 'input_tokens'"),
    ("arrival_s,input_tokens,output_tokens\n0,10,-2\n", "column 'output_tokens'"),
    ("arrival_s,input_tokens,output_tokens\n0,10.5,2\n", "whole number"),
    ("arrival_s,input_tokens,output_tokens\nnan,10,2\n", "column 'arrival_s'"),
    ("arrival_s,input_tokens,output_tokens\n-1,10,2\n", "column 'arrival_s'"),
    ("arrival_s,input_tokens,output_tokens\n0,10\n", "column 'output_tokens'"),
    ("arrival_s,input_tokens,output_tokens\n0,10,2,9\n", "more fields"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,1,2\nyesterday,3,4\n", "line 3"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1,abc\n", "column 'GeneratedTokens'"),
])
def test_bad_trace_is_one_line(tmp_path, content, words):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    msg = one_line_error(load_trace, f)
    assert words in msg and str(f) in msg
    assert str(f) in one_line_error(parse_workload, f"trace:{f}")


def test_binary_and_missing_trace(tmp_path):
    f = tmp_path / "bin.csv"
    f.write_bytes(b"\xff\xfe\x00")
    assert "UTF-8" in one_line_error(load_trace, f)
    assert "not found" in one_line_error(parse_workload, "trace:nope.csv", base_dir=tmp_path)


@pytest.mark.parametrize("text, kwargs, words", [
    ("", {}, "must be text"),
    ("uniform:rate=1,isl=1,osl=1", {}, "unknown kind"),
    ("poisson:rate=-1,isl=100,osl=100", {}, "rate must be"),
    ("poisson:rate=0,isl=100,osl=100", {}, "rate must be"),
    ("poisson:rate=nan,isl=100,osl=100", {}, "rate must be"),
    ("poisson:rate=inf,isl=100,osl=100", {}, "rate must be"),
    ("poisson:rate=1,isl=100", {}, "needs osl"),
    ("poisson:rate=1,isl=100,osl=1,osl=2", {}, "given twice"),
    ("poisson:rate=1,isl=100,osl=1,burst=2", {}, "burst=2"),
    ("poisson:rate=1,isl=gauss:1:2,osl=1", {}, "unknown distribution 'gauss'"),
    ("gamma:rate=1,isl=100,osl=100", {}, "needs cv"),
    ("gamma:rate=1,cv=0,isl=100,osl=100", {}, "cv must be"),
    ("closed:conc=0,isl=100,osl=100", {}, "conc must be"),
    ("closed:conc=2.5,isl=100,osl=100", {}, "conc must be"),
    ("poisson:rate=1,isl=100,osl=100", {"requests": 5, "duration_s": 1.0}, "not both"),
    ("poisson:rate=1,isl=100,osl=100", {"requests": 0}, "requests"),
    ("poisson:rate=1,isl=100,osl=100", {"requests": 2.0}, "requests"),
    ("poisson:rate=1,isl=100,osl=100", {"duration_s": -1.0}, "duration_s"),
    ("poisson:rate=1,isl=100,osl=100", {"seed": -1}, "seed"),
    ("poisson:rate=1e6,isl=100,osl=100", {"duration_s": 1e6}, "more than"),
    ("poisson:rate=2,isl=100,osl=10", {"duration_s": 1e-9}, "no request arrives before --duration 1e-09 s"),
    ("gamma:rate=2,cv=3,isl=100,osl=10", {"duration_s": 1e-9}, "lengthen it or raise the rate"),
    ("closed:conc=1000,isl=100,osl=1", {"duration_s": 1e6}, "more than"),
    (f"trace:{CONV300},speedup=0", {}, "speedup must be"),
    (f"trace:{CONV300},rate=2", {}, "rate=2"),
    (f"trace:{CONV300}", {"requests": 301}, "only 300"),
    ("trace:", {}, "needs a file"),
])
def test_bad_workload_is_one_line(text, kwargs, words):
    assert words in one_line_error(parse_workload, text, **kwargs)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data/traces not present")
def test_full_azure_traces_load():
    conv = load_trace(SHARED / "azure_llm_2023_conv.csv")
    code = load_trace(SHARED / "azure_llm_2023_code.csv")
    assert (len(conv), len(code)) == (19_366, 8_819)
    assert conv.arrival_s[0] == 0 and np.all(np.diff(conv.arrival_s) >= 0)
    w = parse_workload(f"trace:{SHARED / 'azure_llm_2023_conv.csv'}")
    assert len(w) == 19_366 and w.input_tokens.sum() == conv.input_tokens.sum()

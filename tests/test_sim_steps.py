"""sim/steps.py: the simulator's one adapter to the core (StepModel, build_step_model, step_model_error)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenomy import api
from tokenomy.core.predict import decode_cycle_s, predict_core
from tokenomy.economics import effective_usd_per_chip_hour
from tokenomy.errors import CatalogError, NothingFitsError, SpecError, UnsupportedError
from tokenomy.sim import stepeval
from tokenomy.sim.steps import HOST_LINK_BYTES_PER_S, StepModel, build_step_model, step_model_error
from tokenomy.sim.steptable import PyOps

LLAMA = build_step_model("llama-3.1-8b", "h100-sxm")
PIPE = build_step_model("llama-3.1-70b", "h100-sxm", tp=4, pp=2)


def pairs(chunk: float, cached: float = 0.0) -> float:
    """Causal (query, key) pairs of a chunk after ``cached`` tokens (the contract's formula)."""
    return chunk * (cached + (chunk + 1) / 2)


def test_pure_decode_is_the_core_cycle():
    b = np.array([1, 8, 64, 256])
    c = np.array([100, 2047, 1000, 4000])
    pred = api.predict("llama-3.1-8b", "h100-sxm", batch=b, context=c)
    got = LLAMA.step_s(b, b * c, 0, 0)
    np.testing.assert_allclose(got, 1.0 / pred.tokens_per_s_per_user, rtol=1e-9)
    np.testing.assert_allclose(LLAMA.power_w(b, b * c, 0, 0), pred.power_w, rtol=1e-9)
    assert LLAMA.step_s(64, 64 * 1000, 0, 0) == pytest.approx(float(got[2]), rel=1e-12)   # scalar path


def test_prefill_chunk_is_the_core_prefill():
    # one chunk of 2048 tokens (16 blocks of 128): blocks = P / 128^2 + 2048 / 256 = 128.06 + 8 = 136.06
    # against the core's 16 * 17 / 2 = 136, and the critical path is exactly 16 key tiles
    pred = api.predict("llama-3.1-8b", "h100-sxm", phase="prefill", batch=1, seq=2048)
    assert LLAMA.step_s(0, 0, 2048, pairs(2048)) == pytest.approx(float(pred.latency_s), rel=1e-3)
    two = api.predict("llama-3.1-8b", "h100-sxm", phase="prefill", batch=2, seq=1000)
    assert LLAMA.step_s(0, 0, 2000, 2 * pairs(1000), prefill_seqs=2) == pytest.approx(float(two.latency_s), rel=0.02)


@pytest.mark.parametrize("model,hardware", [("llama-3.1-8b", "h100-sxm"), ("llama-3.1-8b", "mi300x"),
                                            ("gpt-oss-120b", "h100-sxm"), ("gpt-oss-120b", "mi300x")])
def test_error_against_direct_core_calls(model, hardware):
    sm = build_step_model(model, hardware)
    err = step_model_error(sm, model, hardware, n=200, seed=1)
    assert err["decode_median"] < 0.01 and err["decode_max"] < 0.05, err
    assert err["prefill_median"] < 0.01 and err["prefill_max"] < 0.05, err


def test_kv_capacity_by_hand():
    # llama-3.1-8b bf16 on one H100: KV per token 2 (K, V) * 32 layers * 8 kv heads * 128 * 2 B = 131072 B.
    # Memory 80e9 B - reserve 0.08 * 80e9 = 73.6e9; weights 16,059,990,016 B; activations of the
    # 8192-token profiling step: 8192 * 61440 elements * 2 B + 1024 seqs * 128256 vocab * 4 B (fp32 logits)
    # = 1,006,632,960 + 525,336,576 = 1,531,969,536 B. Free 56,008,040,448 B / 131072 = 427,307 tokens.
    assert LLAMA.kv_bytes_per_token == 131072
    assert LLAMA.kv_capacity_tokens == 427_307
    assert (LLAMA.max_num_seqs, LLAMA.max_num_batched_tokens, LLAMA.chips) == (1024, 8192, 1)
    assert LLAMA.swap_bytes_per_s == HOST_LINK_BYTES_PER_S
    assert LLAMA.idle_power_w == pytest.approx(71.778)           # the catalog's measured idle board power
    assert LLAMA.usd_per_hour == pytest.approx(effective_usd_per_chip_hour("h100-sxm"))
    assert LLAMA.tokens_per_step == 1.0


def test_fp8_kv_halves_the_bytes_and_doubles_the_tokens():
    f8 = build_step_model("llama-3.1-8b", "h100-sxm", precision="w=bf16,a=bf16,kv=fp8")
    assert f8.kv_bytes_per_token == 65536                        # 131072 / 2: one byte per element
    assert f8.kv_capacity_tokens == 854_614                      # 56,008,040,448 B / 65536
    assert "KV fp8" in f8.description


def test_replica_figures_scale_with_chips():
    sm = build_step_model("llama-3.1-70b", "h100-sxm", tp=4, pp=2)
    assert sm.chips == 8
    # KV of one token on the replica: 2 * 80 layers * 8 kv heads * 128 * 2 B = 327,680 B (each chip holds
    # 2 of the 8 kv heads of 40 layers: 40,960 B; 8 chips)
    assert sm.kv_bytes_per_token == 327_680
    assert sm.swap_bytes_per_s == 8 * HOST_LINK_BYTES_PER_S
    assert sm.usd_per_hour == pytest.approx(8 * effective_usd_per_chip_hour("h100-sxm"))


def test_pipeline_cycle_rule():
    sm = PIPE
    pred = api.predict("llama-3.1-70b", "h100-sxm", batch=16, context=1000, tp=4, pp=2)
    # 32 running sequences = 2 micro-batches of 16: cycle = max(latency, 2 * stage)
    cycle = float(decode_cycle_s(pred.latency_s, pred.stage_s, 2))
    assert sm.step_s(32, 32 * 1000, 0, 0) == pytest.approx(cycle, rel=1e-9)
    # one sequence alone: one micro-batch, the step is its latency through both stages
    m, h, e, p = api.resolve("llama-3.1-70b", "h100-sxm")
    one = predict_core(m, h, e, p, phase="decode", batch=1, length=1000, tp=4, pp=2, micro_batches=1)
    assert sm.step_s(1, 1000, 0, 0) == pytest.approx(float(one.latency_s), rel=1e-9)
    assert float(one.latency_s) > float(one.stage_s)
    # a prefill chunk is not split across micro-batches: decode sequences joining it never speed it up
    chunk = sm.step_s(0, 0, 7393, pairs(7393, 17532))
    assert sm.step_s(378, 378 * 2297, 7393, pairs(7393, 17532)) > chunk


def test_speculative_tokens_per_step_and_cycle():
    sm = build_step_model("llama-3.1-8b", "h100-sxm", spec="eagle")
    # eagle defaults K = 3, a = 0.78: 1 + 0.78 + 0.78^2 + 0.78^3 = 1 + 0.78 + 0.6084 + 0.474552 = 2.862952
    assert sm.tokens_per_step == pytest.approx(2.862952)
    pred = api.predict("llama-3.1-8b", "h100-sxm", batch=32, context=2000, spec="eagle")
    assert sm.step_s(32, 32 * 2000, 0, 0) == pytest.approx(pred.tokens_per_step / float(pred.tokens_per_s_per_user),
                                                           rel=1e-9)
    assert sm.step_s(32, 32 * 2000, 0, 0) > LLAMA.step_s(32, 32 * 2000, 0, 0)   # verify + draft cost more
    assert sm.kv_bytes_per_token > LLAMA.kv_bytes_per_token                       # + the draft layer's KV


def test_attention_data_parallel_busiest_group():
    args = dict(tp=8, ep=8, dp_attention=4)
    sm = build_step_model("qwen3-235b-a22b", "h200-sxm", **args)
    b = np.array([1, 5, 64, 301])
    pred = api.predict("qwen3-235b-a22b", "h200-sxm", batch=b, context=3000, **args)
    np.testing.assert_allclose(sm.step_s(b, b * 3000, 0, 0), 1.0 / pred.tokens_per_s_per_user, rtol=1e-9)


def test_scalar_and_broadcast_paths_agree():
    rng = np.random.default_rng(0)
    S = rng.integers(0, 300, 50).astype(float)
    K = S * rng.integers(0, 5000, 50)
    Tp = rng.integers(0, 4000, 50).astype(float) * (rng.random(50) < 0.5)
    P = np.array([pairs(t, c) for t, c in zip(Tp, rng.integers(0, 3000, 50), strict=True)])
    vec = LLAMA.step_s(S, K, Tp, P)
    assert isinstance(vec, np.ndarray) and vec.shape == (50,)
    one = [LLAMA.step_s(int(s), float(k), float(t), float(p)) for s, k, t, p in zip(S, K, Tp, P, strict=True)]
    assert all(isinstance(x, float) for x in one)
    np.testing.assert_allclose(vec, one, rtol=1e-12)
    np.testing.assert_allclose(LLAMA.power_w(S, K, Tp, P),
                               [LLAMA.power_w(s, k, t, p) for s, k, t, p in zip(S, K, Tp, P, strict=True)], rtol=1e-12)


def test_empty_step_and_mixed_step():
    assert LLAMA.step_s(0, 0, 0, 0) == 0.0
    assert LLAMA.power_w(0, 0, 0, 0) == LLAMA.idle_power_w
    dec, pre = LLAMA.step_s(64, 64 * 1000, 0, 0), LLAMA.step_s(0, 0, 512, pairs(512, 1000))
    mixed = LLAMA.step_s(64, 64 * 1000, 512, pairs(512, 1000))
    assert max(dec, pre) < mixed < dec + pre       # weights read once for both
    assert LLAMA.idle_power_w < LLAMA.power_w(64, 64 * 1000, 512, pairs(512, 1000)) <= 700.0


@pytest.mark.parametrize("sm", [LLAMA, PIPE], ids=["llama-8b", "llama-70b-pp2"])
@settings(max_examples=60, deadline=None)
@given(S=st.integers(0, 1000), ctx=st.integers(0, 20000), chunk=st.integers(0, 8192), cached=st.integers(0, 20000),
       which=st.sampled_from(["seq", "kv", "chunk", "cached"]), more=st.integers(1, 500))
def test_more_work_never_faster(sm, S, ctx, chunk, cached, which, more):
    base = (S, S * ctx, chunk, pairs(chunk, cached))
    S2, ctx2, chunk2, cached2 = S, ctx, chunk, cached
    if which == "seq":
        S2 += more
    elif which == "kv":
        ctx2 += more
    elif which == "chunk":
        chunk2 += more
    else:
        cached2 += more
    bigger = (S2, S2 * ctx2, chunk2, pairs(chunk2, cached2))
    assert sm.step_s(*bigger) >= sm.step_s(*base) * (1 - 1e-12)


@pytest.mark.parametrize("bad", [(-1, 0, 0, 0), (1, -5, 0, 0), (0, 0, -1, 0), (1, 10, 5, math.nan)])
def test_negative_or_nan_sizes_raise(bad):
    with pytest.raises(SpecError):
        LLAMA.step_s(*bad)
    with pytest.raises(SpecError):
        LLAMA.step_s(*(np.array([v, 1.0]) for v in bad))


def test_bad_deployments_raise_the_projects_errors():
    with pytest.raises(SpecError):
        build_step_model("llama-3.1-8b", "h100-sxm", tp=0)
    with pytest.raises(SpecError):
        build_step_model("llama-3.1-8b", "h100-sxm", tp=2, dp_attention=3)
    with pytest.raises(CatalogError):
        build_step_model("no-such-model", "h100-sxm")
    with pytest.raises(UnsupportedError):
        build_step_model("llama-3.1-8b", "h100-sxm", engine="torch-eager-bmm")
    # 810 GB of bf16 weights on one 80 GB chip: the message says they exceed what the chip has, not "room for 0"
    with pytest.raises(NothingFitsError, match=r"weights 8\d\d\.\d GB \+ activations \d+\.\d GB \(8192-token step\) per chip exceed the "
                       r"\d+\.\d GB available after the reserve"):
        build_step_model("llama-3.1-405b", "h100-sxm")
    with pytest.raises(SpecError):
        build_step_model("llama-3.1-8b", "h100-sxm", max_context=10**7)   # beyond max_position_embeddings


def test_max_context_must_fit():
    # llama-3.1-70b bf16 on 2 H100s: ~70 GB of weights per chip leaves far less than one 128k-token sequence
    with pytest.raises(NothingFitsError) as e:
        build_step_model("llama-3.1-70b", "h100-sxm", tp=2, max_context=131072)
    assert "h100-sxm" in e.value.reasons and "KV tokens, 131072 needed" in str(e.value)
    assert isinstance(build_step_model("llama-3.1-8b", "h100-sxm", max_context=8192), StepModel)


@pytest.mark.parametrize("model,hardware,kw", [
    ("llama-3.1-8b", "h100-sxm", {}), ("llama-3.1-70b", "h100-sxm", {"tp": 4, "pp": 2}),
    ("gpt-oss-120b", "h100-sxm", {}), ("llama-3.1-8b", "h100-sxm", {"engine": "trtllm"}),
    ("deepseek-v3", "h200-sxm", {"tp": 8, "ep": 8, "dp_attention": 8, "spec": "mtp"}),
    ("llama-3.1-8b", "sambanova-sn40l", {"tp": 8})])
def test_decode_run_is_the_step_by_step_evaluation_bit_for_bit(model, hardware, kw):
    # the scheduler's decode runs use decode_run, scalar steps a written-out loop (stepeval.finish_run); both must
    # give the generic evaluation's numbers (stepeval.evaluate, one operation after the other) exactly
    sm = build_step_model(model, hardware, **kw)

    def ref(S, K, Tp=0.0, P=0.0, ps=0.0):
        return stepeval.evaluate(sm._c, float(S), float(K), float(Tp), float(P), ps, PyOps)

    for n, kv0, steps_ in [(1, 700.0, 3), (37, 37 * 2100.0, 12), (200, 200 * 900.0, 40), (9, 900.0, 100), (5, 0.0, 1)]:
        t, w = sm.decode_run(n, kv0, n * sm.tokens_per_step, steps_)
        want = [ref(n, kv0 + n * sm.tokens_per_step * i) for i in range(steps_)]
        assert t == [a for a, _ in want]
        np.testing.assert_array_equal(w, [b for _, b in want])    # NaN == NaN where a chip has no power figure
    for S, K, Tp, cached, ps in [(0, 0, 512, 0, 1), (12, 12 * 3000, 300, 1000, 1), (64, 64 * 500, 2000, 0, 3)]:
        P = pairs(Tp, cached) if ps == 1 else ps * pairs(Tp / ps)
        np.testing.assert_array_equal(sm.step_and_power(S, K, Tp, P, prefill_seqs=ps), ref(S, K, Tp, P, float(ps)))


def test_sliding_window_kv_capacity_is_the_core_memory_model():
    # gpt-oss-120b (mxfp4 weights, bf16 KV) on one H100: 36 layers, 18 full attention and 18 with a 128-token
    # window, 8 KV heads x 64 dims. Full layers per cached token: 18 * 8 * 64 * 2 (K, V) * 2 B = 36,864 B; the
    # windowed layers hold at most 128 tokens * 36,864 B per sequence = 128 tokens-equivalent (core/memory.py:
    # KV = N * (C * kv_full + min(C, window) * kv_window)). Memory 80e9 B - reserve 0.08 = 73.6e9 B; weights
    # 65,168,179,200 B; activations of the 8192-token profiling step 8192 * 48,320 elements * 2 B + 1024 seqs *
    # 201,088 vocab * 4 B = 791,674,880 + 823,656,448 = 1,615,331,328 B. Free 6,816,489,472 B / 36,864 =
    # 184,909 tokens (counting the windowed layers per token, as before, gave half: 92,454).
    sm = build_step_model("gpt-oss-120b", "h100-sxm")
    assert sm.kv_bytes_per_token == 36_864
    assert sm.kv_tokens_per_seq == 128.0
    assert sm.kv_capacity_tokens == 184_909
    assert LLAMA.kv_tokens_per_seq == 0.0                      # no sliding-window layers: no charge


def test_sliding_window_closed_loop_matches_the_steady_state():
    # closed loop at concurrency 64, isl = osl = 1024 on gpt-oss-120b / H100: 64 * (2048 + 128) = 139,264
    # tokens-equivalent at most, within 184,909, so no preemption, and the throughput and per-user speed are
    # the frontier's steady state (core/serving.serving_estimate at batch 64, context isl + osl / 2) within 5%
    from types import SimpleNamespace

    from tokenomy.core.serving import chunked_prefill, serving_estimate
    from tokenomy.sim.kernel import simulate_requests
    from tokenomy.sim.scheduler import policy_for

    n, isl, osl = 64, 1024, 1024
    sm = build_step_model("gpt-oss-120b", "h100-sxm")
    m, h, e, p = api.resolve("gpt-oss-120b", "h100-sxm")
    wl = SimpleNamespace(kind="closed", arrival_s=np.zeros(8 * n), input_tokens=np.full(8 * n, isl),
                         output_tokens=np.full(8 * n, osl), concurrency=n, description="closed")
    s = simulate_requests(wl, sm, policy=policy_for(e, sm)).summary
    dec = api.predict("gpt-oss-120b", "h100-sxm", phase="decode", batch=n, context=isl + osl // 2)
    pc = chunked_prefill(m, h, e.for_vendor(h.vendor), p, isl)
    est = serving_estimate(dec, pc.stage_s, pc.latency_s, pc.power_w, isl=isl, osl=osl, usd_per_hour=1.0)
    assert s["preemptions"] == 0
    assert s["fleet_tokens_per_s"] == pytest.approx(float(est["tokens_per_s"]), rel=0.05)
    assert 1 / s["tpot_mean_s"] == pytest.approx(float(est["tokens_per_s_per_user"]), rel=0.05)

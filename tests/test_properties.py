"""Physical invariants of the core, as hypothesis property tests."""

import numpy as np
from hypothesis import given, settings, strategies as st

import tokenomy
from tokenomy.core.gemm import gemm_time
from tokenomy.core.graph import build_recipe
from tokenomy.core.params import param_counts
from tokenomy.core.precision import parse_precision

H100 = tokenomy.load_hardware("h100-sxm")
EAGER = tokenomy.load_engine("torch-eager")
SERVING = tokenomy.load_engine("serving")
MODELS = ["llama-3.1-8b", "mistral-7b", "qwen3-32b", "mixtral-8x7b", "gpt-oss-20b"]
SET = settings(max_examples=40, deadline=None)


def _scaled(hw, bw=1.0, flops=1.0):
    return hw.model_copy(update=dict(hbm_bytes_per_s=hw.hbm_bytes_per_s * bw,
                                     peak_flop_per_s={k: v * flops for k, v in hw.peak_flop_per_s.items()}))


@SET
@given(model=st.sampled_from(MODELS), phase=st.sampled_from(["prefill", "decode"]),
       batch=st.integers(1, 256), n=st.integers(1, 8192), bw=st.floats(1.0, 4.0), fl=st.floats(1.0, 4.0),
       engine=st.sampled_from([EAGER, SERVING]))
def test_more_bandwidth_or_flops_never_slower(model, phase, batch, n, bw, fl, engine):
    kw = dict(phase=phase, batch=batch, engine=engine, **({"seq": n} if phase == "prefill" else {"context": n}))
    base = tokenomy.predict(model, H100, **kw)
    fast = tokenomy.predict(model, _scaled(H100, bw, fl), **kw)
    assert float(fast.latency_s) <= float(base.latency_s) * (1 + 1e-9)


@SET
@given(model=st.sampled_from(MODELS), context=st.integers(0, 8192), engine=st.sampled_from([EAGER, SERVING]))
def test_larger_batch_never_lowers_decode_throughput_while_it_fits(model, context, engine):
    b = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    p = tokenomy.predict(model, H100, phase="decode", batch=b, context=context, engine=engine)
    tps = p.tokens_per_s[p.fits]
    assert np.all(np.diff(tps) >= -1e-9 * tps[:-1])


@SET
@given(m=st.integers(1, 20000), n=st.integers(1, 60000), k=st.integers(1, 30000), bw=st.floats(1.0, 3.0))
def test_more_bandwidth_never_slows_a_gemm(m, n, k, bw):
    g = gemm_time(m, n, k, peak_flop_per_s=989e12, hbm_bytes_per_s=3.35e12, compute_units=132, params=EAGER.gemm)
    g2 = gemm_time(m, n, k, peak_flop_per_s=989e12, hbm_bytes_per_s=3.35e12 * bw, compute_units=132, params=EAGER.gemm)
    assert float(g2.latency_s) <= float(g.latency_s)


def test_gemm_peak_row_never_fitted_is_predicted(micro_rows):
    """The 8192^3 ``gemm_peak`` row is not among the ``gemm`` rows the profile is fitted on: held out."""
    r = next(r for r in micro_rows if r["kind"] == "gemm_peak")
    g = gemm_time(r["m"], r["n"], r["k"], peak_flop_per_s=H100.peak("bf16"), hbm_bytes_per_s=H100.hbm_bytes_per_s,
                  compute_units=132, params=EAGER.gemm)
    assert abs(float(g.latency_s) / r["s"] - 1) < 0.15     # +12.6% today


@SET
@given(model=st.sampled_from(MODELS), tp=st.sampled_from([1, 2, 4, 8]))
def test_tp1_has_no_comm_and_weights_split(model, tp):
    m = tokenomy.load_model(model)
    p1 = tokenomy.predict(m, H100, phase="decode", batch=4, context=128)
    assert float(p1.comm_s) == 0.0
    if m.n_heads % tp == 0 and (m.n_kv_heads % tp == 0 or tp % m.n_kv_heads == 0):
        pt = tokenomy.predict(m, H100, phase="decode", batch=4, context=128, tp=tp)
        assert pt.weight_bytes < p1.weight_bytes / tp * 1.3
        assert (float(pt.comm_s) > 0) == (tp > 1)


def test_stored_weights_match_parameter_count():
    for name in ["llama-3.1-8b", "llama-3.1-70b", "mistral-7b", "qwen3-32b", "qwen2.5-7b", "mixtral-8x7b",
                 "qwen3-30b-a3b", "gpt-oss-120b", "deepseek-v3"]:
        m = tokenomy.load_model(name)
        r = build_recipe(m, SERVING, parse_precision("bf16"), phase="prefill")
        total = param_counts(m).total
        # GEMM weights + embeddings; norms, biases and sinks are the (tiny) rest
        assert abs(r.weight_bytes / 2 / total - 1) < 0.01, name


def test_decode_context_cost_matches_measured_steps(e2e_rows):
    """Cost of 16k more cached tokens per decode step, end to end, against the measured steps. The slope
    comes from the attention kernel fit (attn_decode microbench rows); the two numbers fitted on the
    end-to-end rows (launch gap, elementwise bandwidth) are per-step costs that do not grow with context."""
    for b in (4, 8, 16):
        meas = {r["ctx"]: r["step_s"] for r in e2e_rows if r["kind"] == "decode" and r["b"] == b}
        p = tokenomy.predict("llama-3.1-8b", "h100-sxm", engine="torch-eager", phase="decode", batch=b,
                             context=np.array([128, 16384]))
        slope, measured = p.latency_s[1] - p.latency_s[0], meas[16384] - meas[128]
        assert abs(slope / measured - 1) < 0.08, (b, slope, measured)    # -5.8%, -3.4%, -1.6% today

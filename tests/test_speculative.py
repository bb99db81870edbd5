"""Issue 9, speculative decoding (core/speculative.py): expected tokens per step, the verify step of
K+1 query tokens, the draft cost, and the spec syntax (spec/args.py). Arithmetic in the comments."""

from __future__ import annotations

import numpy as np
import pytest

import tokenomy
from tokenomy.core.graph import build_recipe
from tokenomy.core.phases import step_time
from tokenomy.core.precision import parse_precision
from tokenomy.core.predict import predict_core
from tokenomy.core.speculative import (
    DEFAULTS,
    Speculative,
    acceptance_for,
    expected_tokens,
    per_token,
    speculative_core,
)
from tokenomy.errors import SpecError
from tokenomy.loaders.engines import load_engine
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model
from tokenomy.spec.args import spec_arg

M = load_model("llama-3.1-8b")        # 32 layers, 32 query heads, 8 KV heads of 128
HW = load_hardware("h100-sxm")
SERVING = load_engine("serving")
BF16 = parse_precision("bf16")


def test_expected_tokens_by_hand():
    # (1 - a^(K+1)) / (1 - a): a=0.8, K=1 -> 1 + 0.8 = 1.8; K=3 -> 1 + 0.8 + 0.64 + 0.512 = 2.952
    assert float(expected_tokens(0.8, 1)) == pytest.approx(1.8, rel=1e-12)
    assert float(expected_tokens(0.8, 3)) == pytest.approx(2.952, rel=1e-12)
    assert float(expected_tokens(0.0, 5)) == 1.0        # nothing accepted: the target's own token only
    assert float(expected_tokens(1.0, 5)) == 6.0        # everything accepted: K + 1
    # accepted = L draft tokens per step is E - 1: a = 0.8 at K = 3 accepts 1.952
    assert acceptance_for(1.952, 3) == pytest.approx(0.8, abs=1e-9)


def test_defaults_have_a_source_and_sane_values():
    for method, (k, a, source) in DEFAULTS.items():
        assert 1 <= k <= 16 and 0 < a < 1 and source, method
    assert DEFAULTS["mtp"][:2] == (1, 0.85)             # DeepSeek-V3 report: 85-90% second-token acceptance


def test_spec_off_equals_no_spec():
    kw = dict(batch=[1, 32], context=2048)
    base = tokenomy.predict("llama-3.1-8b", "h100-sxm", **kw).records()
    for off in (None, "off", "none"):
        assert tokenomy.predict("llama-3.1-8b", "h100-sxm", spec=off, **kw).records() == base


def test_verify_step_reads_weights_once_and_kv_once_per_sequence():
    # Verify: b=1 sequence, q=K+1=4 query tokens, C=1000 cached. Decode: b=4 sequences of one token each.
    # Both put T=4 rows through every GEMM (same weights read once, same FLOPs), the LM head and the norms.
    # Attention differs: KV of 8 heads x 128 x (K,V) x 2 B = 4096 B per token per layer, 32 layers = 131072 B.
    #   verify reads 1 * (1000 + 4) keys; decode reads 4 * (1000 + 1): bytes differ by (1004 - 4004) * 131072
    #   = -393,216,000 B. FLOPs: 2 * T * 32 heads * keys * (128 + 128) per layer * 32 layers, T = 4 for both,
    #   keys 1004 vs 1001: +2 * 4 * 32 * 3 * 256 * 32 = +6,291,456.
    r = build_recipe(M, SERVING, BF16, phase="decode")
    ver = step_time(r, HW, SERVING, BF16, 1, 1000, queries=4)
    dec = step_time(r, HW, SERVING, BF16, 4, 1000)
    assert float(ver.gemm_s) == float(dec.gemm_s)
    assert float(ver.bytes - dec.bytes) == pytest.approx(-393_216_000, rel=1e-12)
    assert float(ver.flop - dec.flop) == pytest.approx(6_291_456, rel=1e-12)
    # one decode step of b=1 reads the same weights: the verify step's GEMMs cost far less than 4 of them
    one = step_time(r, HW, SERVING, BF16, 1, 1000)
    assert float(ver.gemm_s) < 1.1 * float(one.gemm_s)


def test_acceptance_zero_is_the_verify_plus_draft_cost_and_no_speed_up():
    # a = 0: one token per step, at the verify (K+1 queries) step's time plus K draft layers: slower than plain.
    sd = Speculative("mtp", 2, 0.0, "test")
    b, ctx = np.array([1.0, 64.0]), 2048
    spec = speculative_core(M, HW, SERVING, BF16, sd, None, batch=b, length=ctx)
    plain = predict_core(M, HW, SERVING, BF16, phase="decode", batch=b, length=ctx)
    ver = predict_core(M, HW, SERVING, BF16, phase="decode", batch=b, length=ctx, queries=3)
    draft_s = spec.latency_s - ver.latency_s
    assert np.all(draft_s > 0)
    np.testing.assert_allclose(spec.tokens_per_s, b / (ver.latency_s + draft_s), rtol=1e-12)   # pp=1: cycle = latency
    assert np.all(spec.tokens_per_s < plain.tokens_per_s)
    assert spec.tokens_per_step == 1.0


def test_tokens_scale_by_tokens_per_step_over_step_time():
    sd = Speculative("mtp", 1, 0.8, "test")            # 1.8 tokens per step
    spec = speculative_core(M, HW, SERVING, BF16, sd, None, batch=np.array([1.0, 16.0]), length=1024)
    np.testing.assert_allclose(spec.tokens_per_s_per_user, 1.8 / spec.latency_s, rtol=1e-12)
    np.testing.assert_allclose(spec.tokens_per_s, np.array([1, 16]) * 1.8 / spec.latency_s, rtol=1e-12)
    np.testing.assert_allclose(spec.energy_j_per_token, spec.power_w / spec.tokens_per_s, rtol=1e-12)
    pt = per_token(spec)                                # what serving_estimate takes: time per emitted token
    np.testing.assert_allclose(pt.latency_s * 1.8, spec.latency_s, rtol=1e-12)


def test_draft_model_costs_its_decode_steps_and_memory():
    small = tokenomy.predict("llama-3.1-8b", "h100-sxm", batch=8, context=1024, tp=4)
    big = tokenomy.predict("llama-3.1-70b", "h100-sxm", batch=8, context=1024, tp=4, spec="draft:llama-3.1-8b:2")
    ver = tokenomy.predict("llama-3.1-70b", "h100-sxm", batch=8, context=1024, tp=4, spec="mtp:2")
    # the 8B draft at tp=4 adds 2 of its device steps; its weights and KV are held next to the 70B's
    gpu = float(small.gemm_s + small.attention_s + small.elementwise_s + small.comm_s)
    assert float(big.memory_bytes) > float(ver.memory_bytes) + 0.9 * small.weight_bytes
    assert float(big.latency_s) > 2 * gpu
    assert big.speculative.startswith("draft:llama-3.1-8b:2,accept=0.7")


@pytest.mark.parametrize("bad", ["mtp:0", "mtp:17", "mtp:x", "mtp,accept=1", "mtp,accept=0", "mtp,accept=nan",
                                 "medusa:2", "draft", "draft:", "eagle:2,accepted=2", "eagle:3,accept=0.5,accepted=1",
                                 "mtp,foo=1", "mtp:1:2", "", 3, "mtp,accept=abc"])
def test_bad_spec_is_one_line_spec_error(bad):
    with pytest.raises(SpecError) as e:
        tokenomy.predict("llama-3.1-8b", "h100-sxm", batch=1, context=128, spec=bad)
    assert "\n" not in str(e.value)


def test_unknown_draft_model_and_prefill_are_refused():
    with pytest.raises(SpecError, match="draft model 'nope-model' is unknown"):
        tokenomy.predict("llama-3.1-8b", "h100-sxm", batch=1, context=128, spec="draft:nope-model:2")
    with pytest.raises(SpecError, match="applies to decode"):
        tokenomy.predict("llama-3.1-8b", "h100-sxm", phase="prefill", batch=1, seq=128, spec="mtp")


def test_spec_syntax():
    assert spec_arg("mtp") == ("mtp", None, None, None, None)
    assert spec_arg(" EAGLE:3 , accepted=2.5") == ("eagle", 3, None, 2.5, None)
    assert spec_arg("draft:meta-llama/Llama-3.2-1B:4,accept=0.6") == ("draft", 4, 0.6, None, "meta-llama/Llama-3.2-1B")
    assert spec_arg("off") is None


def test_inferencex_mtp_row_is_predicted_with_the_mtp_default():
    # tests/data/serving_inferencex.csv rows 1 and 5 (InferenceX, DeepSeek-R1 on 8 x H200, tp 8, conc 4) differ
    # only in spec_method: row 5 runs MTP. It is predicted with mtp (K=1, a=0.85: 1.85 tokens per step), so its
    # per-user speed is above row 1's, by less than 1.85x (the verify step of 2 queries and the draft layer cost).
    from pathlib import Path

    from tokenomy.serving_check import validate_serving

    res = validate_serving(Path(__file__).parent / "data" / "serving_inferencex.csv")
    speed = {c.file_row: c.predicted for c in res.checks if c.metric == "tok_s_per_user"}
    assert speed[5] is not None and speed[1] is not None
    assert 1.0 < speed[5] / speed[1] < 1.85

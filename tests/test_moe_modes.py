"""MoE serving modes (issue 9, item 6): attention data-parallel x expert-parallel, hand-computed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import tokenomy
from tokenomy.core.graph import GemmOp, build_recipe, gemm_rows
from tokenomy.errors import SpecError
from tokenomy.loaders.engines import load_engine
from tokenomy.loaders.models import load_model
from tokenomy.serving_check import _parallel

DSV3 = dict(batch=64, context=2048, tp=8, ep=8)


def test_mla_kv_bytes_per_chip_with_and_without_dp_attention():
    # DeepSeek-V3 MLA caches kv_lora_rank 512 + rope 64 = 576 elements per token per layer, 61 layers,
    # bf16 KV (the checkpoint's convention under the default engine): 61 * 576 * 2 = 70,272 B per token.
    # 64 sequences at 2048 cached + 1 new token:
    #   tp attention (replicated latent on every chip): 64 * 2049 * 70,272 = 9,215,188,992 B per chip
    #   dp_attention=8: a chip holds its group's 64 / 8 = 8 sequences: 8 * 2049 * 70,272 = 1,151,898,624 B
    tp = tokenomy.predict("deepseek-v3", "h200-sxm", **DSV3)
    dp = tokenomy.predict("deepseek-v3", "h200-sxm", **DSV3, dp_attention=8)
    assert tp.kv_cache.startswith("bf16")
    assert float(tp.kv_cache_bytes) == 9_215_188_992
    assert float(dp.kv_cache_bytes) == 1_151_898_624
    # 65 sequences: the busiest group holds ceil(65 / 8) = 9: 9 * 2049 * 70,272 = 1,295,885,952 B
    odd = tokenomy.predict("deepseek-v3", "h200-sxm", **{**DSV3, "batch": 65}, dp_attention=8)
    assert float(odd.kv_cache_bytes) == 1_295_885_952
    assert dp.dp_attention == 8 and dp.chips == 8


def test_alltoall_bytes_and_time_per_token():
    # an MoE layer is two all-to-alls (core/graph.py): dispatch top-k 8 x hidden 7168 x 1 B (fp8) = 57,344 B and
    # combine 8 x 7168 x 2 B (bf16) = 114,688 B per token; the recipe charges 2 per layer of their mean, 86,016 B.
    # dp_attention=8: each chip dispatches the tokens of its own group (tp / D = 1 chip): 86,016 B per token;
    # dp_attention=2: a group of 4 chips splits its tokens: 86,016 / 4 = 21,504 B per token of the group.
    # Under tp attention (D = 1) every chip is still charged for all T tokens (the shipped fits assume it).
    m, e = load_model("deepseek-v3"), load_engine("serving")
    from tokenomy.api import default_precision
    from tokenomy.loaders.hardware import load_hardware
    p = default_precision(m, load_hardware("h200-sxm"))
    r_dp = build_recipe(m, e, p, phase="decode", tp=8, ep=8, dp_attention=8)
    r_dp2 = build_recipe(m, e, p, phase="decode", tp=8, ep=8, dp_attention=2)
    r_tp = build_recipe(m, e, p, phase="decode", tp=8, ep=8)
    assert r_dp.alltoall_bytes_per_token == 86_016 and r_dp.alltoall_count == 2 * 58
    assert r_dp2.alltoall_bytes_per_token == 21_504
    assert r_tp.alltoall_bytes_per_token == 86_016
    # comm of the dp step: 58 MoE layers x 2 x (8 us + 7/8 x 8 tokens x 86,016 B / (450 GB/s x 0.75))
    #   = 58 x 2 x (8e-6 + 1.78404e-6) = 1.13495e-3 s; no all-reduce (attention groups of one chip)
    pred = tokenomy.predict("deepseek-v3", "h200-sxm", **DSV3, dp_attention=8)
    assert float(pred.comm_s) == pytest.approx(58 * 2 * (8e-6 + 7 / 8 * 8 * 86_016 / (450e9 * 0.75)), rel=1e-12)
    assert float(pred.comm_s) == pytest.approx(1.13495e-3, rel=1e-5)


def test_one_moe_layer_dispatch_and_combine_by_hand():
    # DeepSeek-R1 fp8 on H200, ep 8, dp_attention 8 (no all-reduce), decode of 1 token. Per MoE layer (DeepEP:
    # "FP8 dispatching and BF16 combining"), two collectives, each with its own 8 us latency (serving engine):
    #   dispatch: k 8 x D 7168 x 1 B = 57,344 B;  combine: 8 x 7168 x 2 B = 114,688 B
    #   each all-to-all sends 7/8 of its bytes off the chip at 450 GB/s x 0.75 = 337.5 GB/s:
    #   dispatch 8e-6 + 7/8 x 57,344 / 337.5e9 = 8.14867e-6 s; combine 8e-6 + 7/8 x 114,688 / 337.5e9 = 8.29734e-6 s
    #   one layer 1.644601e-5 s; 58 MoE layers 9.53869e-4 s (one latency and fp8 combine gave 58 x 8.29734e-6
    #   = 4.81246e-4 s before)
    from tokenomy.core.comms import alltoall_time_s
    from tokenomy.spec.engine import CommParams
    pred = tokenomy.predict("deepseek-r1", "h200-sxm", phase="decode", batch=1, context=1024, tp=8, ep=8,
                            dp_attention=8)
    params = CommParams(latency_s=8e-6, link_frac=0.75)
    layer = float(alltoall_time_s(57_344, 8, 450e9, params) + alltoall_time_s(114_688, 8, 450e9, params))
    assert layer == pytest.approx(8e-6 + 7 / 8 * 57_344 / 337.5e9 + 8e-6 + 7 / 8 * 114_688 / 337.5e9, rel=1e-12)
    assert layer == pytest.approx(1.644601e-5, rel=1e-6)
    assert float(pred.comm_s) == pytest.approx(58 * layer, rel=1e-12)
    assert float(pred.comm_s) == pytest.approx(9.53869e-4, rel=1e-5)


def test_expert_gemm_rows_at_small_per_expert_batch():
    # 64 tokens x top-8 over 256 experts: touched = 256 (1 - (1 - 8/256)^64) = 256 (1 - 0.13108) = 222.44;
    # each touched expert sees 512 / 222.44 = 2.302 rows (not 512 / 256 = 2), a chip (ep=8) holds
    # 222.44 / 8 = 27.81 of them
    op = GemmOp("down_expert", 7168, 2048, 58, rows="expert", experts=32)
    m, batch = gemm_rows(op, np.array([64.0]), np.array([64.0]), top_k=8, n_experts=256, ep=8)
    touched = 256 * (1 - (1 - 8 / 256) ** 64)
    assert touched == pytest.approx(222.44, abs=0.01)
    assert float(m[0]) == pytest.approx(2.302, abs=1e-3) and float(batch[0]) == pytest.approx(27.81, abs=0.01)


def test_dense_dp_attention_is_d_replicas():
    # a dense model at tp=4, dp_attention=4 is four one-chip replicas: the step of 32 sequences takes what
    # one chip takes for 8, and the replica emits 4 times the tokens
    kw = dict(phase="decode", context=1024)
    dp = tokenomy.predict("llama-3.1-8b", "h100-sxm", batch=32, tp=4, dp_attention=4, **kw)
    one = tokenomy.predict("llama-3.1-8b", "h100-sxm", batch=8, **kw)
    assert float(dp.latency_s) == pytest.approx(float(one.latency_s), rel=1e-12)
    assert float(dp.tokens_per_s) == pytest.approx(4 * float(one.tokens_per_s), rel=1e-12)
    assert float(dp.kv_cache_bytes) == float(one.kv_cache_bytes)


def test_dp_attention_one_is_the_default():
    for kw in (dict(tp=8, ep=8), dict(tp=8), dict(tp=4, pp=2)):
        a = tokenomy.predict("deepseek-v3", "h200-sxm", batch=[1, 64], context=2048, **kw)
        b = tokenomy.predict("deepseek-v3", "h200-sxm", batch=[1, 64], context=2048, dp_attention=1, **kw)
        assert np.array_equal(a.latency_s, b.latency_s) and np.array_equal(a.memory_bytes, b.memory_bytes)


@pytest.mark.parametrize("kw, msg", [(dict(tp=8, ep=8, dp_attention=3), "divide"),
                                     (dict(tp=8, ep=8, dp_attention=0), "between 1"),
                                     (dict(tp=8, dp_attention=8), "needs ep > 1"),
                                     (dict(tp=8, ep=8, dp_attention=True), "positive integer")])
def test_dp_attention_validated(kw, msg):
    with pytest.raises(SpecError, match=msg):
        tokenomy.predict("deepseek-v3", "h200-sxm", batch=1, context=16, **kw)


def test_serving_rows_mapped():
    row = SimpleNamespace
    # InferenceX dp_attention: tp 8 = D 8 groups on 8 GPUs, ep 8
    assert _parallel(row(tp=8, pp=1, ep=8, dp_attention=8, chips=8)) == (8, 8, 8)
    # ML.ENERGY tp=1, ep=4 on 4 GPUs (vLLM: 4 attention replicas): one replica of 4 chips, D = 4
    assert _parallel(row(tp=1, pp=1, ep=4, dp_attention=4, chips=4)) == (4, 4, 4)
    # dense data-parallel replicas (ep 1): not an attention-DP layout
    assert _parallel(row(tp=1, pp=1, ep=1, dp_attention=4, chips=4)) is None

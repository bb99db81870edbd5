"""core/disagg.py, the prefill -> decode hand-off, worked by hand; and the scale-out NICs and Rubin chips
of the catalog it stands on (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

import tokenomy
from tokenomy.core.disagg import (
    SCALEOUT_LATENCY_S,
    SCALEUP_LATENCY_S,
    balanced_rate_per_s,
    can_share_scaleup,
    kv_bytes_per_request,
    kv_paths,
    kv_transfer_s,
    link_for,
    link_utilization,
    pool_ratio,
    required_link_bytes_per_s,
    xpyd,
)
from tokenomy.errors import SpecError
from tokenomy.loaders.hardware import hardware_figures, hardware_ids, load_hardware

KIB, MIB = 2**10, 2**20
H100, GROQ = load_hardware("h100-sxm"), load_hardware("groq-lpu")


# --- KV bytes per request ------------------------------------------------------------------------------

def test_gqa_kv_bytes_llama_70b():
    # GQA: 2 (K and V) * 80 layers * 8 KV heads * 128 head dim * 2 B (bf16) = 327,680 B = 320 KiB per token;
    # 1,024 tokens = 320 MiB (Mooncake: 128k tokens ~ 40 GiB)
    m = tokenomy.load_model("llama-3.1-70b")
    kv = kv_bytes_per_request(m, "bf16", [1, 1024, 131072])
    assert kv[0] == 2 * 80 * 8 * 128 * 2 == 320 * KIB
    assert kv[1] == 320 * MIB
    assert kv[2] == 40 * 2**30
    # fp8 KV (kv=fp8) halves it
    assert kv_bytes_per_request(m, "w=fp8,a=fp8,kv=fp8", 1024) == 160 * MIB


def test_mla_kv_bytes_deepseek_is_the_latent_cache():
    # MLA: (kv_lora_rank 512 + qk_rope_head_dim 64) * 61 layers * 2 B = 70,272 B per token (bf16), not
    # 2 * 61 * 128 heads * 192 * 2 (= 6.0 MB) of the decompressed heads
    m = tokenomy.load_model("deepseek-r1")
    assert kv_bytes_per_request(m, "bf16", 1) == (512 + 64) * 61 * 2 == 70_272
    assert kv_bytes_per_request(m, "w=fp8,a=fp8,kv=fp8", 1000) == 576 * 61 * 1 * 1000


def test_engine_kv_convention_applies_when_an_engine_is_given():
    # an engine running fp8 KV with fp8 weights (TensorRT-LLM class): 'fp8' without kv= gets fp8 KV
    m = tokenomy.load_model("llama-3.1-70b")
    trt = tokenomy.load_engine("serving").model_copy(update={"kv_cache_format": "fp8-when-weights-fp8"})
    assert kv_bytes_per_request(m, "fp8", 1024) == 320 * MIB           # bare 'fp8': bf16 KV (checkpoint)
    assert kv_bytes_per_request(m, "fp8", 1024, engine=trt) == 160 * MIB


def test_sliding_window_layers_are_capped_at_their_window():
    # gpt-oss-120b: 36 layers, 18 full + 18 sliding (window 128), 8 KV heads x 64, bf16:
    # per layer 2 * 8 * 64 * 2 = 2,048 B a token; 18 layers = 36,864 B a token for each kind
    # 1,024 tokens: 1,024 * 36,864 (full) + 128 * 36,864 (sliding, capped) = 1,152 * 36,864 = 42,467,328 B
    # 100 tokens (under the window): 200 * 36,864
    m = tokenomy.load_model("gpt-oss-120b")
    kv = kv_bytes_per_request(m, "bf16", [1024, 100])
    np.testing.assert_array_equal(kv, [1152 * 36_864, 200 * 36_864])


def test_kv_bytes_are_vectorized_and_zero_tokens_is_zero():
    m = tokenomy.load_model("llama-3.1-8b")
    kv = kv_bytes_per_request(m, "bf16", np.array([[0, 1], [2, 4]]))
    assert kv.shape == (2, 2) and kv[0, 0] == 0 and kv[1, 1] == 4 * kv[0, 1]
    with pytest.raises(SpecError, match="isl"):
        kv_bytes_per_request(m, "bf16", -1)


# --- the link and the transfer -------------------------------------------------------------------------

def test_nvlink_versus_a_400g_nic_for_the_same_bytes():
    # 320 MiB = 335,544,320 B (Llama-3.1-70B, 1k tokens, bf16)
    # NVLink4 (H100 scale-up) 450 GB/s one way: 335,544,320 / 450e9 = 0.745654 ms + 8 us = 0.753654 ms
    # ConnectX-7 400 Gb/s = 50 GB/s: 335,544,320 / 50e9 = 6.710886 ms + 20 us = 6.730886 ms (9x the time)
    kv = 320 * MIB
    up = link_for(H100, H100, same_scaleup_domain=True, chips=8)
    out = link_for(H100, H100, same_scaleup_domain=False)
    assert up.bytes_per_s == 450e9 and up.scaleup and out.bytes_per_s == 50e9 and not out.scaleup
    assert kv_transfer_s(kv, up) == pytest.approx(0.745654e-3 + SCALEUP_LATENCY_S, rel=1e-6)
    assert kv_transfer_s(kv, out) == pytest.approx(6.710886e-3 + SCALEOUT_LATENCY_S, rel=1e-6)
    # tp=8 prefill ranks each send their shard to 8 decode chips: 8 paths, 6.710886 / 8 = 0.838861 ms
    assert kv_transfer_s(kv, out, paths=8) == pytest.approx(0.838861e-3 + 20e-6, rel=1e-6)
    assert kv_transfer_s(kv, out, paths=2) == pytest.approx(6.710886e-3 / 2 + 20e-6, rel=1e-6)


def test_kv_paths_by_hand():
    # one rule for all three disaggregated models: min over the two sides of pp * shards per stage
    llama, r1 = tokenomy.load_model("llama-3.1-70b"), tokenomy.load_model("deepseek-r1")   # GQA 8 KV heads; MLA
    assert kv_paths(llama, 8, 8) == 8                          # a tp rank holds one KV head
    assert kv_paths(llama, 8, 2) == 2                          # 8 senders into 2 receivers: 2 paths
    assert kv_paths(llama, 16, 16) == 8                        # tp 16 > 8 heads replicates them: 8 distinct shards
    assert kv_paths(llama, 8, 8, decode_pp=80) == 8            # Groq tp 8 x pp 80: 640 shards, h100 tp 8 sends 8
    assert kv_paths(llama, 2, 4, prefill_pp=4) == 4            # tp 2 x pp 4 = 8 shards into tp 4 = 4
    assert kv_paths(llama, 8, 8, decode_dp_attention=8) == 1   # dp-attention: one rank holds the request
    assert kv_paths(llama, 8, 8, decode_dp_attention=2) == 4   # groups of 4 ranks: 4 shards
    assert kv_paths(r1, 8, 8) == 1                             # MLA: the latent is replicated, one shard a stage
    assert kv_paths(r1, 8, 8, prefill_pp=4, decode_pp=2) == 2  # ... and each stage sends its own layers
    with pytest.raises(SpecError, match="must divide"):
        kv_paths(llama, 8, 8, decode_dp_attention=3)


def test_link_utilization_by_hand():
    # 10 requests/s x 335,544,320 B = 3.355 GB/s over 8 paths of a 100 Gb/s NIC (12.5 GB/s): 3.355 / 100 = 0.0336
    kv = 320 * MIB
    assert link_utilization(10.0, kv, link_for(GROQ, H100, same_scaleup_domain=False), 8) == pytest.approx(
        0.033554432, rel=1e-9)


def test_mixed_pair_uses_the_slower_nic_and_cannot_share_a_domain():
    # H100 400 Gb/s vs rubin-vr200 1.6 Tb/s: the path runs at 400 Gb/s = 50 GB/s
    vr = load_hardware("rubin-vr200")
    assert link_for(vr, H100, same_scaleup_domain=False).bytes_per_s == 50e9
    assert not can_share_scaleup(H100, GROQ)
    with pytest.raises(SpecError, match="one scale-up domain"):
        link_for(H100, GROQ, same_scaleup_domain=True)
    with pytest.raises(SpecError, match="must fit"):            # 16 chips in an 8-GPU HGX board
        link_for(H100, H100, same_scaleup_domain=True, chips=16)
    # an achieved share of the datasheet (Mooncake: 190 GB/s of 400 GB/s on 8 x 400 Gb/s = 0.475)
    assert link_for(H100, H100, same_scaleup_domain=False, link_frac=0.475).bytes_per_s == pytest.approx(23.75e9)


def test_layer_wise_streaming_hides_all_but_one_layer_when_prefill_is_long():
    # T_kv = 6.710886 ms over 400 Gb/s, L = 80 layers
    # long prefill 100 ms: T - 100 * 79/80 < 0, so the exposed time is T / 80 = 83.886 us (+ 20 us)
    # short prefill 1 ms: T - 1 * 79/80 = 6.710886 - 0.9875 = 5.723386 ms > T/80 (+ 20 us)
    out = link_for(H100, H100, same_scaleup_domain=False)
    t = kv_transfer_s(320 * MIB, out, prefill_s=np.array([0.1, 1e-3]), layers=80)
    np.testing.assert_allclose(t, [6.710886e-3 / 80 + 20e-6, 5.723386e-3 + 20e-6], rtol=1e-6)
    assert np.all(t < kv_transfer_s(320 * MIB, out))
    with pytest.raises(SpecError, match="both prefill_s and layers"):
        kv_transfer_s(1.0, out, prefill_s=0.1)


def test_required_link_bandwidth():
    # 10 requests/s x 320 MiB = 3,355,443,200 B/s = 26.8 Gb/s: a 400 Gb/s NIC runs at 6.7%
    assert required_link_bytes_per_s(10, 320 * MIB) == 3_355_443_200


# --- pool sizes ----------------------------------------------------------------------------------------

def test_pool_ratio_balances_a_given_rate():
    # isl 1,000, osl 250; a prefill replica makes 20,000 tokens/s, a decode replica 2,500 tokens/s
    # N_P / N_D = (1000 / 20000) / (250 / 2500) = 0.05 / 0.1 = 0.5: one prefill replica per two decode
    # at 30 requests/s: prefill needs 30 x 1000 / 20000 = 1.5 replicas, decode 30 x 250 / 2500 = 3
    ratio = pool_ratio(1000, 250, 20_000, 2_500)
    assert ratio == pytest.approx(0.5) and ratio == pytest.approx(1.5 / 3)
    # g_P = 20000 / 1000 = 20 requests/s, g_D = 2500 / 250 = 10: xPyD at 30/s = ceil(1.5) = 2 P, ceil(3) = 3 D
    n_p, n_d = xpyd(30, 20_000 / 1000, 2_500 / 250)
    assert (n_p, n_d) == (2, 3)
    assert balanced_rate_per_s(n_p, n_d, 20, 10) == 30          # 2 x 20 = 40 prefill, 3 x 10 = 30 decode
    # DistServe Figure 1: P = 5.6 rps, D = 10 rps; 10 rps needs 2P + 1D
    assert xpyd(10, 5.6, 10) == (2, 1)
    # float noise does not add a replica: 3 / 0.1 = 30.000000000000004 is 30
    assert xpyd(3, 0.1, 0.1)[0] == 30
    np.testing.assert_array_equal(xpyd(np.array([0, 10, 21]), 10, 7)[1], [1, 2, 3])


def test_pool_inputs_are_checked():
    with pytest.raises(SpecError, match="prefill_tokens_per_s"):
        pool_ratio(1000, 250, 0, 2500)
    with pytest.raises(SpecError, match="rate_per_s"):
        xpyd(float("nan"), 1, 1)


# --- catalog: scale-out NICs and the Rubin chips ---------------------------------------------------------

@pytest.mark.parametrize("hw_id", hardware_ids())
def test_every_chip_has_a_sourced_scaleout_nic(hw_id):
    hw = load_hardware(hw_id)
    fig = next(f for f in hardware_figures(hw_id) if f["key"] == "scaleout_gbps")
    assert fig["source"].startswith(("http", "estimate:", "measured:")), fig
    assert 1 <= hw.scaleout_gbps <= 3200 and hw.scaleout_bytes_per_s == hw.scaleout_gbps * 1e9 / 8
    assert hw.sources["scaleout_gbps"] == fig["source"]


def test_scaleout_figures_match_chips_facts_part_3():
    gbps = {h: load_hardware(h).scaleout_gbps for h in hardware_ids()}
    assert gbps["h100-sxm"] == gbps["h200-sxm"] == gbps["b200"] == gbps["gb200"] == gbps["mi300x"] == 400
    assert gbps["b300"] == gbps["gb300"] == 800 and gbps["rubin-vr200"] == 1600
    assert gbps["tpu-v5e"] == 25 and gbps["tpu-v5p"] == 50 and gbps["tpu7x"] == 100 and gbps["gaudi3"] == 600


def test_rubin_chips_load_and_predict():
    vr, cpx = load_hardware("rubin-vr200"), load_hardware("rubin-cpx")
    assert vr.peak("fp4") == 35e15 and vr.hbm_bytes == 288e9 and vr.scaleup_domain == 72   # dense NVFP4, not 50 PF
    assert cpx.peak("fp4") == 30e15 and cpx.hbm_bytes == 128e9 and cpx.scaleout_gbps == 800
    for hw in (vr, cpx):
        for fig in hardware_figures(hw.id):                      # every figure says announced or estimate
            assert "announced" in (fig["note"] or "") or fig["source"].startswith("estimate:"), fig
    m = "llama-3.1-70b"
    for hw, p in (("rubin-vr200", "fp4"), ("rubin-cpx", "fp8")):
        pre = tokenomy.predict(m, hw, phase="prefill", seq=8192, precision=p, tp=2)
        dec = tokenomy.predict(m, hw, phase="decode", batch=32, context=2048, precision=p, tp=2)
        assert float(pre.tokens_per_s) > 0 and float(dec.tokens_per_s) > 0
    # CPX is the prefill chip: against a Rubin package (one chip, fp8) it keeps far more of the prefill
    # speed (compute: 15 vs 16.7 PF) than of the decode speed (GDDR7 2 TB/s vs HBM4 22 TB/s)
    ratio = {ph: float(tokenomy.predict(m, "rubin-cpx", phase=ph, **kw, precision="fp8").tokens_per_s)
             / float(tokenomy.predict(m, "rubin-vr200", phase=ph, **kw, precision="fp8").tokens_per_s)
             for ph, kw in (("prefill", {"seq": 8192}), ("decode", {"batch": 32, "context": 2048}))}
    assert ratio["prefill"] > 2 * ratio["decode"] and ratio["decode"] < 0.25, ratio


def test_hardware_show_prints_the_scaleout_nic():
    from typer.testing import CliRunner

    from tokenomy.cli.hardware import hardware_app
    out = CliRunner().invoke(hardware_app, ["show", "rubin-vr200"], env={"COLUMNS": "250"})
    # 1,600 Gb/s / 8 = 200 GB/s
    assert out.exit_code == 0 and "scaleout_gbps" in out.stdout and "1600 Gb/s = 200 GB/s" in out.stdout


def test_rubin_chips_run_in_the_frontier():
    from tokenomy.frontier import sweep
    res = sweep("llama-3.1-70b", ["rubin-vr200", "rubin-cpx"], isl=1024, osl=1024, batches=[1, 64])
    assert set(res.max_tokens_per_s_per_user) == {"rubin-vr200", "rubin-cpx"}

"""Disaggregated serving at fixed pool sizes (core/disagg_serving.py) and its check on the InferenceX Dynamo rows.

Hand-worked steady states run on a fake decode step and prefill (monkeypatched) so the arithmetic is exact;
the golden medians run the real core on the 65 disaggregated rows of tests/data/serving/inferencex_benchmarks.csv
(an unchanged copy of shared/data/serving/inferencex_benchmarks.csv, SemiAnalysis InferenceX)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import tokenomy.core.disagg_serving as ds
import tokenomy.serving_check as sc
from tokenomy import api
from tokenomy.core.disagg_serving import PoolSpec, disagg_estimate
from tokenomy.errors import SpecError
from tokenomy.loaders.engines import load_engine
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model
from tokenomy.loaders.serving import read_serving

DATA = Path(__file__).parent / "data"
H100 = load_hardware("h100-sxm")
LLAMA = load_model("llama-3.1-70b")
ENGINE = load_engine("trtllm").model_copy(update={"request_overhead_s": 0.0})
_, _, _, BF16 = api.resolve(LLAMA, H100, ENGINE, "bf16")

# fake pools: decode 0.01 s per token at any batch, prefill 0.1 s of worker time per request (10 req/s a worker)
T_TOKEN, T_PREFILL, KV = 0.01, 0.1, 1e9
T_KV_NIC = KV / 50e9 + 20e-6          # 400 Gb/s NIC = 50 GB/s, one path (tp 1), alpha 20 us (core/disagg.py)
T_KV_NVLINK = KV / 450e9 + 8e-6       # NVLink4 450 GB/s one way, alpha 8 us
L_PREFILL = 0.25 - T_KV_NIC - 0.5 * T_TOKEN     # so that TTFT_0 = 0.25 s exactly over the NIC


@pytest.fixture
def fake(monkeypatch):
    def decode(model, hw, engine, precision, *, phase, batch, length, tp, ep, dp_attention):
        b = np.asarray(batch, dtype=float)
        t = np.full_like(b, T_TOKEN)
        return SimpleNamespace(latency_s=t, stage_s=t, micro_batches=np.ones_like(b), fits=np.ones_like(b, bool),
                               power_w=np.full_like(b, 700.0), tokens_per_step=1.0)

    def prefill(model, hw, engine, precision, isl, *, tp, ep, dp_attention):
        return SimpleNamespace(pred=SimpleNamespace(fits=np.array(True)), requests=np.array(1.0),
                               stage_s=np.array(T_PREFILL), latency_s=np.array(L_PREFILL),
                               latency_one_s=np.array(L_PREFILL), power_w=np.array(650.0))
    monkeypatch.setattr(ds, "predict_core", decode)
    monkeypatch.setattr(ds, "chunked_prefill", prefill)
    monkeypatch.setattr(ds, "kv_bytes_per_request", lambda *a, **k: np.array(KV))


def _run(**kw):
    pools = {"prefill": PoolSpec(H100, ENGINE, BF16, workers=1), "decode": PoolSpec(H100, ENGINE, BF16, workers=2)}
    return disagg_estimate(LLAMA, pools["prefill"], pools["decode"], isl=1000, osl=100,
                           same_scaleup_domain=kw.pop("same_scaleup_domain", False), **kw)


def test_decode_bound_steady_state(fake):
    # X_D(b) = W_D b / (osl t) = 2 b / (100 * 0.01) = 2 b req/s; TTFT_0 = 0.25 s; one client cycles in
    # TTFT + osl t = 0.25 + 1.0 = 1.25 s, so conc = X * 1.25 = 2.5 b: conc 10 -> b = 4, X = 8 req/s < C_P = 10
    e = _run(conc=10)
    assert float(e.decode_batch) == pytest.approx(4.0)
    assert float(e.requests_per_s) == pytest.approx(8.0)
    assert float(e.tokens_per_s) == pytest.approx(800.0)                 # 8 req/s * 100 tokens
    assert float(e.tokens_per_s_per_user) == pytest.approx(100.0)        # 1 / 0.01 s
    assert float(e.ttft_s) == pytest.approx(0.25)
    assert float(e.tokens_per_s_per_decode_chip) == pytest.approx(400.0)  # 800 / 2 decode chips
    assert float(e.tokens_per_s_per_chip) == pytest.approx(800.0 / 3)
    assert float(e.input_tokens_per_s_per_prefill_chip) == pytest.approx(8000.0)
    assert float(e.prefill_utilization) == pytest.approx(0.8) and not bool(e.prefill_bound)
    # power: 2 decode workers at 700 W + the prefill worker 80% at 650 W, 20% idle (trtllm idle_frac 0.1 * 700 W)
    idle = 0.1 * H100.power_limit_w if H100.idle_power_w is None else H100.idle_power_w
    assert float(e.power_w) == pytest.approx(1400.0 + 0.8 * 650.0 + 0.2 * idle)
    assert float(e.j_per_token) == pytest.approx(float(e.power_w) / 800.0)


def test_prefill_bound_steady_state(fake):
    # conc 40 would need b = 16 (X = 32 req/s) but the prefill pool serves C_P = 1 / 0.1 = 10 req/s: b* = 5,
    # X = 10, and the other clients queue for prefill: TTFT = conc / X - osl t = 40 / 10 - 1.0 = 3.0 s
    e = _run(conc=np.array([10, 40]))
    assert e.decode_batch == pytest.approx([4.0, 5.0])
    assert e.requests_per_s == pytest.approx([8.0, 10.0])
    assert e.ttft_s == pytest.approx([0.25, 3.0])
    assert list(e.prefill_bound) == [False, True] and e.prefill_utilization[1] == pytest.approx(1.0)


def test_rate_mode(fake):
    # rate 8 req/s: b = 4 from 2 b = 8, no queueing below capacity; 20 req/s is served at the cap of 10
    e = _run(rate_per_s=np.array([8.0, 20.0]))
    assert e.requests_per_s == pytest.approx([8.0, 10.0])
    assert e.ttft_s == pytest.approx([0.25, 0.25])


def test_transfer_is_in_ttft(fake):
    # the same deployment inside one NVLink domain (3 H100s fit in 8): TTFT falls by exactly the link difference
    nic, nvl = _run(conc=10), _run(conc=10, same_scaleup_domain=True)
    assert nic.kv_transfer_s == pytest.approx(T_KV_NIC) and nvl.kv_transfer_s == pytest.approx(T_KV_NVLINK)
    assert float(nic.ttft_s - nvl.ttft_s) == pytest.approx(T_KV_NIC - T_KV_NVLINK, rel=1e-3)
    assert "scale-out" in nic.link and "scale-up" in nvl.link
    assert _run(conc=10, same_scaleup_domain=None).link == nvl.link      # default: the domain, when both fit


def test_real_core_transfer_and_layerwise():
    # Llama-3.1-70B bf16, 1000-token prompts: 327,680 B/token (2 * 80 * 8 * 128 * 2) = 327.68 MB per request;
    # over the NIC at tp 8 -> tp 8: 8 KV-head shards in parallel, 327.68e6 / (8 * 50e9) + 20 us = 839.2 us
    p = PoolSpec(H100, ENGINE, BF16, tp=8)
    e = disagg_estimate(LLAMA, p, p, isl=1000, osl=100, conc=8, same_scaleup_domain=False)
    assert e.kv_bytes == pytest.approx(327.68e6)
    assert e.kv_transfer_s == pytest.approx(327.68e6 / (8 * 50e9) + 20e-6)
    lw = disagg_estimate(LLAMA, p, p, isl=1000, osl=100, conc=8, same_scaleup_domain=False, layerwise=True)
    assert lw.kv_transfer_s < e.kv_transfer_s and float(lw.ttft_s) < float(e.ttft_s)
    # (the decode batch moves a hair with TTFT in the closed loop)
    assert float(e.ttft_s) - float(lw.ttft_s) == pytest.approx(e.kv_transfer_s - lw.kv_transfer_s, rel=1e-3)


def test_tp_across_domains_uses_the_nic():
    # TP16 on 8-GPU H100 boards: the replica's collectives are priced on the 50 GB/s NIC, not NVLink
    wide = ds.replica_hardware(H100, 16)
    assert wide.scaleup_bytes_per_s_unidir == pytest.approx(50e9) and ds.replica_hardware(H100, 8) is H100


@pytest.mark.parametrize("kw, needle", [({"conc": 4, "rate_per_s": 1.0}, "not both"), ({}, "not both or neither"),
                                        ({"conc": 0}, "conc"), ({"rate_per_s": -1.0}, "rate_per_s")])
def test_bad_load_one_error(kw, needle):
    p = PoolSpec(H100, ENGINE, BF16, tp=8)
    with pytest.raises(SpecError, match=needle):
        disagg_estimate(LLAMA, p, p, isl=100, osl=10, **kw)


def test_bad_pool():
    with pytest.raises(SpecError, match="must divide"):
        disagg_estimate(LLAMA, PoolSpec(H100, ENGINE, BF16, tp=8, dp_attention=3), PoolSpec(H100, ENGINE, BF16),
                        isl=100, osl=10, conc=1)


def test_row_gpu_basis(monkeypatch):
    # InferenceX multinode disagg rows divide output tokens/s by the decode GPUs only (shared README)
    row = read_serving(DATA / "serving_inferencex.csv")[1][0]      # 16 prefill + 16 decode H100, dynamo-sglang
    assert (row.engine, row.runtime, row.chips, row.output_gpus) == ("sglang", "dynamo", 32, 16)
    seen = {}
    real = sc.disagg_estimate

    def spy(*a, **k):
        seen["est"] = real(*a, **k)
        return seen["est"]
    monkeypatch.setattr(sc, "disagg_estimate", spy)
    pred = sc._predict_disagg(row, load_model("deepseek-r1"), load_engine("sglang"))
    assert isinstance(pred, dict)
    assert pred["output_tok_s_per_gpu"] == pytest.approx(float(seen["est"].tokens_per_s) / 16)
    assert pred["e2e_s"] == pytest.approx(pred["ttft_s"] + row.osl * pred["tpot_s"])


# (chip, engine, metric): median predicted / measured on the 65 disaggregated rows, shipped profiles (nothing fitted
# on them). H100 rows run TP16 across two 8-GPU boards (collective latency over InfiniBand not modelled: x1.5-1.7
# too fast); dynamo-sglang's MTP runs gain less than the mtp default (K = 1, acceptance 0.85).
# Moved when an MoE layer's expert all-to-all became two collectives (dispatch in fp8, combine in bf16; core/graph.py)
# and trtllm was refitted on it (kernel_fixed_s 11.21 -> 10.03 us): were H200 trt 1.020 / 1.088, sglang 1.210 / 1.256,
# H100 trt 1.091 / 1.706, sglang 1.837 / 1.561.
GOLDEN = {
    ("h200-sxm", "trtllm", "tok_s_per_user"): 1.040, ("h200-sxm", "trtllm", "output_tok_s_per_gpu"): 1.068,
    ("h200-sxm", "sglang", "tok_s_per_user"): 1.198, ("h200-sxm", "sglang", "output_tok_s_per_gpu"): 1.244,
    ("h100-sxm", "trtllm", "tok_s_per_user"): 1.020, ("h100-sxm", "trtllm", "output_tok_s_per_gpu"): 1.522,
    ("h100-sxm", "sglang", "tok_s_per_user"): 1.701, ("h100-sxm", "sglang", "output_tok_s_per_gpu"): 1.561,
}


def test_golden_medians_on_the_disaggregated_rows():
    rows = [r for r in read_serving(DATA / "serving" / "inferencex_benchmarks.csv")[1] if r.disaggregated]
    assert len(rows) == 65
    ratios = defaultdict(list)
    for e in ("sglang", "trtllm"):
        mine = [r for r in rows if r.engine == e]
        for c in sc.check_rows(mine, load_engine(e)):
            if c.predicted is not None and c.metric in ("tok_s_per_user", "output_tok_s_per_gpu"):
                ratios[(c.chip, e, c.metric)].append(c.predicted / c.measured)
    assert {k: len(v) for k, v in ratios.items() if k[2] == "tok_s_per_user"} == {
        ("h100-sxm", "sglang", "tok_s_per_user"): 15, ("h100-sxm", "trtllm", "tok_s_per_user"): 10,
        ("h200-sxm", "sglang", "tok_s_per_user"): 16, ("h200-sxm", "trtllm", "tok_s_per_user"): 24}
    for key, median in GOLDEN.items():
        assert float(np.median(ratios[key])) == pytest.approx(median, abs=0.03), key

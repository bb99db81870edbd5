"""Issue 9, fixes 1-5: KV for every sequence in flight, the engine's KV format, batched/chunked prefill,
host cost per step, pipeline bubble and imbalance. Hand-computed cases, arithmetic in the comments."""

from __future__ import annotations

import pytest

from tokenomy.core.graph import build_recipe, stage_layers
from tokenomy.core.phases import step_time
from tokenomy.core.precision import parse_precision
from tokenomy.core.predict import predict_core
from tokenomy.core.serving import chunked_prefill
from tokenomy.loaders.engines import engine_from_dict, load_engine
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model

M = load_model("llama-3.1-8b")        # 32 layers, 8 KV heads of 128, untied LM head
HW = load_hardware("h100-sxm")
SERVING = load_engine("serving")
BF16 = parse_precision("bf16")


def test_kv_bytes_at_pp4_count_every_sequence_in_flight():
    # pp=4: 32/4 = 8 layers per chip; K and V of 8 heads x 128 in bf16 = 2*8*128*2 = 4096 B per token per layer
    # -> 8 * 4096 = 32768 B per token per sequence on a chip. b=2 per micro-batch, 4 micro-batches in flight
    # -> 8 sequences; context 1023 + the new token = 1024 cached tokens: 8 * 1024 * 32768 = 268,435,456 B.
    p = predict_core(M, HW, SERVING, BF16, phase="decode", batch=2, length=1023, tp=1, pp=4)
    assert float(p.kv_cache_bytes) == 268_435_456
    one = predict_core(M, HW, SERVING, BF16, phase="decode", batch=2, length=1023, tp=1, pp=4, micro_batches=1)
    assert float(one.kv_cache_bytes) == 268_435_456 / 4          # one micro-batch in flight: 2 sequences


def test_fp8_kv_halves_kv_bytes_and_the_output_says_which_format():
    bf = predict_core(M, HW, SERVING, BF16, phase="decode", batch=8, length=2047)
    f8 = predict_core(M, HW, SERVING, parse_precision("w=bf16,a=bf16,kv=fp8"), phase="decode", batch=8, length=2047)
    assert float(f8.kv_cache_bytes) == float(bf.kv_cache_bytes) / 2      # 1 byte per element instead of 2
    assert bf.kv_cache == "bf16 (checkpoint)" and f8.kv_cache == "fp8 (given)"
    assert f8.precision == "w=bf16,a=bf16,kv=fp8"


def test_kv_format_follows_the_engine_convention_and_kv_overrides_it():
    trt = engine_from_dict({"extends": "serving", "name": "trt-like", "kv_cache_format": "fp8-when-weights-fp8"})
    fp8 = parse_precision("fp8")
    assert predict_core(M, HW, SERVING, fp8, phase="decode", batch=1, length=100).kv_cache == "bf16 (checkpoint)"
    p = predict_core(M, HW, trt, fp8, phase="decode", batch=1, length=100)
    assert p.kv_cache.startswith("fp8 (engine")
    given = predict_core(M, HW, trt, parse_precision("w=fp8,a=fp8,kv=bf16"), phase="decode", batch=1, length=100)
    assert given.kv_cache == "bf16 (given)" and float(given.kv_cache_bytes) == 2 * float(p.kv_cache_bytes)
    assert predict_core(M, HW, trt, BF16, phase="decode", batch=1, length=100).kv_cache == "bf16 (checkpoint)"


def test_a_prefill_chunk_of_4_requests_reads_the_weights_once():
    # Every GEMM reads its weight matrix once per step whatever its rows, so 4 requests of 2048 tokens in one
    # chunk move 3 weight reads fewer than 4 one-request steps: bytes(4) = 4 * bytes(1) - 3 * W.
    rec = build_recipe(M, SERVING, BF16, phase="prefill")
    W = sum(g.count * g.n * g.k * g.w_bytes for g in rec.gemms)          # ~16.06e9 B (8B params in bf16)
    four = predict_core(M, HW, SERVING, BF16, phase="prefill", batch=4, length=2048)
    one = predict_core(M, HW, SERVING, BF16, phase="prefill", batch=1, length=2048)
    assert float(four.bytes_per_step) == pytest.approx(4 * float(one.bytes_per_step) - 3 * W, rel=1e-9)
    # chunked_prefill: 8192 tokens per chunk / 2048 per request = 4 requests; each costs a quarter of the chunk
    c = chunked_prefill(M, HW, SERVING, BF16, 2048)
    assert float(c.requests) == 4 and float(c.stage_s) == pytest.approx(float(four.stage_s) / 4, rel=1e-12)
    assert float(c.stage_s) < float(one.stage_s)                        # cheaper than one at a time


def _engine(**kw):
    return engine_from_dict({"extends": "serving", "name": "host-test", **kw})


def test_host_cost_per_sequence_added_or_overlapped():
    # host = 100 us + 10 us * 64 sequences = 740 us; sync: gpu + 740 us; async: max(gpu, 740 us)
    rec = build_recipe(M, SERVING, BF16, phase="decode")
    sync = step_time(rec, HW, _engine(step_fixed_s=1e-4, host_per_seq_s=1e-5, async_scheduling=False), BF16, 64, 1024)
    asy = step_time(rec, HW, _engine(step_fixed_s=1e-4, host_per_seq_s=1e-5, async_scheduling=True), BF16, 64, 1024)
    assert float(sync.host_s) == pytest.approx(7.4e-4) and float(asy.host_s) == pytest.approx(7.4e-4)
    assert float(sync.latency_s) == pytest.approx(float(sync.gpu_s) + 7.4e-4, rel=1e-12)
    assert float(asy.latency_s) == pytest.approx(max(float(asy.gpu_s), 7.4e-4), rel=1e-12)
    slow = step_time(rec, HW, _engine(step_fixed_s=1e-4, host_per_seq_s=1e-3, async_scheduling=True), BF16, 64, 1024)
    assert float(slow.latency_s) == pytest.approx(1e-4 + 64e-3)        # host-bound: 64.1 ms


def test_two_stage_pipeline_latency_and_bubble_by_hand():
    # pp=2 splits 32 layers 16/16; the bottleneck stage runs 16 layers + the LM head (once), with host h:
    # latency = h + once + 2 * (stage - h - once) + 1 hand-off; a hand-off of 1 token of 4096 bf16 = 8192 B
    # over 450e9 B/s * 0.75 plus 8 us latency.
    eng = SERVING
    p = predict_core(M, HW, eng, BF16, phase="decode", batch=1, length=1023, pp=2)
    rec = build_recipe(M, eng, BF16, phase="decode", pp=2)
    st = step_time(rec, HW, eng, BF16, 1, 1023)
    h, once, stage = float(st.host_s), float(st.once_s), float(p.stage_s)
    hop = eng.comm.latency_s + 8192 / (HW.scaleup_bytes_per_s_unidir * eng.comm.link_frac)
    lat = h + once + 2 * (stage - h - once) + hop
    assert float(p.latency_s) == pytest.approx(lat, rel=1e-12)
    # decode: a micro-batch's next token waits for its previous one: cycle = max(latency, m * stage)
    assert float(p.tokens_per_s_per_user) == pytest.approx(1 / max(lat, 2 * stage), rel=1e-12)
    one = predict_core(M, HW, eng, BF16, phase="decode", batch=1, length=1023, pp=2, micro_batches=1)
    assert float(one.tokens_per_s) == pytest.approx(1 / lat, rel=1e-12)     # 1 sequence: the other stage idles
    # prefill bubble: one micro-batch in a 2-stage pipeline runs at min(1, 2)/2 of the full rate
    full = predict_core(M, HW, eng, BF16, phase="prefill", batch=1, length=512, pp=2)
    half = predict_core(M, HW, eng, BF16, phase="prefill", batch=1, length=512, pp=2, micro_batches=1)
    assert float(half.tokens_per_s) == pytest.approx(float(full.tokens_per_s) / 2, rel=1e-12)
    assert float(full.tokens_per_s) == pytest.approx(512 / float(full.stage_s), rel=1e-12)


def test_uneven_split_puts_ceil_layers_on_the_bottleneck_stage():
    # 32 layers over 3 stages: 11, 11, 10 -> the bottleneck holds 11 layers (32/3 = 10.67 before the fix)
    assert stage_layers(32, 3) == 11
    assert build_recipe(M, SERVING, BF16, phase="decode", pp=3).layers == pytest.approx(11)
    w3 = build_recipe(M, SERVING, BF16, phase="decode", pp=3).weight_bytes
    w4 = build_recipe(M, SERVING, BF16, phase="decode", pp=4).weight_bytes
    # one layer: qkv (4096 + 2*1024) x 4096 + o 4096 x 4096 + gate_up 2*14336 x 4096 + down 4096 x 14336
    # = 218,103,808 weights = 436,207,616 B in bf16; 11 - 8 = 3 layers more: 1,308,622,848 B
    assert w3 - w4 == 1_308_622_848

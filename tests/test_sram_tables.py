"""Pipelined weights-in-SRAM deployments hold the embedding and LM head on chips of their own (issue 10:
core/memory.sram_tables), so the layer stages are sized on their layers and no chip exceeds its SRAM."""

from __future__ import annotations

import numpy as np

from tokenomy import api
from tokenomy.core.graph import build_recipe
from tokenomy.core.memory import sram_tables
from tokenomy.frontier import sweep
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model


def test_llama2_7b_on_groq_tables_by_hand():
    """Llama-2-7B (V 32,000, D 4,096, untied, 32 layers, d_ff 11,008) int8 on groq-lpu, tp=2 x pp=32.
    Tables (16-bit, vocab-parallel over 2): embedding 32,000 x 4,096 x 2 B / 2 = 131,072,000 B per chip,
    LM head the same; both = 262,144,000 B > 230e6 x (1 - 0.08) = 211.6e6 usable -> k = 2 groups of tp = 4 chips,
    131,072,000 B each. A layer stage (one layer): (4 x 4,096^2 + 3 x 4,096 x 11,008) = 202,375,168 int8
    bytes / 2 = 101,187,584 B per chip (it held 101,187,584 + 131,072,000 = 232,259,584 B with a table, over
    the SRAM)."""
    m, hw, e, p = api.resolve("llama-2-7b", "groq-lpu")
    assert p.weights == "int8" and e.memory.reserve_frac == 0.08
    t = sram_tables(m, hw, 2, 32, e.memory.reserve_frac, stage_weight_bytes=232_259_584)
    assert t is not None and (t.chips, t.weight_bytes, t.moved_bytes) == (4, 131_072_000, 131_072_000)
    with_table = build_recipe(m, e, p, phase="decode", tp=2, pp=32).weight_bytes
    assert with_table == 232_259_584 and with_table - t.moved_bytes == 101_187_584
    d = api.predict("llama-2-7b", "groq-lpu", tp=2, pp=32, context=128)
    assert d.chips == 2 * 32 + 4 and d.weight_bytes == 131_072_000 and bool(d.fits)
    assert d.deployment.startswith("68 x groq-lpu: 32 pipeline stages of 1 layer, each split 2 ways (tensor), "
                                   "and 4 chips of their own holding the embedding and LM head")


def test_tables_stay_on_the_stage_off_pipelined_sram():
    m = load_model("llama-3.1-70b")
    w = 1e12
    assert sram_tables(m, load_hardware("h100-sxm"), 8, 4, 0.08, stage_weight_bytes=w) is None  # HBM: graph.py
    assert sram_tables(m, load_hardware("sambanova-sn40l"), 8, 4, 0.08, stage_weight_bytes=w) is None  # HBM
    assert sram_tables(m, load_hardware("groq-lpu"), 16, 1, 0.08, stage_weight_bytes=w) is None  # one stage


def test_a_table_that_is_a_small_share_of_its_stage_stays_there():
    """Llama-3.1-70B at 16-bit on Cerebras, tp 1 x pp 4 (20 layers a wafer): the LM head, 128,256 x 8,192 x 2 B =
    2.10 GB, is 5.8% of its stage's 36.3 GB (<= TABLE_SHARE_MAX = 10%): it stays, and the replica is the 4 CS-3 the
    reference names (sram-systems.md: "Llama-3.1-70B at 16-bit on 4 CS-3"). On Groq (int8, tp 8 x pp 80) the same
    head is 263 MB a chip against a 107 MB layer: it gets chips of its own."""
    m, hw, e, p = api.resolve("llama-3.1-70b", "cerebras-wse3")
    stage = build_recipe(m, e, p, phase="decode", tp=1, pp=4).weight_bytes
    assert 0.05 < 128_256 * 8_192 * 2 / stage < 0.1
    assert sram_tables(m, hw, 1, 4, e.memory.reserve_frac, stage_weight_bytes=stage) is None
    assert api.predict("llama-3.1-70b", "cerebras-wse3", tp=1, pp=4, context=1024).chips == 4
    res = sweep("llama-3.1-70b", ["cerebras-wse3"], isl=1024, osl=1024)
    fastest = int(np.argmax(res.columns["tokens_per_s_per_user"]))
    assert res.columns["chips"][fastest] == 4 and res.columns["precision"][fastest] == "bf16"
    mg, hg, eg, pg = api.resolve("llama-3.1-70b", "groq-lpu")
    stage_g = build_recipe(mg, eg, pg, phase="decode", tp=8, pp=80).weight_bytes
    assert sram_tables(mg, hg, 8, 80, eg.memory.reserve_frac, stage_weight_bytes=stage_g) is not None


def test_table_stage_time_is_the_lm_head_split_over_its_chips():
    """Llama-3.1-70B int8, tp=16 x pp=80: tables 2 x 128,256 x 8,192 x 2 B / 16 = 262.7 MB per chip -> k=2,
    32 chips; the LM head runs over 32 shards, half its time on a 16-way stage, so the bottleneck stage is a
    layer stage (one layer + its all-reduces), shorter than the old layer + LM head stage."""
    d = api.predict("llama-3.1-70b", "groq-lpu", tp=16, pp=80, context=1024, batch=1)
    assert d.chips == 1280 + 32
    one = api.predict("llama-3.1-70b", "groq-lpu", tp=16, pp=1, context=1024, batch=1)  # 80 layers + head, 1 stage
    assert float(d.stage_s) < float(one.stage_s) / 79


def test_no_chip_exceeds_its_sram_on_the_groq_frontier():
    hw = load_hardware("groq-lpu")
    res = sweep("llama-2-7b", ["groq-lpu"], isl=128, osl=128)
    c = res.columns
    assert len(c["chips"]) and np.all(c["memory_bytes_per_chip"] <= hw.sram_bytes * (1 - 0.08))
    pipelined = c["pp"] > 1
    extra = (c["chips"] - c["tp"] * c["pp"])[pipelined]
    assert np.all(extra >= 0) and np.any(extra > 0)    # the table chips are counted where the tables have their own


def test_sram_pipeline_prefill_keeps_its_stages_busy():
    """Groq, Llama-3.1-70B int8, tp 8 x pp 80, 1k-token prompts: a chunk of 8 prompts does not fit SRAM, so each
    micro-batch carries one request and 80 of them keep the 80 stages busy (core/serving.chunked_prefill): a request
    costs the busiest stage's time for its prompt, 1/80 of pushing it through an otherwise empty pipeline. An HBM
    GPU pipeline keeps the conservative rule (one request, pipeline empty)."""
    from tokenomy.core.predict import predict_core
    from tokenomy.core.serving import chunked_prefill

    m, hw, e, p = api.resolve("llama-3.1-70b", "groq-lpu")
    c = chunked_prefill(m, hw, e, p, 1024.0, tp=8, pp=80)
    assert float(c.requests) == 1.0
    full = predict_core(m, hw, e, p, phase="prefill", batch=1.0, length=1024.0, tp=8, pp=80)
    empty = predict_core(m, hw, e, p, phase="prefill", batch=1.0, length=1024.0, tp=8, pp=80, micro_batches=1.0)
    assert bool(full.fits)
    np.testing.assert_allclose(float(c.stage_s), float(full.stage_s), rtol=1e-9)
    np.testing.assert_allclose(1024.0 / float(empty.tokens_per_s), 80 * float(full.stage_s), rtol=1e-9)


def test_hbm_gpu_pipeline_keeps_the_conservative_prefill_rule():
    """Llama-3.1-70B bf16 on two H100s as tp 1 x pp 2: the 8-prompt chunk does not fit beside 70.6 GB of weights a
    chip, and on an HBM GPU a request still goes through with the pipeline otherwise empty: pp = 2 times the
    busiest stage's time for its prompt (core/serving.chunked_prefill)."""
    from tokenomy.core.predict import predict_core
    from tokenomy.core.serving import chunked_prefill

    m, hw, e, p = api.resolve("llama-3.1-70b", "h100-sxm")
    c = chunked_prefill(m, hw, e, p, 1024.0, tp=1, pp=2)
    assert float(c.requests) == 1.0
    empty = predict_core(m, hw, e, p, phase="prefill", batch=1.0, length=1024.0, tp=1, pp=2, micro_batches=1.0)
    np.testing.assert_allclose(float(c.stage_s), 1024.0 / float(empty.tokens_per_s), rtol=1e-9)
    np.testing.assert_allclose(float(c.stage_s), 2 * float(empty.stage_s), rtol=1e-9)

"""Issue 10, sizing of SRAM-first systems: which tiers hold weights, chunked prefill, streamed labels."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.core.params import param_counts
from tokenomy.core.precision import parse_precision
from tokenomy.core.predict import predict_core
from tokenomy.frontier import sweep
from tokenomy.loaders.engines import load_engine
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model


def test_70b_at_16_bit_needs_four_wafers_without_streaming():
    """Llama-3.1-70B: 70.6e9 parameters x 2 B = 141 GB of bf16 weights. A CS-3 wafer holds 44 GB of SRAM,
    92% of it usable (8% reserve): 40.5 GB. 141 / 40.5 = 3.5, so at least 4 wafers; MemoryX (1.2 PB, a
    training weight store) is never counted, so no deployment on fewer wafers may appear."""
    weights = param_counts(load_model("llama-3.1-70b")).total * 2.0
    assert 140e9 < weights < 142e9
    assert np.ceil(weights / (44e9 * 0.92)) == 4
    r = sweep("llama-3.1-70b", ["cerebras-wse3"], isl=1024, osl=1024, precision="bf16")
    assert r.columns["chips"].min() >= 4


def test_sn40l_is_sized_on_hbm_up_to_a_16_socket_node_and_beyond():
    """Llama-3.1-405B at bf16: 405.9e9 x 2 B = 812 GB. An SN40L socket has 64 GB of HBM, 58.9 GB usable:
    812 / 58.9 = 13.8 sockets -> the first power of two is 16, one full node (its 1.5 TB of DDR per socket
    is a capacity tier, not weight memory). Before issue 10 it 'fitted' on 8 sockets by streaming from DDR."""
    r = sweep("llama-3.1-405b", ["sambanova-sn40l"], isl=1024, osl=1024, precision="bf16")
    c = r.columns
    assert c["chips"].min() == 16
    assert (c["chips"] > 16).any()                # more nodes are swept too (pipeline across nodes)


def test_a_deployment_streaming_weights_from_ddr_is_labelled():
    """Llama-3.1-70B bf16 on ONE SN40L: 141 GB does not fit its 64 GB of HBM, so 77 GB stream from DDR every
    step. predict costs it at the DDR bandwidth (100 GB/s: >= 0.77 s per step) and says so in words."""
    m, hw = load_model("llama-3.1-70b"), load_hardware("sambanova-sn40l")
    p = predict_core(m, hw, load_engine("dataflow"), parse_precision("bf16"), phase="decode", batch=1, length=1024)
    assert "DDR" in p.weights_streamed and "every step" in p.weights_streamed
    assert float(p.latency_s) >= 0.77
    rec = p.records()[0]
    assert rec["weights_streamed"] == p.weights_streamed
    # on 4 sockets the weights (35 GB each) fit HBM: nothing is streamed
    p4 = predict_core(m, hw, load_engine("dataflow"), parse_precision("bf16"), phase="decode", batch=1,
                      length=1024, tp=4)
    assert p4.weights_streamed == ""


@pytest.mark.parametrize("tp,pp,table_chips", [(8, 80, 8), (64, 9, 0)])
def test_groq_70b_at_8_bit_fits_its_published_chip_count(tp, pp, table_chips):
    """Llama-2-70B at 8-bit: 69.5 GB / (230 MB x 0.92) = 328 chips of weights; Groq served it on ~576
    (tp 64 x pp 9) and 640 = 8 x 80 (one layer per stage) also holds it. A 3k-token prompt's activations
    need not fit SRAM at once: prefill is chunked, so both deployments fit. The 16-bit LM head (32,000 x 8,192
    x 2 B = 524 MB) is 65.5 MB a chip at tp 8, more than 10% of a one-layer stage (107 MB of int8 layer): the
    embedding and head take one more stage of tp chips (core/memory.sram_tables; 1.05 GB / 8 = 131 MB within
    211.6 MB, k = 1). At tp 64 it is 8.2 MB against 9 layers' 120 MB (6.8%): it stays, and the replica is the
    published 576 chips."""
    r = sweep("llama-2-70b", ["groq-lpu"], isl=3072, osl=1024, precision="int8", tp=tp, pp=pp)
    assert set(r.columns["chips"]) == {tp * pp + table_chips}


def test_fit_reasons_are_never_empty():
    """A point that does not fit always says why (memory needed against memory available)."""
    m, hw = load_model("llama-3.1-70b"), load_hardware("groq-lpu")
    p = predict_core(m, hw, load_engine("dataflow"), parse_precision("bf16"), phase="decode",
                     batch=np.array([1.0, 4096.0]), length=4096, tp=64, pp=20)
    for i, rec in enumerate(p.records()):
        assert rec["fits"] or ("needs" in rec["fit_reason"] and "available" in rec["fit_reason"]), i

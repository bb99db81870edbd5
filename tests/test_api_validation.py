"""Public API input rules (spec/args.py), the output guard, and the shipped-quantization default."""

import json
import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import tokenomy
from tokenomy import SpecError, TokenomyError, UnsupportedError
from tokenomy.cli.main import app
from tokenomy.core.graph import parallel_error
from tokenomy.economics import factory, operating_point
from tokenomy.frontier import sweep
from tokenomy.gemm import predict_gemm
from tokenomy.loaders.hardware import hardware_ids, load_hardware
from tokenomy.loaders.models import load_model, model_from_config, model_names
from tokenomy.shape import analyze_shape

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GARBAGE = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.integers(10**20, 10**90),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.sampled_from(["h100-sxm", "nope", "bf16", ""]),
)
VALID = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "phase": "decode", "batch": 4, "context": 512}


def _assert_finite_nonnegative(pred):
    for f in fields(pred):
        a = np.asarray(getattr(pred, f.name))
        if a.dtype.kind == "f":
            assert np.all(np.isfinite(a)) and np.all(a >= 0), (f.name, a)


@SETTINGS
@given(arg=st.sampled_from(["model", "hardware", "phase", "batch", "context", "engine", "precision", "tp", "pp",
                            "ep", "profile", "force"]), value=GARBAGE)
def test_wrong_inputs_raise_only_tokenomy_errors(arg, value):
    kw = {**VALID, arg: value}
    model, hardware = kw.pop("model"), kw.pop("hardware")
    try:
        pred = tokenomy.predict(model, hardware, **kw)
    except TokenomyError as e:
        assert "\n" not in str(e) and str(e)
        return
    _assert_finite_nonnegative(pred)


@pytest.mark.parametrize("kw, words", [
    ({"precision": 0.5}, ["precision", "0.5", "float"]),
    ({"engine": -1}, ["engine", "-1", "int"]),
    ({"model": None}, ["model", "None", "models list"]),
    ({"hardware": 3}, ["hardware", "3", "hardware list"]),
    ({"tp": True}, ["tp", "True", "bool"]),
    ({"batch": 1e82}, ["batch", "10,000,000"]),
    ({"context": float("nan")}, ["context", "nan"]),
    ({"context": 131072}, ["context", "max_position_embeddings", "force"]),
    ({"tp": 128, "model": "llama-3.1-405b"}, ["tp=128", "scale-up domain", "8 chips", "pp"]),
])
def test_messages_name_argument_value_and_fix(kw, words):
    kw = {**VALID, **kw}
    with pytest.raises(SpecError) as e:
        tokenomy.predict(kw.pop("model"), kw.pop("hardware"), **kw)
    for w in words:
        assert w in str(e.value)


def test_force_allows_context_beyond_max_positions():
    # llama-3.1-8b: max_position_embeddings 131072; context 131071 + 1 new token is the last allowed step
    tokenomy.predict("llama-3.1-8b", "h100-sxm", context=131071)
    pred = tokenomy.predict("llama-3.1-8b", "h100-sxm", context=200_000, force=True)
    assert float(pred.context) == 200_000
    r = CliRunner().invoke(app, ["predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "decode",
                                 "--batch", "1", "--context", "200000"])
    assert r.exit_code == 2 and "--force" in r.output
    r = CliRunner().invoke(app, ["predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "decode",
                                 "--batch", "1", "--context", "200000", "--force", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"][0]["context"] == 200000


def test_tp_beyond_scaleup_domain_rejected_but_pp_accepted():
    with pytest.raises(SpecError, match="across scale-up domains"):
        tokenomy.predict("llama-3.1-405b", "h100-sxm", context=1024, tp=16)
    pred = tokenomy.predict("llama-3.1-405b", "h100-sxm", context=1024, tp=8, pp=2)
    assert pred.chips == 16


def test_frontier_never_puts_tp_beyond_the_domain():
    hws = ["h100-sxm", "gb200", "groq-lpu"]
    res = sweep("llama-3.1-70b", hws, 1024, 256, chips=16)
    dom = {h: load_hardware(h).scaleup_domain for h in hws}
    assert all(tp <= dom[h] for h, tp in zip(res.columns["hardware"], res.columns["tp"]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(model_names()), hw=st.sampled_from(hardware_ids()),
       phase=st.sampled_from(["prefill", "decode"]), precision=st.sampled_from([None, "bf16", "fp8", "fp4"]),
       tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2]),
       batch=st.integers(1, 10**7), length=st.integers(0, 10**9 - 1), engine=st.sampled_from([None, "torch-eager"]))
def test_every_output_is_finite_and_nonnegative(model, hw, phase, precision, tp, pp, batch, length, engine):
    m, h = load_model(model), load_hardware(hw)
    if precision and h.peak(precision) is None or parallel_error(m, tp, pp) or tp > h.scaleup_domain:
        return                                      # inputs the API rightly rejects (tested above)
    size = {"seq": max(length, 1)} if phase == "prefill" else {"context": length}
    try:
        pred = tokenomy.predict(model, hw, phase=phase, batch=batch, precision=precision, tp=tp, pp=pp,
                                engine=engine, force=True, **size)
    except UnsupportedError as e:                   # only a shipped format the chip cannot run
        assert "matrix rate" in str(e), str(e)
        return
    _assert_finite_nonnegative(pred)


def test_output_guard_names_the_inputs():
    # a chip whose memory streams at 1e-320 bytes/s makes every memory-bound time overflow to inf
    slow = load_hardware("h100-sxm").model_copy(update={"hbm_bytes_per_s": 1e-320})
    with pytest.raises(UnsupportedError) as e:
        tokenomy.predict("llama-3.1-8b", slow, context=512)
    assert "model=llama-3.1-8b" in str(e.value) and "hardware=h100-sxm" in str(e.value)


@pytest.mark.parametrize("call", [
    lambda: sweep("llama-3.1-8b", 3, 100, 100),
    lambda: sweep("llama-3.1-8b", "h100-sxm", 100, 100, chips=float("inf")),
    lambda: sweep("llama-3.1-8b", "h100-sxm", 100, 100, precision=0.5),
    lambda: sweep("llama-3.1-8b", "h100-sxm", 100, 100, engine=True),
    lambda: sweep("llama-3.1-8b", "h100-sxm", "x", 100),
    lambda: operating_point("llama-3.1-8b", "h100-sxm", "fast"),
    lambda: operating_point("llama-3.1-8b", "h100-sxm", 10, isl=1e300),
    lambda: factory(float("inf"), "llama-3.1-8b", "h100-sxm", 10),
    lambda: factory(1.0, "llama-3.1-8b", 5, 10),
    lambda: analyze_shape(None, "h100-sxm"),
    lambda: analyze_shape("llama-3.1-8b", "h100-sxm", precision=2),
    lambda: predict_gemm(None, 1, 64, 64),
])
def test_other_entry_points_share_the_rules(call):
    with pytest.raises(SpecError):
        call()


# ---- default precision: the checkpoint's shipped quantization


def test_gpt_oss_120b_ships_mxfp4_experts():
    # experts: 36 layers x 128 x 3*2880*2880 = 114,661,785,600 weights x 4.25/8 bytes = 60,914,073,600
    # attention (bf16): 36 x ((64 + 2*8)*64*2880 + 2880*64*64) = 955,514,880 x 2 =        1,911,029,760
    # router (bf16):    36 x 128*2880 = 13,271,040 x 2 =                                      26,542,080
    # embedding + LM head (bf16): 2 x 201,088*2880 x 2 =                                  2,316,533,760
    # total 65,168,179,200 bytes (~65 GB; bf16 throughout would be 234 GB)
    pred = tokenomy.predict("gpt-oss-120b", "h100-sxm", context=1024)
    assert pred.weight_bytes == 65_168_179_200
    assert "shipped mxfp4" in pred.precision and "bf16 attention+router" in pred.precision
    bf16 = tokenomy.predict("gpt-oss-120b", "h100-sxm", context=1024, precision="bf16")
    assert bf16.precision == "bf16" and 233e9 < bf16.weight_bytes < 234e9


def test_deepseek_v3_ships_fp8():
    # fp8 (1 byte): attention 61 x 187,105,280 = 11,413,422,080; dense MLP 3 x 3*7168*18432 = 1,189,085,184;
    #   experts 58 x (256 + 1 shared) x 3*7168*2048 = 656,463,101,952         -> 669,065,609,216 bytes
    # bf16 (2 bytes): router 58 x 256*7168 = 106,430,464 -> 212,860,928; embedding + head
    #   2 x 129,280*7168 = 1,853,358,080 -> 3,706,716,160
    # total 672,985,186,304 bytes = 0.67 TB (the 0.69 TB repo adds the 14B multi-token-prediction module)
    pred = tokenomy.predict("deepseek-v3", "b200", context=1024)
    assert pred.weight_bytes == 672_985_186_304
    assert pred.precision == "fp8; bf16 router (shipped fp8)"
    # A100 has no fp8 matrix units: fp8 weights, bf16 math (weight-only quantization)
    a100 = tokenomy.predict("deepseek-v3", "a100-sxm", context=1024)
    assert a100.weight_bytes == pred.weight_bytes and "weight-only" in a100.precision
    # explicit bf16 overrides: 2 x 669,065,609,216 + 212,860,928 + 3,706,716,160 = 1,342,050,795,520 bytes
    assert tokenomy.predict("deepseek-v3", "b200", context=1024, precision="bf16").weight_bytes == 1_342_050_795_520


def test_mxfp4_on_h100_runs_bf16_math():
    # weight-only: the expert GEMMs read 4.25-bit weights but compute at H100's bf16 rate, so decode at
    # batch 1 (memory-bound) is faster than bf16 weights and FLOPs per step are the same
    w4 = tokenomy.predict("gpt-oss-20b", "h100-sxm", context=1024)
    bf = tokenomy.predict("gpt-oss-20b", "h100-sxm", context=1024, precision="bf16")
    assert float(w4.flop_per_step) == float(bf.flop_per_step)
    assert float(w4.bytes_per_step) < 0.6 * float(bf.bytes_per_step)
    assert float(w4.latency_s) < float(bf.latency_s)


BASE_CFG = {"model_type": "llama", "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 4,
            "num_attention_heads": 8, "vocab_size": 1000, "max_position_embeddings": 4096}


@pytest.mark.parametrize("quant, fmt, parts", [
    ({"quant_method": "fp8", "activation_scheme": "dynamic"}, ("fp8", "fp8"), ("router",)),
    ({"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"]},
     ("mxfp4", "bf16"), ("attention", "router")),
    ({"quant_method": "awq", "bits": 4}, ("bf16", "bf16"), ()),
])
def test_quantization_config_is_parsed(quant, fmt, parts):
    m = model_from_config({**BASE_CFG, "quantization_config": quant}, "toy")
    assert (m.quant_weights, m.quant_activations) == fmt and m.quant_bf16_parts == parts
    assert m.quant_method == quant["quant_method"] and m.max_position_embeddings == 4096
    label = tokenomy.predict(m, "h100-sxm", context=10).precision
    assert ("not modelled" in label) == (quant["quant_method"] == "awq")


@pytest.mark.parametrize("bad", [{"quantization_config": "fp8"}, {"quantization_config": {"bits": 4}},
                                 {"quantization_config": {"quant_method": "fp8", "modules_to_not_convert": "lm_head"}},
                                 {"max_position_embeddings": 0}, {"max_position_embeddings": True}])
def test_bad_quantization_config_is_a_spec_error(bad):
    with pytest.raises(SpecError):
        model_from_config({**BASE_CFG, **bad}, "toy")


def test_cli_states_the_shipped_precision():
    r = CliRunner().invoke(app, ["predict", "--model", "gpt-oss-120b", "--hardware", "h100-sxm", "--phase", "decode",
                                 "--batch", "1", "--context", "1024", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)["rows"][0]
    assert "shipped mxfp4" in d["precision"] and math.isclose(d["weight_bytes"], 65_168_179_200)


def test_request_longer_than_the_context_is_refused_unless_forced():
    """mistral-7b: max_position_embeddings = 32,768, so 30,000 + 5,000 tokens cannot be one request."""
    from tokenomy.economics import operating_point
    from tokenomy.frontier import sweep
    with pytest.raises(SpecError, match="max_position_embeddings = 32,768"):
        sweep("mistral-7b", ["h100-sxm"], isl=30_000, osl=5_000)
    with pytest.raises(SpecError, match="isl \\+ osl"):
        operating_point("mistral-7b", "h100-sxm", 0, isl=30_000, osl=5_000)
    assert len(sweep("mistral-7b", ["h100-sxm"], isl=30_000, osl=5_000, force=True)) > 0
    assert len(sweep("mistral-7b", ["h100-sxm"], isl=30_000, osl=2_768)) > 0          # exactly the context

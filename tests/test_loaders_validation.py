"""Every file tokenomy reads goes through a validated loader (issue 16): a bad file gives the project's
own error with one line naming the file, the field and the fix, never another exception, and a file
that loads never yields a non-finite prediction."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokenomy.api import POWER_FIELDS, predict
from tokenomy.cli.main import app
from tokenomy.cli.predict import CASE_KEYS, run_cases
from tokenomy.errors import CalibrationError, CatalogError, SpecError, TokenomyError
from tokenomy.loaders.cases import read_cases
from tokenomy.loaders.economics import load_scenario
from tokenomy.loaders.engines import load_engine, profile_hardware
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.measurements import read_measurements
from tokenomy.loaders.models import load_model
from tokenomy.spec.hardware import HardwareSpec

BINARY = bytes(range(256)) * 4            # not UTF-8: 0x80 at offset 128
DEEP = "[" * 5000 + "]" * 5000            # RecursionError in a naive reader
LLAMA = {"model_type": "llama", "hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 4,
         "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 32000}


def _catalog_config(name: str) -> dict:
    text = resources.files("tokenomy.catalog.models").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["config"]


def _chip_yaml() -> dict:
    return yaml.safe_load(resources.files("tokenomy.catalog.hardware").joinpath("h100-sxm.yaml")
                          .read_text(encoding="utf-8"))


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def _assert_one_line(exc: BaseException, path: Path, *needles: str) -> None:
    msg = str(exc)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"


def _with(base: dict, **changes) -> dict:
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if v is _DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


_DROP = object()

# --- config.json ---------------------------------------------------------------------------------

CONFIG_CASES = [
    # (config text or dict, field the message must name)
    (_with(LLAMA, num_attention_heads=0), "num_attention_heads"),
    (_with(LLAMA, num_key_value_heads=0), "num_key_value_heads"),
    (_with(LLAMA, num_key_value_heads=3), "num_key_value_heads"),          # 8 heads not a multiple of 3
    (_with(LLAMA, hidden_size=500), "hidden_size"),                         # 500 / 8 heads, no head_dim
    (_with(LLAMA, intermediate_size=-14336), "intermediate_size"),
    (_with(LLAMA, intermediate_size=0), "intermediate_size"),
    (_with(LLAMA, intermediate_size=True), "intermediate_size"),
    (_with(LLAMA, intermediate_size=1536.5), "intermediate_size"),
    (_with(LLAMA, num_hidden_layers=10**9), "num_hidden_layers"),
    (_with(LLAMA, head_dim=0), "head_dim"),
    (_with(LLAMA, vocab_size=_DROP), "vocab_size"),
    (_with(LLAMA, tie_word_embeddings="yes"), "tie_word_embeddings"),
    (_with(LLAMA, model_type=_DROP, architectures=5), "architectures"),
    (_with(LLAMA, model_type=7), "model_type"),
    (_with(LLAMA, layer_types=["full_attention"]), "layer_types"),
    (_with(_catalog_config("qwen3-30b-a3b"), decoder_sparse_step=0), "decoder_sparse_step"),
    (_with(_catalog_config("qwen3-30b-a3b"), mlp_only_layers=5), "mlp_only_layers"),
    (_with(_catalog_config("deepseek-v3"), moe_layer_freq=0), "moe_layer_freq"),
    (_with(_catalog_config("deepseek-v3"), kv_lora_rank=-1), "kv_lora_rank"),
    (_with(_catalog_config("mixtral-8x7b"), num_local_experts=0), "num_local_experts"),
    (_with(_catalog_config("mixtral-8x7b"), num_experts_per_tok=9), "num_experts_per_tok"),
    ('{"model_type": "llama", "hidden_size": NaN}', "hidden_size"),
    ('{"model_type": "llama", "hidden_size": Infinity}', "hidden_size"),
    ('{"model_type": "llama", "hidden_size": 1e400}', "hidden_size"),
    ('{"model_type": "llama", ', "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (DEEP, "nested"),
    (BINARY, "UTF-8"),
]


@pytest.mark.parametrize("content,field", CONFIG_CASES, ids=[f for _, f in CONFIG_CASES])
def test_bad_config_json(tmp_path, content, field):
    path = _write(tmp_path, "config.json", content if isinstance(content, (str, bytes)) else json.dumps(content))
    with pytest.raises(SpecError) as e:
        load_model(str(path))
    _assert_one_line(e.value, path, field)


def test_good_config_still_loads(tmp_path):
    spec = load_model(str(_write(tmp_path, "config.json", json.dumps(LLAMA))))
    assert (spec.n_heads, spec.n_kv_heads, spec.d_head, spec.d_ff) == (8, 2, 64, 1536)


# --- hardware YAML -------------------------------------------------------------------------------

def _fig(v) -> dict:
    return {"value": v, "source": "test"}


HARDWARE_CASES = [
    ({"bf16_dense_tflops": _fig(float("nan"))}, "bf16_dense_tflops"),
    ({"bf16_dense_tflops": _fig(0)}, "bf16_dense_tflops"),
    ({"bf16_dense_tflops": _fig(1e-300)}, "bf16_dense_tflops"),
    ({"bf16_dense_tflops": _fig(1e30)}, "bf16_dense_tflops"),
    ({"bf16_dense_tflops": _fig(True)}, "bf16_dense_tflops"),
    ({"hbm_tb_per_s": _fig(float("inf"))}, "hbm_tb_per_s"),
    ({"hbm_tb_per_s": _fig(0)}, "hbm_bytes_per_s"),                    # 80 GB of HBM with no bandwidth
    ({"scaleup_gb_per_s_unidir": _fig(0)}, "scaleup"),                  # 8-chip domain with a zero link
    ({"power_limit_w": _fig(0)}, "power_limit_w"),
    ({"compute_units": _fig(0.5)}, "compute_units"),
    ({"year": "soon"}, "year"),
    ({"name": ["H100"]}, "name"),
]


@pytest.mark.parametrize("change,field", HARDWARE_CASES, ids=[f for _, f in HARDWARE_CASES])
def test_bad_hardware_yaml(tmp_path, change, field):
    path = _write(tmp_path, "chip.yaml", yaml.safe_dump({**_chip_yaml(), **change}))
    with pytest.raises(CatalogError) as e:
        load_hardware(str(path))
    _assert_one_line(e.value, path, field)


@pytest.mark.parametrize("content,needle", [
    (BINARY, "UTF-8"), ("id: [unclosed", "not valid YAML"), ("- a\n- b\n", "mapping"), ("", "empty file"),
    ("a: " + "[" * 300 + "]" * 300, "nested"), ("1: {value: 1, source: x}\n", "not text"),
], ids=["binary", "invalid", "list", "empty", "deep", "int-key"])
def test_unreadable_hardware_yaml(tmp_path, content, needle):
    path = _write(tmp_path, "chip.yaml", content)
    with pytest.raises(CatalogError) as e:
        load_hardware(str(path))
    _assert_one_line(e.value, path, needle)


# --- engine profiles (catalog format and calibrate output) ---------------------------------------

ENGINE_CASES = [
    ("p.json", '{"name": "x", "step_fixed_s": Infinity}', CatalogError, "step_fixed_s"),
    ("p.yaml", "name: x\nstep_fixed_s: .nan\n", CatalogError, "step_fixed_s"),
    ("p.yaml", "name: x\nkernel_fixed_s: 5\n", SpecError, "kernel_fixed_s"),
    ("p.yaml", "name: x\ngemm: {compute_frac: true}\n", SpecError, "compute_frac"),
    ("p.yaml", "name: x\ngemm: {compute_frac: 1.5}\n", SpecError, "compute_frac"),
    ("p.yaml", "extends: 5\n", SpecError, "extends"),
    ("p.yaml", "name: 5\n", SpecError, "name"),
    ("p.yaml", "- x\n", CatalogError, "mapping"),
    ("p.json", DEEP, CatalogError, "nested"),
    ("p.json", BINARY, CatalogError, "UTF-8"),
]


@pytest.mark.parametrize("name,content,cls,field", ENGINE_CASES, ids=[c[3] for c in ENGINE_CASES])
def test_bad_engine_profile(tmp_path, name, content, cls, field):
    path = _write(tmp_path, name, content)
    with pytest.raises(cls) as e:
        load_engine(str(path))
    _assert_one_line(e.value, path, field)


@pytest.mark.parametrize("device,field", [
    ({"hardware": ["h100-sxm"]}, "device.hardware"),
    ({"hardware_spec": {"id": "x", "name": "x", "vendor": "x", "peak_flop_per_s": {"bf16": 1e-300},
                        "hbm_bytes": 8e10, "hbm_bytes_per_s": 1e12}}, "peak_flop_per_s"),
    ("h100-sxm", "device"),
])
def test_bad_profile_device(tmp_path, device, field):
    path = _write(tmp_path, "prof.json", json.dumps({"name": "x", "device": device}))
    with pytest.raises(SpecError) as e:
        profile_hardware(path)
    _assert_one_line(e.value, path, field)


# --- economics scenarios -------------------------------------------------------------------------

@pytest.mark.parametrize("name,content,field", [
    ("s.yaml", BINARY, "UTF-8"), ("s.toml", BINARY, "UTF-8"), ("s.toml", "pue = [", "not valid TOML"),
    ("s.yaml", "[1, 2]", "mapping"), ("s.toml", "pue = nan\n", "pue"), ("s.yaml", "pue: .inf\n", "pue"),
    ("s.yaml", "pue: {value: 1.2, sauce: x}\n", "pue"), ("s.yaml", "not_a_field: 1\n", "not_a_field"),
    ("s.yaml", "a: " + "[" * 300 + "]" * 300, "nested"),
], ids=lambda x: x if isinstance(x, str) and len(x) < 30 else "content")
def test_bad_scenario(tmp_path, name, content, field):
    path = _write(tmp_path, name, content)
    with pytest.raises(SpecError) as e:
        load_scenario(path)
    _assert_one_line(e.value, path, field)


# --- case files (predict --cases, gemm --cases) --------------------------------------------------

GOOD_CASE = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "phase": "decode", "batch": 4, "context": 512}
CASE_CASES = [
    (json.dumps({**GOOD_CASE, "tp": 0}), "'tp'"),
    (json.dumps({**GOOD_CASE, "tp": 2.5}), "'tp'"),
    (json.dumps({**GOOD_CASE, "batch": True}), "'batch'"),
    (json.dumps({**GOOD_CASE, "batch": -3}), "'batch'"),
    (json.dumps({**GOOD_CASE, "hardware": ["h100-sxm"]}), "'hardware'"),
    (json.dumps({**GOOD_CASE, "precision": 8}), "'precision'"),
    (json.dumps({**GOOD_CASE, "colour": "red"}), "colour"),
    ('{"model": "llama-3.1-8b", "batch": NaN}', "batch"),
    ('{"model": "llama-3.1-8b", "batch": Infinity}', "batch"),
    ('{"model": "llama-3.1-8b", "batch": 1e400}', "batch"),
    ('{"model": "llama-3.1-8b", "batch": ' + "[" * 40 + "]" * 40 + "}", "nested"),
    ("[1, 2, 3]", "JSON object"),
    ('"just a string"', "JSON object"),
    ("{not json", "not valid JSON"),
    (DEEP, "nested"),
]


@pytest.mark.parametrize("line,field", CASE_CASES, ids=[f for _, f in CASE_CASES])
def test_bad_case_line(tmp_path, line, field):
    path = _write(tmp_path, "cases.jsonl", json.dumps(GOOD_CASE) + "\n\n" + line + "\n")
    with pytest.raises(SpecError) as e:
        read_cases(str(path), CASE_KEYS)
    _assert_one_line(e.value, path, field)
    assert "line 3" in str(e.value)


def test_binary_and_missing_case_files(tmp_path):
    path = _write(tmp_path, "cases.jsonl", BINARY)
    with pytest.raises(SpecError, match="UTF-8"):
        read_cases(str(path), CASE_KEYS)
    with pytest.raises(SpecError, match="not found"):
        read_cases(str(tmp_path / "nope.jsonl"), CASE_KEYS)
    with pytest.raises(SpecError, match="not a file"):
        read_cases(str(tmp_path), CASE_KEYS)


def test_whole_number_counts_become_ints(tmp_path):
    path = _write(tmp_path, "cases.jsonl", json.dumps({**GOOD_CASE, "batch": 4.0, "tp": None}) + "\n")
    [(line, case)] = read_cases(str(path), CASE_KEYS)
    assert line == 1 and case["batch"] == 4 and isinstance(case["batch"], int) and case["tp"] is None


# --- measurement rows (validate --measurements, calibrate refit) ----------------------------------

GEMM_ROW = {"kind": "gemm", "dtype": "bf16", "m": 1, "n": 4096, "k": 4096, "s": 2.5e-5}
MODEL_ROW = {"kind": "model", "name": "m", "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8,
             "intermediate": 14336, "vocab": 128256}
ROW_CASES = [
    ("[1, 2]", "JSON object"),
    ("42", "JSON object"),
    (json.dumps({"m": 1}), "'kind'"),
    (json.dumps(_with(GEMM_ROW, s=0)), "'s'"),
    (json.dumps(_with(GEMM_ROW, s=-1e-5)), "'s'"),
    (json.dumps(_with(GEMM_ROW, k=_DROP)), "'k'"),
    (json.dumps(_with(GEMM_ROW, m="1")), "'m'"),
    (json.dumps({"kind": "decode", "model": "m", "b": 1, "ctx": 128, "step_s": 0}), "'step_s'"),
    (json.dumps({"kind": "energy", "model": "m", "phase": "both", "b": 1, "n": 8, "j_per_token": 1.0}), "'phase'"),
    (json.dumps(_with(MODEL_ROW, kv_heads=5)), "n_kv_heads"),
    (json.dumps(_with(MODEL_ROW, heads=0)), "'heads'"),
    ('{"kind": "gemm", "m": 1, "n": 1, "k": 1, "s": NaN}', "'s'"),
    ("{broken", "not valid JSON"),
]


@pytest.mark.parametrize("line,field", ROW_CASES, ids=[f for _, f in ROW_CASES])
def test_bad_measurement_row(tmp_path, line, field):
    path = _write(tmp_path, "rows.jsonl", json.dumps(GEMM_ROW) + "\n" + line + "\n")
    with pytest.raises(CalibrationError) as e:
        read_measurements(path)
    _assert_one_line(e.value, path, field)
    assert "line 2" in str(e.value)


@pytest.mark.parametrize("name,content,needle", [
    ("rows.jsonl", BINARY, "UTF-8"), ("prof.json", '{"name": "x"}', "measurements"),
    ("prof.json", json.dumps({"measurements": [GEMM_ROW, 7]}), "measurements[1]"),
    ("prof.json", "[]", "calibrate profile"),
])
def test_bad_measurement_file(tmp_path, name, content, needle):
    path = _write(tmp_path, name, content)
    with pytest.raises(CalibrationError) as e:
        read_measurements([path])
    _assert_one_line(e.value, path, needle)


def test_shared_measurements_still_read():
    data = Path(__file__).parent / "data"
    rows = read_measurements([data / "microbench.jsonl", data / "llama-3.1-8b.jsonl"])
    assert len(rows) == sum(1 for f in ("microbench.jsonl", "llama-3.1-8b.jsonl")
                            for line in (data / f).read_text().splitlines() if line.strip())


# --- the CLI: exit 2, one line on stderr, no traceback -------------------------------------------

runner = CliRunner()


@pytest.mark.parametrize("make_args", [
    lambda d: ["predict", "--model", str(_write(d, "config.json", json.dumps(_with(LLAMA, num_attention_heads=0)))),
               "--hardware", "h100-sxm", "--phase", "decode", "--batch", "1", "--context", "16"],
    lambda d: ["predict", "--model", "llama-3.1-8b", "--hardware", str(_write(d, "chip.yaml", BINARY)),
               "--phase", "decode", "--batch", "1", "--context", "16"],
    lambda d: ["predict", "--cases", str(_write(d, "c.jsonl", json.dumps({**GOOD_CASE, "tp": 0})))],
    lambda d: ["predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "decode", "--batch", "1",
               "--context", "16", "--profile", str(_write(d, "p.json", '{"name": "x", "step_fixed_s": Infinity}'))],
    lambda d: ["gemm", "--cases", str(_write(d, "g.jsonl", '{"hardware": "h100-sxm", "m": NaN, "n": 1, "k": 1}'))],
    lambda d: ["validate", "--measurements", str(_write(d, "r.jsonl", json.dumps(_with(GEMM_ROW, s=0))))],
    lambda d: ["validate", "--measurements", str(_write(d, "r.jsonl", "[1]\n"))],
    lambda d: ["cost", "--hardware", "h100-sxm", "--scenario", str(_write(d, "s.yaml", BINARY))],
])
def test_cli_bad_files_exit_2_one_line(tmp_path, make_args):
    args = make_args(tmp_path)
    r = runner.invoke(app, args)
    assert r.exit_code == 2, (args, r.output, r.exception)
    assert "Traceback" not in r.output and not isinstance(r.exception, Exception), r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert str(tmp_path) in lines[0]


# --- generated bad values: only TokenomyError, and never a non-finite prediction ------------------

BAD_VALUES = st.one_of(
    st.sampled_from([0, -1, -14336, 1, 3, 7, 10**9, 2**70, 0.5, 1e-300, 1e30, True, False, "8", None, [], {},
                     [8], {"value": 1}, float("nan"), float("inf"), -float("inf")]),
    st.integers(-10, 10**6), st.floats(allow_nan=True, allow_infinity=True))
CONFIG_BASES = [LLAMA, _catalog_config("mixtral-8x7b"), _catalog_config("qwen3-30b-a3b"),
                _catalog_config("deepseek-v3"), _catalog_config("gpt-oss-20b")]
OUTPUTS = ("latency_s", "tokens_per_s", "energy_j_per_token", "power_w", "memory_bytes")
ROW_OUTPUTS = ("latency_s", "{ph}_tokens_per_s", "{ph}_j_per_token_chip", "{ph}_power_w", "memory_bytes_per_chip")


def _dump_json(obj) -> str:
    return json.dumps(obj)          # writes NaN / Infinity literals, as a careless tool would


def _assert_finite_prediction(model, hardware, **kw) -> None:
    try:
        pred = predict(model, hardware, **kw)
    except TokenomyError:
        return
    hw = hardware if isinstance(hardware, HardwareSpec) else load_hardware(hardware)
    for name in OUTPUTS:
        v = float(getattr(pred, name))
        if name in POWER_FIELDS and not hw.power_limit_w:
            assert math.isnan(v), (name, v)      # no power limit: power and energy are unknown, never invented
            continue
        assert math.isfinite(v) and v >= 0, (name, v)


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(base=st.sampled_from(CONFIG_BASES), data=st.data(), value=BAD_VALUES)
def test_mutated_config_only_tokenomy_errors(tmp_path, base, data, value):
    key = data.draw(st.sampled_from(sorted(base)))
    path = _write(tmp_path, "config.json", _dump_json({**base, key: value}))
    try:
        spec = load_model(str(path))
    except TokenomyError:
        return
    _assert_finite_prediction(spec, "h100-sxm", phase="decode", batch=2, context=64)


@_SETTINGS
@given(data=st.data(), value=BAD_VALUES, part=st.sampled_from(["value", "whole"]))
def test_mutated_hardware_only_tokenomy_errors(tmp_path, data, value, part):
    chip = _chip_yaml()
    key = data.draw(st.sampled_from(sorted(chip)))
    chip[key] = {**chip[key], "value": value} if part == "value" and isinstance(chip[key], dict) else value
    path = _write(tmp_path, "chip.yaml", yaml.safe_dump(chip))
    try:
        hw = load_hardware(str(path))
    except TokenomyError:
        return
    _assert_finite_prediction("llama-3.1-8b", hw, phase="decode", batch=2, context=64, tp=8)


@_SETTINGS
@given(key=st.sampled_from(sorted(CASE_KEYS)), value=BAD_VALUES)
def test_mutated_case_line_only_tokenomy_errors(tmp_path, key, value):
    path = _write(tmp_path, "cases.jsonl", _dump_json({**GOOD_CASE, key: value}) + "\n")
    try:
        recs, _ = run_cases(str(path), {})
    except TokenomyError:
        return
    for name in ROW_OUTPUTS:
        assert all(math.isfinite(v := r[name.format(ph=r["phase"])]) and v >= 0 for r in recs), name

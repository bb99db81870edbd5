"""The `tokenomy predict` CLI contract (issue 2, item 6)."""

import json

import numpy as np
from typer.testing import CliRunner

import tokenomy
from tokenomy.cli.main import app

runner = CliRunner()
REQUIRED = {"latency_s", "{ph}_tokens_per_s", "{ph}_j_per_token_chip", "{ph}_power_w", "memory_bytes_per_chip", "fits",
            "{ph}_usd_per_mtok", "{ph}_j_per_token_facility", "usd_per_hour"}


def required(phase):
    return {k.format(ph=phase) for k in REQUIRED}


def row(r):
    out = json.loads(r.stdout)
    assert out["command"] == "predict" and len(out["rows"]) == 1
    return out["rows"][0]


def _run(*args):
    return runner.invoke(app, list(args))


def test_prefill_json_contract():
    r = _run("predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--engine", "torch-eager",
             "--precision", "bf16", "--tp", "1", "--phase", "prefill", "--batch", "2", "--seq", "512", "--json")
    assert r.exit_code == 0, r.output
    d = row(r)
    assert required("prefill") <= set(d) and "decode_tokens_per_s_per_user" not in d and "decode_tokens_per_s" not in d
    assert d["fits"] is True and d["seq"] == 512 and d["batch"] == 2
    api = tokenomy.predict("llama-3.1-8b", "h100-sxm", engine="torch-eager", phase="prefill", batch=2, seq=512)
    assert d["latency_s"] == float(api.latency_s)


def test_decode_json_and_table():
    r = _run("predict", "--model", "llama-3.1-8b", "--hardware", "h200-sxm", "--phase", "decode", "--batch", "8",
             "--context", "1024", "--json")
    assert r.exit_code == 0 and required("decode") <= set(row(r)) and row(r)["decode_tokens_per_s_per_user"] > 0
    r = _run("predict", "--model", "llama-3.1-8b", "--hardware", "h200-sxm", "--phase", "decode", "--batch", "8",
             "--context", "1024")
    assert r.exit_code == 0 and "latency" in r.stdout and " ms" in r.stdout and "$/Mtok" in r.stdout


def test_model_from_config_path(tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
           "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    r = _run("predict", "--model", str(p), "--hardware", "h100-sxm", "--phase", "decode", "--batch", "1",
             "--context", "10", "--json")
    assert r.exit_code == 0, r.output
    assert row(r)["decode_tokens_per_s"] > 0


def test_cases_file_in_order(tmp_path):
    lines = [
        {"model": "llama-3.1-8b", "hardware": "h100-sxm", "engine": "torch-eager", "phase": "decode", "batch": 4, "context": 128},
        {"model": "llama-3.1-8b", "hardware": "h100-sxm", "engine": "torch-eager", "precision": "bf16", "tp": 1,
         "phase": "prefill", "batch": 1, "seq": 1024},
        {"model": "mistral-7b", "hardware": "b200", "phase": "decode", "batch": 64, "context": 2048},
        {"model": "llama-3.1-8b", "hardware": "h100-sxm", "engine": "torch-eager", "phase": "decode", "batch": 1, "context": 128},
    ]
    f = tmp_path / "cases.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    r = _run("predict", "--cases", str(f), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)["rows"]
    assert [o["phase"] for o in out] == [x["phase"] for x in lines]
    assert [o["batch"] for o in out] == [x["batch"] for x in lines]
    single = tokenomy.predict("llama-3.1-8b", "h100-sxm", engine="torch-eager", phase="decode", batch=1, context=128)
    assert out[3]["latency_s"] == float(single.latency_s)


def test_bad_inputs_exit_2_with_one_line():
    cases = [
        (["--model", "llama-3.1-8b", "--hardware", "h100-sxm5"], "Did you mean 'h100-sxm'"),
        (["--model", "llama-3.1-8", "--hardware", "h100-sxm"], "llama-3.1-8b"),
        (["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tp", "3"], "tp=3"),
        (["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--engine", "vllm-x"], "Unknown engine"),
        (["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--precision", "fp4"], "fp"),
    ]
    for extra, text in cases:
        r = _run("predict", *extra, "--phase", "decode", "--batch", "1", "--context", "10")
        assert r.exit_code == 2, (extra, r.output)
        assert text in r.output and "Traceback" not in r.output
    for extra in (["--batch", "0", "--context", "10"], ["--batch", "1", "--context", "-5"]):
        r = _run("predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "decode", *extra)
        assert r.exit_code == 2 and "must be >=" in r.output
    r = _run("predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "prefill", "--batch", "1")
    assert r.exit_code == 2 and "seq" in r.output


def test_bad_cases_file(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"model": "llama-3.1-8b", "hardware": "h100-sxm", "phase": "decode", "batch": 1, "ctx": 5}\n')
    r = _run("predict", "--cases", str(f), "--json")
    assert r.exit_code == 2 and "line 1" in r.output and "ctx" in r.output


def test_does_not_fit_is_reported_not_raised():
    p = tokenomy.predict("llama-3.1-405b", "h100-sxm", phase="decode", batch=1, context=10)
    assert not bool(p.fits) and "GB per chip" in p.fit_reason()
    p8 = tokenomy.predict("llama-3.1-405b", "h100-sxm", phase="decode", batch=1, context=10, tp=8, precision="fp8")
    assert bool(p8.fits)


def test_vectorized_api_matches_scalar_calls():
    b = np.array([1, 8, 64])
    c = np.array([[128], [4096]])
    p = tokenomy.predict("qwen3-30b-a3b", "h100-sxm", phase="decode", batch=b, context=c)
    assert p.latency_s.shape == (2, 3)
    one = tokenomy.predict("qwen3-30b-a3b", "h100-sxm", phase="decode", batch=8, context=4096)
    assert p.latency_s[1, 1] == float(one.latency_s)


def test_import_does_not_load_heavy_extras():
    import subprocess
    import sys
    code = "import sys, tokenomy; print(any(m in sys.modules for m in ('torch', 'fastapi', 'matplotlib', 'plotly')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_main_job_on_defaults_runs():
    r = runner.invoke(app, [], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "llama-3.1-8b" in r.output
    rows = {}
    for line in r.output.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) == 6 and cells[0] in {"a100-sxm", "h100-sxm", "h200-sxm", "b200", "mi300x"}:
            rows[cells[0]] = [float(c.replace(",", "")) for c in cells[1:5]]
    assert set(rows) == {"a100-sxm", "h100-sxm", "h200-sxm", "b200", "mi300x"}, r.output
    assert all(v > 0 for vals in rows.values() for v in vals)
    # batch-1 decode streams the weights: its speed follows HBM bandwidth, a100 2.0 < h100 3.35 < h200 4.8 < b200 8 TB/s
    speed = {chip: vals[1] for chip, vals in rows.items()}
    assert speed["a100-sxm"] < speed["h100-sxm"] < speed["h200-sxm"] < speed["b200"]


DECODE = ["predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "decode", "--batch", "8",
          "--context", "1024"]


def test_records_are_the_json_rows_and_a_dataframe():
    p = tokenomy.predict("llama-3.1-8b", "h100-sxm", phase="decode", batch=8, context=1024)
    r = row(_run(*DECODE, "--json"))
    assert p.records() == [r]
    df = p.to_pandas()
    assert list(df.columns) == list(r) and len(df) == 1
    assert df["decode_tokens_per_s"][0] == float(p.tokens_per_s) == r["decode_tokens_per_s"]
    assert "usd_per_mtok" not in r and "power_w_per_chip" not in r and "spec" in r


def test_scenario_flags_price_the_step():
    base = json.loads(_run(*DECODE, "--json").stdout)
    assert base["query"]["mode"] == "owned" and base["query"]["pue"] == 1.3
    rented = json.loads(_run(*DECODE, "--mode", "rented", "--json").stdout)
    assert rented["query"]["mode"] == "rented"
    assert rented["rows"][0]["decode_usd_per_mtok"] != base["rows"][0]["decode_usd_per_mtok"]
    assert rented["rows"][0]["latency_s"] == base["rows"][0]["latency_s"]
    dear = row(_run(*DECODE, "--electricity-usd-per-kwh", "0.3", "--pue", "1.5", "--json"))
    assert dear["decode_usd_per_mtok"] > base["rows"][0]["decode_usd_per_mtok"]
    assert dear["decode_j_per_token_facility"] > base["rows"][0]["decode_j_per_token_facility"]
    api = tokenomy.predict("llama-3.1-8b", "h100-sxm", batch=8, context=1024, mode="rented")
    assert float(api.usd_per_mtok) == rented["rows"][0]["decode_usd_per_mtok"]
    for bad in (["--pue", "0.5"], ["--mode", "leased"]):
        r = _run(*DECODE, *bad)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output, r.output


def test_mixed_cases_rows_and_csv(tmp_path):
    f = tmp_path / "cases.jsonl"
    f.write_text('{"model": "llama-3.1-8b", "hardware": "h100-sxm", "phase": "decode", "batch": 4, "context": 128}\n'
                 '{"model": "llama-3.1-8b", "hardware": "h100-sxm", "phase": "prefill", "batch": 1, "seq": 256}\n')
    out = tmp_path / "rows.csv"
    r = _run("predict", "--cases", str(f), "--csv", str(out), "--json")
    assert r.exit_code == 0, r.output
    dec, pre = json.loads(r.stdout)["rows"]
    assert "decode_tokens_per_s" in dec and "decode_tokens_per_s_per_user" in dec and "prefill_tokens_per_s" not in dec
    assert "prefill_tokens_per_s" in pre and "decode_tokens_per_s_per_user" not in pre and "prefill_usd_per_mtok" in pre
    assert out.read_text().splitlines()[0].startswith("model,")
    r = _run("predict", "--cases", str(f), "--csv", str(out))
    assert r.exit_code == 2 and "exists" in r.output
    r = runner.invoke(app, ["predict", "--cases", str(f)], env={"COLUMNS": "80"}, terminal_width=80)
    assert r.exit_code == 0 and "input tok/s" in r.stdout and "tok/s/user" in r.stdout

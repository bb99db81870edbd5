"""`tokenomy validate --serving`: the four serving CSV formats of shared/data/serving (detected by columns),
the row -> deployment mapping, the JSON shape (every data row, skipped rows with a reason) and bad files.

Accuracy is not asserted here: tests/test_serving_fit.py pins the in-sample and leave-one-chip-out figures.
Rows: tests/data/serving_*.csv (sources in tests/data/README.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tokenomy.serving_check as sc
from tokenomy.cli.main import app
from tokenomy.errors import CalibrationError
from tokenomy.loaders.models import load_model
from tokenomy.loaders.serving import read_serving
from tokenomy.serving_check import validate_serving
from tokenomy.spec.serving import Pool

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "serving"
FILES = {"trtllm": "serving_trtllm.csv", "inferencex": "serving_inferencex.csv", "mlenergy": "serving_mlenergy.csv",
         "blis": "serving_blis.csv"}
# names the catalog does not know yet (the catalog helper adds aliases); tests map them to catalog ids
ALIASES = {"Llama 3.1 8B": "llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
           "Llama 3.1 405B": "llama-3.1-405b", "Qwen/Qwen2.5-7B-Instruct": "qwen2.5-7b", "dsr1": "deepseek-v3"}
runner = CliRunner()


def _one_line(r, needle: str) -> str:
    out = r.output.strip()
    assert r.exit_code == 2, r.output
    assert len(out.splitlines()) == 1 and "Traceback" not in out, out
    assert needle in out, out
    return out


@pytest.fixture
def aliases(monkeypatch):
    monkeypatch.setattr(sc, "load_model", lambda name: load_model(ALIASES.get(name, name)))


def _data_rows(path: Path) -> int:
    with open(path, newline="") as f:
        return sum(1 for r in list(csv.reader(f))[1:] if any(x.strip() for x in r))


@pytest.mark.parametrize("fmt", FILES)
def test_format_detected_by_columns(fmt, tmp_path):
    # a neutral file name: detection must come from the header, not the name
    renamed = tmp_path / "data.csv"
    renamed.write_bytes((DATA / FILES[fmt]).read_bytes())
    got, rows = read_serving(renamed)
    assert got == fmt
    assert [r.file_row for r in rows] == list(range(_data_rows(renamed)))


def test_trtllm_row_mapping():
    r = read_serving(DATA / FILES["trtllm"])[1][3]       # Llama 3.1 8B, H100, FP8, tp1 pp1, 128/128
    assert (r.chip, r.model, r.engine, r.mode) == ("h100-sxm", "Llama 3.1 8B", "trtllm", "max_throughput")
    assert (r.chips, r.tp, r.pp, r.ep, r.precision, r.isl, r.osl) == (1, 1, 1, 1, "fp8", 128, 128)
    assert r.metrics == {"output_tok_s_per_gpu": 28312.0}


def test_inferencex_row_mapping():
    rows = read_serving(DATA / FILES["inferencex"])[1]
    d = rows[0]                    # dynamo-sglang, disaggregated 16 prefill + 16 decode GPUs, MTP, conc 1
    assert (d.engine, d.runtime, d.chip, d.chips, d.spec_method, d.concurrency, d.mode) == (
        "sglang", "dynamo", "h100-sxm", 32, "mtp", 1, "closed_loop")
    assert d.output_gpus == 16     # multinode disagg: output tokens/s per decode GPU (shared README)
    assert d.prefill == Pool(tp=16, ep=1, dp_attention=False, workers=1, gpus=16)
    assert d.decode == Pool(tp=16, ep=16, dp_attention=True, workers=1, gpus=16)
    # ISL/OSL drawn uniformly from [0.8 L, L]: mean 0.9 * 1024 = 921.6 -> 922
    assert (d.isl, d.osl) == (922, 922)
    assert d.metrics["tok_s_per_user"] == pytest.approx(51.66596672191008)
    assert d.metrics["tpot_s"] == pytest.approx(0.019355100919381966)
    trt, dpa = rows[3], rows[4]    # trt EP=8 on 8 H200; trt with DP attention and MTP at conc 256
    assert (trt.engine, trt.chip, trt.tp, trt.ep, trt.dp_attention, trt.prefill) == ("trtllm", "h200-sxm", 8, 8, 1,
                                                                                      None)
    assert (dpa.dp_attention, dpa.spec_method, dpa.concurrency) == (8, "mtp", 256)
    assert rows[2].chip == "mi300x" and rows[2].engine == "sglang"


def test_mlenergy_row_mapping():
    rows = read_serving(DATA / FILES["mlenergy"])[1]
    r = rows[0]                    # Llama-3.1-8B on 1 H100, max_num_seqs 8, avg batch 7.978, avg output 388.68
    assert (r.engine, r.chips, r.tp, r.ep, r.dp_attention, r.precision) == ("vllm", 1, 1, 1, 1, "bf16")
    assert (r.concurrency, r.max_batch, r.osl, r.isl) == (8, 8, 389, 200)
    assert r.metrics["itl_s"] == pytest.approx(7.316111586987972e-3)       # median_itl_ms / 1000
    assert r.metrics["power_w_per_gpu"] == pytest.approx(486.4380535594687)
    assert "assumed" in r.assumptions[0]
    moe = rows[2]                  # Qwen3-235B on 8 GPUs with tp=1, ep=8: 8 attention replicas
    assert (moe.chips, moe.tp, moe.ep, moe.dp_attention) == (8, 1, 8, 8)


def test_blis_row_mapping():
    rows = read_serving(DATA / FILES["blis"])[1]
    r = rows[2]                    # Qwen2.5-7B roleplay stage 0: ~750/~251 tokens at ~6 req/s, FP16 -> bf16 rates
    assert (r.mode, r.request_rate, r.isl, r.osl, r.precision, r.tp, r.chips, r.stat) == (
        "open_loop", 6.0, 750, 251, "bf16", 1, 1, "mean")
    assert r.metrics["ttft_s"] == pytest.approx(0.0267162)
    lite = rows[3]                 # the experiment name says reasoning-lite: ~1 req/s
    assert (lite.request_rate, lite.isl, lite.osl) == (1.0, 1034, 1448)


@pytest.mark.parametrize("fmt", FILES)
def test_json_every_row_and_reasons(fmt, aliases):
    r = runner.invoke(app, ["validate", "--serving", str(DATA / FILES[fmt]), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out) == {"command", "query", "rows", "summary", "warnings"} and out["command"] == "validate"
    s = out["summary"]
    # one row per predicted (data row, metric); the rows skipped are counted per reason in the summary
    assert {e["file_row"] for e in out["rows"]} <= set(range(_data_rows(DATA / FILES[fmt])))
    assert len({e["file_row"] for e in out["rows"]}) == s["rows_predicted"]
    for e in out["rows"]:
        measured = [k for k in e if k.startswith("measured_")]
        predicted = [k for k in e if k.startswith("predicted_")]
        assert set(e) == {"file_row", "data_source", "hardware", "metric", "ratio", *measured, *predicted}
        assert len(measured) == len(predicted) == 1 and measured[0][9:] == predicted[0][10:]
        assert e[measured[0]] > 0 and e[predicted[0]] > 0
        assert e["ratio"] == pytest.approx(e[predicted[0]] / e[measured[0]])
    assert s["data_source"] == fmt and s["rows_predicted"] + s["rows_skipped"] == s["data_rows"]
    assert sum(x["data_rows"] for x in s["skipped"]) == s["rows_skipped"]
    assert all(isinstance(x["reason"], str) and x["reason"] for x in s["skipped"])


def test_skip_reasons(aliases):
    res = validate_serving(DATA / FILES["inferencex"])
    why = {c.file_row: c.skipped for c in res.checks}
    # disaggregated: core/disagg_serving.py, every metric but the TTFT tail (the steady state has no tails)
    assert {c.metric: c.skipped for c in res.checks if c.file_row == 0 and c.skipped} == {
        "ttft_p99_s": "not predicted for this row"}
    assert {c.source for c in res.checks if c.file_row == 0} == {"inferencex disagg dynamo-sglang"}
    assert why[4] is None                               # aggregated MTP with DP attention (serving_check._parallel)
    assert why[5] is None                               # aggregated MTP: predicted at the mtp default
    assert why[1] is None and why[3] is None            # aggregated, no MTP: predicted
    ml = validate_serving(DATA / FILES["mlenergy"])
    # tp=1, ep=8 on 8 GPUs: one replica, attention data-parallel 8 with its weights on every GPU
    # (Qwen3-235B bf16: 58 GB of experts / 8 + 14 GB attention + 2.5 GB embedding and head)
    assert {c.skipped for c in ml.checks if c.file_row == 2} == {"does not fit in memory at batch 1"}


def test_predicted_energy_is_power_over_throughput(aliases):
    # CONSISTENCY ONLY, not a finding: J/token = GPU power / output tokens/s by construction; it catches a
    # row whose figures are taken from different batches or divided by different chip counts
    res = validate_serving(DATA / FILES["mlenergy"])
    p = {c.metric: c.predicted for c in res.checks if c.file_row == 1}
    assert p["j_per_token"] == pytest.approx(p["power_w_per_gpu"] / p["output_tok_s_per_gpu"], rel=1e-9)


def test_open_loop_batch_is_littles_law(aliases, monkeypatch):
    # the chosen batch b is the smallest with b >= rate * E2E(b): one below it is under-occupied
    seen = {}
    real = sc._batch_index

    def spy(row, est, fits, batches):
        k = real(row, est, fits, batches)
        seen[row.file_row] = (k, row.request_rate * (est["ttft_s"] + row.osl * est["tpot_s"]))
        return k
    monkeypatch.setattr(sc, "_batch_index", spy)
    validate_serving(DATA / FILES["blis"])
    k, need = seen[2]
    assert k + 1 >= need[k] and (k == 0 or k < need[k - 1])


@pytest.mark.parametrize("content, needle", [
    (b"a,b,c\n1,2,3\n", "not a serving CSV of a known format"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8"),
    (b"", "empty file"),
])
def test_bad_file_one_line(tmp_path, content, needle):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    _one_line(runner.invoke(app, ["validate", "--serving", str(f)]), needle)


def test_bad_value_names_row_and_column(tmp_path):
    lines = (DATA / FILES["trtllm"]).read_text().splitlines()
    lines[2] = lines[2].replace("H100,FP8,8,1,8", "H100,FP8,eight,1,8", 1)
    f = tmp_path / "bad.csv"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(CalibrationError, match=r"line 3 \(data row 1\), column 'tp'"):
        read_serving(f)
    _one_line(runner.invoke(app, ["validate", "--serving", str(f)]), "column 'tp'")
    _one_line(runner.invoke(app, ["validate"]), "exactly one of --measurements")
    _one_line(runner.invoke(app, ["validate", "--serving", str(f), "--measurements", str(f)]), "exactly one")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/serving is not here")
def test_all_shared_files(aliases):
    for f in sorted(SHARED.glob("*.csv")):     # (speed: bench, not a timed assertion)
        res = validate_serving(f)
        assert {c.file_row for c in res.checks} == set(range(_data_rows(f))), f.name


def test_plot_written(tmp_path, aliases):
    pytest.importorskip("matplotlib")
    png = tmp_path / "serving.png"
    r = runner.invoke(app, ["validate", "--serving", str(DATA / FILES["mlenergy"]), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    _one_line(runner.invoke(app, ["validate", "--serving", str(DATA / FILES["mlenergy"]), "--plot", str(png)]),
              "--force")


def test_csv_holds_the_json_rows_and_the_table_fits_80_columns(tmp_path):
    import pandas as pd

    path, out_csv = str(DATA / FILES["trtllm"]), tmp_path / "v.csv"
    out = json.loads(runner.invoke(app, ["validate", "--serving", path, "--json"]).output)
    r = runner.invoke(app, ["validate", "--serving", path, "--csv", str(out_csv)], env={"COLUMNS": "80"},
                      terminal_width=80)
    assert r.exit_code == 0, r.output
    assert all(len(ln) <= 80 for ln in r.stdout.splitlines()) and "MAPE" in r.stdout and "…" not in r.stdout
    back = pd.read_csv(out_csv)
    assert len(back) == len(out["rows"]) and list(back["ratio"]) == pytest.approx([x["ratio"] for x in out["rows"]])

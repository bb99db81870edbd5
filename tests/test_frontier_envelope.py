"""frontier's one result shape (query, rows, summary, warnings), its flags and files, and the API's DataFrame."""

import builtins
import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.economics.chip_hour import host_power_w
from tokenomy.frontier import COLUMNS, sweep
from tokenomy.loaders.hardware import load_hardware
from tokenomy.spec.economics import Scenario

runner = CliRunner()
BASE = ["frontier", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tp", "1"]


@pytest.fixture(scope="module")
def small():
    return sweep("llama-3.1-8b", "h100-sxm", 1024, 1024, tp=1, batches=[1, 8, 64], tokens_per_s_per_user=100,
                 pue=1.5)


def test_query_echoes_the_inputs_as_used_with_isl_osl_1024_by_default():
    r = runner.invoke(app, [*BASE, "--tokens-per-s-per-user", "80", "--pue", "1.5", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    q = out["query"]
    assert (q["isl"], q["osl"], q["tokens_per_s_per_user_required"], q["tp"], q["pue"]) == (1024, 1024, 80.0, 1, 1.5)
    assert q["hardware"] == "h100-sxm" and q["spec"] == "off" and q["disagg"] is False and q["mode"] == "owned"
    # the speed target marks the points below it; they stay in the rows
    rows = out["rows"]
    assert {p["meets_slo"] for p in rows} == {True, False}
    assert all(p["meets_slo"] == (p["tokens_per_s_per_user"] >= 80) for p in rows)
    assert not any(p["on_frontier"] for p in rows if not p["meets_slo"])


def test_the_old_speed_flag_is_a_hidden_alias():
    new = json.loads(runner.invoke(app, [*BASE, "--tokens-per-s-per-user", "80", "--json"]).stdout)
    old = runner.invoke(app, [*BASE, "--min-tokens-per-s-per-user", "80", "--json"])
    assert old.exit_code == 0 and json.loads(old.stdout) == new
    assert "--min-tokens-per-s-per-user" not in runner.invoke(app, ["frontier", "--help"]).output
    both = runner.invoke(app, [*BASE, "--tokens-per-s-per-user", "80", "--min-tokens-per-s-per-user", "80"])
    assert both.exit_code == 2 and "not both" in both.output


def test_records_to_pandas_and_json_rows_share_the_glossary_names(small):
    df = small.to_pandas()
    assert list(df.columns) == list(COLUMNS) == list(small.records()[0])
    assert len(df) == len(small)
    d = small.to_dict()
    assert set(d) == {"command", "query", "rows", "summary", "warnings"} and d["rows"] == small.records()
    assert {"usd_per_mtok", "j_per_token", "tokens_per_s_per_mw"}.isdisjoint(df.columns)


def test_facility_figures_add_host_power_and_pue(small):
    c = small.columns
    host = host_power_w(load_hardware("h100-sxm"), Scenario())
    fac_w = (c["power_w"] + c["chips"] * host) * 1.5
    np.testing.assert_allclose(c["j_per_token_facility"], fac_w / c["tokens_per_s"], rtol=1e-12)
    np.testing.assert_allclose(c["tokens_per_s_per_mw_facility"], c["tokens_per_s"] / fac_w * 1e6, rtol=1e-12)
    assert np.all(c["j_per_token_facility"] > c["j_per_token_chip"])


def test_facility_figures_of_a_split_count_both_pools():
    res = sweep("llama-3.1-8b", "h100-sxm,b200", 1024, 256, tp=1, batches=[8], prefill_hardware="h100-sxm",
                decode_hardware="b200")
    c = res.columns
    i = np.flatnonzero(c["kind"] == "disagg")[0]
    sc = Scenario()
    host = (c["decode_chips"][i] * host_power_w(load_hardware("b200"), sc)
            + c["prefill_chips"][i] * host_power_w(load_hardware("h100-sxm"), sc))
    assert c["j_per_token_facility"][i] == pytest.approx((c["power_w"][i] + host) * sc.pue / c["tokens_per_s"][i])


def test_csv_writes_the_json_rows_and_refuses_an_existing_file_before_the_sweep(tmp_path):
    f = tmp_path / "pts.csv"
    r = runner.invoke(app, [*BASE, "--csv", str(f), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    with open(f, newline="") as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == len(rows) and list(got[0]) == list(rows[0])
    again = runner.invoke(app, [*BASE, "--csv", str(f)])
    assert again.exit_code == 2 and "--force" in again.output and "configurations fit" not in again.output
    bad = runner.invoke(app, [*BASE, "--parquet", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and ".parquet" in bad.output


def test_plot_without_the_plotting_extra_is_one_line_with_the_pip_command(tmp_path, monkeypatch):
    real = builtins.__import__

    def no_plot(name, *a, **k):
        if name.split(".")[0] in ("matplotlib", "plotly"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_plot)
    for suffix in (".png", ".html"):
        r = runner.invoke(app, [*BASE, "--plot", str(tmp_path / f"f{suffix}")])
        assert r.exit_code == 2
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and "pip install 'tokenomy[plot]'" in lines[0], r.output
        assert "src/" not in lines[0] and "shared/" not in lines[0]

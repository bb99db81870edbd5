"""`tokenomy simulate --sweep` (sim/sweep.py): the grid crosses in order, variables fill the texts, bad files are one
line, a scenario that does not fit is a row (not an error), rows keep the grid's order on any number of local
processes and on Ray, and the table round-trips through Parquet."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.errors import SpecError
from tokenomy.sim.sweep import read_sweep, sweep

SWEEP = """
base:
  model: llama-3.1-8b
  workload: poisson:rate={rate},isl=uniform:200:400,osl=40
  requests: 30
grid:
  hardware: [h100-sxm, b200]
  rate: [2, 8]
"""


def _write(tmp_path, text: str, name: str = "sweep.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_grid_crosses_in_order_and_fills_variables(tmp_path):
    sc = read_sweep(_write(tmp_path, SWEEP))
    # 2 chips x 2 rates = 4 scenarios; the last key (rate) varies fastest
    assert [(s["args"]["hardware"], s["vars"]["rate"]) for s in sc] == [
        ("h100-sxm", 2), ("h100-sxm", 8), ("b200", 2), ("b200", 8)]
    assert sc[1]["args"]["workload"] == "poisson:rate=8,isl=uniform:200:400,osl=40"
    assert sc[0]["args"]["requests"] == 30 and "rate" not in sc[0]["args"]


@pytest.mark.parametrize(("text", "needle"), [
    ("base: {model: m}\nextra: 1\n", "unknown top-level key 'extra'"),
    ("grid: {tp: [1]}\n", "no 'base'"),
    ("base: {model: m, colour: red}\n", "base.colour is not an argument"),
    ("base: {model: m}\ngrid: {rate: [1, 2]}\n", "grid.rate is neither an argument"),
    ("base: {workload: 'poisson:rate={rate},isl=1,osl=1'}\n", "base uses {rate} but grid has no list"),
    ("base: {model: m}\ngrid: {tp: []}\n", "grid.tp must be a non-empty list"),
    ("base: {model: m}\ngrid: {tp: 2}\n", "grid.tp must be a non-empty list"),
    ("base: {model: m, tp: 1}\ngrid: {tp: [1, 2]}\n", "in both base and grid"),
    ("base: {model: m}\ngrid: {tp: [1, [2]]}\n", "plain values"),
    ("- a\n- b\n", "expected a mapping"),
    ("base: {model: m}\ngrid: {tp: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], pp: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],"
     " ep: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], replicas: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],"
     " seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], requests: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],"
     " dp_attention: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n", "split it"),
])
def test_bad_sweep_files_are_one_line(tmp_path, text, needle):
    with pytest.raises(SpecError, match=None) as e:
        read_sweep(_write(tmp_path, text))
    assert needle in str(e.value) and "\n" not in str(e.value)


def _numbers(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_s"])


def test_local_processes_keep_the_grid_order_and_infeasible_rows(tmp_path):
    text = SWEEP + "  tp: [1, 3]\n"          # tp=3 exceeds nothing but does not divide llama's 32 heads
    path = _write(tmp_path, text)
    one = sweep(path, workers=1)
    two = sweep(path, workers=2)
    assert list(one["scenario_index"]) == list(range(8))
    pd.testing.assert_frame_equal(_numbers(one), _numbers(two))
    bad = one[~one["feasible"]]
    assert set(bad["tp"]) == {3} and bad["reason"].str.len().min() > 10 and bad["ttft_p99_s"].isna().all()
    good = one[one["feasible"]]
    assert (good["requests"] == 30).all() and {"ttft_p99_s", "e2e_mean_s", "usd_per_mtok_all_in"} <= set(one.columns)
    # more load on one chip: p99 TTFT does not fall from rate 2 to rate 8 (same seed, same requests)
    h100 = good[good["hardware"] == "h100-sxm"].set_index("rate")
    assert h100.loc[8, "e2e_mean_s"] >= h100.loc[2, "e2e_mean_s"] * 0.999


def test_cli_sweep_writes_parquet(tmp_path):
    path = _write(tmp_path, SWEEP)
    out = tmp_path / "grid.parquet"
    r = CliRunner().invoke(app, ["simulate", "--sweep", str(path), "--out", str(out), "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    back = pd.read_parquet(out)
    assert len(back) == len(rows) == 4 and back["feasible"].all()
    assert list(back["ttft_p99_s"]) == pytest.approx([x["ttft_p99_s"] for x in rows], rel=1e-12)
    r = CliRunner().invoke(app, ["simulate", "--sweep", str(path), "--out", str(out)])
    assert r.exit_code == 2 and "already exists" in r.output
    # the table fits 80 columns, the grid's own columns first; --csv writes the JSON rows
    csv = tmp_path / "grid.csv"
    r = CliRunner().invoke(app, ["simulate", "--sweep", str(path), "--workers", "1", "--csv", str(csv)],
                           env={"COLUMNS": "80"}, terminal_width=80)
    assert r.exit_code == 0, r.output
    assert all(len(ln) <= 80 for ln in r.stdout.splitlines()) and "…" not in r.stdout and "TTFT p99" in r.stdout
    assert list(pd.read_csv(csv)["ttft_p99_s"]) == pytest.approx(list(back["ttft_p99_s"]), rel=1e-9)


def test_trace_paths_are_relative_to_the_sweep_file(tmp_path):
    (tmp_path / "t.csv").write_text("arrival_s,input_tokens,output_tokens\n0,100,10\n0.5,200,20\n1,300,5\n")
    path = _write(tmp_path, "base: {model: llama-3.1-8b, hardware: h100-sxm, workload: 'trace:t.csv'}\n")
    df = sweep(path, workers=1)
    assert df["feasible"].all() and df.loc[0, "requests"] == 3


def test_ray_local_instance(tmp_path):
    ray = pytest.importorskip("ray")
    path = _write(tmp_path, SWEEP)
    local = sweep(path, workers=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = sweep(path, ray_address="auto")
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(_numbers(local), _numbers(on_ray))


def test_ray_missing_is_one_line(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray":
            raise ImportError("no ray")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(SpecError, match=r"pip install 'tokenomy\[ray\]'"):
        sweep(_write(tmp_path, SWEEP), ray_address="auto")

"""`tokenomy simulate` and `tokenomy.simulate` (issue 11): the JSON keys, the same numbers from the API and the
CLI, files written safely (requests table round trip, plot, event log), progress never on stdout, and every
bad input one line with exit 2."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tokenomy
from tokenomy.cli import simulate as cli_simulate
from tokenomy.cli.main import app
from tokenomy.errors import SpecError
from tokenomy.sim.run import SUMMARY_KEYS

runner = CliRunner()
BASE = ["simulate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm"]
WORK = "poisson:rate=4,isl=uniform:200:400,osl=50"
SMALL = [*BASE, "--workload", WORK, "--requests", "60"]
STATS = ("mean", "p50", "p90", "p99")


def _run(*args):
    return runner.invoke(app, list(args))


def _one_line_error(r, needle: str = "", code: int = 2) -> str:
    out = r.output.strip()
    assert r.exit_code == code, r.output
    assert len(out.splitlines()) == 1 and out.startswith("error:"), out
    assert "Traceback" not in out
    assert needle in out, out
    return out


@pytest.fixture(scope="module")
def api_sim():
    return tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload=WORK, requests=60)


def test_json_has_exactly_the_glossary_keys_and_matches_the_api(api_sim):
    r = _run(*SMALL, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert list(out) == ["command", "query", "rows", "summary", "warnings"] and len(out["rows"]) == 1
    d = out["rows"][0]
    assert list(d) == [*SUMMARY_KEYS, "deployment", "workload"]
    assert out["query"]["requests_asked"] == 60 and out["query"]["mode"] == "owned"
    for k in ("ttft", "tpot", "itl", "e2e"):
        assert d[f"{k}_p50_s"] <= d[f"{k}_p90_s"] <= d[f"{k}_p99_s"]
    df = api_sim.to_pandas()
    assert list(df.columns) == list(d) and len(df) == 1 and df.loc[0, "requests"] == 60
    assert d["requests"] == 60 and "llama-3.1-8b" in d["deployment"] and "60 requests" in d["workload"]
    api = api_sim.to_dict()
    for k in SUMMARY_KEYS:          # deterministic for a seed: the CLI and the API agree (but on wall time)
        if k != "wall_s":      # None (no SLO: goodput, attainment) must be None in both
            assert (d[k] is None and api[k] is None) or d[k] == pytest.approx(api[k], rel=1e-12), k
    # tokens out = tokens asked: 60 requests' output tokens over the simulated span
    assert d["fleet_tokens_per_s"] * d["simulated_s"] == pytest.approx(api_sim.requests["output_tokens"].sum())


def test_table_by_default_with_units():
    r = _run(*SMALL)
    assert r.exit_code == 0, r.output
    for label in ("TTFT", "E2E", "ms", "tok/s", "$/Mtok", "J/token", "deployment:"):
        assert label in r.stdout


def test_same_seed_same_result_other_seed_differs(api_sim):
    again = tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload=WORK, requests=60)
    pd.testing.assert_frame_equal(again.requests, api_sim.requests)
    other = tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload=WORK, requests=60, seed=1)
    assert not np.array_equal(other.requests["input_tokens"], api_sim.requests["input_tokens"])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_requests_out_round_trip(tmp_path, api_sim, suffix):
    out = tmp_path / f"req{suffix}"
    r = _run(*SMALL, "--requests-out", str(out), "--json")
    assert r.exit_code == 0, r.output
    back = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    want = api_sim.requests
    assert list(back.columns) == list(want.columns) and len(back) == 60
    for c in ("request_id", "input_tokens", "output_tokens", "preemptions"):
        assert np.array_equal(back[c].to_numpy(), want[c].to_numpy()), c
    np.testing.assert_allclose(back["e2e_s"].to_numpy(), want["e2e_s"].to_numpy(), rtol=1e-12)
    # never over an existing file without --force
    _one_line_error(_run(*SMALL, "--requests-out", str(out)), "already exists; pass --force")
    assert _run(*SMALL, "--requests-out", str(out), "--force").exit_code == 0


def test_plot_html_and_event_log_written(tmp_path):
    plot, log = tmp_path / "sim.html", tmp_path / "events.csv"
    r = _run(*BASE, "--workload", WORK, "--requests", "20", "--replicas", "2", "--plot", str(plot),
             "--event-log", str(log), "--json")
    assert r.exit_code == 0, r.output
    html = plot.read_text()
    assert "plotly" in html and "CDF of TTFT" in html and "KV cache used" in html
    rows = log.read_text().splitlines()
    assert rows[0] == "t_s,replica,kind,request_id" and len(rows) > 20
    assert {line.split(",")[2] for line in rows[1:]} >= {"arrive"}
    json.loads(r.stdout)      # 'wrote FILE' goes to stderr


def test_plot_png(tmp_path):
    plot = tmp_path / "sim.png"
    assert _run(*BASE, "--workload", WORK, "--requests", "10", "--plot", str(plot), "--json").exit_code == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_goes_to_stderr_never_stdout(monkeypatch):
    monkeypatch.setattr(cli_simulate, "PROGRESS_AFTER_S", 0.0)
    calls = []
    bar = cli_simulate.Progress("x")
    monkeypatch.setattr(cli_simulate, "Progress", lambda what: calls.append(what) or bar)
    r = _run(*SMALL, "--json")
    assert r.exit_code == 0 and calls == ["simulating requests"]
    assert bar.bar is not None and bar.bar.console.stderr       # the bar was drawn, on stderr
    json.loads(r.stdout)                                        # stdout is the JSON alone


@pytest.mark.parametrize(("args", "needle"), [
    (["--workload", "poisson:rate=4,isl=pareto:1:2,osl=50"], "unknown distribution 'pareto'"),
    (["--workload", "poisson:rate=-1,isl=100,osl=50"], "rate must be"),
    (["--workload", "poisson:rate=4,isl=100"], "needs osl"),
    (["--workload", "lightning:rate=4"], "unknown kind"),
    (["--workload", WORK, "--slo", "ttft=fast"], "--slo"),
    (["--workload", WORK, "--slo", "latency=1"], "--slo"),
    (["--workload", WORK, "--prefix-cache", "hit=2"], "--prefix-cache"),
    (["--workload", WORK, "--requests", "10", "--duration", "5"], "not both"),
    (["--workload", WORK, "--duration", "-5"], "--duration"),
    (["--workload", WORK, "--router", "random"], "router must be one of"),
    (["--workload", WORK, "--replicas", "0"], "replicas must be between 1"),
    (["--workload", WORK, "--tp", "3", "--dp-attention", "2"], "dp_attention=2 must divide"),
    (["--workload", WORK, "--out", "x.parquet"], "--out applies to --sweep"),
    (["--workload", WORK, "--requests-out", "x.json"], ".parquet or .csv"),
    (["--workload", "poisson:rate=4,isl=200000,osl=50", "--requests", "5"], "max_position_embeddings"),
    ([], "missing --workload"),
])
def test_bad_inputs_exit_2_with_one_line(args, needle):
    _one_line_error(_run(*BASE, *args), needle)


def test_empty_and_missing_trace_exit_2(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(_run(*BASE, "--workload", f"trace:{empty}"), "the trace is empty")
    _one_line_error(_run(*BASE, "--workload", f"trace:{tmp_path / 'none.csv'}"), "not found")


def test_sweep_flag_refuses_single_run_flags(tmp_path):
    _one_line_error(_run("simulate", "--sweep", str(tmp_path / "s.yaml"), "--model", "llama-3.1-8b"),
                    "drop --model")


def test_api_checks_arguments_like_predict():
    with pytest.raises(SpecError, match=r"tp must be a positive integer, got 1.5 \(float\)"):
        tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload=WORK, tp=1.5)
    with pytest.raises(SpecError, match="replicas must be a positive integer"):
        tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload=WORK, replicas=True)
    with pytest.raises(SpecError, match="workload must be a workload text"):
        tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload=4)
    with pytest.raises(SpecError, match="hardware must be a name or path"):
        tokenomy.simulate("llama-3.1-8b", "", workload=WORK)
    with pytest.raises(SpecError, match="event_log must be True or False"):
        tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload=WORK, event_log="yes")


def test_closed_loop_duration_uses_the_real_client_speed():
    """closed:conc=2, osl 100, 4 s: one client at batch 1 decodes at most 1 / step_s(1, 1, 0, 0) tokens/s, so it
    needs at most ceil(4 s x that / 100) + 1 requests; the default bound (1000 tok/s) would ask for 41 each."""
    from tokenomy.sim.steps import build_step_model

    sm = build_step_model("llama-3.1-8b", "h100-sxm", max_context=200)
    per_client = int(np.ceil(4 * sm.tokens_per_step / sm.step_s(1, 1, 0, 0) / 100)) + 1
    sim = tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload="closed:conc=2,isl=100,osl=100", duration_s=4)
    assert f"(of {2 * per_client} drawn)" in sim.workload and per_client < 41
    assert sim.summary["requests"] <= 2 * per_client


def test_too_long_request_names_its_own_input_and_output():
    with pytest.raises(SpecError, match=r"isl \+ osl = 200,000 \+ 50 tokens"):
        tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload="poisson:rate=4,isl=200000,osl=50", requests=5)


def test_closed_loop_duration_describes_the_requests_issued():
    # clients stop issuing at --duration: the description counts what was issued, not what was drawn
    sim = tokenomy.simulate("llama-3.1-8b", "h100-sxm", workload="closed:conc=1,isl=1,osl=1", duration_s=2)
    m = re.fullmatch(r"closed conc=1, isl 1, osl 1; (\d+) requests issued in 2 s \(of (\d+) drawn\)", sim.workload)
    assert m and int(m[1]) == len(sim.requests) < int(m[2])      # measured: 302 of 306


def test_summary_holds_plain_finite_numbers(api_sim):
    # without an SLO there is nothing to attain: goodput and attainment are None (null), not a made-up 100%
    no_slo = {"goodput_requests_per_s", "slo_attainment"}
    assert all(api_sim.summary[k] is None for k in no_slo)
    for k, v in api_sim.summary.items():
        assert k in no_slo or (type(v) in (int, float) and np.isfinite(v) and v >= 0), k


def test_scenario_flags_price_the_run_and_rows_go_to_csv(tmp_path, api_sim):
    owned = api_sim.summary["usd_per_mtok_all_in"]
    csv = tmp_path / "run.csv"
    r = _run(*SMALL, "--mode", "rented", "--json", "--csv", str(csv))
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    rented = out["rows"][0]["usd_per_mtok_all_in"]
    assert out["query"]["mode"] == "rented" and rented > 0 and rented != pytest.approx(owned)
    # the same figures whatever else is the same: only the price changes
    assert out["rows"][0]["fleet_tokens_per_s"] == pytest.approx(api_sim.summary["fleet_tokens_per_s"], rel=1e-12)
    back = pd.read_csv(csv)
    assert len(back) == 1 and back.loc[0, "usd_per_mtok_all_in"] == pytest.approx(rented, rel=1e-12)
    # electricity is part of the owned price: a dearer kWh costs more per token
    r = _run(*SMALL, "--electricity-usd-per-kwh", "0.5", "--json")
    assert json.loads(r.stdout)["rows"][0]["usd_per_mtok_all_in"] > owned


@pytest.mark.parametrize("flag,value", [("--pue", "0.5"), ("--mode", "leased"), ("--pue", "nan")])
def test_bad_scenario_values_are_one_line(flag, value):
    _one_line_error(_run(*SMALL, flag, value))


def test_check_steps_error_is_in_the_summary():
    r = _run(*BASE, "--workload", WORK, "--requests", "5", "--check-steps", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["summary"]
    assert set(s) == {f"{p}_step_error_{k}_frac" for p in ("decode", "prefill") for k in ("median", "max")}
    assert all(0 <= v < 0.1 for v in s.values())

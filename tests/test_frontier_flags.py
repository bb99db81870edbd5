"""Issue 9, frontier flags: --engine, --tp/--pp/--ep (fixed parts of the deployment), --spec, and the
chip-hour price from --mode / --scenario / Scenario flags, as the economics commands take them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tokenomy import predict
from tokenomy.cli.main import app
from tokenomy.economics import effective_usd_per_chip_hour
from tokenomy.errors import SpecError
from tokenomy.frontier import sweep

runner = CliRunner()
BASE = ["frontier", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--isl", "512", "--osl", "128", "--json"]


def _deployments(res) -> set[tuple[int, int, int]]:
    c = res.columns
    return {(int(t), int(p), int(e)) for t, p, e in zip(c["tp"], c["pp"], c["ep"], strict=True)}


def test_fixed_tp_pp_ep_filter_the_deployments():
    assert {t for t, _, _ in _deployments(sweep("llama-3.1-70b", "h100-sxm", 1024, 256, tp=4))} == {4}
    assert {p for _, p, _ in _deployments(sweep("llama-3.1-70b", "h100-sxm", 1024, 256, pp=2))} == {2}
    assert _deployments(sweep("llama-3.1-70b", "h100-sxm", 1024, 256, tp=2, pp=2)) == {(2, 2, 1)}
    # a deployment the automatic sweep never tries (pp=8 for a model that fits on one chip) is evaluated
    assert _deployments(sweep("llama-3.1-8b", "h100-sxm", 512, 128, tp=1, pp=8)) == {(1, 8, 1)}
    moe = sweep("mixtral-8x7b", "h100-sxm", 512, 128, ep=8)
    assert {(t, e) for t, _, e in _deployments(moe)} == {(8, 8)}


@pytest.mark.parametrize("kw, needle", [
    ({"tp": 3}, "tp=3 does not divide"),
    ({"pp": 200}, "exceeds the 32 layers"),
    ({"ep": 2}, "needs a mixture-of-experts model"),
    ({"tp": 16}, "exceeds the scale-up domain of h100-sxm"),
    ({"chips": 8, "tp": 2, "pp": 2}, "differs from tp x pp"),
    ({"tp": 0}, "tp must be between 1"),
])
def test_impossible_fixed_values_are_one_line_errors(kw, needle):
    with pytest.raises(SpecError, match=needle) as e:
        sweep("llama-3.1-8b", "h100-sxm", 512, 128, **kw)
    assert "\n" not in str(e.value)


def test_spec_on_the_frontier_matches_predict():
    # serving_estimate on the time per emitted token: tokens/s/user = (1 - f_p) * E / step latency at pp = 1,
    # the decode part being exactly tokenomy.predict(spec=...) at the same deployment, batch and context.
    res = sweep("llama-3.1-8b", "h100-sxm", 512, 128, spec="mtp:1,accept=0.8", tp=1, pp=1, batches=[1, 8])
    c = res.columns
    assert set(c["spec"]) == {"mtp:1,accept=0.8 (given)"}
    dec = predict("llama-3.1-8b", "h100-sxm", batch=np.array([1, 8]), context=512 + 128 / 2, spec="mtp:1,accept=0.8")
    np.testing.assert_allclose(c["tokens_per_s_per_user"] / (1 - c["prefill_time_frac"]), dec.tokens_per_s_per_user,
                               rtol=1e-9)
    plain = sweep("llama-3.1-8b", "h100-sxm", 512, 128, tp=1, pp=1, batches=[1, 8])
    assert np.all(c["tokens_per_s_per_user"] > plain.columns["tokens_per_s_per_user"])   # 1.8 tokens per step
    assert set(plain.columns["spec"]) == {"off"}


def test_rented_price_from_flags_scenario_file_and_api(tmp_path):
    # rented: a busy hour costs rent / utilization = 2.1 / 0.7 = 3.0 USD per chip
    res = sweep("llama-3.1-8b", "h100-sxm", 512, 128, mode="rented", rent_usd_per_hour=2.1, utilization_frac=0.7)
    assert np.all(res.columns["usd_per_chip_hour"] == pytest.approx(3.0, rel=1e-12))
    # $/Mtok = chips * 3.0 USD/h / 3600 s/h / tokens/s * 1e6
    c = res.columns
    np.testing.assert_allclose(c["usd_per_mtok_all_in"], c["chips"] * 3.0 / 3600 / c["tokens_per_s"] * 1e6, rtol=1e-9)
    owned = sweep("llama-3.1-8b", "h100-sxm", 512, 128)
    assert owned.columns["usd_per_chip_hour"][0] == pytest.approx(effective_usd_per_chip_hour("h100-sxm"))
    f = tmp_path / "rent.yaml"
    f.write_text("mode: rented\nrent_usd_per_hour: 2.1\nutilization_frac: 0.7\n")
    r = runner.invoke(app, BASE + ["--scenario", str(f)])
    assert r.exit_code == 0, r.output
    assert [p["usd_per_chip_hour"] for p in json.loads(r.stdout)["rows"]] == pytest.approx([3.0] * len(json.loads(r.stdout)["rows"]))
    r = runner.invoke(app, BASE + ["--mode", "rented"])
    assert r.exit_code == 0, r.output
    rent = effective_usd_per_chip_hour("h100-sxm", mode="rented")
    prices = [p["usd_per_chip_hour"] for p in json.loads(r.stdout)["rows"]]
    assert prices == pytest.approx([rent] * len(prices))
    assert rent != pytest.approx(owned.columns["usd_per_chip_hour"][0])


def test_cli_engine_tp_spec_flags():
    r = runner.invoke(app, BASE + ["--engine", "torch-eager", "--tp", "2", "--spec", "eagle:3,accepted=2"])
    assert r.exit_code == 0, r.output
    pts = json.loads(r.stdout)["rows"]
    assert {p["tp"] for p in pts} == {2} and {p["spec"] for p in pts} == {"eagle:3,accept=0.811 (given as accepted=2)"}


@pytest.mark.parametrize("args, needle", [
    (["--engine", "nope"], "Unknown engine 'nope'"),
    (["--tp", "3"], "tp=3 does not divide"),
    (["--spec", "mtp:99"], "K (draft tokens per step)"),
    (["--spec", "draft:nope-model"], "draft model 'nope-model' is unknown"),
    (["--mode", "leased"], "mode"),
])
def test_cli_bad_flags_exit_2_in_one_line(args, needle):
    r = runner.invoke(app, BASE + args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1

"""One operating point asked through frontier, invest, factory and predict gives the same value for every key the
commands share (issue 13: one key, one meaning). Llama-3.1-70B on h100-sxm, tp 8, bf16, isl = osl = 1024: the
frontier's point at batch 96; invest and factory asked for exactly its per-user speed (they take the largest batch
that serves it: 96); predict's decode step at batch 96 and the frontier's decode context isl + osl / 2 = 1536."""

import json
import math

import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app

M, H, BATCH = "llama-3.1-70b", "h100-sxm", 96
DEPLOY = ["--model", M, "--hardware", H, "--tp", "8", "--precision", "bf16"]


def _json(*args):
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output[-600:]
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def rows():
    front = [p for p in _json("frontier", *DEPLOY)["rows"] if p["batch"] == BATCH and p["pp"] == 1]
    assert len(front) == 1, front
    speed = repr(front[0]["tokens_per_s_per_user"])
    return {"frontier": front[0],
            "invest": _json("invest", *DEPLOY, "--tokens-per-s-per-user", speed)["rows"][0],
            "factory": _json("factory", "--power-mw", "10", *DEPLOY, "--tokens-per-s-per-user", speed)["rows"][0],
            "predict": _json("predict", *DEPLOY, "--phase", "decode", "--batch", str(BATCH), "--context", "1536")
            ["rows"][0]}


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.mark.parametrize("other", ["invest", "factory", "predict"])
def test_shared_keys_have_one_value(rows, other):
    a, b = rows["frontier"], rows[other]
    shared = sorted(a.keys() & b.keys())
    differ = {k: (a[k], b[k]) for k in shared if not _same(a[k], b[k])}
    assert not differ, f"frontier vs {other}: same key, different value: {differ}"


def test_invest_and_factory_agree_on_everything_they_share(rows):
    a, b = rows["invest"], rows["factory"]
    differ = {k: (a[k], b[k]) for k in sorted(a.keys() & b.keys()) if not _same(a[k], b[k])}
    assert not differ, differ


def test_the_point_is_the_same_point(rows):
    # the comparison means something only if the commands landed on one deployment and batch and share the
    # figures a reader compares: speed, throughput, power, energy and cost
    for name in ("invest", "factory"):
        r = rows[name]
        assert (r["batch"], r["chips"], r["tp"]) == (BATCH, 8, 8), name
        shared = rows["frontier"].keys() & r.keys()
        assert {"tokens_per_s", "tokens_per_s_per_user", "power_w", "j_per_token_chip", "usd_per_mtok_all_in",
                "usd_per_chip_hour", "tokens_per_s_per_mw_chip", "j_per_token_facility"} <= shared
    assert {"chips", "batch", "precision", "tp"} <= rows["frontier"].keys() & rows["predict"].keys()
    assert _same(rows["predict"]["usd_per_hour"], rows["invest"]["usd_per_hour"])
    # predict's decode step equals the economics point's decode figures
    for k in ("decode_tokens_per_s", "decode_power_w", "decode_j_per_token_chip"):
        assert _same(rows["predict"][k], rows["invest"][k]), k


def test_with_a_speed_target_frontier_finds_the_batch_invest_solves_for():
    # the frontier samples batches on a grid (..., 64, 96, ...); with a target it adds, per deployment, the exact
    # largest batch that meets it, so its cheapest point at >= 50 tok/s/user is invest's (batch 94, not 64)
    fr = _json("frontier", *DEPLOY, "--tokens-per-s-per-user", "50")["rows"]
    best = min((p for p in fr if p["meets_slo"] and p["pp"] == 1), key=lambda p: p["usd_per_mtok_all_in"])
    inv = _json("invest", *DEPLOY, "--tokens-per-s-per-user", "50")["rows"][0]
    assert best["batch"] == inv["batch"] and best["batch"] not in (64, 96)
    assert _same(best["usd_per_mtok_all_in"], inv["usd_per_mtok_all_in"])

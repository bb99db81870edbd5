"""SRAM systems against GPUs: crossover speeds on step-function envelopes, and saturation lines."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.frontier import sweep
from tokenomy.frontier.crossover import best_at, crossover

A = np.array


def test_best_at_is_the_lowest_value_at_or_above_the_speed():
    # points (speed, $): (10, 1), (20, 3), (30, 2): at >= 5 all count -> 1; at >= 15 -> min(3, 2) = 2;
    # at >= 25 -> 2; at >= 30 -> 2 (30 itself counts); above 30 none -> inf
    got = best_at(A([10.0, 20.0, 30.0]), A([1.0, 3.0, 2.0]), A([5.0, 15.0, 25.0, 30.0, 31.0]))
    assert got.tolist() == [1.0, 2.0, 2.0, 2.0, np.inf]


def test_crossover_above_inside_the_gpu_range():
    # GPU: (10 tok/s/user, $1), (50, $4), (100, $20) -> best_G = 1 on (0,10], 4 on (10,50], 20 on (50,100], inf above.
    # SRAM: (40, $5), (200, $8) -> best_S = 5 on (0,40], 8 on (40,200].
    # S < G: (0,10] 5<1 no; (10,40] 5<4 no; (40,50] 8<4 no; (50,100] 8<20 yes; (100,200] 8<inf yes -> above 50.
    x = crossover(A([40.0, 200.0]), A([5.0, 8.0]), A([10.0, 50.0, 100.0]), A([1.0, 4.0, 20.0]))
    assert x["direction"] == "above" and x["speed"] == 50.0
    assert (x["a_value"], x["b_value"]) == (8.0, 20.0)
    assert x["sram_max_tokens_per_s_per_user"] == 200.0 and x["gpu_max_tokens_per_s_per_user"] == 100.0


def test_crossover_only_beyond_the_gpu_and_never_and_always():
    gpu_s, gpu_c = A([10.0, 50.0, 100.0]), A([1.0, 4.0, 20.0])
    # SRAM at $30 everywhere up to 150: loses wherever G has a point, wins on (100, 150] -> beyond G's fastest (100)
    x = crossover(A([150.0]), A([30.0]), gpu_s, gpu_c)
    assert x["direction"] == "beyond" and x["speed"] == 100.0
    # SRAM at $30 up to 80 only: loses everywhere it reaches -> never, no window
    x = crossover(A([80.0]), A([30.0]), gpu_s, gpu_c)
    assert x["direction"] == "never" and "speed" not in x and x["windows"] == []
    # SRAM at $0.5 up to 120: below G's 1, 4, 20 and inf -> every speed
    x = crossover(A([120.0]), A([0.5]), gpu_s, gpu_c)
    assert x["direction"] == "always" and x["speed"] == 0.0
    # SRAM: (60, $3), (90, $25): best_S = 3 on (0,60], 25 on (60,90]; G = 1, 4, 20 -> wins only on (10,50] and
    # (50,60] (3 < 4 and 3 < 20), loses on (60,90] (25 > 20): never at its fastest, one window 10-60
    x = crossover(A([60.0, 90.0]), A([3.0, 25.0]), gpu_s, gpu_c)
    assert x["direction"] == "never" and x["windows"] == [[10.0, 60.0]]


def test_a_tie_is_not_a_win():
    # equal $ at every speed G reaches -> S wins only beyond G's fastest
    x = crossover(A([10.0, 20.0]), A([1.0, 2.0]), A([10.0, 20.0]), A([1.0, 2.0]))
    assert x["direction"] == "never"
    x = crossover(A([10.0, 30.0]), A([1.0, 2.0]), A([10.0, 20.0]), A([1.0, 2.0]))
    assert x["direction"] == "beyond" and x["speed"] == 20.0


@pytest.fixture(scope="module")
def res70():
    return sweep("llama-3.1-70b", "h100-sxm,b200,groq-lpu,cerebras-wse3", 1024, 1024, precision="bf16,int8")


def _best(res, hw, key, v):
    c = res.columns
    sel = c["meets_slo"] & (c["hardware"] == hw) & np.isfinite(c[key])
    return float(best_at(c["tokens_per_s_per_user"][sel], c[key][sel], A([v]))[0])


def test_real_crossovers_agree_with_the_points(res70):
    xs = {(x["sram"], x["gpu"]): x for x in res70.sram_crossovers}
    assert set(xs) == {(s, g) for s in ("groq-lpu", "cerebras-wse3") for g in ("h100-sxm", "b200")}
    lines = res70.summary()
    for (s, g), x in xs.items():
        assert x["line"] in lines
        for key, name in (("usd_per_mtok_all_in", "cost_crossover"), ("j_per_token_chip", "energy_crossover")):
            v = x[name]["speed"]
            assert v is not None, (s, g, key)          # both SRAM systems outrun both GPUs at 1 user
            eps = 1e-6 * v
            assert _best(res70, s, key, v + eps) < _best(res70, g, key, v + eps)      # just above: the SRAM wins
            # the values just above are named by system and metric
            assert x[name][f"sram_{key}"] == pytest.approx(_best(res70, s, key, v + eps))
            if x[name]["direction"] != "always":
                assert _best(res70, s, key, v) >= _best(res70, g, key, v)            # at it: it does not
    # the sentence states the number: "cerebras-wse3 vs b200: cheaper per token above ~N tok/s/user"
    cb = xs[("cerebras-wse3", "b200")]
    m = re.search(r"cheaper per token above ~([\d,]+) tok/s/user", cb["line"])
    assert m and float(m.group(1).replace(",", "")) == pytest.approx(cb["cost_crossover"]["speed"], abs=0.5)
    gb = xs[("groq-lpu", "b200")]
    if gb["cost_crossover"]["direction"] == "beyond":
        assert f"only beyond b200's fastest point ({gb['cost_crossover']['gpu_max_tokens_per_s_per_user']:,.0f} tok/s/user)" in gb["line"]


def test_real_saturation_lines(res70):
    sat = {x["hardware"]: x for x in res70.saturation}
    assert set(sat) == {"h100-sxm", "b200", "groq-lpu", "cerebras-wse3"}
    c = res70.columns
    for hw, x in sat.items():
        one, top = x["points"]
        assert one["batch"] == 1 and top["batch"] > 1 and top["tokens_per_s"] > one["tokens_per_s"]
        assert one["on_frontier"]                     # the batch-1 point of the fastest deployment is kept
        assert one["tokens_per_s_per_user"] == pytest.approx(res70.max_tokens_per_s_per_user[hw])
        assert x["line"] in res70.summary()
        assert np.isfinite([p[k] for p in (one, top) for k in ("usd_per_mtok_all_in", "j_per_token_chip")]).all()
    # Groq at int8 on 664 chips (80 stages of 8, plus 24 for the embedding and LM head): 80 users fit, 160 do not
    # (SRAM full of KV cache)
    g = sat["groq-lpu"]
    assert g["points"][1]["chips"] == 664 and g["points"][1]["batch"] == 80
    assert "KV cache does not fit in SRAM at 160 users" in g["line"]
    # every point of that deployment is in the result (JSON lists them all), batch 1 to 80
    sel = (c["hardware"] == "groq-lpu") & (c["chips"] == 664) & (c["tp"] == 8) & (c["precision"] == "int8")
    assert sorted(c["batch"][sel].tolist()) == [1, 2, 4, 8, 16, 32, 64, 80]


def test_json_carries_summary_crossovers_and_saturation():
    r = CliRunner().invoke(app, ["frontier", "--model", "llama-3.1-70b", "--hardware", "b200,cerebras-wse3",
                                 "--isl", "1024", "--osl", "1024", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    s = out["summary"]
    assert out["rows"] and s["sram_crossovers"][0]["sram"] == "cerebras-wse3"
    assert s["sram_crossovers"][0]["line"] in s["lines"]
    assert "a_value" not in s["sram_crossovers"][0]["cost_crossover"]
    assert {x["hardware"] for x in s["saturation"]} == {"b200", "cerebras-wse3"}

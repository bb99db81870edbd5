"""Frontier sweep: Pareto sets, serving plausibility, SRAM chips, the CLI contract and its errors."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.core.params import param_counts
from tokenomy.core.pareto import dominates, pareto_mask, pareto_mask_grouped
from tokenomy.frontier import NothingFitsError, sweep, usd_per_chip_hour
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model
from tokenomy.schema import ROW_KEYS

MODEL = "llama-3.1-70b"
CHIPS = ["h100-sxm", "b200", "mi300x", "groq-lpu", "cerebras-wse3", "sambanova-sn40l"]
GPUS = ["h100-sxm", "b200", "mi300x"]


@pytest.fixture(scope="module")
def res():
    return sweep(MODEL, CHIPS, isl=1024, osl=1024)


# ---------------------------------------------------------------- Pareto sets

coords = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=40)


@settings(max_examples=200, deadline=None)
@given(coords, st.tuples(st.booleans(), st.booleans()))
def test_pareto_matches_definition(pts, maximize):
    """Frontier points are non-dominated; every dropped point is dominated by some point."""
    x = np.array([p[0] for p in pts], dtype=float)
    y = np.array([p[1] for p in pts], dtype=float)
    mask = pareto_mask(x, y, maximize)
    for i, p in enumerate(pts):
        dominated = any(dominates(q, p, maximize) for q in pts)
        assert mask[i] == (not dominated)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 1e3), st.floats(0, 1e3)), max_size=30))
def test_grouped_pareto_is_per_group(rows):
    g = np.array([r[0] for r in rows], dtype=int)
    x = np.array([r[1] for r in rows], dtype=float)
    y = np.array([r[2] for r in rows], dtype=float)
    mask = pareto_mask_grouped(g, x, y, (True, False))
    for k in set(g.tolist()):
        sel = g == k
        assert np.array_equal(mask[sel], pareto_mask(x[sel], y[sel], (True, False)))


def test_pareto_ignores_nan():
    mask = pareto_mask([1.0, np.nan, 2.0], [5.0, 9.0, 1.0])
    assert mask.tolist() == [True, False, True]


# ---------------------------------------------------------------- serving plausibility


def test_points_fit_and_drops_are_counted(res):
    df = res.points
    assert len(df) == len(res) > 100
    assert set(ROW_KEYS["frontier"]) <= set(df.columns)
    assert res.dropped_total > 0                       # large batches overflow memory
    assert res.evaluated == len(res) + res.dropped_total
    assert set(df["hardware"]) == set(CHIPS)
    # every point draws at most the power limit of its chips (prefill and decode shares mixed)
    limit = df["hardware"].map(lambda h: load_hardware(h).power_limit_w or np.inf)
    assert (df["power_w"] / df["chips"] <= limit * (1 + 1e-9)).all()


@pytest.mark.parametrize("hw", GPUS)
def test_gpu_frontier_falls_as_speed_rises(res, hw):
    c = res.columns
    sel = (c["hardware"] == hw) & c["on_frontier"]
    order = np.argsort(c["tokens_per_s_per_user"][sel])
    tpc = c["tokens_per_s_per_chip"][sel][order]
    assert sel.sum() >= 5
    assert np.all(np.diff(tpc) <= 0)
    assert tpc[0] > 5 * tpc[-1]                         # batching buys a lot of throughput on a GPU
    sel = (c["hardware"] == hw) & c["on_frontier_cost"]
    order = np.argsort(c["tokens_per_s_per_user"][sel])
    usd = c["usd_per_mtok_all_in"][sel][order]
    assert np.all(np.diff(usd) >= 0)                    # $/Mtok falls as tokens/s/user falls
    assert usd[-1] > 3 * usd[0]


def _gemm_s(micro_rows, tag, m=1):
    return next(r["s"] for r in micro_rows if r["kind"] == "gemm" and r["dtype"] == "bf16" and r["tag"] == tag
                and r["m"] == m)


def test_single_stream_decode_llama8b_h100_worked_example(micro_rows):
    """Batch-1 decode of llama-3.1-8b on one H100 in bf16 (isl = osl = 1024, decode context 1536), by hand.

    Measured m=1 GEMMs (tests/data/microbench.jsonl, the same calls a serving engine makes; these rows are
    among those the profile's GEMM terms are fitted on, so this pins the frontier's use of them):
      per layer qkv 24.106 + o 17.339 + gate_up 84.850 + down 45.322 = 171.617 us; x 32 = 5.4917 ms
      LM head 374.362 us                                                     -> GEMMs 5.866 ms per step
    Attention over 1536 cached tokens: measured SDPA 7.51 us at ctx 1024, 13.06 us at 8192 -> ~8 us x 32
      = 0.26 ms. Floor 6.12 ms (163 tokens/s/user). On top, at most 1.2 ms: the serving profile's 0.3 ms
      step overhead (assumed), ~10 kernels a layer at 2 us fixed each (0.64 ms), the fused elementwise
      kernels (0.26 ms predicted), partly hidden behind each other. Today 6.65 ms (150/s).
    Pure weight streaming at the datasheet 3.35 TB/s would be 15.01 GB / 3.35e12 = 4.48 ms (223/s): the
    old bound; a model that forgot the fixed costs, used fp8 bytes or split by tp would still pass it.
    """
    gemms = 32 * sum(_gemm_s(micro_rows, f"llama8b_{g}") for g in ("qkv", "o", "gate_up", "down"))
    gemms += _gemm_s(micro_rows, "llama8b_lm_head")
    assert gemms == pytest.approx(5.866e-3, rel=1e-3)
    floor_s = gemms + 32 * 8e-6
    r = sweep("llama-3.1-8b", ["h100-sxm"], isl=1024, osl=1024, chips=1, precision="bf16", batches=[1])
    tpot_s = 1.0 / float(r.columns["tokens_per_s_per_user"][0])
    assert floor_s <= tpot_s <= floor_s + 1.2e-3, tpot_s        # 6.65 ms today
    # the measured eager step (unfused, ~20 kernels a layer) at batch 1, ctx 1024 is 8.07 ms: fusing must help
    assert tpot_s < 8.07e-3


# ML.ENERGY v3, vLLM 0.11.1 on one H100, Llama-3.1-8B-Instruct bf16 (tests/data/mlenergy_llama-3.1-8b_h100.csv)
MLENERGY = Path(__file__).resolve().parent / "data" / "mlenergy_llama-3.1-8b_h100.csv"


def _mlenergy_rows() -> list[dict]:
    lines = [ln for ln in MLENERGY.read_text().splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(lines))


@pytest.mark.parametrize("isl", [100, 1000])
def test_small_batch_decode_matches_measured_vllm_held_out(isl):
    """HELD-OUT: the serving profile's own terms (used by sweep) are fitted on no serving-engine data. ML.ENERGY's LM-Arena prompts have
    unpublished lengths, so the check brackets them (100 and 1000 tokens); at 8 and 16 concurrent requests the
    per-user decode time and the GPU power barely depend on them. Today: TPOT -6%..+5% at 8, -9%..+11% at 16;
    power -5%..-2% and -10.0%..-4% (batched, chunked prefill of 100-token prompts reads the weights once per
    82 requests, so the replica spends less time in high-power prefill; power tolerance 11% since then). At 64 and more the comparison hangs on the prompt length (TPOT from 40%
    below the measured with 100-token prompts to 46% above with 1000-token ones), so those rows are not asserted."""
    rows = [r for r in _mlenergy_rows() if int(r["max_num_seqs"]) <= 16]
    assert [int(r["max_num_seqs"]) for r in rows] == [8, 16]
    res = sweep("llama-3.1-8b", ["h100-sxm"], isl=isl, osl=395, chips=1, precision="bf16",
                batches=[int(r["max_num_seqs"]) for r in rows])
    c = res.columns
    for i, r in enumerate(rows):
        tpot_ms = 1e3 / float(c["tokens_per_s_per_user"][i])
        assert tpot_ms == pytest.approx(float(r["median_itl_ms"]), rel=0.12), (r["max_num_seqs"], tpot_ms)
        assert float(c["power_w"][i]) == pytest.approx(float(r["avg_power_watts"]), rel=0.11), r["max_num_seqs"]


def test_groq_70b_single_user_speed_matches_the_published_figure():
    """Published: Groq served Llama-2-70B at 300 tokens/s per user with 8-bit weights (TechPowerUp, Feb 2024;
    shared/reference/sram-systems.md). Issue 10: Groq's per-layer and per-hop times are fitted to the three Groq
    rows including this one (calibrate/sram_fit.py), so this is in-sample: within the issue's x1.3 (today 236/s,
    -21%; 245/s before an MoE layer's dispatch and combine were charged as two all-to-alls, core/graph.py, which
    refitted Groq's terms through its Mixtral row); the leave-one-model-out figures (0.63 / 1.91 / 1.56, not
    asserted: 26 s to refit) are printed by scripts/sram_fit.py and listed in tests/test_sram_systems.py's
    docstring."""
    r = sweep("llama-2-70b", ["groq-lpu"], isl=1024, osl=1024, precision="int8")
    assert 300 / 1.3 <= r.max_tokens_per_s_per_user["groq-lpu"] <= 300 * 1.3
    assert r.max_tokens_per_s_per_user["groq-lpu"] == pytest.approx(236, rel=0.02)


def test_sram_chips_on_same_frontier(res):
    c = res.columns
    for hw in ("groq-lpu", "cerebras-wse3"):
        sel = c["hardware"] == hw
        assert (sel & c["on_frontier"]).any()
        assert np.all(np.isfinite(c["usd_per_mtok_all_in"][sel])) and np.all(np.isfinite(c["j_per_token_chip"][sel]))
        assert np.all(c["power_w"][sel] > 0)
    # Groq: no HBM, so the chip count follows from the weights over the SRAM
    groq = load_hardware("groq-lpu")
    weights = param_counts(load_model(MODEL)).total * 1.0     # Groq's served int8 (catalog served_precision)
    assert c["chips"][c["hardware"] == "groq-lpu"].min() * groq.sram_bytes >= weights
    # SRAM chips reach the highest single-user speeds in this set
    mx = res.max_tokens_per_s_per_user
    assert mx["cerebras-wse3"] > max(mx[g] for g in GPUS)


def test_slo_filters_and_best_per_chip():
    r = sweep(MODEL, ["h100-sxm", "b200"], 1024, 256, min_tokens_per_s_per_user=40, max_ttft_s=0.5)
    c = r.columns
    assert np.all(c["tokens_per_s_per_user"][c["meets_slo"]] >= 40)
    assert np.all(c["ttft_s"][c["meets_slo"]] <= 0.5)
    assert not np.any(c["on_frontier"] & ~c["meets_slo"])
    best = r.best_per_chip
    assert set(best["hardware"]) == {"h100-sxm", "b200"}
    assert (best["tokens_per_s_per_user"] >= 40).all()
    for _, row in best.iterrows():
        ok = c["meets_slo"] & (c["hardware"] == row["hardware"])
        assert row["usd_per_mtok_all_in"] == pytest.approx(c["usd_per_mtok_all_in"][ok].min())


def test_crossovers_are_consistent(res):
    grid, curves = res.cost_curves()
    for x in res.crossovers:
        j = np.searchsorted(grid, x["tokens_per_s_per_user"])
        lo, hi = max(j - 1, 0), min(j, grid.size - 1)
        assert curves[x["cheaper_below"]][lo] <= curves[x["cheaper_above"]][lo] * 1.05 + 1e-12
        assert curves[x["cheaper_above"]][hi] <= curves[x["cheaper_below"]][hi] * 1.05 + 1e-12
    # every change of cheapest chip the summary reports is one of the computed crossovers, near its speed
    said = [re.match(r"near (\d+) tok/s/user the cheapest chip changes from (\S+) to (\S+)$", line)
            for line in res.summary()]
    said = [m.groups() for m in said if m]
    assert said
    for speed, below, above in said:
        assert any(x["cheaper_below"] == below and x["cheaper_above"] == above
                   and abs(x["tokens_per_s_per_user"] - float(speed)) <= max(1.0, 0.05 * float(speed))
                   for x in res.crossovers), (speed, below, above)


def test_fixed_chips_and_length_distribution():
    r = sweep("llama-3.1-8b", ["h100-sxm"], isl=[512, 2048, 512], osl=[128, 256, 64], chips=2, precision="bf16,fp8")
    c = r.columns
    assert set(c["chips"].tolist()) == {2}
    assert set(c["precision"].tolist()) == {"bf16", "fp8"}
    assert r.isl == pytest.approx(1024) and r.osl == pytest.approx(448 / 3)


def test_chip_hour_comes_from_the_economics_model():
    from tokenomy.economics import chip_hour_cost
    h = load_hardware("h100-sxm")
    assert usd_per_chip_hour(h) == pytest.approx(chip_hour_cost(h).usd_per_chip_hour)
    rented = h.model_copy(update={"price_usd": None})          # no price: pay the catalog rent
    assert usd_per_chip_hour(rented) == pytest.approx(chip_hour_cost(rented, mode="rented").usd_per_chip_hour)
    assert np.isnan(usd_per_chip_hour(h.model_copy(update={"price_usd": None, "rent_usd_per_hour": None})))


def test_nothing_fits_raises():
    with pytest.raises(NothingFitsError) as e:
        sweep("llama-3.1-405b", ["h100-sxm"], 1024, 1024, chips=1)
    assert e.value.exit_code == 2 and "fits on none" in str(e.value)


def test_plots(res, tmp_path):
    from tokenomy.report.frontier_plot import write_frontier_plot
    png = write_frontier_plot(res, str(tmp_path / "f.png"))
    html = write_frontier_plot(res, str(tmp_path / "f.html"))
    assert png.read_bytes()[:4] == b"\x89PNG"
    text = html.read_text()
    assert "groq-lpu" in text and "plotly" in text.lower()


def _plotly_figure(path) -> tuple[list[dict], dict]:
    """(traces, layout) of the Plotly page: the JSON arguments after the div id of ``Plotly.newPlot(``."""
    text, dec = Path(path).read_text(), json.JSONDecoder()
    i = text.index(",", text.index("Plotly.newPlot(")) + 1
    traces, end = dec.raw_decode(text, i + len(text[i:]) - len(text[i:].lstrip()))
    return traces, dec.raw_decode(text, text.index("{", end))[0]


@pytest.fixture(scope="module")
def split_plots(tmp_path_factory):
    """The same sweep (8B, h100-sxm + groq-lpu) plotted without and with --disagg, HTML and PNG."""
    from tokenomy.report.frontier_plot import write_frontier_plot
    d = tmp_path_factory.mktemp("plots")
    out = {}
    for tag, disagg in (("agg", False), ("split", True)):
        res = sweep("llama-3.1-8b", "h100-sxm,groq-lpu", 512, 128, disagg=disagg)
        out[tag] = (res, *_plotly_figure(write_frontier_plot(res, d / f"{tag}.html")),
                    write_frontier_plot(res, d / f"{tag}.png").read_bytes())
    return out


def test_plot_draws_the_shown_pairs_dashed_with_both_pools_in_the_hover(split_plots):
    from tokenomy.report.frontier_plot import pairs_shown
    res, traces, layout, png = split_plots["split"]
    shown = pairs_shown(res)
    assert shown and set(shown) <= set(res.pairs)
    names = {t["name"] for t in traces}
    assert names == {"h100-sxm", "groq-lpu"} | {f"{p} prefill + {d} decode" for p, d in (s.split("+") for s in shown)}
    assert f"{len(shown)} of 4 disaggregated pairs" in layout["title"]["text"]
    c = res.columns
    for t in traces:
        assert (t["line"].get("dash") == "dash") == ("prefill" in t["name"])
        if "prefill" not in t["name"]:
            continue
        for text in t["text"]:      # the point named by its pools; its chips, ratio, TTFT, KV time from the columns
            pc, dc, ttft, kv = map(float, re.search(
                r"pools: (\S+) .* prefill chips \+ (\d+) .*TTFT (\S+) s, KV transfer (\S+) ms", text).groups())
            i = np.flatnonzero((c["hardware"] == t["legendgroup"]) & np.isclose(c["prefill_chips"], pc, rtol=5e-3)
                               & (c["decode_chips"] == dc) & np.isclose(c["ttft_s"], ttft, rtol=5e-3))
            assert i.size, text
            assert f"pool ratio {c['prefill_chips'][i[0]] / dc:.3g} prefill chips per decode chip" in text
            assert np.isclose(c["kv_transfer_s"][i] * 1e3, kv, rtol=5e-3).any()
    assert png[:4] == b"\x89PNG" and png != split_plots["agg"][3]       # matplotlib draws the pairs too


def test_plot_pair_choice_and_unchanged_single_chips(split_plots):
    """Pairs drawn: every pair on a global frontier and each decode chip's cheapest; the single chips' traces
    are those of the plot without --disagg, which has no pair and the plain title."""
    from tokenomy.report.frontier_plot import pairs_shown
    res, traces, _, _ = split_plots["split"]
    c, shown = res.columns, pairs_shown(res)
    assert set(c["hardware"][(c["kind"] == "disagg") & c["on_global_frontier_cost"]]) <= set(shown)
    for d in ("h100-sxm", "groq-lpu"):
        sel = np.flatnonzero((c["decode_hardware"] == d) & c["meets_slo"])
        assert c["hardware"][sel[np.argmin(c["usd_per_mtok_all_in"][sel])]] in shown
    agg, agg_traces, agg_layout, _ = split_plots["agg"]
    assert pairs_shown(agg) == [] and not agg.pairs
    assert [t for t in traces if "prefill" not in t["name"]] == agg_traces
    assert agg_layout["title"]["text"] == "llama-3.1-8b: isl 512, osl 128"


def test_plot_keeps_16_pairs_readable():
    from tokenomy.report.frontier_plot import _curves, pairs_shown
    res = sweep(MODEL, "h100-sxm,b200,groq-lpu,cerebras-wse3", 1024, 256, disagg=True)
    shown = pairs_shown(res)
    assert len(res.pairs) == 16 and 1 <= len(shown) <= 4 + 3       # cheapest per decode chip + a few on the frontier
    assert {hw for hw, *_ in _curves(res)["usd_per_mtok_all_in"]} <= set(res.hardware) | set(shown)


# ---------------------------------------------------------------- CLI

runner = CliRunner()
BASE = ["frontier", "--model", "llama-3.1-8b", "--isl", "512", "--osl", "128"]


def test_cli_json_contract():
    r = runner.invoke(app, BASE + ["--hardware", "h100-sxm,groq-lpu", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    pts = out["rows"]
    assert isinstance(pts, list) and pts and out["summary"]["lines"] and out["query"]["model"] == "llama-3.1-8b"
    assert (out["command"], out["query"]["isl"], out["query"]["osl"]) == ("frontier", 512, 128)
    for p in pts:
        assert set(ROW_KEYS["frontier"]) <= set(p)
        assert isinstance(p["on_frontier"], bool)
        # pipelined on groq-lpu the embedding and LM head add a stage of tp x k chips (core/memory.sram_tables)
        assert p["chips"] == p["tp"] * p["pp"] if p["hardware"] == "h100-sxm" or p["pp"] == 1 else \
            p["chips"] > p["tp"] * p["pp"] and (p["chips"] - p["tp"] * p["pp"]) % p["tp"] == 0
    assert {p["hardware"] for p in pts if p["on_frontier"]} == {"h100-sxm", "groq-lpu"}


def test_cli_table_and_summary():
    r = runner.invoke(app, BASE + ["--hardware", "h100-sxm,b200", "--chips", "2"])
    assert r.exit_code == 0, r.output
    assert "tok/s/user" in r.stdout and "cheapest" in r.stdout and "dropped" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["--hardware", "h100-sxm5"], "Unknown hardware"),
    (["--hardware", "h100-sxm", "--isl", "0"], "--isl"),
    (["--hardware", "h100-sxm", "--osl", "0"], "--osl"),
])
def test_cli_bad_input_exits_2(args, needle):
    argv = BASE + args
    r = runner.invoke(app, argv)
    assert r.exit_code == 2
    out = r.output
    assert needle in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1


def test_cli_model_too_big_exits_2():
    r = runner.invoke(app, ["frontier", "--model", "llama-3.1-405b", "--hardware", "h100-sxm,l40s", "--chips", "1",
                            "--isl", "1024", "--osl", "1024"])
    assert r.exit_code == 2
    assert "fits on none" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1

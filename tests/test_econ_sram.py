"""Issue 10: the economics commands place models on SRAM-first chips (--tp/--pp/--ep/--chips as the frontier
takes them), and the two questions that tell SRAM systems apart are answered in one place (core/sram.py)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tokenomy import economics as E
from tokenomy.api import resolve
from tokenomy.cli.main import app
from tokenomy.core.sram import is_dataflow_system, weights_in_sram
from tokenomy.frontier import sweep
from tokenomy.frontier.deployments import DeploymentContext, candidates
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model

runner = CliRunner()
M70 = "llama-3.1-70b"


# --- B: one predicate per question --------------------------------------------------------------------------

@pytest.mark.parametrize("hw_id, in_sram, dataflow", [
    ("groq-lpu", True, True),            # no DRAM: weights in 230 MB of SRAM per chip
    ("cerebras-wse3", True, True),       # no DRAM: weights in 44 GB of SRAM per wafer
    ("sambanova-sn40l", False, True),    # weights stream from HBM through the dataflow pipeline
    ("h100-sxm", False, False),
])
def test_catalog_chips_classify(hw_id, in_sram, dataflow):
    hw = load_hardware(hw_id)
    assert weights_in_sram(hw) is in_sram and is_dataflow_system(hw) is dataflow


def _user_chip(tmp_path, kind: str, hbm_gb: float) -> str:
    hbm = (f"hbm_gb: {{value: {hbm_gb}, source: mine}}\nhbm_tb_per_s: {{value: 3.0, source: mine}}\n"
           if hbm_gb else "")
    path = tmp_path / f"{kind}-{hbm_gb}.yaml"
    path.write_text(f"id: my-sram\nname: Mine\nvendor: Me\nkind: {kind}\nsram_is_cache: false\n"
                    f"bf16_dense_tflops: {{value: 500, source: mine}}\n{hbm}"
                    f"sram_mb: {{value: 8000, source: mine}}\nsram_tb_per_s: {{value: 100, source: mine}}\n"
                    f"scaleup_domain: {{value: 64, source: mine}}\n"
                    f"scaleup_gb_per_s_unidir: {{value: 100, source: mine}}\n")
    return str(path)


def _cands(chip: str) -> list:
    m, hw, e, p = resolve("llama-3.1-8b", chip, None, "bf16")
    return candidates(DeploymentContext(m, e, p, hw, e.memory.reserve_frac), None)[0]


def test_user_chip_kind_sram_with_hbm_is_sized_on_hbm(tmp_path):
    """kind is a label: a 'sram' chip with HBM holds its weights in HBM (like SN40L) and is swept exactly as the
    same chip labelled 'asic'; without HBM the same chip holds them in SRAM and gets the SRAM deployments."""
    with_hbm = _user_chip(tmp_path, "sram", 80)
    hw = load_hardware(with_hbm)
    assert not weights_in_sram(hw) and not is_dataflow_system(hw)
    hbm_cands = _cands(with_hbm)
    assert hbm_cands == _cands(_user_chip(tmp_path, "asic", 80)) and hbm_cands[0] == (1, 1, 1)   # 16 GB in 80
    no_hbm = _user_chip(tmp_path, "gpu", 0)
    assert weights_in_sram(load_hardware(no_hbm))
    # Llama-3.1-8B bf16: 16.1 GB of weights, of which the embedding and LM head (2 x 128,256 x 4,096 x 2 B =
    # 2.1 GB) sit on chips of their own when pipelined (core/memory.sram_tables): 14.0 GB of layers over 8 GB of
    # SRAM fit in pp 2 (7.0 GB per stage), then 2x pp
    assert _cands(no_hbm)[:2] == [(1, 2, 1), (1, 4, 1)]


# --- A: the economics commands place models on Groq and Cerebras ----------------------------------------------

def test_groq_70b_int8_chosen_deployment_holds_the_weights():
    op = E.operating_point(M70, "groq-lpu", 100, precision="int8")
    # chips: tp x pp layer chips plus the embedding / LM head chips of their own (core/memory.sram_tables)
    assert op.feasible and op.tokens_per_s_per_user >= 100 and op.chips > op.tp * op.pp
    # 70.6e9 int8 weights / 230 MB of SRAM per chip >= 307 chips; the pick is one the frontier proposes
    assert op.chips * 230e6 >= 70.6e9
    m, hw, e, p = resolve(M70, "groq-lpu", None, "int8")
    assert (op.tp, op.pp, op.ep) in candidates(DeploymentContext(m, e, p, hw, e.memory.reserve_frac), None)[0]


def test_pp_given_is_kept_and_chosen_otherwise():
    # Llama-3.1-70B int8 on Groq at 1k/1k: the cheapest deployment at >= 50 tok/s/user is tp 8 x pp 80 (one
    # layer per stage) plus 24 chips for the embedding and LM head (2 x 1.05 GB over 8 x 3 chips): 664 per replica
    chosen = E.invest(M70, "groq-lpu", 50, precision="int8")
    assert (chosen.point.tp, chosen.point.pp, chosen.fleet_chips % 664) == (8, 80, 0)
    given = E.invest(M70, "groq-lpu", 50, precision="int8", pp=80)          # tp chosen for the given pp
    assert given.point == chosen.point
    eight = E.operating_point(M70, "groq-lpu", 50, precision="int8", pp=8)   # tp 64 x pp 8: KV does not fit
    assert (eight.pp, eight.feasible) == (8, False) and "does not fit at batch 1" in eight.reason
    # a GPU where one chip holds the weights keeps tp = pp = 1 (the old default)
    assert E.operating_point("llama-3.1-8b", "h100-sxm", 20).chips == 1


def test_cerebras_operating_point_equals_frontier_at_the_same_deployment():
    """Llama-3.1-70B bf16 on 8 wafers (tp 1, pp 8; 8 <= the 2048-wafer domain: no scale-out hand-off): the
    economics point at the frontier's batch-8 (one micro-batch per stage) speed is that frontier point."""
    res = sweep(M70, "cerebras-wse3", 1024, 1024, tp=1, pp=8)
    c = res.columns
    i = int(np.flatnonzero((c["micro_batch"] == 1) & (c["batch"] == 8))[0])
    op = E.operating_point(M70, "cerebras-wse3", float(c["tokens_per_s_per_user"][i]) * (1 - 1e-12), tp=1, pp=8)
    assert op.batch == 8
    assert op.tokens_per_s_per_user == pytest.approx(float(c["tokens_per_s_per_user"][i]), rel=1e-9)
    assert op.tokens_per_s == pytest.approx(float(c["tokens_per_s"][i]), rel=1e-9)


@pytest.mark.parametrize("cmd", [
    ["invest", "--model", M70, "--hardware", "groq-lpu", "--precision", "int8", "--tokens-per-s-per-user", "50"],
    ["invest", "--model", M70, "--hardware", "cerebras-wse3", "--tokens-per-s-per-user", "50"],
    ["factory", "--power-mw", "10", "--model", M70, "--hardware", "groq-lpu,cerebras-wse3", "--precision",
     "int8,bf16", "--tokens-per-s-per-user", "50"],
    ["breakeven", "--model", M70, "--hardware", "groq-lpu", "--versus", "cerebras-wse3", "--precision", "int8",
     "--precision-versus", "bf16", "--tokens-per-s-per-user", "50", "--pp-versus", "8"],
    ["cost", "--hardware", "groq-lpu,cerebras-wse3"],
])
def test_every_economics_command_runs_on_groq_and_cerebras(cmd):
    r = runner.invoke(app, [*cmd, "--json"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("flags, needle", [
    (["--pp", "81"], "pp=81 exceeds the 80 layers"),
    (["--chips", "100", "--tp", "8", "--pp", "10"], "--chips 100 differs from tp x pp = 8 x 10 = 80"),
])
def test_bad_deployment_is_frontiers_one_line_error(flags, needle):
    econ = runner.invoke(app, ["invest", "--model", M70, "--hardware", "groq-lpu", "--tokens-per-s-per-user", "50",
                               *flags])
    front = runner.invoke(app, ["frontier", "--model", M70, "--hardware", "groq-lpu", "--isl", "1024", "--osl",
                                "1024", *flags])
    assert econ.exit_code == front.exit_code == 2
    assert needle in econ.output and econ.output == front.output
    assert len(econ.output.strip().splitlines()) == 1


def test_factory_takes_one_pp_per_chip():
    r = E.factory(10, M70, ["groq-lpu", "cerebras-wse3"], 50, precision=["int8", "bf16"], tp=[64, 1], pp=[16, 8])
    # tp x pp layer chips plus the table chips: Groq 64 x 16 + 64 (one tp group), Cerebras 1 x 8 + 1 wafer
    assert [x.chips for x in r.rows] == [1088, 9] and all(x.feasible for x in r.rows)
    assert load_model(M70).n_layers == 80


def test_one_chip_that_holds_the_weights_still_gets_the_deployment_search():
    """Llama-3.1-70B bf16 fits one b200 (141 GB of 180 GB), but one chip reads them at most 8 TB/s / 141 GB = 57
    times a second, below 100 tok/s/user: the operating point searches more chips, as the frontier does (which
    has tp 8 at 152 tok/s/user) instead of calling the chip infeasible."""
    op = E.operating_point(M70, "b200", 100)
    assert op.feasible and op.chips > 1 and op.tokens_per_s_per_user >= 100
    r = E.factory(10, M70, ["b200"], 100)
    assert r.rows[0].feasible
    # where one chip does reach the speed, but only at a small batch, the search still runs and the cheapest is
    # kept: Mixtral-8x7B on one b200 reaches 100 tok/s/user at batch 3 ($2.5/Mtok), tp 4 at batch 125 (~$0.24)
    one = E.operating_point("mixtral-8x7b", "b200", 100, tp=1)
    best = E.operating_point("mixtral-8x7b", "b200", 100)
    assert one.feasible and one.batch < 8
    assert best.chips > 1 and best.usd_per_mtok_all_in < 0.2 * one.usd_per_mtok_all_in
    low = E.operating_point(M70, "b200", 20)                     # never dearer than the one-chip point
    assert low.usd_per_mtok_all_in <= E.operating_point(M70, "b200", 20, tp=1).usd_per_mtok_all_in

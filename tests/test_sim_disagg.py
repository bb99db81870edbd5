"""Disaggregated serving in the simulator (issue 12): two pools, the KV hand-off as a FIFO queue on the link.

Hand-computed runs on the linear fake step cost of tests/sim_fakes.py, then the real adapter through
``tokenomy.simulate`` and the CLI."""

from __future__ import annotations

import json

import pytest
from sim_fakes import Cost, work
from typer.testing import CliRunner

import tokenomy
from tokenomy.api import resolve
from tokenomy.cli.main import app
from tokenomy.core.disagg import Link
from tokenomy.errors import InfeasibleError, NothingFitsError, SpecError
from tokenomy.report.sim_plot import _series
from tokenomy.sim.disagg import simulate_disagg

LINK = Link(bytes_per_s=1e9, latency_s=0.0, label="test link")


def run(arrival, isl, osl, kv, *, layers=1, link=LINK, prefill=None, decode=None, **kw):
    prefill = prefill or Cost(base=0.01, per_new=0.001)      # prefill of N tokens: 0.01 + 0.001 N s
    decode = decode or Cost(base=0.02)                       # one decode step: 0.02 s
    return simulate_disagg(work(arrival, isl, osl), prefill, decode, link=link, kv_bytes=kv, layers=layers, **kw)


def test_ttft_includes_the_transfer_by_hand():
    # prefill 100 tokens: 0.01 + 0.1 = 0.11 s; KV 1e8 B over 1e9 B/s = 0.1 s after it (one layer: no overlap);
    # the first token reaches the client with the KV: TTFT = 0.21. Decode: tokens 2 and 3 at 0.23 and 0.25.
    r = run([0.0], [100], [3], [1e8]).requests.iloc[0]
    assert r["prefill_end_s"] == pytest.approx(0.11)
    assert r["kv_transfer_s"] == pytest.approx(0.1)
    assert r["kv_queue_s"] == 0.0
    assert r["ttft_s"] == pytest.approx(0.21)
    assert r["finish_s"] == pytest.approx(0.25)
    assert r["tpot_s"] == pytest.approx(0.02)


def test_layerwise_streaming_hides_the_transfer_behind_prefill():
    # 10 layers, prefill 0.11 s, T = 0.1 s: exposed = max(0.1 - 0.11 * 9/10, 0.1 / 10) + 1 ms latency = 0.011 s
    link = Link(bytes_per_s=1e9, latency_s=1e-3, label="test link")
    r = run([0.0], [100], [2], [1e8], layers=10, link=link).requests.iloc[0]
    assert r["kv_transfer_s"] == pytest.approx(0.011)
    assert r["ttft_s"] == pytest.approx(0.11 + 0.011)


def test_two_prefills_ending_together_queue_on_the_link():
    # both prompts in one prefill step: 0.01 + 0.2 = 0.21 s; transfers 0.21 -> 0.31 and 0.31 -> 0.41 (FIFO)
    res = run([0.0, 0.0], [100, 100], [3, 3], [1e8, 1e8])
    q = res.requests
    assert q["prefill_end_s"].tolist() == pytest.approx([0.21, 0.21])
    assert q["kv_queue_s"].tolist() == pytest.approx([0.0, 0.1])
    assert q["ttft_s"].tolist() == pytest.approx([0.31, 0.41])
    assert res.summary["kv_queue_mean_s"] == pytest.approx(0.05)
    # two prefill replicas: one link each, no queue
    q2 = run([0.0, 0.0], [100, 100], [3, 3], [1e8, 1e8], prefill_replicas=2).requests
    assert q2["kv_queue_s"].tolist() == [0.0, 0.0]
    assert q2["ttft_s"].tolist() == pytest.approx([0.21, 0.21])     # 0.01 + 0.1 prefill, 0.1 transfer


def test_first_gap_waits_for_a_busy_decode_replica():
    # request 0: TTFT 0.21, decodes in steps ending 0.23, 0.25, ... (osl 10: last token at 0.21 + 9 * 0.02 = 0.39).
    # request 1 arrives at 0.2: prefill 0.2 -> 0.31, KV at 0.41, joins the step starting at 0.41 (steps end on
    # 0.21 + 0.02 k: the run is cut at 0.41), so its second token comes at 0.43.
    q = run([0.0, 0.2], [100, 100], [10, 2], [1e8, 1e8]).requests
    assert q["finish_s"].tolist() == pytest.approx([0.39, 0.43])
    assert q["tpot_s"].iloc[1] == pytest.approx(0.02)


def test_closed_loop_issues_on_decode_finish():
    # one client: request 0 finishes at 0.11 + 0.1 + 0.02 = 0.23; request 1 is issued then: 0.23 + 0.23 = 0.46
    q = simulate_disagg(
        work([0.0, 0.0], [100, 100], [2, 2], kind="closed", conc=1), Cost(base=0.01, per_new=0.001),
        Cost(base=0.02), link=LINK, kv_bytes=[1e8, 1e8], layers=1).requests
    assert q["arrival_s"].tolist() == pytest.approx([0.0, 0.23])
    assert q["finish_s"].tolist() == pytest.approx([0.23, 0.46])


def test_pools_cost_power_and_chips():
    pre, dec = Cost(base=0.01, per_new=0.001, chips=2, usd_per_hour=7.2), Cost(base=0.02, usd_per_hour=3.6)
    s = run([0.0], [100], [3], [1e8], prefill=pre, decode=dec, decode_replicas=2).summary
    assert (s["fleet_chips"], s["prefill_fleet_chips"], s["decode_fleet_chips"]) == (4, 2, 2)
    # 7.2 + 2 * 3.6 $/h over 0.25 s for 3 tokens
    assert s["usd_per_mtok_all_in"] == pytest.approx(14.4 * 0.25 / 3600 / 3e-6)
    # energy: prefill 500 W x 0.11 s + idle 100 W x 0.14 s; decode 500 W x 0.04 s + 100 W x (0.5 - 0.04) s
    assert s["fleet_power_w"] == pytest.approx((55 + 14 + 20 + 46) / 0.25)


def test_decode_pool_without_room_for_one_request():
    with pytest.raises(InfeasibleError, match=r"^decode pool"):
        run([0.0], [100], [3], [1e8], decode=Cost(base=0.02, kv_capacity_tokens=64))


def test_slow_nic_vs_scaleup_on_a_real_model():
    kw = dict(workload="poisson:rate=1,isl=2000,osl=20", requests=20, prefill_tp=1, decode_tp=1)
    up = tokenomy.simulate("llama-3.1-8b", "h100-sxm", kv_link="scale-up", **kw)
    nic = tokenomy.simulate("llama-3.1-8b", "h100-sxm", kv_link="scale-out", **kw)
    h = resolve("llama-3.1-8b", "h100-sxm")[1]
    # KV of 2000 tokens: 2 * 32 layers * 8 heads * 128 * 2 B = 128 KiB a token; streamed behind the prefill,
    # only the last layer's share (T / 32) and the message latency are exposed
    kv = 2000 * 2 * 32 * 8 * 128 * 2
    assert nic.requests["kv_transfer_s"].iloc[0] == pytest.approx(kv / h.scaleout_bytes_per_s / 32 + 20e-6)
    assert up.requests["kv_transfer_s"].iloc[0] == pytest.approx(kv / h.scaleup_bytes_per_s_unidir / 32 + 8e-6)
    gap = nic.requests["kv_transfer_s"] - up.requests["kv_transfer_s"]
    assert (nic.requests["ttft_s"] - up.requests["ttft_s"]).to_numpy() == pytest.approx(gap.to_numpy())
    assert nic.summary["kv_link"].startswith("scale-out") and up.summary["kv_link"].startswith("scale-up")
    assert [r for r, _, _ in _series(nic)["batch"]] == ["D0", "P0"]     # the plot draws each pool's replica


@pytest.mark.parametrize(("kw", "err", "text"), [
    ({"replicas": 2, "decode_replicas": 2}, SpecError, "prefill_replicas"),
    ({"kv_link": "nvlink"}, SpecError, "kv_link"),
    ({"prefill_tp": 0}, SpecError, "prefill_tp"),
    ({"decode_hardware": "mi300x", "kv_link": "scale-up"}, SpecError, "scale-up"),
    ({"decode_hardware": "groq-lpu", "decode_tp": 4}, NothingFitsError, r"^decode pool"),
])
def test_bad_flags(kw, err, text):
    with pytest.raises(err, match=text):
        tokenomy.simulate("llama-3.1-70b", "h100-sxm", workload="poisson:rate=1,isl=100,osl=10", requests=2,
                          **{"prefill_tp": 4, "decode_tp": 4, **kw})


def test_cli_one_line_errors_and_a_run():
    cli = CliRunner()
    base = ["simulate", "--model", "llama-3.1-8b", "--workload", "poisson:rate=1,isl=500,osl=20", "--requests", "5"]
    r = cli.invoke(app, [*base, "--prefill-hardware", "h100-sxm"])
    assert r.exit_code == 2 and "--decode-hardware" in r.output and "Traceback" not in r.output
    r = cli.invoke(app, [*base, "--prefill-hardware", "h100-sxm", "--decode-hardware", "h200-sxm",
                                "--decode-replicas", "2", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)["rows"][0]
    assert out["fleet_chips"] == 3 and out["decode_replicas"] == 2 and out["kv_transfer_p50_s"] > 0


def test_cli_kv_link_alone_is_an_error_not_a_two_pool_run():
    r = CliRunner().invoke(app, ["simulate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--workload",
                                 "poisson:rate=1,isl=500,osl=20", "--requests", "5", "--kv-link", "scale-out"])
    assert r.exit_code == 2 and "--kv-link applies to a disaggregated run" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1

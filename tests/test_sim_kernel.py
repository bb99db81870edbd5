"""The request-level simulator kernel (sim/kernel.py, scheduler.py, kvcache.py, metrics.py) on fake step
costs whose answers can be worked by hand.

Convention checked here (vLLM): the step that finishes a prompt emits the first token, so for one request
alone TTFT = its prefill step(s) and E2E = TTFT + (output_tokens - 1) decode steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_fakes import Cost, work

from tokenomy.errors import InfeasibleError, SpecError
from tokenomy.sim.kernel import simulate_requests
from tokenomy.sim.metrics import weighted_stats
from tokenomy.sim.scheduler import Policy, policy_for


def test_one_request_alone_exact():
    # prefill 100 tokens: 0.01 + 0.001 * 100 = 0.11 s -> TTFT 0.11 (first token from the prefill step)
    # decode step 1 reads 100 + 1 tokens: 0.01 + 1e-4 * 101 = 0.0201; step 2 reads 102: 0.0202
    # E2E = 0.11 + 0.0201 + 0.0202 = 0.1503; TPOT = (0.1503 - 0.11) / 2 = 0.02015
    cost = Cost(per_kv=1e-4, per_new=1e-3)
    r = simulate_requests(work([0.0], [100], [3]), cost)
    row = r.requests.iloc[0]
    assert row.ttft_s == pytest.approx(0.11, abs=1e-12)
    assert row.e2e_s == pytest.approx(0.1503, abs=1e-12)
    assert row.tpot_s == pytest.approx(0.02015, abs=1e-12)
    assert cost.calls == [(0, 0, 100, 100 * 50.5)] and cost.runs == [[(1, 101, 0, 0), (1, 102, 0, 0)]]
    s = r.summary
    assert s["requests"] == 1 and s["simulated_s"] == pytest.approx(0.1503)
    assert s["itl_mean_s"] == pytest.approx(0.02015)      # two gaps, 0.0201 and 0.0202
    assert s["fleet_tokens_per_s"] == pytest.approx(3 / 0.1503)
    # busy the whole time at 500 W: 500 W, 500 * 0.1503 / 3 J per token; $3.6/h * 0.1503 s / 3 tokens
    assert s["fleet_power_w"] == pytest.approx(500.0) and s["j_per_token_chip"] == pytest.approx(500 * 0.1503 / 3)
    assert s["usd_per_mtok_all_in"] == pytest.approx(3.6 * 0.1503 / 3600 / 3e-6)
    # one decode sequence during 0.0403 s of 0.1503 s busy (the prefill step has no decode sequence)
    assert s["mean_batch"] == pytest.approx((0.0201 + 0.0202) / 0.1503)


def test_two_requests_arriving_together_share_steps():
    # step 1: both prompts (100 + 50 new tokens) in one step: 0.01 + 0.001 * 150 = 0.16 -> both TTFT 0.16
    # step 2: two decode sequences: 0.01 + 0.002 * 2 = 0.014 -> both finish at 0.174
    cost = Cost(per_seq=0.002, per_new=1e-3)
    r = simulate_requests(work([0.0, 0.0], [100, 50], [2, 2]), cost)
    assert r.requests.ttft_s.tolist() == pytest.approx([0.16, 0.16])
    assert r.requests.e2e_s.tolist() == pytest.approx([0.174, 0.174])
    assert r.summary["mean_batch"] == pytest.approx(2 * 0.014 / 0.174)


def test_long_prompt_is_chunked_across_steps():
    # budget 64: chunks 64, 64, 22; pairs = chunk * (cached_before + (chunk + 1) / 2)
    # = 64 * 32.5 = 2080, 64 * (64 + 32.5) = 6176, 22 * (128 + 11.5) = 3069
    # times 0.01 + 0.001 * chunk: 0.074 + 0.074 + 0.032 = 0.18 = TTFT
    cost = Cost(per_new=1e-3, max_num_batched_tokens=64)
    r = simulate_requests(work([0.0], [150], [2]), cost)
    assert cost.calls[:3] == [(0, 0, 64, 2080.0), (0, 0, 64, 6176.0), (0, 0, 22, 3069.0)]
    assert r.requests.ttft_s[0] == pytest.approx(0.18)
    # without chunked prefill the whole prompt goes in one step (it is the step's only prefill)
    cost2 = Cost(per_new=1e-3, max_num_batched_tokens=64)
    pol = Policy(max_num_seqs=64, max_num_batched_tokens=64, chunked_prefill=False)
    r2 = simulate_requests(work([0.0], [150], [2]), cost2, policy=pol)
    assert cost2.calls[0] == (0, 0, 150, 150 * 75.5) and r2.requests.ttft_s[0] == pytest.approx(0.16)


def test_decode_first_then_chunk():
    # request 0 decodes while request 1 (arrives at 0.015, inside step 2) is prefilled in chunks of the budget
    # left: budget 40 - 1 decode = 39 per step
    cost = Cost(max_num_batched_tokens=40)
    simulate_requests(work([0.0, 0.015], [10, 50], [5, 2]), cost)
    # step 0 prefills request 0; steps 1.. are a decode run (11, 12, ... tokens) cut at 0.02 by the arrival
    assert cost.calls == [(0, 0, 10, 10 * 5.5), (1, 12, 39, 39 * 20), (1, 13, 11, 11 * (39 + 6))]
    # then both decode: request 0 reads 14, request 1 reads 51 (its 50 + its first token); request 0 ends
    # after token 5 (step 4), request 1 after its token 2 (step 4 too)
    assert cost.runs[0][0] == (1, 11, 0, 0) and cost.runs[1] == [(2, 14 + 51, 0, 0)]


def test_kv_exhaustion_preempts_the_newest_and_recompute_redoes_its_prefill():
    # 4 blocks of 16 tokens. Both requests (16 in, 40 out) prefill in step 0 (1 block each). A decoder holds
    # 16 + c tokens in step c: 2 blocks each up to c = 16; step 17 needs 3 each (6 > 4): request 1 (admitted
    # last) is preempted with 17 tokens generated. Request 0 finishes in step 39 (40 steps * 0.01 = 0.40).
    # Request 1 is prefilled again (16 + 17 = 33 tokens) in step 40, emits token 18, and its last token in
    # step 62: finish 0.63.
    cost = Cost(kv_capacity_tokens=64)
    r = simulate_requests(work([0.0, 0.0], [16, 16], [40, 40]), cost, event_log=True)
    assert r.requests.finish_s.tolist() == pytest.approx([0.40, 0.63])
    assert r.requests.preemptions.tolist() == [0, 1] and r.summary["preemptions"] == 1
    assert cost.calls[1] == (0, 0, 33, 33 * 17)   # step 40: the recompute prefill
    assert ("preempt", 1) in [(e[2], e[3]) for e in r.events]
    assert r.summary["kv_peak_frac"] == pytest.approx(1.0)
    # tokens emitted = first tokens + decode tokens + the resumed request's token: 80
    assert r.summary["itl_p99_s"] == pytest.approx(0.24)   # request 1 waited 0.17 -> 0.41 for token 18


def test_swap_preemption_keeps_tokens_and_pays_the_link():
    # same scenario with swap: request 1's 33 tokens go to host and back, 33 * 1e6 B / 1e9 B/s = 0.033 s each
    cost = Cost(kv_capacity_tokens=64)
    pol = Policy(max_num_seqs=64, max_num_batched_tokens=8192, preemption="swap")
    r = simulate_requests(work([0.0, 0.0], [16, 16], [40, 40]), cost, policy=pol)
    # step 17 costs 0.01 + 0.033 (swap out): request 0 finishes at 0.40 + 0.033
    # step 40 swaps request 1 back in (0.01 + 0.033) and decodes its token 18 in it (vLLM V0 swap-in), ending
    # at 0.476; then 22 decode steps for tokens 19..40: finish 0.476 + 0.22 = 0.696
    assert r.requests.finish_s[0] == pytest.approx(0.433)
    assert r.requests.finish_s[1] == pytest.approx(0.696)
    # ITL: token 18 of request 1 came 0.476 - 0.17 = 0.306 s after token 17 (end of step 16), the swapped-out
    # time included. Token weights of the gaps: 0.01 x 76 (steps 1-16 x 2, 18-39, 41-62), 0.043 x 1 (step 17,
    # request 0), 0.306 x 1: 78 (+ 2 first tokens = 80 emitted); p99 is at 0.99 x 78 = 77.2 > 77: 0.306
    assert r.summary["itl_p99_s"] == pytest.approx(0.306)
    assert r.emitted_tokens == pytest.approx(80.0)
    assert cost.calls[-1] == (1, 33, 0, 0)     # step 40 decodes request 1, reading its 33 tokens


def test_sliding_window_kv_is_a_fixed_charge_per_running_sequence():
    # 96 tokens = 6 blocks of 16; each running sequence is charged kv_tokens_per_seq = 16 tokens = 1 block
    # (its sliding-window layers) on top of its own tokens. As in the test above, step c needs
    # 2 * (ceil((16 + c) / 16) + 1) blocks: 6 up to c = 16, 8 > 6 at c = 17, so request 1 is preempted there
    # and the times are the same as with 4 blocks and no charge: 0.40 and 0.63.
    r = simulate_requests(work([0.0, 0.0], [16, 16], [40, 40]), Cost(kv_capacity_tokens=96, kv_tokens_per_seq=16.0))
    assert r.requests.finish_s.tolist() == pytest.approx([0.40, 0.63])
    assert r.summary["preemptions"] == 1 and r.summary["kv_peak_frac"] == pytest.approx(1.0)
    # without the charge the 6 blocks last until c = 33 (2 * 4 > 6): request 1 is preempted with 33 tokens,
    # prefilled again (16 + 33 tokens) in step 40 with token 34, and emits token 40 in step 46: finish 0.47
    r0 = simulate_requests(work([0.0, 0.0], [16, 16], [40, 40]), Cost(kv_capacity_tokens=96))
    assert r0.summary["preemptions"] == 1 and r0.requests.finish_s.tolist() == pytest.approx([0.40, 0.47])
    # a request must fit with its charge: 200 tokens = 13 blocks + 1 > 13 blocks (208 tokens)
    with pytest.raises(InfeasibleError, match="request 0"):
        simulate_requests(work([0.0], [100], [100]), Cost(kv_capacity_tokens=208, kv_tokens_per_seq=1.0))
    assert simulate_requests(work([0.0], [100], [100]), Cost(kv_capacity_tokens=208)).summary["requests"] == 1


def test_request_that_never_fits_is_a_clear_error():
    with pytest.raises(InfeasibleError, match="request 0"):
        simulate_requests(work([0.0], [100], [100]), Cost(kv_capacity_tokens=128))
    with pytest.raises(SpecError, match="sorted"):
        simulate_requests(work([1.0, 0.0], [1, 1], [1, 1]), Cost())
    with pytest.raises(SpecError, match="router"):
        simulate_requests(work([0.0], [1], [1]), Cost(), router="random")  # type: ignore[arg-type]
    # a Workload built by hand with float counts: 10.5 tokens is refused (it was truncated to 10), 10.0 is fine
    half = work([0.0], [10.5], [3.0])
    with pytest.raises(SpecError, match=r"input_tokens must be whole numbers; got 10.5 \(request 0\)"):
        simulate_requests(half, Cost())
    whole = work([0.0], [10.0], [3.0])
    assert simulate_requests(whole, Cost()).requests.input_tokens.tolist() == [10]


def test_closed_loop_keeps_n_in_flight():
    r = simulate_requests(work(np.zeros(20), [10] * 20, [5] * 20, kind="closed", conc=4), Cost(), event_log=True)
    depth, depths = 0, []
    for _t, _rep, kind, _rid in r.events:
        depth += {"arrive": 1, "finish": -1}.get(kind, 0)
        depths.append(depth)
    assert max(depths) == 4 and r.summary["requests"] == 20
    # each batch of 4 takes 1 prefill + 4 decode steps = 0.05 s; 5 rounds
    assert r.summary["simulated_s"] == pytest.approx(0.25)
    assert sorted(r.requests.arrival_s.unique().tolist()) == pytest.approx([0, 0.05, 0.1, 0.15, 0.2])


def test_closed_loop_duration_stops_issuing():
    r = simulate_requests(work(np.zeros(100), [10] * 100, [5] * 100, kind="closed", conc=2), Cost(),
                          duration_s=0.12)
    assert r.summary["requests"] == 6    # rounds issued at 0, 0.05, 0.10


def test_round_robin_vs_least_loaded():
    # r0 is long (100 tokens), r1 short (2): at t=1 replica 1 is empty. Round-robin sends r2 to 0 and r3 to 1;
    # least-loaded sends r2 to the empty replica 1, then r3 (tie 1-1) to the lowest index, 0.
    w = work([0.0, 0.0, 1.0, 1.0], [10] * 4, [200, 2, 5, 5])
    rr = simulate_requests(w, Cost(), replicas=2, router="round-robin")
    ll = simulate_requests(w, Cost(), replicas=2, router="least-loaded")
    assert rr.requests.replica.tolist() == [0, 1, 0, 1]
    assert ll.requests.replica.tolist() == [0, 1, 1, 0]


@dataclass(frozen=True)
class Prefix:   # the fields of spec.sim.PrefixCache that the kernel reads
    hit_frac: float = 0.0
    shared_prefix_tokens: int = 0


def test_shared_prefix_is_held_up_to_the_longest_prompt():
    # capacity 200 tokens, blocks of 1: a 1,000,000-token prefix is held as 100 - 1 = 99 tokens (all a
    # 100-token prompt can use); the prompt computes 1 token (0.01 + 1e-3 = 0.011 s) and decodes 2 (0.02)
    cost = Cost(per_new=1e-3, kv_capacity_tokens=200)
    pol = Policy(max_num_seqs=4, max_num_batched_tokens=512, block_tokens=1)
    r = simulate_requests(work([0.0], [100], [3]), cost, policy=pol, prefix=Prefix(shared_prefix_tokens=10**6))
    assert r.requests.cached_tokens[0] == 99 and r.requests.e2e_s[0] == pytest.approx(0.031)
    # 99 shared + the request's own 1 + 1 tokens in its first decode step (of 200): peak in its last step, 102
    assert r.summary["kv_peak_frac"] == pytest.approx(102 / 200)
    # a cache of 90 tokens cannot hold even the 99 used tokens of the prefix: refused naming the flag (exit 2)
    with pytest.raises(SpecError, match="--prefix-cache"):
        simulate_requests(work([0.0], [100], [3]), Cost(kv_capacity_tokens=90), policy=pol,
                          prefix=Prefix(shared_prefix_tokens=10**6))


def test_full_event_log_of_a_tiny_scenario():
    # step = 0.01 + 0.001 x decode seqs + 0.001 x prefill tokens. Request 0 (0 s, 4 in, 3 out) prefills alone:
    # 0.014 -> first token. Its decode run (0.011 a step, ends 0.025, 0.036) is cut at 0.025 by request 1's
    # arrival at 0.015 (2 in, 2 out). Step 0.025-0.038: request 0 decodes its 3rd and last token while request
    # 1 prefills (0.01 + 0.001 + 0.002 = 0.013): first token of 1, then finish of 0. Request 1 decodes its 2nd
    # token alone in 0.038-0.049.
    r = simulate_requests(work([0.0, 0.015], [4, 2], [3, 2]), Cost(per_seq=1e-3, per_new=1e-3), event_log=True)
    want = [(0.0, 0, "arrive", 0), (0.0, 0, "admit", 0), (0.014, 0, "first_token", 0), (0.015, 0, "arrive", 1),
            (0.025, 0, "admit", 1), (0.038, 0, "first_token", 1), (0.038, 0, "finish", 0), (0.049, 0, "finish", 1)]
    assert [e[1:] for e in r.events] == [w[1:] for w in want]
    assert [e[0] for e in r.events] == pytest.approx([w[0] for w in want], abs=1e-12)


def test_timeline_queue_is_time_weighted_over_a_cut_decode_run():
    # one slot: request 0 (0 s) prefills in 0-0.01 and decodes 4 steps; request 1 arrives at 0.025, cutting the
    # run at 0.03 and waiting until request 0 ends at 0.05. Queue over 0.01-0.03: 1 for 0.005 of 0.02 s = 0.25
    # (not 1, the queue at the row's end); 0.03-0.05: 1; request 1's prefill 0.05-0.06 and decode: 0
    pol = Policy(max_num_seqs=1, max_num_batched_tokens=512)
    r = simulate_requests(work([0.0, 0.025], [10, 10], [5, 5]), Cost(), policy=pol)
    assert r.timeline.t_s.tolist() == pytest.approx([0.01, 0.03, 0.05, 0.06, 0.10])
    assert r.timeline.queued.tolist() == pytest.approx([0.0, 0.25, 1.0, 0.0, 0.0])


def test_kv_peak_frac_counts_tokens_not_blocks():
    # 10 blocks of 16 tokens; a 10-token prompt with 3 output tokens holds 12 tokens in its last decode step:
    # 12 / 160 = 0.075 (docs/simulate.md: in tokens; in blocks it would be 1 / 10)
    pol = Policy(max_num_seqs=4, max_num_batched_tokens=512, block_tokens=16)
    r = simulate_requests(work([0.0], [10], [3]), Cost(kv_capacity_tokens=160), policy=pol)
    assert r.summary["kv_peak_frac"] == pytest.approx(0.075)


def test_prefix_cache_skips_cached_tokens():
    # shared prefix of 64 tokens: a 100-token prompt computes 36 new tokens with 64 cached before them
    cost = Cost(per_new=1e-3)
    r = simulate_requests(work([0.0], [100], [2]), cost, prefix=Prefix(shared_prefix_tokens=64))
    assert cost.calls[0] == (0, 0, 36, 36 * (64 + 18.5)) and r.requests.cached_tokens[0] == 64
    # hit 0.5: 50 of 100 cached
    cost = Cost(per_new=1e-3)
    simulate_requests(work([0.0], [100], [2]), cost, prefix=Prefix(hit_frac=0.5))
    assert cost.calls[0] == (0, 0, 50, 50 * (50 + 25.5))


def test_slo_goodput_and_weighted_itl():
    @dataclass(frozen=True)
    class Slo:
        ttft_s: float | None = 0.05
        tpot_s: float | None = None

    cost = Cost(per_new=1e-3)
    # TTFTs 0.02 (10 tokens) and 0.11 (100 tokens, arrives after the first finished)
    r = simulate_requests(work([0.0, 1.0], [10, 100], [2, 2]), cost, slo=Slo())
    assert r.requests.slo_met.tolist() == [True, False] and r.summary["slo_attainment"] == 0.5
    w = weighted_stats(np.array([1.0, 2.0, 3.0]), np.array([1.0, 8.0, 1.0]))
    assert (w["mean"], w["p50"], w["p90"], w["p99"]) == (2.0, 2.0, 2.0, 3.0)


def test_policy_checks_and_engine_profile():
    with pytest.raises(SpecError, match="max_num_seqs"):
        Policy(max_num_seqs=0, max_num_batched_tokens=1)
    from tokenomy.loaders.engines import load_engine
    p = policy_for(load_engine("vllm"), Cost(max_num_seqs=32))
    assert p.max_num_seqs == 32 and p.block_tokens == 16 and p.preemption == "recompute"


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 25))
    gaps = draw(st.lists(st.floats(0, 0.05), min_size=n, max_size=n))
    isl = draw(st.lists(st.integers(1, 200), min_size=n, max_size=n))
    osl = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    kind = draw(st.sampled_from(["open", "closed"]))
    pol = Policy(max_num_seqs=draw(st.integers(1, 8)), max_num_batched_tokens=draw(st.integers(1, 300)),
                 chunked_prefill=draw(st.booleans()), preemption=draw(st.sampled_from(["recompute", "swap"])),
                 block_tokens=draw(st.sampled_from([1, 4, 16])))
    cap = draw(st.integers(256, 2000))
    w = work(np.cumsum(gaps) if kind == "open" else np.zeros(n), isl, osl, kind, draw(st.integers(1, 5)))
    return w, pol, cap, draw(st.integers(1, 3)), draw(st.sampled_from(["round-robin", "least-loaded"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants(sc):
    w, pol, cap, reps, router = sc
    cost = Cost(per_seq=1e-3, per_kv=1e-6, per_new=1e-4, kv_capacity_tokens=cap)
    r = simulate_requests(w, cost, policy=pol, replicas=reps, router=router, event_log=True)
    req = r.requests
    n = len(w.arrival_s)
    assert sorted(req.request_id.tolist()) == list(range(n))                # none lost, none duplicated
    assert [e[3] for e in r.events if e[2] == "finish"].count(0) == 1
    assert len([e for e in r.events if e[2] == "finish"]) == n
    assert np.all(np.isfinite(req.finish_s)) and np.all(req.ttft_s > 0) and np.all(req.ttft_s <= req.e2e_s + 1e-12)
    # tokens out == tokens asked: first tokens + decode tokens + tokens of resumed (recomputed) requests
    assert r.emitted_tokens == pytest.approx(float(np.sum(w.output_tokens)))
    assert r.summary["preemptions"] == int(req.preemptions.sum())
    r2 = simulate_requests(w, Cost(per_seq=1e-3, per_kv=1e-6, per_new=1e-4, kv_capacity_tokens=cap), policy=pol,
                           replicas=reps, router=router)
    assert r2.requests.equals(req) and r2.summary | {"wall_s": 0} == r.summary | {"wall_s": 0}


def test_littles_law_on_a_long_open_run():
    # L (time-average requests in the system, from the timeline) = lambda * W (arrival rate * mean E2E)
    rng = np.random.default_rng(1)
    n = 3000
    arr = np.cumsum(rng.exponential(1 / 20.0, n))
    arr -= arr[0]
    w = work(arr, rng.integers(50, 400, n), rng.integers(5, 80, n))
    r = simulate_requests(w, Cost(base=0.01, per_seq=2e-4, per_new=2e-5))
    tl = r.timeline
    dt = np.diff(np.concatenate([[0.0], tl.t_s.to_numpy()]))
    area = float(np.sum((tl.queued + tl.running).to_numpy() * dt))
    lam = n / r.summary["simulated_s"]
    little = lam * r.summary["e2e_mean_s"]
    assert area / r.summary["simulated_s"] == pytest.approx(little, rel=0.05)


def test_folded_itl_matches_raw_within_rounding(monkeypatch):
    import tokenomy.sim.metrics as metrics

    w = work(np.arange(40) * 0.05, [30] * 40, [60] * 40)
    itl = [f"itl_{k}_s" for k in ("mean", "p50", "p90", "p99")]
    raw = [simulate_requests(w, Cost(per_kv=1e-6, per_seq=1e-3)).summary[k] for k in itl]
    monkeypatch.setattr(metrics, "ITL_RAW", 8)
    folded = [simulate_requests(w, Cost(per_kv=1e-6, per_seq=1e-3)).summary[k] for k in itl]
    assert folded == pytest.approx(raw, rel=1e-5)


def test_many_sequences_grow_the_slot_arrays():
    # 200 requests at once with max_num_seqs 1000: all prefill in one step (200 * 10 tokens), then decode
    # together: 1 prefill step + 4 decode steps of 0.01 s
    r = simulate_requests(work(np.zeros(200), [10] * 200, [5] * 200), Cost(),
                          policy=Policy(max_num_seqs=1000, max_num_batched_tokens=8192))
    assert r.requests.e2e_s.tolist() == pytest.approx([0.05] * 200)
    assert r.summary["mean_batch"] == pytest.approx(200 * 0.04 / 0.05)


def test_fractional_tokens_per_step_and_open_duration():
    # 1.5 tokens per decode step (speculative decoding): after the prefill (token 1) a 4-token request needs
    # ceil((4 - 1) / 1.5) = 2 decode steps: E2E = 3 steps * 0.01
    r = simulate_requests(work([0.0], [10], [4]), Cost(tokens_per_step=1.5))
    assert r.requests.e2e_s[0] == pytest.approx(0.03)
    # 5 tokens: ceil(4 / 1.5) = 3 decode steps
    r = simulate_requests(work([0.0], [10], [5]), Cost(tokens_per_step=1.5))
    assert r.requests.e2e_s[0] == pytest.approx(0.04)
    # the last of them emits only the 1 token still needed (1 + 1.5 + 1.5 + 1 = 5, not 5.5)
    assert r.emitted_tokens == 5.0
    # two requests (5 and 4 tokens) share the decode steps: request 1 ends in step 2 with 1.5 tokens (1 + 1.5 +
    # 1.5 = 4), request 0 in step 3 with 1: 2 + 3 + 3 + 1 = 9 = 5 + 4
    r = simulate_requests(work([0.0, 0.0], [10, 10], [5, 4]), Cost(tokens_per_step=1.5))
    assert r.emitted_tokens == 9.0
    # open loop: arrivals at or after duration_s are not issued; the issued one finishes
    r = simulate_requests(work([0.0, 0.5, 1.0], [10] * 3, [5] * 3), Cost(), duration_s=0.5)
    assert r.requests.request_id.tolist() == [0] and r.summary["requests"] == 1


@settings(max_examples=60, deadline=None)
@given(tps=st.sampled_from([1.7, 2.5]), cap=st.integers(60, 90), n=st.integers(2, 4),
       swap=st.booleans())
def test_fractional_tokens_per_step_with_preemption_emit_exactly_the_output(tps, cap, n, swap):
    # speculative decoding (a mean of tps tokens per step) with KV pressure: preemption must neither lose nor
    # re-emit the fractional progress (a floor at recompute re-emitted it: 80.5 tokens for 2 x 40)
    pol = Policy(max_num_seqs=8, max_num_batched_tokens=512, block_tokens=1,
                 preemption="swap" if swap else "recompute")
    r = simulate_requests(work([0.0] * n, [10] * n, [40] * n), Cost(kv_capacity_tokens=cap, tokens_per_step=tps),
                          policy=pol)
    assert r.emitted_tokens == pytest.approx(40.0 * n, abs=1e-9)
    assert len(r.requests) == n

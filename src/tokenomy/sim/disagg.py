"""Disaggregated serving, request by request: a prefill pool, the KV hand-off as a queue on a link, a decode pool.

Prefill pool: ``prefill_replicas`` replicas of the prefill deployment, each the scheduler of ``sim/scheduler.py``
run prefill-only (every request has one output token there: chunked prefill in the token budget, no decode);
the router (round-robin or least-loaded) spreads arrivals over them.

The link: one FIFO queue per prefill replica. Each prefill chip sends its own shard of the KV over its own NIC
(or scale-up port), so the bottleneck is the sender's ports, and two requests that finish on one replica share
them while requests on different replicas do not (Mooncake/NIXL: each prefill instance pushes its KV). A
request's KV (``core/disagg.kv_bytes_per_request`` at its prompt length, every layer) is streamed layer by layer
while it prefills (Splitwise, Dynamo): with the link free from the request's first prefill step, only
``core/disagg.kv_transfer_s(kv, link, prefill_s=its prefill time, layers=L, paths=P)`` (P: core/disagg.kv_paths
of the two deployments) is left after its prefill ends (``kv_transfer_s`` in the requests table). When the link
is still busy with earlier requests, the streaming starts when it frees: the overlap window shrinks to what
remains of the prefill (none once the prefill has ended) and the transfer ends at
max(link free, prefill end) + kv_transfer_s(kv, prefill_s=window). ``kv_queue_s``: how much later than
alone that is. The link is busy until the transfer ends (its latency included).

Decode pool: the request goes to the decode replica with the fewest requests in flight (ties to the lowest
index), where it waits like any arrival until the replica has KV blocks for its prompt and a batch slot; it then
joins the next decode step (as a swapped-in sequence of the scheduler: no prefill work, its KV present).
Preempted there, it is recomputed on the decode replica (SGLang's retract).

First token: the client gets it through the decode server once the KV has arrived (SGLang's router and
Dynamo's frontend stream the response from the decode worker, which re-emits the token the prefill computed;
vLLM's disaggregated proxy likewise streams from decode). So TTFT = queue + prefill + kv_queue + kv_transfer
(+ the engine's request overhead); the first gap (token 1 to 2, in TPOT and ITL) is the wait for a decode slot
plus one decode step. ``prefill_end_s`` in the requests table is when the prefill pool computed it. A request of
one output token finishes when its KV arrives. Approximation: the prefill replica frees a request's KV blocks at
its prefill end (engines hold them until the transfer completes; it matters only when the prefill pool's cache,
not its compute, is the limit).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tokenomy.core.disagg import Link, kv_transfer_s
from tokenomy.errors import InfeasibleError, SpecError
from tokenomy.sim.kernel import (
    StepCost,
    _check_fits,
    _check_inputs,
    check_overhead,
    latencies,
    replan,
    route,
    step_end,
    wake,
)
from tokenomy.sim.metrics import Recorder, RequestLog, SimResult, _stats, emitted_tokens, flat_stats, summarize
from tokenomy.sim.scheduler import Policy, Replica, Seq
from tokenomy.spec import args
from tokenomy.spec.sim import MAX_REPLICAS

if TYPE_CHECKING:
    from tokenomy.sim.workload import Workload
    from tokenomy.spec.sim import PrefixCache, Slo


class PrefillReplica(Replica):
    """A replica of the prefill pool: records when each request's (latest) prefill began."""

    start_s: np.ndarray

    def _admit(self, s: Seq, own_tokens: float, t: float) -> None:
        super()._admit(s, own_tokens, t)
        self.start_s[s.rid] = t


class DecodeReplica(Replica):
    """A replica of the decode pool: requests arrive with their prompt's KV and first token."""

    hands_in = True

    def hand_in(self, rid: int, t: float) -> None:
        inp = int(self.inp[rid])
        s = Seq(rid, inp, int(self.osl[rid]), 0, inp)
        s.swapped, s.held, s.g, s.last_emit = True, float(inp), 1.0, t
        self.paused[rid] = s
        self.enqueue(rid, t)

    def _preempt(self, s: Seq, t: float) -> float:
        out = super()._preempt(s, t)
        s.cached = 0          # its KV is gone: the whole prompt is recomputed here
        return out


def _pool_fits(pool: str, inp: np.ndarray, out: np.ndarray, step: StepCost, policy: Policy, shared: int) -> None:
    try:
        _check_fits(inp, out, step, policy, shared)
    except (InfeasibleError, SpecError) as e:
        raise type(e)(f"{pool} pool ({getattr(step, 'description', 'its deployment')}): {e}") from None


def simulate_disagg(workload: Workload, prefill: StepCost, decode: StepCost, *, link: Link, kv_bytes: Any,
                    layers: int, paths: int = 1, prefill_policy: Policy | None = None,
                    decode_policy: Policy | None = None,
                    prefill_replicas: int = 1, decode_replicas: int = 1, router: str = "round-robin",
                    prefix: PrefixCache | None = None, slo: Slo | None = None, duration_s: float | None = None,
                    event_log: bool = False, progress: Callable[[int, int], None] | None = None,
                    request_overhead_s: float = 0.0) -> SimResult:
    """Simulate ``workload`` on a prefill pool and a decode pool joined by ``link`` (module docstring).
    ``kv_bytes``: KV bytes each request hands over (one per request); ``layers``: the model's layers (streaming);
    ``paths``: chip-to-chip paths a request's KV crosses in parallel (core/disagg.kv_paths)."""
    t_wall = time.perf_counter()
    pp = prefill_policy or Policy(int(prefill.max_num_seqs), int(prefill.max_num_batched_tokens))
    dp = decode_policy or Policy(int(decode.max_num_seqs), int(decode.max_num_batched_tokens))
    if dp.preemption != "recompute":
        raise SpecError("the decode pool recomputes preempted requests (SGLang retract); use "
                        "Policy(preemption='recompute') for it.")
    arrival, inp, out = _check_inputs(workload, prefill, pp, prefill_replicas, router, duration_s)
    _check_inputs(workload, decode, dp, 1, router, duration_s)
    n_dec = args.positive_int("decode_replicas", decode_replicas, maximum=MAX_REPLICAS)
    n_layers = args.positive_int("layers", layers, maximum=1 << 20)
    n_paths = args.positive_int("paths", paths, maximum=1 << 20)
    check_overhead(request_overhead_s)
    kv = np.asarray(kv_bytes, dtype=np.float64)
    if kv.shape != inp.shape or not np.all(np.isfinite(kv)) or np.any(kv < 0):
        raise SpecError(f"kv_bytes needs one finite, non-negative size per request ({len(inp)}), got shape "
                        f"{kv.shape}.")
    shared = min(int(getattr(prefix, "shared_prefix_tokens", 0) or 0), int(inp.max()) - 1)
    hit = float(getattr(prefix, "hit_frac", 0.0) or 0.0)
    ones = np.ones_like(out)
    _pool_fits("prefill", inp, ones, prefill, pp, shared)
    _pool_fits("decode", inp, out, decode, dp, 0)
    n = len(inp)
    log_p, log_d = RequestLog(n), RequestLog(n)
    ev_p: list[tuple] | None = [] if event_log else None
    ev_d: list[tuple] | None = [] if event_log else None
    start_s, done_pre = np.full(n, np.nan), np.full(n, np.nan)
    own_s, queue_s = np.full(n, np.nan), np.full(n, np.nan)
    pre: list[Replica] = []
    for r in range(int(prefill_replicas)):
        p_rep = PrefillReplica(r, prefill, pp, log_p, inp, ones, shared, hit, ev_p)
        p_rep.start_s = start_s
        pre.append(p_rep)
    dec = [DecodeReplica(r, decode, dp, log_d, inp, out, 0, 0.0, ev_d) for r in range(n_dec)]
    reps = pre + dec                       # heap key: index in reps (prefill first)
    inflight = [0] * len(reps)
    link_free = [0.0] * len(pre)
    heap: list[tuple[float, int, int, int]] = []
    xfers: list[tuple[float, int, int]] = []     # (KV arrival, tie, request)
    kv_events: list[tuple] = []
    tie = itertools.count()
    stop_s = math.inf if duration_s is None else float(duration_s)
    closed = workload.kind == "closed"
    state = {"next": 0, "rr": 0, "done": 0}
    step_every = max(1, n // 100)

    def issue(rid: int, t: float) -> None:
        r = route(router, state, inflight, len(pre))
        log_p.arrival_s[rid], log_p.replica[rid] = t, r
        inflight[r] += 1
        pre[r].enqueue(rid, t)
        wake(pre[r], t, heap, tie, r)

    def finished(rid: int, t: float) -> None:
        state["done"] += 1
        if progress is not None and state["done"] % step_every == 0:
            progress(state["done"], n)
        if closed and state["next"] < n and t < stop_s:
            issue(state["next"], t)
            state["next"] += 1

    def send(rid: int, r: int, end: float) -> None:
        """The prefill of ``rid`` ended on prefill replica ``r`` at ``end``: queue its KV on the replica's link."""
        start, free = float(start_s[rid]), link_free[r]
        own = float(kv_transfer_s(kv[rid], link, prefill_s=end - start, layers=n_layers, paths=n_paths)[()])
        if free <= start:                  # the link was free for the whole prefill: no queue
            arrive = q = end + own
        else:
            window = max(end - free, 0.0)
            arrive = max(free, end) + float(kv_transfer_s(kv[rid], link, prefill_s=window, layers=n_layers,
                                                          paths=n_paths)[()])
            q = max(arrive, end + own)
        link_free[r] = arrive
        wait = q - end - own
        done_pre[rid], own_s[rid], queue_s[rid] = end, own, wait if wait > 1e-12 * max(q, 1.0) else 0.0
        heapq.heappush(xfers, (arrive, next(tie), rid))
        if event_log:
            kv_events.append((arrive, f"P{r}", "kv_arrived", rid))

    def receive(rid: int, t: float) -> None:
        log_d.first_token_s[rid] = t
        if out[rid] <= 1:
            log_d.finish_s[rid] = t
            finished(rid, t)
            return
        r = min(range(len(pre), len(reps)), key=inflight.__getitem__)
        inflight[r] += 1
        log_d.replica[rid] = r - len(pre)
        rep = reps[r]
        assert isinstance(rep, DecodeReplica)
        rep.hand_in(rid, t)
        wake(rep, t, heap, tie, r)

    if closed:
        for _ in range(min(int(workload.concurrency or 0), n)):
            issue(state["next"], 0.0)
            state["next"] += 1
    n_open = int(np.searchsorted(arrival, stop_s, side="left")) if not closed else 0
    arrivals = arrival[:n_open].tolist()
    a = 0
    while True:
        t_heap = heap[0][0] if heap else math.inf
        t_x = xfers[0][0] if xfers else math.inf
        if a < n_open and arrivals[a] <= min(t_heap, t_x):
            issue(a, arrivals[a])
            a += 1
            continue
        if xfers and t_x <= t_heap:
            t, _, rid = heapq.heappop(xfers)
            receive(rid, t)
            continue
        if not heap:
            break
        ended = step_end(heap, reps)
        if ended is None:
            continue
        t, r, done = ended
        for rid in done:
            inflight[r] -= 1
            if r < len(pre):
                send(rid, r, t)
            else:
                finished(rid, t)
        horizon = (arrivals[a] if a < n_open else math.inf) if r < len(pre) else (xfers[0][0] if xfers else math.inf)
        replan(reps[r], t, horizon, heap, tie, r)
    if progress is not None:
        progress(state["done"], n)
    events = None
    if event_log:
        names = {"first_token": None, "finish": "prefill_end"}      # the prefill pool's view of its requests
        events = [(e[0], f"P{e[1]}", names.get(e[2], e[2]), e[3]) for e in ev_p or [] if names.get(e[2], 1)]
        events += [(e[0], f"D{e[1]}", *e[2:]) for e in ev_d or []]
        events = sorted(events + kv_events, key=lambda e: e[0])
    tables = (start_s, done_pre, own_s, queue_s)
    return _result(log_p, log_d, tables, inp, out, pre, dec, prefill, decode, slo, events, t_wall,
                   float(request_overhead_s))


def _energy_j(recs: list[Recorder], idle_w: float, sim_s: float) -> float:
    busy = sum(r.busy_s for r in recs)
    return sum(r.energy_j for r in recs) + idle_w * max(len(recs) * sim_s - busy, 0.0)


def _result(log_p: RequestLog, log_d: RequestLog, tables: tuple[np.ndarray, ...], inp: np.ndarray, out: np.ndarray,
            pre: list[Replica], dec: Sequence[Replica], prefill: StepCost, decode: StepCost, slo: Slo | None,
            events: list[tuple] | None, t_wall: float, overhead_s: float) -> SimResult:
    _, done_pre, own_s, queue_s = tables
    issued = np.flatnonzero(np.isfinite(log_p.arrival_s))
    arr, first, fin = log_p.arrival_s[issued], log_d.first_token_s[issued], log_d.finish_s[issued]
    osl = out[issued]
    ttft, tpot, met = latencies(arr, first, fin, osl, overhead_s, slo)
    req = pd.DataFrame({"request_id": issued, "replica": log_p.replica[issued],
                        "decode_replica": log_d.replica[issued], "arrival_s": arr,
                        "input_tokens": inp[issued], "output_tokens": osl, "cached_tokens": log_p.cached[issued],
                        "prefill_end_s": done_pre[issued], "kv_queue_s": queue_s[issued],
                        "kv_transfer_s": own_s[issued], "first_token_s": first, "finish_s": fin,
                        "ttft_s": ttft, "tpot_s": tpot, "e2e_s": fin - arr + overhead_s,
                        "preemptions": log_p.preemptions[issued] + log_d.preemptions[issued], "slo_met": met})
    parts = []
    for pool, reps in (("prefill", pre), ("decode", list(dec))):
        for rep in reps:
            tl = rep.rec.timeline()
            tl["replica"] = f"{pool[0].upper()}{rep.idx}"
            tl.insert(1, "pool", pool)
            parts.append(tl)
    timeline = pd.concat(parts, ignore_index=True).sort_values(["t_s"], kind="stable", ignore_index=True)
    rp, rd = [r.rec for r in pre], [r.rec for r in dec]
    preempt = sum(r.preemptions for r in [*pre, *dec])
    s = summarize(req, rd, idle_power_w=float(decode.idle_power_w), usd_per_hour=float(decode.usd_per_hour),
                  preemptions=preempt, has_slo=slo is not None, wall_s=time.perf_counter() - t_wall)
    sim_s = s["simulated_s"]
    e_p, e_d = _energy_j(rp, float(prefill.idle_power_w), sim_s), _energy_j(rd, float(decode.idle_power_w), sim_s)
    out_tok = float(req.loc[np.isfinite(req["finish_s"]), "output_tokens"].sum())
    usd_h = len(pre) * float(prefill.usd_per_hour) + len(dec) * float(decode.usd_per_hour)
    div = sim_s if sim_s > 0 else 1.0
    ok = np.isfinite(req["finish_s"].to_numpy())
    s.update({
        "fleet_power_w": (e_p + e_d) / div,
        "j_per_token_chip": (e_p + e_d) / out_tok if out_tok else 0.0,
        "usd_per_mtok_all_in": usd_h * sim_s / 3600 / (out_tok / 1e6) if out_tok else 0.0,
        "kv_peak_frac": max(r.kv_peak_frac for r in rp + rd),
        **flat_stats("kv_transfer", _stats(req["kv_transfer_s"].to_numpy()[ok])),
        **flat_stats("kv_queue", _stats(req["kv_queue_s"].to_numpy()[ok])),
        "prefill_replicas": len(pre), "decode_replicas": len(dec),
        "prefill_fleet_chips": len(pre) * int(prefill.chips), "decode_fleet_chips": len(dec) * int(decode.chips),
        "fleet_chips": len(pre) * int(prefill.chips) + len(dec) * int(decode.chips),
        "prefill_busy_frac": sum(r.busy_s for r in rp) / (len(rp) * div),
        "decode_busy_frac": sum(r.busy_s for r in rd) / (len(rd) * div),
        "prefill_kv_peak_frac": max(r.kv_peak_frac for r in rp),
        "decode_kv_peak_frac": max(r.kv_peak_frac for r in rd),
        "prefill_fleet_power_w": e_p / div, "decode_fleet_power_w": e_d / div,
    })
    return SimResult(requests=req, timeline=timeline, summary=s, events=events,
                     emitted_tokens=emitted_tokens(int(np.isfinite(first).sum()), rd))

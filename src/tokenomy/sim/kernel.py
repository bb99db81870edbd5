"""The event loop of the request-level serving simulator: one global clock, replicas stepping independently.

The kernel keeps time and order only.  Events are arrivals (open loop: ``workload.arrival_s``; closed loop:
a client's next request at the instant its previous one finishes, zero think time) and the end of each
replica's pending step or decode run, kept in a heap of ``(time_s, seq, replica, version)`` with ``seq``
from ``itertools.count()``, so ties always break the same way: arrivals at a time are handled before the
step ends at that time, and replicas in index order.  No randomness: the same inputs give the same result.

Router: ``round-robin`` (arrival i to replica i mod R) or ``least-loaded`` (fewest in-flight requests,
ties to the lowest index).  ``duration_s``: arrivals at or after it are not issued (open loop), clients
stop issuing at it (closed loop); what is in flight finishes.

``request_overhead_s`` (the engine profile's): per-request latency outside the engine steps (front end,
tokenizer, IPC, streaming). It is added to each request's ``ttft_s`` and ``e2e_s`` (what the client sees) when
the result is built; ``first_token_s`` / ``finish_s`` stay the engine's times and the event loop never sees it,
so it holds no batch slot. Approximation (closed loop): a client's next request arrives at the engine's finish,
not overhead later; the client cycle is short by overhead / E2E (< 1% on the InferenceX rows: ~0.1 s vs > 10 s).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from tokenomy.errors import InfeasibleError, SpecError
from tokenomy.sim.kvcache import seq_blocks
from tokenomy.sim.metrics import RequestLog, SimResult, emitted_tokens, summarize
from tokenomy.sim.scheduler import Policy, Replica
from tokenomy.spec import args
from tokenomy.spec.sim import MAX_DURATION_S, MAX_REPLICAS, ROUTERS

if TYPE_CHECKING:
    # written by other helpers of issue 11 (contract section 1); the ignores cover this branch before the merge
    from tokenomy.sim.workload import Workload  # type: ignore[import-not-found, unused-ignore]
    from tokenomy.spec.sim import PrefixCache, Slo  # type: ignore[import-not-found, unused-ignore]


class StepCost(Protocol):
    """Step times and power of one replica (``sim.steps.StepModel`` satisfies it structurally).

    ``step_s`` and ``power_w`` take (decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs),
    python scalars or numpy arrays that broadcast, and return a float or an ndarray."""

    chips: int
    kv_capacity_tokens: int
    max_num_seqs: int
    max_num_batched_tokens: int
    tokens_per_step: float
    idle_power_w: float
    usd_per_hour: float
    kv_bytes_per_token: float
    swap_bytes_per_s: float
    # optional (read with getattr, default 0): kv_tokens_per_seq, KV each running sequence holds whatever its
    # length (sliding-window layers), in tokens of kv_bytes_per_token; decode_run(n, kv, kv_step, k), a fast
    # evaluation of k decode steps (sim.steps.StepModel.decode_run)

    def step_s(self, decode_seqs: Any, decode_kv_tokens: Any, prefill_tokens: Any,
               prefill_attn_pairs: Any) -> Any: ...

    def power_w(self, decode_seqs: Any, decode_kv_tokens: Any, prefill_tokens: Any,
                prefill_attn_pairs: Any) -> Any: ...


def _check_inputs(workload: Any, step: StepCost, policy: Policy, replicas: int, router: str,
                  duration_s: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the same rules and messages as tokenomy.simulate (spec/args.py)
    args.positive_int("replicas", replicas, maximum=MAX_REPLICAS)
    args.choice("router", router, ROUTERS)
    if duration_s is not None:
        args.number("duration_s", duration_s, minimum=0.0, allow_minimum=False, maximum=MAX_DURATION_S)
    arrival = np.asarray(workload.arrival_s, dtype=np.float64)
    inp, out = _whole_tokens(workload.input_tokens, "input"), _whole_tokens(workload.output_tokens, "output")
    if not (arrival.ndim == inp.ndim == out.ndim == 1 and len(arrival) == len(inp) == len(out) > 0):
        raise SpecError(f"the workload needs equal-length, non-empty arrival_s/input_tokens/output_tokens; "
                        f"got lengths {len(arrival)}, {len(inp)}, {len(out)}.")
    if not np.all(np.isfinite(arrival)) or np.any(arrival < 0) or np.any(np.diff(arrival) < 0):
        raise SpecError("workload.arrival_s must be finite, >= 0 and sorted ascending.")
    if np.any(inp < 1) or np.any(out < 1):
        raise SpecError("workload input_tokens and output_tokens must all be >= 1.")
    if workload.kind == "closed" and not (isinstance(workload.concurrency, int | np.integer)
                                          and workload.concurrency >= 1):
        raise SpecError(f"a closed-loop workload needs concurrency >= 1, got {workload.concurrency!r}.")
    for name in ("kv_capacity_tokens", "tokens_per_step", "swap_bytes_per_s"):
        v = float(getattr(step, name))
        if not (v > 0 and math.isfinite(v)):
            raise SpecError(f"step.{name} must be positive and finite, got {v!r}.")
    return arrival, inp, out


def _whole_tokens(x: Any, what: str) -> np.ndarray:
    """Token counts as int64; a fractional (or non-finite) count is an error, not silently truncated."""
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        f = np.asarray(a, dtype=np.float64)
        bad = ~np.isfinite(f) | (f != np.round(f))
        if np.any(bad):
            raise SpecError(f"workload {what}_tokens must be whole numbers; got {a[bad][0]} (request "
                            f"{int(np.flatnonzero(bad)[0])}).")
    return np.asarray(a, dtype=np.int64)


def _check_fits(inp: np.ndarray, out: np.ndarray, step: StepCost, policy: Policy, shared: int) -> None:
    """Every request must fit alone in one replica's KV cache, or the scheduler could never finish it.
    ``shared``: the shared prefix held per replica, already capped at the longest prompt - 1."""
    b = policy.block_tokens
    cap = int(step.kv_capacity_tokens) // b
    fixed = -(-shared // b) + seq_blocks(getattr(step, "kv_tokens_per_seq", 0.0), b)
    if shared and fixed + 1 > cap:
        raise SpecError(
            f"--prefix-cache shared-prefix: the {shared} shared-prefix tokens held on each replica (at most the "
            f"longest prompt - 1) need {-(-shared // b)} KV blocks of {b} tokens but one replica holds {cap} "
            f"({int(step.kv_capacity_tokens)} tokens), leaving no room for a request; lower shared-prefix.")
    own = inp + out - np.minimum(shared, inp - 1)
    need = -(-own // b) + fixed
    bad = np.flatnonzero(need > cap)
    if len(bad):
        i = int(bad[0])
        raise InfeasibleError(
            f"request {i} (input {int(inp[i])} + output {int(out[i])} tokens) needs {int(need[i])} KV blocks of "
            f"{b} tokens but one replica holds {cap} ({int(step.kv_capacity_tokens)} tokens); {len(bad)} "
            "request(s) can never run: shorten them, or use more chips per replica (tp/pp) or a smaller KV format.")


def check_overhead(request_overhead_s: Any) -> None:
    ok = isinstance(request_overhead_s, int | float) and not isinstance(request_overhead_s, bool)
    if not (ok and 0 <= request_overhead_s < math.inf):
        raise SpecError(f"request_overhead_s must be a number of seconds >= 0, got {request_overhead_s!r}.")


def route(router: str, state: dict[str, int], inflight: list[int], n: int) -> int:
    """The replica (of the first ``n`` in ``inflight``) an arrival goes to: round-robin, or the fewest in flight."""
    if router == "round-robin":
        state["rr"] += 1
        return (state["rr"] - 1) % n
    return min(range(n), key=inflight.__getitem__)


def wake(rep: Replica, t: float, heap: list, tie: Any, key: int) -> None:
    """A request was queued on ``rep`` at ``t``: wake it, or cut its decode run at the next step boundary."""
    if rep.pending is None:
        rep.pending = ("wake", t)
        rep.version += 1
        heapq.heappush(heap, (t, next(tie), key, rep.version))
    else:
        end = rep.truncate(t)
        if end is not None:
            heapq.heappush(heap, (end, next(tie), key, rep.version))


def step_end(heap: list, reps: list) -> tuple[float, int, list[int]] | None:
    """Pop the earliest planned step end: (time, replica, request ids it finished), or None when the plan was
    replaced since (stale entry). A pending wake is consumed here: the replica plans afresh."""
    t, _, r, ver = heapq.heappop(heap)
    rep = reps[r]
    if ver != rep.version:
        return None
    if rep.pending is not None and rep.pending[0] == "wake":
        rep.pending = None
    return t, r, rep.finish_pending(t)


def replan(rep: Replica, t: float, horizon: float, heap: list, tie: Any, key: int) -> None:
    """Plan ``rep``'s next step (or decode run up to ``horizon``, the next outside event) from ``t``."""
    end = rep.plan(t, horizon)
    if end is not None:
        rep.version += 1
        heapq.heappush(heap, (end, next(tie), key, rep.version))


def simulate_requests(workload: Workload, step: StepCost, *, policy: Policy | None = None, replicas: int = 1,
                      router: Literal["round-robin", "least-loaded"] = "round-robin",
                      prefix: PrefixCache | None = None, slo: Slo | None = None, duration_s: float | None = None,
                      event_log: bool = False, progress: Callable[[int, int], None] | None = None,
                      request_overhead_s: float = 0.0) -> SimResult:
    """Simulate serving ``workload`` on ``replicas`` replicas whose engine steps cost ``step``.

    Scheduling semantics: ``sim/scheduler.py``; KV blocks: ``sim/kvcache.py``; metric conventions:
    ``sim/metrics.py``.  Raises SpecError on bad inputs and InfeasibleError when a request can never fit
    in one replica's KV cache."""
    t_wall = time.perf_counter()
    policy = policy or Policy(max_num_seqs=int(step.max_num_seqs),
                              max_num_batched_tokens=int(step.max_num_batched_tokens))
    arrival, inp, out = _check_inputs(workload, step, policy, replicas, router, duration_s)
    check_overhead(request_overhead_s)
    # a request uses at most input - 1 tokens of the shared prefix: a replica holds no more than that of it
    shared = min(int(getattr(prefix, "shared_prefix_tokens", 0) or 0), int(inp.max()) - 1)
    hit = float(getattr(prefix, "hit_frac", 0.0) or 0.0)
    _check_fits(inp, out, step, policy, shared)
    n = len(inp)
    log = RequestLog(n)
    events: list[tuple] | None = [] if event_log else None
    reps = [Replica(r, step, policy, log, inp, out, shared, hit, events) for r in range(int(replicas))]
    inflight = [0] * len(reps)
    heap: list[tuple[float, int, int, int]] = []
    tie = itertools.count()
    stop_s = math.inf if duration_s is None else float(duration_s)
    closed = workload.kind == "closed"
    state = {"next": 0, "rr": 0, "done": 0}
    step_every = max(1, n // 100)

    def issue(rid: int, t: float) -> None:
        r = route(router, state, inflight, len(reps))
        rep = reps[r]
        log.arrival_s[rid], log.replica[rid] = t, r
        inflight[r] += 1
        rep.enqueue(rid, t)
        wake(rep, t, heap, tie, r)

    if closed:
        for _ in range(min(int(workload.concurrency or 0), n)):
            issue(state["next"], 0.0)
            state["next"] += 1
    n_open = int(np.searchsorted(arrival, stop_s, side="left")) if not closed else 0
    arrivals = arrival[:n_open].tolist()     # python floats: the loop reads one per event
    a = 0
    while True:
        t_heap = heap[0][0] if heap else math.inf
        if a < n_open and arrivals[a] <= t_heap:
            issue(a, arrivals[a])
            a += 1
            continue
        if not heap:
            break
        ended = step_end(heap, reps)
        if ended is None:
            continue
        t, r, done = ended
        for _rid in done:
            inflight[r] -= 1
            state["done"] += 1
            if progress is not None and state["done"] % step_every == 0:
                progress(state["done"], n)
            if closed and state["next"] < n and t < stop_s:
                issue(state["next"], t)
                state["next"] += 1
        replan(reps[r], t, arrivals[a] if a < n_open else math.inf, heap, tie, r)
    if progress is not None:
        progress(state["done"], n)
    return _result(log, inp, out, reps, step, slo, events, t_wall, float(request_overhead_s))


def latencies(arr: np.ndarray, first: np.ndarray, fin: np.ndarray, osl: np.ndarray, overhead_s: float,
              slo: Slo | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per request: TTFT, TPOT and whether it finished within the SLO."""
    ttft = first - arr + overhead_s
    tpot = np.where(osl > 1, (fin - first) / np.maximum(osl - 1, 1), 0.0)
    met = np.isfinite(fin)
    ttft_slo, tpot_slo = getattr(slo, "ttft_s", None), getattr(slo, "tpot_s", None)
    if ttft_slo is not None:
        met &= ttft <= float(ttft_slo)
    if tpot_slo is not None:
        met &= tpot <= float(tpot_slo)
    return ttft, tpot, met


def _result(log: RequestLog, inp: np.ndarray, out: np.ndarray, reps: list[Replica], step: StepCost,
            slo: Slo | None, events: list[tuple] | None, t_wall: float, overhead_s: float = 0.0) -> SimResult:
    issued = np.flatnonzero(np.isfinite(log.arrival_s))
    arr, first, fin = log.arrival_s[issued], log.first_token_s[issued], log.finish_s[issued]
    osl = out[issued]
    ttft, tpot, met = latencies(arr, first, fin, osl, overhead_s, slo)
    req = pd.DataFrame({"request_id": issued, "replica": log.replica[issued], "arrival_s": arr,
                        "input_tokens": inp[issued], "output_tokens": osl, "cached_tokens": log.cached[issued],
                        "first_token_s": first, "finish_s": fin, "ttft_s": ttft, "tpot_s": tpot,
                        "e2e_s": fin - arr + overhead_s,
                        "preemptions": log.preemptions[issued], "slo_met": met})
    timeline = pd.concat([r.rec.timeline() for r in reps], ignore_index=True).sort_values(
        ["t_s", "replica"], kind="stable", ignore_index=True)
    summary = summarize(req, [r.rec for r in reps], idle_power_w=float(step.idle_power_w),
                        usd_per_hour=float(step.usd_per_hour), preemptions=sum(r.preemptions for r in reps),
                        has_slo=slo is not None, wall_s=time.perf_counter() - t_wall)
    return SimResult(requests=req, timeline=timeline, summary=summary, events=events,
                     emitted_tokens=emitted_tokens(int(np.isfinite(first).sum()), [r.rec for r in reps]))

"""Continuous batching of one replica, vLLM V1 / SGLang style: the scheduler of one engine profile.

Each engine step (``Replica.plan``):
1. The running sequences must fit in the KV cache during the step; while they do not, the most recently
   admitted running sequence is preempted (vLLM ``running.pop()``).  ``recompute``: its blocks are freed
   and it goes back to the head of the waiting queue with prompt = input + generated tokens;
   ``swap``: its blocks go to host memory (``held * kv_bytes_per_token / swap_bytes_per_s`` added to this
   step) and come back the same way when it is admitted again, decoding in that step (vLLM V0 swap-in); the gap
   from its last token to that one counts in ITL, as a recomputed sequence's does.
2. Decode first: every decoding sequence takes one token of the ``max_num_batched_tokens`` budget.
3. Partial prefills continue, in admission order, with chunks of the budget left.
4. Waiting requests are admitted FCFS while running < ``max_num_seqs``, budget is left and the KV cache
   has blocks for the chunk (head-of-line blocking: the first that does not fit stops admission).  With
   ``chunked_prefill`` a prompt is split into chunks of the budget left; without it a prompt is prefilled
   whole in one step, and may exceed the budget only as the step's first prefill (so it always runs).
The step time is ``step.step_s(decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs)`` with
pairs = sum over chunks of chunk * (cached_before + (chunk + 1) / 2), plus swap time.  The step that
completes a prompt emits the request's first token (TTFT = end of that step - arrival; a resumed request
emits its next token).  Each decode step emits ``tokens_per_step`` tokens per decoding sequence
(fractions accumulate deterministically); a request finishes in the step that emits its last token, which emits
only the tokens it still needs.

When a step has no prefill work, the batch is fixed until the next completion (or KV block shortage), so
the k identical-composition decode steps are evaluated in one vectorized call (``decode_kv_tokens`` grows by
``decode_seqs * tokens_per_step`` per step) and the replica jumps to their end; an arrival meanwhile cuts
the run at the first step boundary at or after it (``truncate``).

Prefix cache (warm, per replica): the shared prefix is held once per replica from the start
(``ceil(P / block_tokens)`` blocks, P capped by the kernel at the longest prompt - 1); a request finds
``min(P, input - 1)`` tokens of it cached, plus ``hit_frac`` of the rest (held as its own blocks).
At least one prompt token is always computed.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections import deque
from itertools import accumulate
from operator import mul
from typing import TYPE_CHECKING, Any

import numpy as np

from tokenomy.sim.kvcache import KvBlocks
from tokenomy.sim.metrics import Recorder, RequestLog
from tokenomy.sim.policy import BLOCK_TOKENS as BLOCK_TOKENS  # re-exported: callers import them from here
from tokenomy.sim.policy import Policy as Policy
from tokenomy.sim.policy import policy_for as policy_for

if TYPE_CHECKING:
    from tokenomy.sim.kernel import StepCost

_EPS = 1e-9
MAX_RUN_STEPS = 1 << 14     # longest vectorized decode run (bounds its arrays; a longer run is split)
def _per_step(x: Any, k: int) -> np.ndarray:
    """A step cost's answer for a k-step run as a float array of length k (a scalar answer is repeated)."""
    a = np.asarray(x, dtype=np.float64)
    return a if a.shape == (k,) else np.full(k, float(a))


class Seq:
    """State of one in-flight request on a replica (only in-flight requests have one)."""

    __slots__ = ("cached", "computed", "dec", "fin", "g", "held", "inp", "last_emit", "order", "osl", "prompt",
                 "ref", "rid", "shared", "slot", "swapped")

    def __init__(self, rid: int, inp: int, osl: int, shared: int, cached: int):
        self.rid, self.inp, self.osl, self.shared, self.cached = rid, inp, osl, shared, cached
        self.prompt = inp          # tokens in the cache once the prefill is done (input + generated)
        self.computed = 0          # prompt tokens computed so far (beyond the cached ones)
        self.g = 0.0               # generated tokens at step ``ref``
        self.ref = self.fin = self.order = self.slot = 0
        self.dec = self.swapped = False
        self.held = 0.0            # own tokens moved to host (swap)
        self.last_emit = -1.0      # time of the last token before a preemption (-1: none yet)


class Replica:
    """One engine replica: waiting queue, running sequences, KV blocks, step planning and commit."""

    hands_in = False      # True where requests arrive with their KV, as swapped-in sequences (sim/disagg.py)

    def __init__(self, idx: int, step: StepCost, policy: Policy, log: RequestLog, inp: np.ndarray,
                 osl: np.ndarray, shared_tokens: int, hit_frac: float, events: list[tuple] | None):
        self.idx, self.step, self.pol, self.log, self.inp, self.osl = idx, step, policy, log, inp, osl
        self.tps = float(step.tokens_per_step)
        self.seq_tokens = float(getattr(step, "kv_tokens_per_seq", 0.0))   # sliding-window KV per sequence
        self.kv = KvBlocks(int(step.kv_capacity_tokens), policy.block_tokens, policy.max_num_seqs, self.tps,
                           self.seq_tokens)
        self.kv.shared_blocks = -(-int(shared_tokens) // policy.block_tokens)
        self.shared_tokens, self.hit_frac = int(shared_tokens), float(hit_frac)
        self.swap_s_per_token = float(step.kv_bytes_per_token) / float(step.swap_bytes_per_s) \
            if policy.preemption == "swap" else 0.0
        self.rec = Recorder(idx)
        self.events = events
        self.waiting: deque[int] = deque()
        self.paused: dict[int, Seq] = {}      # preempted, waiting again
        self.running: dict[int, Seq] = {}     # admission order
        self.partials: dict[int, Seq] = {}    # running, still prefilling
        self.fin: list[tuple[int, int, int]] = []   # (finish step, order, rid) of decoding sequences
        self.c = 0                            # engine steps done (index of the next step)
        self.dec_shared = 0                   # shared-prefix tokens of the decoding sequences
        self.order = 0
        self.preemptions = 0
        self.pending: tuple[Any, ...] | None = None
        self.version = 0                      # bumps when the pending segment's end moves
        self.horizon_s = math.inf             # next known arrival (sizes decode runs)
        self.run_dt = 0.0                     # last decode step time seen
        self.q0, self.arr_n, self.arr_s = 0, 0, 0.0   # queue at the step's start; arrivals since (count, sum of t)
        self.decode_run = getattr(step, "decode_run", None)   # a step model's fast decode-run evaluation

    # --- arrivals -----------------------------------------------------------------------------
    def enqueue(self, rid: int, t: float) -> None:
        self.waiting.append(rid)
        if self.pending is not None and self.pending[0] != "wake":    # arrived during a step: queued from t
            self.arr_n, self.arr_s = self.arr_n + 1, self.arr_s + t
        if self.events is not None:
            self.events.append((t, self.idx, "arrive", rid))

    def truncate(self, t: float) -> float | None:
        """An arrival at ``t`` during a decode run: cut it at the first step end >= t; the new end or None."""
        p = self.pending
        if p is None or p[0] != "run":
            return None
        ends = p[3]
        j = bisect_left(ends, t)
        if j + 1 >= len(ends):
            return None
        self.pending = ("run", p[1], p[2][:j + 1], ends[:j + 1], None, p[5][:j + 1])
        self.version += 1
        return ends[j]

    # --- planning -----------------------------------------------------------------------------
    def plan(self, t: float, horizon_s: float = math.inf) -> float | None:
        """Plan the next step (or decode run) starting at ``t``; its end time, or None when idle.
        ``horizon_s``: the next known arrival; a decode run is sized to end about there (any run length is
        valid, this only avoids computing steps an arrival would cut)."""
        self.horizon_s = horizon_s
        self.arr_n, self.arr_s = 0, 0.0
        while True:
            end = self._plan_once(t)
            if end is not None or not self.running:
                self.q0 = len(self.waiting)        # the queue while the step runs, before any arrival
                return end
            self._preempt(next(reversed(self.running.values())), t)   # all blocked on KV: free the last

    def _new_seq(self, rid: int) -> Seq:
        inp = int(self.inp[rid])
        shared = min(self.shared_tokens, inp - 1)
        cached = min(inp - 1, shared + math.floor(self.hit_frac * (inp - shared)))
        self.log.cached[rid] = cached
        return Seq(rid, inp, int(self.osl[rid]), shared, cached)

    def _free_blocks(self, need: float) -> float:
        kv = self.kv
        free = kv.capacity_blocks - kv.blocks_ub(self.c)
        return free if free >= need else kv.capacity_blocks - kv.blocks_at(self.c)

    def _plan_once(self, t: float) -> float | None:
        kv, c, pol, b = self.kv, self.c, self.pol, self.pol.block_tokens
        swap_s = 0.0
        if kv.used_blocks(c) > kv.capacity_blocks:
            while kv.blocks_at(c) > kv.capacity_blocks:
                swap_s += self._preempt(next(reversed(self.running.values())), t)
        budget = pol.max_num_batched_tokens - kv.n_dec
        chunks: list[tuple[Seq, int]] = []
        pre_tokens, pairs, swap_dec, swap_kv = 0, 0.0, 0, 0.0
        for s in self.partials.values():
            if budget <= 0:
                break
            own = s.cached + s.computed - s.shared
            slack = -(-own // b) * b - own
            ch = min(s.prompt - s.cached - s.computed, budget)
            if ch > slack:
                ch = min(ch, slack + int(self._free_blocks(-(-(ch - slack) // b))) * b)
            if ch <= 0:
                break
            kv.grow(s.slot, ch)
            chunks.append((s, ch))
            pre_tokens += ch
            pairs += ch * (s.cached + s.computed + (ch + 1) / 2)
            budget -= ch
        while self.waiting and kv.n < pol.max_num_seqs and budget > 0:
            rid = self.waiting[0]
            s = self.paused.get(rid) or self._new_seq(rid)
            if s.swapped:
                need = -(-s.held // b) + kv.seq_blocks
                if self._free_blocks(need) < need:
                    break
                swap_s += (s.held + self.seq_tokens) * self.swap_s_per_token
                self._admit(s, s.held, t)
                chunks.append((s, 0))          # swapped in, it decodes in this step (vLLM V0 _schedule_swapped)
                swap_dec, swap_kv, budget = swap_dec + 1, swap_kv + s.held + s.shared, budget - 1
                continue
            rem = s.prompt - s.cached
            ch = min(rem, budget) if pol.chunked_prefill else rem
            if not pol.chunked_prefill and ch > budget and chunks:
                break
            need = -(-(s.cached + ch - s.shared) // b) + kv.seq_blocks
            if self._free_blocks(need + (b - 1) / b) < need:
                break
            self._admit(s, s.cached - s.shared + ch, t)
            chunks.append((s, ch))
            pre_tokens += ch
            pairs += ch * (s.cached + (ch + 1) / 2)
            budget -= ch
        n_dec = kv.n_dec
        if not chunks and swap_s == 0.0:
            return self._plan_run(t) if n_dec else None
        dec_kv = kv.decode_tokens(c) + self.dec_shared
        dt_raw, power_raw = self._cost(n_dec + swap_dec, dec_kv + swap_kv, pre_tokens, pairs, len(chunks) - swap_dec)
        dt, power = float(dt_raw), float(power_raw)
        # energy: the step at its power, a swap (host link busy, GPU waiting) at idle power
        self.pending = ("step", t, dt + swap_s, chunks, power * dt + float(self.step.idle_power_w) * swap_s)
        return t + dt + swap_s

    def _admit(self, s: Seq, own_tokens: float, t: float) -> None:
        self.waiting.popleft()
        self.paused.pop(s.rid, None)
        s.slot = self.kv.add(own_tokens)
        s.order = self.order
        self.order += 1
        self.running[s.rid] = s
        if not s.swapped:
            self.partials[s.rid] = s
        if self.events is not None:
            self.events.append((t, self.idx, "admit", s.rid))

    def _plan_run(self, t: float) -> float:
        fin = self.fin
        while fin and not self._live(fin[0]):
            heapq.heappop(fin)
        kmax = min(fin[0][0] - self.c, MAX_RUN_STEPS)
        if self.horizon_s < math.inf and self.run_dt > 0:
            kmax = min(kmax, int((self.horizon_s - t) / self.run_dt) + 2)
        k = max(self.kv.safe_decode_steps(self.c, kmax), 1)
        n = self.kv.n_dec
        kv0 = self.kv.decode_tokens(self.c) + self.dec_shared
        if self.decode_run is not None:
            dts, powers = self.decode_run(n, kv0, n * self.tps, k)
        else:
            dt_raw, power_raw = self._cost(n, kv0 + n * self.tps * np.arange(k), 0, 0.0)
            dts, powers = _per_step(dt_raw, k).tolist(), _per_step(power_raw, k).tolist()
        ends = [t + x for x in accumulate(dts)]     # t + np.cumsum(dts), in python floats
        self.run_dt = dts[0]
        self.pending = ("run", t, dts, ends, None, powers)
        return ends[-1]

    def _cost(self, n_dec, dec_kv, pre_tokens, pairs, prefill_seqs: int = 0):
        """(step_s, power_w) of a step or decode run: one evaluation where the step model offers it. The
        prefill chunks' sequence count (LM-head rows, one per chunk) goes to step models that take it."""
        sizes = (n_dec, dec_kv, pre_tokens, pairs)
        both = getattr(self.step, "step_and_power", None)
        if both is not None:
            return both(*sizes, prefill_seqs) if prefill_seqs > 1 else both(*sizes)
        return self.step.step_s(*sizes), self.step.power_w(*sizes)

    def _live(self, entry: tuple[int, int, int]) -> bool:
        s = self.running.get(entry[2])
        return s is not None and s.dec and s.fin == entry[0]

    # --- preemption ---------------------------------------------------------------------------
    def _preempt(self, s: Seq, t: float) -> float:
        """Preempt ``s`` before step ``self.c``; returns the swap-out time it adds to the step."""
        kv, c = self.kv, self.c
        held = kv.held(s.slot, c)
        del self.running[s.rid]
        self.partials.pop(s.rid, None)
        swap_s = 0.0
        if s.dec:
            self.dec_shared -= s.shared
            s.g = s.g + (c - s.ref) * self.tps
            s.last_emit = t
        kv.remove(s.slot)
        if s.dec and self.pol.preemption == "swap":
            s.swapped, s.held = True, held
            swap_s = (held + self.seq_tokens) * self.swap_s_per_token
        else:
            # recompute from the whole tokens; a fractional part (speculative decoding emits a mean number of
            # tokens per step) is emitted again after the recompute, so it is counted as discarded
            whole = float(math.floor(s.g + _EPS))
            self.rec.discarded += max(s.g - whole, 0.0)
            s.g = whole
            s.prompt = s.inp + int(s.g)
            s.computed = 0
        s.dec = False
        self.log.preemptions[s.rid] += 1
        self.preemptions += 1
        self.paused[s.rid] = s
        self.waiting.appendleft(s.rid)
        if self.events is not None:
            self.events.append((t, self.idx, "preempt", s.rid))
        return swap_s

    # --- commit -------------------------------------------------------------------------------
    def finish_pending(self, t: float) -> list[int]:
        """Apply the pending step or decode run (ending at ``t``); returns the requests that finished."""
        p, self.pending = self.pending, None
        if p is None:
            return []
        kv, rec = self.kv, self.rec
        done: list[int] = []
        n = kv.n_dec
        if p[0] == "run":
            dts, ends = p[2], p[3]
            k = len(dts)
            ending, excess = self._ending(self.c + k)
            energy = sum(map(mul, p[5], dts))
            q = self._queued(t, ends[-1] - ends[0] + dts[0]) if self.arr_n else self.q0
            rec.decode_run(ends, dts, q, len(self.running), n,
                           kv.kv_frac(self.c + k - 1), energy, n * self.tps, n * self.tps - excess)
            self.c += k
        else:
            ending, excess = self._ending(self.c + 1)
            m = sum(1 for s, _ in p[3] if s.swapped) if self.swap_s_per_token or self.hands_in else 0   # they decode
            q = self._queued(t, p[2]) if self.arr_n else self.q0
            rec.step(t, p[2], q, len(self.running), n + m, kv.kv_frac(self.c), p[4],
                     n * self.tps - excess)
            self.c += 1
            for s, ch in p[3]:
                if s.swapped:       # its token's gap runs from its last token before the swap-out
                    s.swapped = False
                    rec.gap(t - s.last_emit, min(self.tps, s.osl - s.g))
                    self._to_decoder(s, s.held, t, done, ref=self.c - 1)
                    continue
                s.computed += ch
                if s.cached + s.computed < s.prompt:
                    continue
                del self.partials[s.rid]
                s.g += 1.0
                if math.isnan(self.log.first_token_s[s.rid]):
                    self.log.first_token_s[s.rid] = t
                    if self.events is not None:
                        self.events.append((t, self.idx, "first_token", s.rid))
                else:
                    rec.gap(t - s.last_emit)
                self._to_decoder(s, s.inp + s.g - s.shared, t, done)
        for s in ending:
            self._finish(s, t, done)
        fin = self.fin
        while fin and fin[0][0] <= self.c:
            e = heapq.heappop(fin)
            if self._live(e):
                self._finish(self.running[e[2]], t, done)
        return done

    def _queued(self, t: float, span: float) -> float:
        """Time-weighted queue over the step or run ending at ``t`` (arrivals count from their arrival)."""
        return self.q0 + (self.arr_n * t - self.arr_s) / span if span > 0 else float(self.q0)

    def _ending(self, c_end: int) -> tuple[list[Seq], float]:
        """The decoding sequences that emit their last token by step ``c_end`` (popped from the finish heap),
        and the tokens a full last step would emit beyond their ``osl`` (fractional ``tokens_per_step``)."""
        fin, excess = self.fin, 0.0
        out: list[Seq] = []
        if not fin or fin[0][0] > c_end:
            return out, excess
        while fin and fin[0][0] <= c_end:
            e = heapq.heappop(fin)
            if self._live(e):
                s = self.running[e[2]]
                out.append(s)
                excess += s.g + (s.fin - s.ref) * self.tps - s.osl
        return out, excess

    def _to_decoder(self, s: Seq, base: float, t: float, done: list[int], ref: int | None = None) -> None:
        """``s`` decodes from step ``ref`` (default: the next step) on, holding ``base`` own tokens then."""
        if s.g >= s.osl - _EPS:
            self._finish(s, t, done)
            return
        ref = self.c if ref is None else ref
        s.dec, s.ref = True, ref
        s.fin = ref + math.ceil((s.osl - s.g) / self.tps - _EPS)
        self.kv.to_decoder(s.slot, base, ref)
        self.dec_shared += s.shared
        heapq.heappush(self.fin, (s.fin, s.order, s.rid))

    def _finish(self, s: Seq, t: float, done: list[int]) -> None:
        if s.dec:
            self.dec_shared -= s.shared
        self.kv.remove(s.slot)
        del self.running[s.rid]
        self.log.finish_s[s.rid] = t
        done.append(s.rid)
        if self.events is not None:
            self.events.append((t, self.idx, "finish", s.rid))

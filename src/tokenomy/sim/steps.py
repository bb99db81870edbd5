"""The one adapter between the request-level simulator and the core: step times and power of a replica.

A step of a continuous-batching engine mixes S decode sequences (q query tokens each: 1, or K + 1 in a
speculative verify step) with prefill chunks of Tp new tokens. Every linear layer sees T = S q + Tp rows
and reads its weights once, so (sim/steptable.py, all terms from core/phases.step_time and
core/attention.py, evaluated once at build time):

    device_s = base(T) + head(S q + prefill sequences)                 tables over rows (LM head apart)
             + [S > 0] decode_fixed + c_key * (K + S q)                decode attention: linear in keys read
             + [Tp > 0] prefill_fixed + a * blocks + c * critical        prefill attention: 128x128 blocks
       blocks   = P / 128^2 + Tp / 256       P = causal (query, key) pairs; exact for one chunk of a
                                              multiple of 128 tokens (core: nb (nb + 1) / 2 blocks)
       critical = ceil((P / Tp + (Tp / ps - 1) / 2) / 128)   key tiles of the longest query tile: exact
                                              for one chunk (s = Tp, keys c + s); the mean chunk of ps
       sliding-window layers: keys min(K + S q, S w); blocks capped at each 128-row tile seeing w / 128 + 1
       dataflow systems (core/sram.py): prefill attention is fixed + e * P instead (no blocks, no critical path)
    host_s   = step_fixed + host_per_seq * (S + prefill sequences)
    step     = max(device, host) with async scheduling, else device + host       (core/phases.py)
    stage    = the power cap's stretched step (core/energy.chip_power, same formula on the five
               table columns), then >= the slow-tier spill (core/memory.spill_time_s) where there is one
    pp > 1:  the running set splits into m = min(pp, max(S + prefill sequences, 1)) micro-batches; the
             busiest has S / m decode sequences and ceil(ps / m) whole prefill chunks; latency = core/predict's
             pipeline rule; step_s = the cycle max(latency, m * stage): every running sequence advances one step
    dp_attention D: the busiest group runs ceil(S / D) decode sequences with their share of K, and
             ceil(ps / D) of the ps prefill sequences with their share of Tp and P (a chunk stays whole);
             routed experts see all groups' tokens (core/phases.py)
    speculative: q = K + 1, plus K draft steps' device time (core/speculative.py); a decode sequence emits
             ``tokens_per_step`` tokens per step on average
K counts the tokens cached BEFORE the step; like the core, decode attention reads K + S q keys, so
step_s(b, b * c, 0, 0) is api.predict(phase='decode', batch=b, context=c)'s cycle.
Assumptions: one decode and one prefill attention kernel per layer in a mixed step (both launch
costs charged); prefill tokens pass through the LM head once per prefill sequence (``prefill_seqs``,
default 1 per step with prefill tokens); the draft model does not prefill.

Measured error vs direct core calls (step_model_error, n=200, seed 0; serving profile unless named):
    model / chip                         decode median / max     prefill median / max
    llama-3.1-8b / h100-sxm              0.00% / 0.00%           0.31% / 1.5%
    llama-3.1-8b / mi300x                0.00% / 0.00%           0.32% / 1.6%
    gpt-oss-120b / h100-sxm              0.00% / 0.00%           0.20% / 1.4%
    gpt-oss-120b / mi300x                0.00% / 0.00%           0.22% / 1.4%
    mixtral-8x7b / h200-sxm tp=2         0.00% / 0.00%           0.11% / 0.4%
    llama-3.1-70b / h100-sxm tp=4 pp=2   0.00% / 0.00%           0.13% / 0.7%
    deepseek-v3 / h200-sxm tp=ep=dp=8 mtp 0.00% / 0.00%          1.19% / 3.3%
    llama-3.1-8b / sambanova-sn40l tp=8  0.00% / 0.00%           0.09% / 1.0%   (dataflow; slow-tier spill)
Decode is the core to rounding (every term is a table at integer rows or exactly linear). Prefill error:
blocks counted from the pair count (a chunk that is not a multiple of 128 tokens is not rounded up to
whole blocks) and, under attention DP, the groups' shares. Build 0.15-0.5 s; scalar step_s ~2.5-4.5 us; a
decode run of k steps (``decode_run``, what the scheduler calls) ~1 us + 0.35 us per step, numpy past
SCALAR_RUN_MAX steps; a 1000-element broadcast call ~0.2 ms (measured here, not a timed test; sim/stepeval.py).

KV accounting (core/memory.py): ``kv_bytes_per_token`` counts the full-attention layers per cached token;
sliding-window layers hold at most ``window`` tokens per sequence, charged to every running sequence as
``kv_tokens_per_seq`` tokens-equivalent (gpt-oss: 128). ``kv_capacity_tokens`` = free bytes / kv_bytes_per_token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..api import resolve, resolve_spec
from ..core.comms import p2p_time_s
from ..core.energy import MIN_CLOCK_FRAC, idle_power_w
from ..core.graph import build_recipe, parallel_error, stage_layers
from ..core.memory import fast_tier_bytes, memory_use, sram_chunk_tokens, sram_tables
from ..core.precision import BYTES_PER_ELEMENT, engine_kv
from ..core.predict import predict_core
from ..core.speculative import _one_layer, speculative_core
from ..core.sram import weights_in_sram
from ..errors import NothingFitsError, SpecError
from ..spec import args
from .stepeval import Consts, evaluate, finish, finish_run, prepare
from .steptable import NpOps, PyOps, build_parts

# Host link for KV swap, bytes/s per chip and direction. Assumption (no catalog figure): PCIe 5.0 x16,
# 32 GT/s x 16 lanes x 128/130 encoding = 63 GB/s, each chip of a replica swapping its own share.
HOST_LINK_BYTES_PER_S = 63e9
DENSE_ROWS_MAX = 1 << 16      # table rows kept exact (every integer); past them the log grid interpolates

SRAM_CHUNK_SHARE = 0.5   # SRAM-first chips: share of the free SRAM a prefill chunk's activations may take (assumed)
SCALAR_RUN_MAX = 64   # decode runs up to this many steps are evaluated step by step in plain Python (faster)


@dataclass(frozen=True)
class StepModel:
    """Step times and power of ONE replica, from the core, as tables + linear terms (fast scalar AND
    numpy-broadcast evaluation). Module docstring: the decomposition."""

    description: str                 # model/chip/engine/precision/tp/pp/ep/dp/spec/kv format
    chips: int                       # chips per replica
    kv_capacity_tokens: int          # KV cache tokens one replica holds after weights, activations, reserve
    max_num_seqs: int                # engine profile (scheduler limit)
    max_num_batched_tokens: int      # engine profile (token budget per step)
    tokens_per_step: float           # tokens a decode step emits per sequence (>1 with speculative decoding)
    idle_power_w: float              # replica power while no step runs (NaN: the chip has no power figure)
    usd_per_hour: float              # replica cost per busy hour at the scenario (default owned; NaN: unpriced)
    kv_bytes_per_token: float        # KV bytes of one cached token on the replica (full-attention layers; all
    #                                  layers when none is full), in its format
    swap_bytes_per_s: float          # host link for KV swap (HOST_LINK_BYTES_PER_S per chip: an assumption)
    max_context: int = 0             # longest context the model takes (tokens)
    kv_tokens_per_seq: float = 0.0   # sliding-window layers: KV each running sequence holds, in tokens of
    #                                  kv_bytes_per_token (window x windowed bytes / full bytes; 0 without)
    _c: Any = field(default=None, repr=False, compare=False)   # stepeval.Consts: what the evaluation needs

    def step_s(self, decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs, prefill_seqs=None):
        """Seconds of one engine step of the replica (module docstring); broadcasts over numpy arrays.
        ``prefill_seqs``: sequences the prefill tokens belong to (default 1 when there are any)."""
        return self._run(decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs, prefill_seqs)[0]

    def power_w(self, decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs, prefill_seqs=None):
        """Replica watts during that step (chips x the capped chip power; idle_power_w for an empty step)."""
        return self._run(decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs, prefill_seqs)[1]

    def step_and_power(self, decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs, prefill_seqs=None):
        """(step_s, power_w) from one evaluation (what the simulator's scheduler calls)."""
        return self._run(decode_seqs, decode_kv_tokens, prefill_tokens, prefill_attn_pairs, prefill_seqs)

    def decode_run(self, decode_seqs: int, kv_tokens: float, kv_step: float,
                   steps: int) -> tuple[list[float], list[float]]:
        """(step_s, power_w) lists of ``steps`` decode steps of ``decode_seqs`` > 0 sequences, step i reading
        ``kv_tokens + i * kv_step`` cached tokens: step_and_power's numbers, bit for bit, with the terms that do
        not depend on the cached tokens computed once per batch size (kept) and the rest in plain Python for a
        short run (about 1 us a step), numpy for a long one."""
        c = self._c
        prep = c.runs.get(decode_seqs)
        if prep is None:
            prep = c.runs[decode_seqs] = prepare(c, float(decode_seqs), 0.0, 0.0, 0.0, PyOps)
        if steps <= SCALAR_RUN_MAX:
            return finish_run(c, prep, float(kv_tokens), float(kv_step), steps)   # python floats: fast
        t, w = finish(c, prep, kv_tokens + kv_step * np.arange(steps), NpOps)
        return t.tolist(), (w.tolist() if np.ndim(w) else [float(w)] * steps)

    def _run(self, S, K, Tp, P, ps):
        if not isinstance(S, np.ndarray) and not isinstance(K, np.ndarray) and not isinstance(Tp, np.ndarray) \
                and not isinstance(P, np.ndarray) and not isinstance(ps, np.ndarray):
            if not (S >= 0 and K >= 0 and Tp >= 0 and P >= 0 and (ps is None or ps >= 0)):
                raise SpecError(f"step sizes must be >= 0, got decode_seqs={S!r}, decode_kv_tokens={K!r}, "
                                f"prefill_tokens={Tp!r}, prefill_attn_pairs={P!r}, prefill_seqs={ps!r}.")
            if S <= 0 and Tp <= 0:
                return 0.0, self.idle_power_w
            ps = (1.0 if Tp > 0 else 0.0) if ps is None else (max(float(ps), 1.0) if Tp > 0 else float(ps))
            c = self._c
            t, w = finish_run(c, prepare(c, float(S), float(Tp), float(P), ps, PyOps), float(K), 0.0, 1)
            return t[0], w[0]
        shape = np.broadcast_shapes(*(np.shape(v) for v in (S, K, Tp, P, ps) if v is not None))
        # arrays stay arrays, scalars stay floats: a decode run (only K varies) looks its tables up once
        S, K, Tp, P = (np.asarray(v, dtype=float) if isinstance(v, np.ndarray) else float(v) for v in (S, K, Tp, P))
        raw = 0.0 if ps is None else (np.asarray(ps, dtype=float) if isinstance(ps, np.ndarray) else float(ps))
        if not all((v.min() >= 0 if v.size else True) if isinstance(v, np.ndarray) else v >= 0
                   for v in (S, K, Tp, P, raw)):
            raise SpecError("step sizes must be >= 0 (decode_seqs, decode_kv_tokens, prefill_tokens, "
                            "prefill_attn_pairs, prefill_seqs); got a negative or NaN value.")
        ps = np.asarray(Tp > 0, dtype=float) if ps is None else np.maximum(raw, np.asarray(Tp > 0, dtype=float))
        if np.ndim(ps) == 0:
            ps = float(ps)
        with np.errstate(divide="ignore", invalid="ignore"):
            t, w = evaluate(self._c, S, K, Tp, P, ps, NpOps)
        empty = np.logical_and(np.asarray(S) <= 0, np.asarray(Tp) <= 0)
        return (np.broadcast_to(np.where(empty, 0.0, t), shape).copy(),
                np.broadcast_to(np.where(empty, self.idle_power_w, w), shape).copy())


def build_step_model(model, hardware, *, engine=None, precision=None, tp: int = 1, pp: int = 1, ep: int = 1,
                     dp_attention: int = 1, spec=None, max_context: int | None = None, scenario=None) -> StepModel:
    """The StepModel of one replica: names or specs as api.predict takes them; ``scenario`` (economics.get_scenario's
    argument, default the owned defaults) prices its busy hour. NothingFitsError when the
    weights and a max_num_batched_tokens step leave no room for the KV cache (of ``max_context`` tokens
    when given)."""
    tp, pp, ep = (args.positive_int(k, v) for k, v in (("tp", tp), ("pp", pp), ("ep", ep)))
    D = args.dp_attention(dp_attention, tp)
    sd, draft_model = resolve_spec(spec)
    m, hw, e, p0 = resolve(model, hardware, engine, precision)
    args.tp_in_domain(tp, hw.scaleup_domain, hw.id)
    limit = m.max_position_embeddings or args.MAX_TOKENS
    ctx = limit if max_context is None else args.count("max_context", max_context, minimum=1, maximum=limit)
    p = engine_kv(p0, e.kv_cache_format)
    dec = build_recipe(m, e, p, phase="decode", tp=tp, pp=pp, ep=ep, dp_attention=D)
    pre = build_recipe(m, e, p, phase="prefill", tp=tp, pp=pp, ep=ep, dp_attention=D)
    q = 1 if sd is None else sd.k + 1
    dense = min(e.max_num_seqs * q + e.max_num_batched_tokens + 2, DENSE_ROWS_MAX)
    parts = build_parts(dec, pre, hw, e, p, tp=tp // D, queries=q, dense=dense)
    draft, ddp, kv_draft, kvw_draft, w_draft, extra_w = None, 1, 0.0, 0.0, 0, 0.0
    if sd is not None:
        dm = draft_model if sd.method == "draft" and draft_model is not None else _one_layer(m)
        dtp, dep, ddp = (tp, ep, D) if not parallel_error(dm, tp, 1, ep, D) else (1, 1, 1)
        ddec = build_recipe(dm, e, p, phase="decode", tp=dtp, ep=dep, dp_attention=ddp)
        dpre = build_recipe(dm, e, p, phase="prefill", tp=dtp, ep=dep, dp_attention=ddp)
        draft = build_parts(ddec, dpre, hw, e, p, tp=dtp // ddp, queries=1, dense=min(e.max_num_seqs + 2, dense))
        kv_draft, kvw_draft, w_draft = ddec.kv_bytes_per_token, ddec.kv_bytes_per_token_windowed, ddec.window or 0
        one: dict[str, Any] = dict(batch=1.0, length=0.0, tp=tp, pp=pp, ep=ep, dp_attention=D)
        with_draft = speculative_core(m, hw, e, p0, sd, draft_model, **one)      # draft weights (core's rule)
        extra_w = float(np.asarray(with_draft.memory_bytes) - np.asarray(predict_core(
            m, hw, e, p0, phase="decode", queries=q, **one).memory_bytes))
    tables = sram_tables(m, hw, tp // D, pp, e.memory.reserve_frac,    # embedding, LM head on chips of their own
                         stage_weight_bytes=dec.weight_bytes)
    if tables is not None:                # (core/memory.py; their step time stays on the last stage here)
        dec = replace(dec, weight_bytes=dec.weight_bytes - tables.moved_bytes)
    chips = tp * pp + (tables.chips if tables else 0)
    # memory per chip (core/memory.py): weights + activations of a full step + reserve; the rest holds KV
    step_tokens = e.max_num_batched_tokens
    if weights_in_sram(hw):
        # SRAM-first chips prefill in chunks whose activations fit beside the weights (core/memory.py
        # sram_chunk_tokens, as predict does): the scheduler's token budget is that chunk
        # SRAM left beside the weights and one token is shared: at most SRAM_CHUNK_SHARE of it holds a prefill
        # chunk's activations, the rest the KV cache (an assumption: the compiled pipeline's split is not public)
        held = memory_use(dec, batch=1.0, tokens_in_cache=1.0, tokens_in_step=1.0,
                          capacity_bytes=hw.weight_memory_bytes, vocab_size=m.vocab_size, params=e.memory,
                          a_bytes=BYTES_PER_ELEMENT["bf16"], dp_attention=D)
        free0 = hw.sram_bytes * (1.0 - e.memory.reserve_frac) - float(held.memory_bytes) - extra_w
        step_tokens = int(sram_chunk_tokens(dec, hw, step_tokens, 1.0, float(held.memory_bytes) + extra_w
                                            + (1.0 - SRAM_CHUNK_SHARE) * max(free0, 0.0), e.memory.reserve_frac))
    # logits of the step's sequences (on SRAM-first chips the chunk's one sequence; decode batches there are
    # small and their logits come out of the KV room)
    b_step = 1 if weights_in_sram(hw) else min(e.max_num_seqs, step_tokens)
    mem = memory_use(dec, batch=b_step, tokens_in_cache=0.0, tokens_in_step=step_tokens,
                     capacity_bytes=hw.weight_memory_bytes, vocab_size=m.vocab_size, params=e.memory,
                     a_bytes=BYTES_PER_ELEMENT["bf16"], dp_attention=D)
    # KV as core/memory.py counts it: full-attention layers per cached token, sliding-window layers at most
    # ``window`` tokens per sequence, charged to each running sequence as kv_tokens_per_seq tokens-equivalent
    # (a model without full-attention layers keeps every layer per token: conservative)
    kv_chip = dec.kv_bytes_per_token + kv_draft
    per_seq = (dec.kv_bytes_per_token_windowed * (dec.window or 0) + kvw_draft * w_draft) / kv_chip if kv_chip else 0.0
    if kv_chip <= 0:
        kv_chip = dec.kv_bytes_per_token_windowed + kvw_draft
    used = float(mem.memory_bytes) + extra_w
    free = mem.capacity_bytes - mem.reserve_bytes - used
    tokens = int(max(free, 0.0) // kv_chip) * D if kv_chip > 0 else args.MAX_TOKENS
    need = 1 if max_context is None else ctx
    if tokens < need + per_seq:
        used_gb = (f"weights {(mem.weight_bytes + extra_w) / 1e9:.1f} GB + activations "
                   f"{float(mem.activation_bytes) / 1e9:.1f} GB ({step_tokens}-token step) per chip")
        avail = f"the {(mem.capacity_bytes - mem.reserve_bytes) / 1e9:.1f} GB available after the reserve"
        room = f"exceed {avail}" if free <= 0 else \
            f"leave {free / 1e9:.2g} GB of {avail}: room for {tokens} KV tokens, {need} needed"
        raise NothingFitsError(
            f"{m.name} on {hw.id} (tp={tp} pp={pp}): {used_gb} {room}; use more chips (--tp, --pp), a lower "
            "precision or a shorter context.", {hw.id: "weights leave no room for the KV cache"})
    pw = e.power
    lim = hw.power_limit_w
    p_idle = idle_power_w(lim, hw.idle_power_w, pw) if lim else math.nan
    span = (lim or 0.0) - (p_idle if lim else 0.0)
    p_busy = min(p_idle + span * pw.busy_frac, lim) if lim else 0.0
    p2p0 = float(p2p_time_s(0.0, hw.scaleup_bytes_per_s_unidir or 1.0, e.comm))
    p2p1 = float(p2p_time_s(1.0, hw.scaleup_bytes_per_s_unidir or 1.0, e.comm)) - p2p0
    spill = None
    if hw.ddr_bytes_per_s > 0:
        spill = (mem.weight_bytes + extra_w - fast_tier_bytes(hw), dec.kv_bytes_per_token + kv_draft,
                 dec.kv_bytes_per_token_windowed, dec.act_elements_per_token * BYTES_PER_ELEMENT["bf16"],
                 m.vocab_size * 4.0, hw.ddr_bytes_per_s)
    c = Consts(parts=parts, draft=draft, q=float(q), k_draft=float(sd.k if sd else 0), pp=pp, dp=D, dp_draft=ddp,
                chips=chips, step_fixed_s=e.step_fixed_s, host_per_seq_s=e.host_per_seq_s,
                async_scheduling=e.async_scheduling, capped=bool(lim), p_limit=lim or 0.0, p_busy=p_busy,
                headroom=max((lim or 0.0) - p_busy, 1e-9), c_occ=span * pw.occupancy_frac,
                c_flop=span * pw.flop_frac, c_byte=span * pw.byte_frac, stretch=1.0 / MIN_CLOCK_FRAC - 1.0,
                layers_ratio=m.n_layers / stage_layers(m.n_layers, pp), p2p0=p2p0,
                p2p_per_token=p2p1 * dec.p2p_bytes_per_token, spill=spill)
    from ..economics import effective_usd_per_chip_hour
    desc = (f"{m.name} on {hw.id} x{chips}, engine {e.name}, {p.label}, tp={tp} pp={pp} ep={ep} dp_attention={D}, "
            f"spec {sd.label if sd else 'off'}, KV {p.kv_cache} ({p.kv_source})")
    return StepModel(description=desc, chips=chips, kv_capacity_tokens=tokens, max_num_seqs=e.max_num_seqs,
                     max_num_batched_tokens=step_tokens,
                     tokens_per_step=1.0 if sd is None else sd.tokens_per_step,
                     idle_power_w=chips * p_idle, usd_per_hour=chips * effective_usd_per_chip_hour(hw, scenario),
                     kv_bytes_per_token=kv_chip * chips / D, swap_bytes_per_s=HOST_LINK_BYTES_PER_S * chips,
                     max_context=int(ctx), kv_tokens_per_seq=per_seq, _c=c)


def step_model_error(sm: StepModel, model, hardware, *, engine=None, precision=None, tp: int = 1, pp: int = 1,
                     ep: int = 1, dp_attention: int = 1, spec=None, n: int = 200, seed: int = 0) -> dict[str, float]:
    """Relative error of ``sm.step_s`` against api.predict on ``n`` random points (log-uniform batch and
    context that fit the KV capacity; prefill of 1-8 sequences within max_num_batched_tokens):
    decode: the cycle 1 / tokens_per_s_per_user (x tokens_per_step); prefill (pp = 1: latency; pp > 1:
    the cycle of pp micro-batches). The deployment arguments must be those ``sm`` was built with."""
    from ..api import predict
    from ..core.predict import decode_cycle_s

    n = args.positive_int("n", n)
    rng = np.random.default_rng(seed)
    kw = dict(engine=engine, precision=precision, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention)

    def logu(lo: float, hi: float, size: int) -> np.ndarray:
        return np.floor(np.exp(rng.uniform(math.log(lo), math.log(hi + 1), size))).clip(lo, hi)

    b = logu(1, max(sm.max_num_seqs // pp, 1), n)
    c = logu(1, sm.max_context - 1, n)
    c = np.minimum(c, np.maximum(sm.kv_capacity_tokens // (b * pp) - 1, 0))   # what the replica can hold
    d = predict(model, hardware, phase="decode", batch=b, context=c, spec=spec, **kw)
    ref = d.tokens_per_step / d.tokens_per_s_per_user
    got = sm.step_s(b * pp, b * pp * c, 0.0, 0.0)
    bp = logu(1, 8, n)
    s = np.minimum(logu(1, sm.max_num_batched_tokens, n), np.maximum(sm.max_num_batched_tokens // bp, 1))
    f = predict(model, hardware, phase="prefill", batch=bp, seq=s, **kw)
    fref = f.latency_s if pp == 1 else decode_cycle_s(f.latency_s, f.stage_s, pp)
    fgot = sm.step_s(0.0, 0.0, pp * bp * s, pp * bp * s * (s + 1) / 2, prefill_seqs=pp * bp)
    de, pe = np.abs(got / ref - 1), np.abs(fgot / fref - 1)
    return {"decode_median": float(np.median(de)), "decode_max": float(np.max(de)),
            "prefill_median": float(np.median(pe)), "prefill_max": float(np.max(pe))}

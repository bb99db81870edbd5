"""Steady state of a disaggregated deployment at fixed pool sizes: a prefill pool and a decode pool, closed loop.

Pools (``PoolSpec``): ``workers`` replicas of ``tp`` chips each (ep-wide experts, ``dp_attention`` attention
groups, pp = 1), prefill on one chip, decode on the same or another. ``conc`` clients each send a request of
``isl`` tokens, wait for its ``osl`` output tokens, and send the next (InferenceX's closed loop), or requests
arrive at ``rate_per_s``. Everything is built from the core: the decode step (predict_core; speculative_core
and per_token with speculative decoding, per emitted token), the prefill of one request in a batched chunk
(core/serving.py chunked_prefill, steady_ttft_s) and the KV hand-off (core/disagg.py).

    t(b)     decode time per emitted token of one user, a decode worker running b sequences in all (its
             dp_attention groups share them): decode_cycle_s of the step at context isl + osl / 2
    X_D(b)   = W_D * b / (osl * t(b))                  requests/s the decode pool completes at b per worker
    C_P      = W_P / t_p                               prefill capacity, requests/s (t_p: worker time per request)
    T_kv     = kv / (B * paths) + alpha                the hand-off after the prefill (core/disagg.kv_transfer_s;
             ``layerwise``: streamed layer by layer, only what the prefill does not cover is exposed)
    TTFT_0   = L_p + T_kv + min(b, 1) t_step / 2 + o   prefill latency of the chunk the request rides in
             (steady_ttft_s, k = X / W_P * L_1 arrivals per chunk), the hand-off, joining the running decode step
             (half a step on average, when the worker is busy) and the engine's request_overhead_s o (front end,
             outside the steps)
    b < 1    fewer clients than decode workers: b is the share of workers busy, each at batch 1
    closed loop  Little's law over one client: conc = X * (TTFT + osl * t(b)), X = X_D(b). The decode batch b
             grows with conc until X_D(b) reaches C_P (prefill-bound) or b the largest batch whose KV fits
             (decode-bound); past that point b stays there, X = X_D(b*) and the extra clients wait in the queue:
             TTFT = conc / X - osl * t(b*)
    rate     X = min(rate, X_max); b from X_D(b) = X; TTFT = TTFT_0 (no queueing below capacity, as
             core/serving.py's saturated steady state; the rate above X_max is not served: ``requests_per_s``)
    power    W_D * P_decode(b) + W_P * (u * P_prefill + (1 - u) * P_idle),  u = X / C_P (prefill utilisation)
    outputs  tokens_per_s = X * osl (output), input_tokens_per_s = X * isl, per chip over both pools
             (``tokens_per_s_per_chip``), over the decode pool only (``tokens_per_s_per_decode_chip``: InferenceX's
             multinode basis) and input over the prefill pool; j_per_token = power / tokens_per_s

KV hand-off: the prefill pool's cache format (core/disagg.kv_bytes_per_request, the sender's), over
core/disagg.kv_paths paths in parallel (GQA: min(tp / dp_attention, n_kv_heads) shards a side; MLA: 1).
The link: one scale-up domain when both pools are the same chip and fit in it, else the
scale-out NICs (core/disagg.link_for). By default the KV moves after the prefill (``layerwise`` False: SGLang's
and TensorRT-LLM's disaggregated transfer sends a request's cache when its prefill completes; assumption).
A replica wider than its chip's scale-up domain (tp 16 over two 8-GPU boards) runs its collectives over the NICs
(replica_hardware, replica_engine). Assumptions: pp = 1 in both pools; the decode batch is continuous in b
(interpolated over a log grid of integer batches); the prefill pool's chunks hold only prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import SpecError
from ..spec import args
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.limits import MAX_COUNT
from ..spec.model import ModelSpec
from .disagg import SCALEOUT_LATENCY_S, can_share_scaleup, kv_bytes_per_request, kv_paths, kv_transfer_s, link_for
from .energy import idle_power_w
from .precision import Precision
from .predict import decode_cycle_s, predict_core
from .serving import chunked_prefill, steady_ttft_s
from .speculative import Speculative, per_token, speculative_core

GRID = 64          # log-spaced decode batches per worker the steady state interpolates over


@dataclass(frozen=True)
class PoolSpec:
    """One pool: ``workers`` replicas of ``tp`` chips of ``hardware`` running ``engine`` (already resolved for
    the chip: loaders/engines.engine_for_chip) at ``precision``, experts ``ep``-wide, ``dp_attention`` attention
    groups per replica (1: tensor-parallel attention)."""

    hardware: HardwareSpec
    engine: EngineProfile
    precision: Precision
    tp: int = 1
    ep: int = 1
    dp_attention: int = 1
    workers: int = 1

    @property
    def chips(self) -> int:
        return self.tp * self.workers


@dataclass(frozen=True)
class DisaggEstimate:
    """Steady-state figures (module docstring), arrays shaped like ``conc`` (or ``rate_per_s``)."""

    tokens_per_s_per_user: np.ndarray
    tpot_s: np.ndarray
    ttft_s: np.ndarray
    requests_per_s: np.ndarray
    tokens_per_s: np.ndarray                 # output tokens/s of the deployment
    input_tokens_per_s: np.ndarray
    tokens_per_s_per_chip: np.ndarray        # output over both pools' chips
    tokens_per_s_per_decode_chip: np.ndarray
    input_tokens_per_s_per_prefill_chip: np.ndarray
    power_w: np.ndarray                      # both pools
    j_per_token: np.ndarray                  # per output token, both pools
    decode_batch: np.ndarray                 # sequences per decode worker
    prefill_utilization: np.ndarray
    prefill_bound: np.ndarray                # True where the prefill pool caps the throughput
    kv_transfer_s: float                     # exposed hand-off time of one request
    kv_bytes: float
    link: str
    prefill_chips: int
    decode_chips: int


def _pool(name: str, pool: PoolSpec) -> PoolSpec:
    if not isinstance(pool, PoolSpec):
        raise SpecError(f"{name} must be a PoolSpec(hardware, tp, ep, dp_attention, workers), got {pool!r}.")
    for f in ("tp", "ep", "dp_attention", "workers"):
        args.positive_int(f"{name}.{f}", getattr(pool, f), maximum=MAX_COUNT)
    if pool.tp % pool.dp_attention:
        raise SpecError(f"{name}.dp_attention ({pool.dp_attention}) must divide {name}.tp ({pool.tp}).")
    return pool


def replica_hardware(hw: HardwareSpec, tp: int) -> HardwareSpec:
    """``hw`` as one replica of ``tp`` chips sees it: within one scale-up domain unchanged; wider (TP16 over two
    8-GPU H100 nodes) its collectives cross the scale-out NICs, the slowest hop of the ring or all-to-all,
    so the replica's chip-to-chip link is the NIC's bandwidth (one NIC a chip, ``scaleout_gbps``)."""
    if tp <= max(hw.scaleup_domain, 1):
        return hw
    if hw.scaleout_bytes_per_s <= 0:
        raise SpecError(f"tp={tp} spans several scale-up domains of {hw.id} ({hw.scaleup_domain} chips) and it has no "
                        "scale-out NIC bandwidth: add scaleout_gbps to its hardware YAML, or use tp <= "
                        f"{hw.scaleup_domain}.")
    return hw.model_copy(update={"scaleup_bytes_per_s_unidir": min(hw.scaleup_bytes_per_s_unidir,
                                                                    hw.scaleout_bytes_per_s)})


def replica_engine(pool: PoolSpec) -> EngineProfile:
    """The pool's engine; a replica wider than one scale-up domain pays the scale-out message latency
    (core/disagg.SCALEOUT_LATENCY_S, an assumption) per collective instead of the scale-up one."""
    e = pool.engine
    if pool.tp <= max(pool.hardware.scaleup_domain, 1) or e.comm.latency_s >= SCALEOUT_LATENCY_S:
        return e
    return e.model_copy(update={"comm": e.comm.model_copy(update={"latency_s": SCALEOUT_LATENCY_S})})


def disagg_estimate(model: ModelSpec, prefill: PoolSpec, decode: PoolSpec, *, isl: int, osl: int,
                    spec: Speculative | None = None, draft: ModelSpec | None = None,
                    conc: npt.ArrayLike | None = None, rate_per_s: npt.ArrayLike | None = None,
                    same_scaleup_domain: bool | None = None, layerwise: bool = False,
                    link_frac: float = 1.0) -> DisaggEstimate:
    """Steady state of ``prefill`` + ``decode`` pools serving ``isl``/``osl`` requests (module docstring), for a
    closed loop of ``conc`` clients or an arrival ``rate_per_s`` (one of the two; arrays allowed).

    Pure: specs in (api.resolve / api.resolve_spec turn names into them), arrays out. ``spec``: speculative
    decoding in the decode pool (``draft``: its draft model, method 'draft'). ``same_scaleup_domain`` None:
    the scale-up fabric when both pools are the same chip and fit in one domain, else the NICs;
    ``layerwise``: the hand-off streams layer by layer under the prefill (Splitwise); ``link_frac``: achieved
    share of the link's datasheet bandwidth. A replica wider than its chip's scale-up domain runs its
    collectives over the NICs (replica_hardware, replica_engine).
    """
    prefill, decode = _pool("prefill", prefill), _pool("decode", decode)
    i = args.positive_int("isl", isl, maximum=MAX_COUNT)
    o = args.positive_int("osl", osl, maximum=MAX_COUNT)
    if (conc is None) == (rate_per_s is None):
        raise SpecError("give conc (closed-loop clients) or rate_per_s (requests/s), not both or neither.")
    load = args.sizes("conc", conc, minimum=1, maximum=MAX_COUNT) if conc is not None else \
        np.asarray(rate_per_s, dtype=float)
    if rate_per_s is not None and (not np.all(np.isfinite(load)) or np.any(load <= 0)):
        raise SpecError(f"rate_per_s must be positive finite numbers, got {rate_per_s!r}.")
    hw_p, hw_d = replica_hardware(prefill.hardware, prefill.tp), replica_hardware(decode.hardware, decode.tp)
    e_p, e_d = replica_engine(prefill), replica_engine(decode)

    # decode: t(b) on a log grid of batches per worker, up to every client in decode (or the engine's cap)
    top = float(np.max(load)) / decode.workers if conc is not None else float(e_d.max_num_seqs)
    grid = np.unique(np.round(np.geomspace(1.0, max(top, 1.0), GRID)))
    with np.errstate(all="ignore"):
        ctx, tp, ep, dp = i + o // 2, decode.tp, decode.ep, decode.dp_attention
        dec = predict_core(model, hw_d, e_d, decode.precision, phase="decode", batch=grid, length=ctx, tp=tp, ep=ep,
                           dp_attention=dp) if spec is None else \
            speculative_core(model, hw_d, e_d, decode.precision, spec, draft, batch=grid, length=ctx, tp=tp, ep=ep,
                             dp_attention=dp)
        chunk = chunked_prefill(model, hw_p, e_p, prefill.precision, i, tp=prefill.tp, ep=prefill.ep,
                                dp_attention=prefill.dp_attention)
    fits = np.asarray(dec.fits, dtype=bool)
    if not bool(np.asarray(chunk.pred.fits)) or not fits[0]:
        raise SpecError(f"{model.name} does not fit: prefill tp={prefill.tp} on {hw_p.id} or decode tp={decode.tp} "
                        f"on {hw_d.id} at batch 1; add chips per worker (tp).")
    step = per_token(dec)
    t_grid = decode_cycle_s(step.latency_s, step.stage_s, step.micro_batches)
    cap_p = prefill.workers / float(chunk.stage_s)

    def at(b: np.ndarray, values: npt.ArrayLike) -> np.ndarray:      # a decode figure at b >= 1 sequences
        return _at(np.maximum(b, 1.0), grid, np.asarray(values, dtype=float))

    def x_at(b: np.ndarray) -> np.ndarray:                              # X_D(b), requests/s
        return decode.workers * b / (o * at(b, t_grid))

    # the hand-off
    share = can_share_scaleup(hw_p, hw_d, prefill.chips + decode.chips) if same_scaleup_domain is None \
        else same_scaleup_domain
    link = link_for(hw_p, hw_d, same_scaleup_domain=share, chips=prefill.chips + decode.chips, link_frac=link_frac)
    kv = float(kv_bytes_per_request(model, prefill.precision, i, engine=e_p))
    t_kv = float(kv_transfer_s(kv, link, prefill_s=float(chunk.latency_one_s) if layerwise else None,
                               layers=model.n_layers if layerwise else None,
                               paths=kv_paths(model, prefill.tp, decode.tp, prefill_dp_attention=prefill.dp_attention,
                                              decode_dp_attention=decode.dp_attention)))

    def ttft0(x: np.ndarray, b: np.ndarray) -> np.ndarray:
        arrivals = x / prefill.workers * float(chunk.latency_one_s)
        lp = steady_ttft_s(float(chunk.latency_one_s), float(chunk.latency_s), float(chunk.requests), arrivals)
        joining = 0.5 * np.minimum(b, 1.0) * at(b, dec.latency_s)       # the running step, if the worker is busy
        return lp + t_kv + joining + e_d.request_overhead_s

    # the cap: the decode batch where the prefill pool saturates, or the largest batch that fits
    bs = np.unique(np.concatenate([np.geomspace(1e-3, 1.0, GRID // 4), grid]))   # b < 1: share of workers busy
    b_fit = float(grid[np.flatnonzero(fits).max()])
    prefill_caps = cap_p < float(x_at(np.array(b_fit)))
    b_cap = float(np.interp(cap_p, x_at(bs), bs)) if prefill_caps else b_fit
    x_cap = float(x_at(np.array(b_cap)))
    if conc is not None:
        below = np.append(bs[bs < b_cap], b_cap)
        xs = x_at(below)
        ns = np.maximum.accumulate(xs * (ttft0(xs, below) + o * at(below, t_grid)))   # clients in flight at b
        b = np.interp(load, ns, below)
        saturated = load > ns[-1]
    else:
        b = np.interp(np.minimum(load, x_cap), x_at(bs), bs)
        saturated = load >= x_cap
    tb, x = at(b, t_grid), x_at(b)
    ttft = ttft0(x, b)
    if conc is not None:
        ttft = np.where(saturated, np.maximum(load / x - o * tb, ttft), ttft)
    u = np.minimum(x / cap_p, 1.0)
    idle_p = prefill.tp * idle_power_w(hw_p.power_limit_w or 0.0, hw_p.idle_power_w, e_p.power)
    idle_d = decode.tp * idle_power_w(hw_d.power_limit_w or 0.0, hw_d.idle_power_w, e_d.power)
    busy = np.minimum(b, 1.0)
    power = decode.workers * (busy * at(b, dec.power_w) + (1.0 - busy) * idle_d) + \
        prefill.workers * (u * float(chunk.power_w) + (1.0 - u) * idle_p)
    out_tps = x * o
    return DisaggEstimate(
        tokens_per_s_per_user=1.0 / tb, tpot_s=tb, ttft_s=ttft, requests_per_s=x, tokens_per_s=out_tps,
        input_tokens_per_s=x * i, tokens_per_s_per_chip=out_tps / (prefill.chips + decode.chips),
        tokens_per_s_per_decode_chip=out_tps / decode.chips,
        input_tokens_per_s_per_prefill_chip=x * i / prefill.chips, power_w=power, j_per_token=power / out_tps,
        decode_batch=b, prefill_utilization=u, prefill_bound=saturated & prefill_caps, kv_transfer_s=t_kv,
        kv_bytes=kv, link=link.label, prefill_chips=prefill.chips, decode_chips=decode.chips)


def _at(b: np.ndarray, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (on the decode batch ``grid``) at batches ``b``, linear in log b."""
    return np.interp(np.log(np.asarray(b, dtype=float)), np.log(grid), np.asarray(values, dtype=float))

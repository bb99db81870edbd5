"""An operating point: the highest-throughput concurrency that meets a per-user speed, and what its
input and output tokens cost, on the steady-state serving model of core/serving.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import api as _api
from ..core import economics as ce
from ..core.memory import fast_tier_bytes
from ..core.serving import chunked_prefill, serving_estimate
from ..core.speculative import per_token
from ..frontier.deployments import DeploymentContext, candidates, fixed_candidates, fixed_error
from ..frontier.sweep import crossdomain_p2p_s
from ..spec import args
from ..spec.economics import Scenario
from ..spec.hardware import HardwareSpec
from .base import MAX_BATCH, NAN, ScenarioLike, _Dict, check_request, get_scenario
from .chip_hour import cost, host_power_w


@dataclass(frozen=True)
class OperatingPoint(_Dict):
    """The highest-throughput concurrency that meets ``tokens_per_s_per_user_required``, and what its
    tokens cost, on the steady-state serving model of core/serving.py, computed by the same function with
    the same inputs as ``tokenomy frontier``'s point at that deployment and batch (every shared key agrees):
    the per-user speed includes the prefills interleaved with decode steps; keys without a phase prefix
    are the replica's steady state (prefill share included, time-weighted), ``decode_`` / ``prefill_`` one phase.

    Dollars: the replica's chips at ``usd_per_chip_hour`` (per busy hour, the chip priced at its power limit,
    or the scenario's chip_power_w, as frontier prices it); ``_output`` / ``_input`` split that cost by the
    share of time in each phase; ``_blended`` is per input + output token at isl/osl. Energy: the predicted
    power (chips only, ``_chip``; with host power and PUE, ``_facility``).
    """

    model: str
    hardware: str
    precision: str
    tp: int
    pp: int
    ep: int
    chips: int
    isl: int
    osl: int
    tokens_per_s_per_user_required: float
    feasible: bool = False
    reason: str = ""
    batch: int = 0
    tokens_per_s_per_user: float = NAN
    tokens_per_s: float = NAN                   # output, replica, steady state: osl / (t_prefill + t_decode)
    tokens_per_s_per_chip: float = NAN
    input_tokens_per_s: float = NAN             # tokens_per_s x isl / osl
    decode_tokens_per_s: float = NAN            # output, replica, while decoding
    prefill_tokens_per_s: float = NAN           # input, replica, while prefilling
    prefill_time_frac: float = NAN
    ttft_s: float = NAN
    power_w: float = NAN                        # replica accelerators, steady state, time-weighted
    decode_power_w: float = NAN
    prefill_power_w: float = NAN
    usd_per_chip_hour: float = NAN              # one chip, per busy hour
    usd_per_hour: float = NAN                   # replica, per busy hour
    usd_per_calendar_hour: float = NAN          # replica, per calendar hour
    usd_per_mtok_all_in: float = NAN            # replica cost per output Mtok (prefill paid by the output)
    usd_per_mtok_output: float = NAN
    usd_per_mtok_input: float = NAN
    usd_per_mtok_blended: float = NAN
    j_per_token_chip: float = NAN               # steady state, prefill share included
    decode_j_per_token_chip: float = NAN
    j_per_token_facility: float = NAN           # steady state, (chips + host) x PUE
    tokens_per_s_per_mw_chip: float = NAN
    tokens_per_s_per_mw_facility: float = NAN


def pricing_power_w(hw: HardwareSpec, sc: Scenario, predicted_w_per_chip: float) -> float:
    """Per-chip power a chip-hour is priced (and a fleet provisioned) at: the scenario's chip_power_w, the
    catalog power limit (as frontier.sweep.usd_per_chip_hour prices it), else the predicted draw."""
    return float(sc.chip_power_w or hw.power_limit_w or predicted_w_per_chip)


def deployments(m: Any, hw: HardwareSpec, e: Any, p: Any, tp: int | None, pp: int | None, ep: int | None,
                chips: int | None, *, search: bool = False) -> tuple[list[tuple[int, int, int]], str]:
    """(tp, pp, ep) to evaluate, and why there are none. Given parts are fixed (frontier's rules and one-line
    errors, frontier/deployments.fixed_error); free parts are 1 where the weights then fit the fast tier
    (unless ``search``; operating_point then adds the search and keeps the cheapest), else every deployment
    the frontier's search proposes (deployments.candidates / fixed_candidates), as on an SRAM-first chip,
    where one chip never holds a model."""
    if chips is not None or tp or pp or ep:
        fixed_error(m, hw, chips, tp, pp, ep)
    cx = DeploymentContext(m, e, p, hw, e.memory.reserve_frac)
    one = (tp or 1, pp or 1, ep or 1)
    if chips is None and not search and cx.fits_weights(*one, fast_tier_bytes(hw)):
        return [one], ""
    return fixed_candidates(cx, chips, tp, pp, ep) if tp or pp or ep else candidates(cx, chips)


def operating_point(model: Any, hardware: Any, tokens_per_s_per_user: float = 0.0, isl: int = 1024,
                    osl: int = 1024, *, scenario: ScenarioLike = None, engine: Any = None, precision: str | None = None,
                    tp: int | None = None, pp: int | None = None, ep: int | None = None, chips: int | None = None,
                    max_batch: int = 4096, spec: Any = None, **overrides: Any) -> OperatingPoint:
    """Highest-throughput decode batch (1..max_batch, one vectorized predict) whose per-user speed is at
    least ``tokens_per_s_per_user`` (0: the highest-throughput point), decode context = isl + osl/2.
    Input tokens: one prefill of ``isl`` tokens per request, batched with others in a chunk.
    ``tp``/``pp``/``ep``/``chips`` (None: chosen) fix the deployment as ``tokenomy frontier`` does (``deployments``);
    where several are proposed, the feasible one with the lowest all-in $/Mtok (then the fewest chips) is taken.
    ``spec``: speculative decoding of the decode steps (tokenomy.predict). Infeasible points return feasible=False."""
    sc = get_scenario(scenario, **overrides)
    check_request(isl, osl, tokens_per_s_per_user)
    args.positive_int("max_batch", max_batch, maximum=MAX_BATCH)
    chips, fixed = args.fixed_deployment(chips, tp, pp, ep)
    m, hw, e, p = _api.resolve(model, hardware, engine, precision)
    args.request_in_context(isl, osl, m.max_position_embeddings, m.name, force=False)
    cands, why = deployments(m, hw, e, p, fixed["tp"], fixed["pp"], fixed["ep"], chips)
    if not cands:
        t, q = fixed["tp"] or 1, fixed["pp"] or 1
        return OperatingPoint(m.name, hw.id, p.label, t, q, fixed["ep"] or 1, chips or t * q, isl, osl,
                              float(tokens_per_s_per_user), reason=why)
    pts = [_point(m, hw, e, p, sc, tokens_per_s_per_user, isl, osl, *d, max_batch, spec) for d in cands]
    ok = [o for o in pts if o.feasible]
    if chips is None and not any(fixed.values()) and cands == [(1, 1, 1)]:
        # one chip holds the weights; more chips may still be cheaper (KV room for a larger batch at the speed) or
        # the only way to the speed: the frontier's search as where one chip does not hold them, cheapest kept
        more = [d for d in deployments(m, hw, e, p, None, None, None, None, search=True)[0] if d not in cands]
        pts += [_point(m, hw, e, p, sc, tokens_per_s_per_user, isl, osl, *d, max_batch, spec) for d in more]
        ok = [o for o in pts if o.feasible]
    if ok:
        return min(ok, key=lambda o: (o.usd_per_mtok_all_in, o.chips))
    if len(pts) > 1:
        tried = ", ".join(f"{o.tp}x{o.pp}x{o.ep}" for o in pts)
        return replace(pts[0], reason=f"no deployment (tp x pp x ep) of {tried} serves it; "
                                      f"{pts[0].tp}x{pts[0].pp}x{pts[0].ep}: {pts[0].reason}")
    return pts[0]


def _point(m: Any, hw: HardwareSpec, e: Any, p: Any, sc: Scenario, tokens_per_s_per_user: float, isl: int, osl: int,
           tp: int, pp: int, ep: int, max_batch: int, spec: Any) -> OperatingPoint:
    """The operating point of one deployment (``operating_point``): frontier.sweep's serving_estimate call."""
    kw: dict[str, Any] = {"engine": e, "precision": p, "tp": tp, "pp": pp, "ep": ep}
    batch = np.arange(1, max_batch + 1)
    dec = _api.predict(m, hw, phase="decode", batch=batch, context=isl + osl / 2, spec=spec, **kw)
    chunk = chunked_prefill(m, hw, e, p, isl, tp=tp, pp=pp, ep=ep)   # batched, chunked prefill (core/serving.py)
    pre = _api.check_outputs(chunk.pred, f"model={m.name}, hardware={hw.id}, prefill chunk of {isl}-token requests",
                              power_known=bool(hw.power_limit_w))
    head: dict[str, Any] = {
        "model": m.name, "hardware": hw.id, "precision": p.label, "tp": tp, "pp": pp, "ep": ep,
        "chips": int(dec.chips), "isl": isl, "osl": osl, "tokens_per_s_per_user_required": float(tokens_per_s_per_user)}
    handoff = float(crossdomain_p2p_s(m, hw, tp, pp, isl))          # as frontier.sweep: pipeline hand-offs
    # frontier's usd_per_chip_hour: one chip per busy hour, priced at its power limit (the predicted draw only
    # for a chip without one: the largest of the batches, as a fleet is provisioned)
    usd_chip = float(cost(hw, sc, pricing_power_w(hw, sc, float(np.max(dec.power_w_per_chip)))).effective_usd_per_hour)
    est = serving_estimate(per_token(dec), float(chunk.stage_s), float(chunk.latency_s) + handoff,
                           float(chunk.power_w), isl=isl, osl=osl, usd_per_hour=usd_chip,
                           prefill_latency_one_s=float(chunk.latency_one_s) + handoff,
                           prefill_requests=float(chunk.requests),
                           request_overhead_s=e.for_vendor(hw.vendor).request_overhead_s,
                           extra_decode_s=crossdomain_p2p_s(m, hw, tp, pp, batch) / dec.tokens_per_step)
    speed = est["tokens_per_s_per_user"]
    ok = np.asarray(dec.fits) & bool(pre.fits) & (speed >= tokens_per_s_per_user)
    if not ok.any():
        why = (f"does not fit at batch 1: {dec.fit_reason(0)}" if not bool(dec.fits[0]) else
               f"prefill of {isl} tokens does not fit: {pre.fit_reason()}" if not bool(pre.fits) else
               f"batch 1 reaches only {speed[0]:.1f} tokens/s/user < {tokens_per_s_per_user:g}; "
               f"use more chips (--tp, --pp), a lower precision, or a faster chip")
        return OperatingPoint(**head, feasible=False, reason=why)
    i = int(np.argmax(np.where(ok, est["tokens_per_s"], -np.inf)))
    at = {k: float(np.broadcast_to(v, ok.shape)[i]) for k, v in est.items()}
    chips, f_p, tps = int(dec.chips), at["prefill_time_frac"], at["tokens_per_s"]
    usd_h = chips * usd_chip
    fac_w = float(ce.facility_power_w(at["power_w"], chips, host_power_w(hw, sc), sc.pue))
    dec_tps, dec_w = tps / (1.0 - f_p), float(dec.power_w[i])
    return OperatingPoint(
        **head, feasible=True, reason="", batch=int(at["batch"]), tokens_per_s_per_user=at["tokens_per_s_per_user"],
        tokens_per_s=tps, tokens_per_s_per_chip=at["tokens_per_s_per_chip"],
        input_tokens_per_s=at["input_tokens_per_s"],
        decode_tokens_per_s=dec_tps, prefill_tokens_per_s=isl / float(chunk.stage_s), prefill_time_frac=f_p,
        ttft_s=at["ttft_s"], power_w=at["power_w"], decode_power_w=dec_w, prefill_power_w=float(chunk.power_w),
        usd_per_chip_hour=usd_chip, usd_per_hour=usd_h, usd_per_calendar_hour=usd_h * sc.utilization_frac,
        usd_per_mtok_all_in=at["usd_per_mtok"], usd_per_mtok_output=at["usd_per_mtok_output"],
        usd_per_mtok_input=at["usd_per_mtok_input"], usd_per_mtok_blended=at["usd_per_mtok_blended"],
        j_per_token_chip=at["j_per_token"], decode_j_per_token_chip=float(ce.j_per_token(dec_w, dec_tps)),
        j_per_token_facility=float(ce.j_per_token(fac_w, tps)), tokens_per_s_per_mw_chip=at["tokens_per_s_per_mw"],
        tokens_per_s_per_mw_facility=float(ce.tokens_per_s_per_mw(tps, fac_w)))

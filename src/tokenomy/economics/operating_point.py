"""An operating point: the highest-throughput concurrency that meets a per-user speed, and what its
input and output tokens cost, on the steady-state serving model of core/serving.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import api as _api
from ..core import economics as ce
from ..core.memory import fast_tier_bytes
from ..core.serving import chunked_prefill, serving_estimate
from ..core.speculative import per_token
from ..frontier.deployments import DeploymentContext, candidates, fixed_candidates, fixed_error
from ..spec import args
from ..spec.economics import Scenario
from ..spec.hardware import HardwareSpec
from .base import MAX_BATCH, ScenarioLike, _Dict, check_request, get_scenario
from .chip_hour import cost, host_power_w


@dataclass(frozen=True)
class OperatingPoint(_Dict):
    """The highest-throughput concurrency that meets ``tokens_per_s_per_user_required``, and what its
    tokens cost, on the steady-state serving model of core/serving.py (the frontier's): the per-user
    speed includes the prefills interleaved with decode steps.

    Per request the replica spends t_prefill = isl / prefill tokens/s and t_decode = osl / decode tokens/s;
    each phase is charged its own share of chip time (its power sets its energy cost).
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
    input_per_output_tokens: float
    feasible: bool = False
    reason: str = ""
    batch: int = 0
    tokens_per_s_per_user: float = float("nan")
    tokens_per_s: float = float("nan")                 # decode, replica
    prefill_tokens_per_s: float = float("nan")         # replica
    output_tokens_per_s: float = float("nan")          # replica, prefill time included: osl / (t_prefill + t_decode)
    power_w: float = float("nan")                      # decode, replica, accelerators
    prefill_power_w: float = float("nan")              # prefill of one request, replica, accelerators
    usd_per_hour: float = float("nan")                 # replica PER BUSY HOUR, time-weighted over the phases
    total_usd_per_hour: float = float("nan")           # replica PER CALENDAR HOUR
    usd_per_mtok_output: float = float("nan")
    usd_per_mtok_input: float = float("nan")
    usd_per_mtok_blended: float = float("nan")         # at input_per_output_tokens
    usd_per_mtok_all_in: float = float("nan")          # replica cost per output token: output + input * isl / osl
    j_per_token: float = float("nan")                  # decode step, accelerators
    j_per_token_facility: float = float("nan")         # decode step, with host power and PUE
    tokens_per_s_per_mw: float = float("nan")          # decode step, per MW of facility power


PhaseWeights = Callable[[Any, Any], Any]


def phase_costs(hw: HardwareSpec, sc: Scenario, dec_w_chip: float, pre_w_chip: float, t_d: float, t_p: float,
                chips: int, price: float | None = None
                ) -> tuple[Any, ce.ChipHourCost, ce.ChipHourCost, PhaseWeights]:
    """Replica cost per calendar hour, time-weighted over decode and prefill: (total, decode cost,
    prefill cost, the weighting function)."""
    mode = "owned" if price is not None else None
    cd = cost(hw, sc, dec_w_chip, chip_price=price, mode=mode)
    cp = cost(hw, sc, pre_w_chip, chip_price=price, mode=mode)

    def weigh(a: Any, b: Any) -> Any:
        return chips * (a * t_d + b * t_p) / (t_d + t_p)

    return weigh(cd.total_usd_per_hour, cp.total_usd_per_hour), cd, cp, weigh


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
                              float(tokens_per_s_per_user), sc.input_per_output_tokens, reason=why)
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
    """The operating point of one deployment (``operating_point``)."""
    kw: dict[str, Any] = {"engine": e, "precision": p, "tp": tp, "pp": pp, "ep": ep}
    dec = _api.predict(m, hw, phase="decode", batch=np.arange(1, max_batch + 1), context=isl + osl / 2, spec=spec,
                       **kw)
    chunk = chunked_prefill(m, hw, e, p, isl, tp=tp, pp=pp, ep=ep)   # batched, chunked prefill (core/serving.py)
    pre = _api.check_outputs(chunk.pred, f"model={m.name}, hardware={hw.id}, prefill chunk of {isl}-token requests",
                              power_known=bool(hw.power_limit_w))
    est = serving_estimate(per_token(dec), float(chunk.stage_s), float(chunk.latency_s), float(chunk.power_w), isl=isl,
                           osl=osl, usd_per_hour=0.0,          # the frontier's steady state: prefill interleaved
                           prefill_latency_one_s=float(chunk.latency_one_s), prefill_requests=float(chunk.requests))
    speed = est["tokens_per_s_per_user"]
    ok = np.asarray(dec.fits) & bool(pre.fits) & (speed >= tokens_per_s_per_user)
    head: dict[str, Any] = {
        "model": m.name, "hardware": hw.id, "precision": p.label, "tp": tp, "pp": pp, "ep": ep,
        "chips": int(dec.chips), "isl": isl,
        "osl": osl, "tokens_per_s_per_user_required": float(tokens_per_s_per_user),
        "input_per_output_tokens": sc.input_per_output_tokens}
    if not ok.any():
        why = (f"does not fit at batch 1: {dec.fit_reason(0)}" if not bool(dec.fits[0]) else
               f"prefill of {isl} tokens does not fit: {pre.fit_reason()}" if not bool(pre.fits) else
               f"batch 1 reaches only {speed[0]:.1f} tokens/s/user < {tokens_per_s_per_user:g}; "
               f"use more chips (--tp, --pp), a lower precision, or a faster chip")
        return OperatingPoint(**head, feasible=False, reason=why)
    i = int(np.argmax(np.where(ok, est["tokens_per_s"], -np.inf)))
    tps_d, tps_p = float(dec.tokens_per_s[i]), float(pre.tokens_per_s)
    t_d, t_p = osl / tps_d, isl / tps_p
    total, cd, cp, _ = phase_costs(hw, sc, float(dec.power_w_per_chip[i]), float(pre.power_w_per_chip), t_d, t_p,
                                   dec.chips)
    busy = float(total) / sc.utilization_frac
    out = float(ce.usd_per_mtok(dec.chips * cd.effective_usd_per_hour, tps_d))
    inp = float(ce.usd_per_mtok(dec.chips * cp.effective_usd_per_hour, tps_p))
    fac_w = ce.facility_power_w(dec.power_w[i], dec.chips, host_power_w(hw, sc), sc.pue)
    out_tps = float(est["tokens_per_s"][i])                # = osl / (t_d + t_p)
    return OperatingPoint(
        **head, feasible=True, reason="", batch=int(est["batch"][i]), tokens_per_s_per_user=float(speed[i]),
        tokens_per_s=tps_d, prefill_tokens_per_s=tps_p, output_tokens_per_s=out_tps,
        power_w=float(dec.power_w[i]), prefill_power_w=float(pre.power_w),
        usd_per_hour=busy, total_usd_per_hour=float(total), usd_per_mtok_output=out, usd_per_mtok_input=inp,
        usd_per_mtok_blended=float(ce.blended_usd_per_mtok(inp, out, sc.input_per_output_tokens)),
        usd_per_mtok_all_in=float(ce.usd_per_mtok(busy, out_tps)), j_per_token=float(dec.energy_j_per_token[i]),
        j_per_token_facility=float(ce.j_per_token(fac_w, tps_d)),
        tokens_per_s_per_mw=float(ce.tokens_per_s_per_mw(tps_d, fac_w)))

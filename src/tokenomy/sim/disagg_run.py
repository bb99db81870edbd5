"""``tokenomy.simulate`` for a disaggregated deployment: the two pools and the link from names, checked, then run
by ``sim/disagg.py``.

Each pool is its own deployment (chip, tp/pp/ep, replicas) with its own step model from the one adapter
(``sim/steps.py``); ``dp_attention`` and the engine and precision apply to both, speculative decoding to the decode
pool only. The link (``core/disagg.link_for``): ``kv_link='auto'`` takes the scale-up fabric when both pools run the
same chip and all their chips fit in one scale-up domain, else the scale-out NICs; 'scale-up' / 'scale-out' pin it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import SpecError, TokenomyError
from ..spec import args
from ..spec.sim import MAX_REPLICAS

KV_LINKS = ("auto", "scale-up", "scale-out")
POOL_KEYS = ("prefill_hardware", "decode_hardware", "prefill_tp", "decode_tp", "prefill_pp", "decode_pp",
             "prefill_ep", "decode_ep", "prefill_replicas", "decode_replicas", "kv_link")


def _pool_error(pool: str, what: str, e: TokenomyError) -> TokenomyError:
    try:
        return type(e)(f"{pool} pool ({what}): {e}")
    except TypeError:          # an error class with another signature: keep it as it is
        return e


def run_disagg(model, hardware, pools: dict[str, Any], *, engine, precision, tp: int, pp: int, ep: int, dp: int,
               replicas: int, router: str, spec, work: Callable[..., Any], duration_s: float | None, prefix, slo,
               event_log: bool, progress, force: bool, check_steps: bool, fixed_workload: bool, scenario=None):
    """The disaggregated run of ``tokenomy.simulate`` (its arguments, already checked, plus ``pools``: the
    prefill_*/decode_* keywords and kv_link; ``scenario``: the Scenario pricing both pools)."""
    from ..api import resolve
    from ..core.disagg import can_share_scaleup, kv_bytes_per_request, kv_paths, link_for
    from .disagg import simulate_disagg
    from .run import Simulation, _checked, _in_context, _step_model
    from .scheduler import policy_for

    if replicas != 1:
        raise SpecError("replicas applies to one pool; give prefill_replicas and decode_replicas (CLI "
                        "--prefill-replicas/--decode-replicas) for a disaggregated run.")
    if check_steps:
        raise SpecError("check_steps (--check-steps) measures one pool's step table; run it on each chip without the "
                        "disaggregation flags.")
    kv_link = args.choice("kv_link", pools.get("kv_link") or "auto", KV_LINKS)
    deploy = {}
    for pool, par in (("prefill", {"tp": tp, "pp": pp, "ep": ep}), ("decode", {"tp": tp, "pp": pp, "ep": ep})):
        hw = pools.get(f"{pool}_hardware") or hardware
        if hw is None:
            raise SpecError(f"a disaggregated run needs {pool}_hardware (CLI --{pool}-hardware), or hardware for "
                            "both pools.")
        got = {k: args.positive_int(f"{pool}_{k}", pools[f"{pool}_{k}"]) if pools.get(f"{pool}_{k}") is not None
               else v for k, v in par.items()}
        n = pools.get(f"{pool}_replicas")
        got["replicas"] = 1 if n is None else args.positive_int(f"{pool}_replicas", n, maximum=MAX_REPLICAS)
        m, h, e, p = resolve(model, hw, engine, precision)
        args.tp_in_domain(got["tp"], h.scaleup_domain, h.id)
        got["dp"] = args.dp_attention(dp, got["tp"])
        deploy[pool] = (m, h, e, p, got)

    def step_of(pool: str, longest: int):
        m, h, e, p, g = deploy[pool]
        what = f"{h.id} tp={g['tp']} pp={g['pp']} ep={g['ep']}"
        try:
            return _step_model(m, h, e, p, tp=g["tp"], pp=g["pp"], ep=g["ep"], dp=g["dp"],
                               spec=spec if pool == "decode" else None, max_context=longest, scenario=scenario)
        except TokenomyError as err:
            raise _pool_error(pool, what, err) from None

    m = deploy["prefill"][0]
    wl = work()
    longest = _in_context(wl, m, force)
    step_p, step_d = step_of("prefill", int(wl.input_tokens.max()) + 1), step_of("decode", longest)
    if wl.kind == "closed" and duration_s is not None and not fixed_workload:
        wl = work(float(step_d.tokens_per_step / step_d.step_s(1, 1, 0, 0)))   # a client's fastest pace (run.py)
        if _in_context(wl, m, force) > longest:
            longest = _in_context(wl, m, force)
            step_p, step_d = step_of("prefill", int(wl.input_tokens.max()) + 1), step_of("decode", longest)
    (_, hp, e_p, prec_p, gp), (_, hd, ed, _, gd) = deploy["prefill"], deploy["decode"]
    chips = gp["replicas"] * step_p.chips + gd["replicas"] * step_d.chips
    same = {"auto": can_share_scaleup(hp, hd, chips), "scale-up": True, "scale-out": False}[kv_link]
    try:
        link = link_for(hp, hd, same_scaleup_domain=same, chips=chips)
    except SpecError as err:      # name the simulator's flag, not the core's keyword
        raise SpecError(f"{str(err).rsplit('; use', 1)[0]}; use kv_link='scale-out' (CLI --kv-link "
                        "scale-out).") from None
    kv = kv_bytes_per_request(m, prec_p, wl.input_tokens, engine=e_p)     # the sender's cache format
    paths = kv_paths(m, gp["tp"], gd["tp"], prefill_pp=gp["pp"], decode_pp=gd["pp"], prefill_dp_attention=gp["dp"],
                     decode_dp_attention=gd["dp"])
    res = simulate_disagg(wl, step_p, step_d, link=link, kv_bytes=kv, layers=int(m.n_layers), paths=paths,
                          prefill_policy=policy_for(e_p, step_p), decode_policy=policy_for(ed, step_d),
                          prefill_replicas=gp["replicas"], decode_replicas=gd["replicas"], router=router,
                          prefix=prefix, slo=slo, duration_s=duration_s, event_log=event_log, progress=progress,
                          request_overhead_s=ed.for_vendor(hd.vendor).request_overhead_s)
    deployment = (f"prefill {gp['replicas']} x {step_p.description}; decode {gd['replicas']} x "
                  f"{step_d.description}; KV over {link.label}, router {router}")
    summary = _checked(dict(res.summary), f"{deployment}; {wl.description}")
    summary["kv_link"] = link.label
    summary["kv_bytes"] = float(kv.mean())     # mean over the requests
    what = wl.description
    if wl.kind == "closed" and duration_s is not None:
        what = f"{what.rpartition(';')[0]}; {len(res.requests)} requests issued in {duration_s:g} s " \
               f"(of {len(wl)} drawn)"
    return Simulation(summary=summary, requests=res.requests, timeline=res.timeline, deployment=deployment,
                      workload=what, replicas=gp["replicas"] + gd["replicas"], events=res.events)

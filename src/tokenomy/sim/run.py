"""``tokenomy.simulate``: one serving simulation from names and the CLI's mini-languages, as a typed result.

    simulate(model, hardware, workload='poisson:rate=4,isl=1000,osl=200', replicas=2, slo='ttft=1,tpot=50ms')

Every argument is checked by the shared rules of ``spec/args.py`` (the same messages as ``api.predict``);
the workload, prefix cache and SLO texts by ``spec/sim.py`` and ``sim/workload.py``. Step times come from
the one adapter to the core (``sim/steps.py``), the scheduler from the engine profile
(``sim/scheduler.policy_for``) and the run from ``sim/kernel.simulate_requests``. pandas and the kernel are
imported when a simulation runs, so ``import tokenomy`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..spec import args
from ..spec.sim import MAX_DURATION_S, MAX_REPLICAS, ROUTERS

if TYPE_CHECKING:
    import pandas as pd

    from .steps import StepModel
    from .workload import Workload

LATENCY_KEYS = tuple(f"{n}_{k}_s" for n in ("ttft", "tpot", "itl", "e2e") for k in ("mean", "p50", "p90", "p99"))
SCALAR_KEYS = ("fleet_tokens_per_s", "fleet_input_tokens_per_s", "requests_per_s", "goodput_requests_per_s",
               "slo_attainment", "preemptions", "mean_batch", "kv_peak_frac", "fleet_power_w", "j_per_token_chip",
               "usd_per_mtok_all_in", "requests", "simulated_s", "wall_s")
SUMMARY_KEYS = LATENCY_KEYS + SCALAR_KEYS     # every run's row carries these (glossary names), in this order


@dataclass(frozen=True)
class Simulation:
    """The result of ``simulate``: the summary (one flat row of glossary keys: ``ttft_p99_s``,
    ``fleet_tokens_per_s``, ``usd_per_mtok_all_in``, ...), one row per request, the occupancy timeline, and
    one-line descriptions of the deployment and the workload.

    ``step_error``: relative error of the step-time table vs direct core calls (``sim.steps.step_model_error``;
    None unless ``check_steps=True``). ``events``: the kernel's event log when ``event_log=True``.
    """

    summary: dict[str, Any]
    requests: pd.DataFrame
    timeline: pd.DataFrame
    deployment: str
    workload: str
    replicas: int
    step_error: dict[str, float] | None = None
    events: list[tuple] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The run as one flat row: the summary keys in SUMMARY_KEYS' order (then a two-pool run's own keys),
        ``deployment`` and ``workload``: what ``tokenomy simulate --json`` prints as its row."""
        out: dict[str, Any] = {k: self.summary[k] for k in SUMMARY_KEYS if k in self.summary}
        out.update({k: v for k, v in self.summary.items() if k not in out})
        out["deployment"] = self.deployment
        out["workload"] = self.workload
        return out

    def to_pandas(self) -> pd.DataFrame:
        """The run's row (``to_dict``) as a one-row DataFrame; the per-request table is ``requests``."""
        import pandas as pd

        return pd.DataFrame([self.to_dict()])


def simulate(model, hardware=None, *, workload: str | Workload, engine=None, precision=None, tp: int = 1, pp: int = 1,
             ep: int = 1, dp_attention: int = 1, replicas: int = 1, router: str = "round-robin", spec=None,
             requests: int | None = None, duration_s: float | None = None, prefix_cache=None, slo=None,
             seed: int = 0, event_log: bool = False, progress: Callable[[int, int], None] | None = None,
             force: bool = False, check_steps: bool = False, base_dir: str | Path | None = None,
             prefill_hardware=None, decode_hardware=None, prefill_tp: int | None = None, decode_tp: int | None = None,
             prefill_pp: int | None = None, decode_pp: int | None = None, prefill_ep: int | None = None,
             decode_ep: int | None = None, prefill_replicas: int | None = None, decode_replicas: int | None = None,
             kv_link: str | None = None, scenario=None, **overrides: Any) -> Simulation:
    """Simulate serving ``workload`` on ``replicas`` copies of one deployment of ``model`` on ``hardware``.

    ``model``, ``hardware``, ``engine``, ``precision``, ``spec``, ``tp``/``pp``/``ep``/``dp_attention``: as
    ``api.predict``. ``workload``: the text of ``sim/workload.py`` ('poisson:rate=R,isl=DIST,osl=DIST', 'gamma:..',
    'closed:conc=N,..', 'trace:FILE.csv[,speedup=S]') or a ``Workload``; ``requests`` or ``duration_s`` (not both)
    bound it. ``prefix_cache``: 'hit=F' | 'shared-prefix=TOKENS' (or a PrefixCache); ``slo``: 'ttft=S,tpot=S'
    (or a Slo). ``router``: 'round-robin' or 'least-loaded'. ``force`` allows requests longer than the model's
    context. ``progress(done, total)`` is called as requests finish. ``base_dir``: folder of relative trace paths.

    Disaggregated serving (any ``prefill_*`` / ``decode_*`` / ``kv_link`` given; ``sim/disagg.py``): a prefill pool
    of ``prefill_replicas`` x (``prefill_hardware``, ``prefill_tp``/``pp``/``ep``) and a decode pool likewise, each
    defaulting to ``hardware``/``tp``/``pp``/``ep`` and 1 replica, the KV moved over ``kv_link`` ('auto',
    'scale-up', 'scale-out').

    ``scenario``: the economics behind ``usd_per_mtok_all_in`` (a Scenario, a YAML/TOML path, or None for the
    defaults: owned); ``**overrides`` replace its fields, as in ``tokenomy.predict`` (e.g. mode='rented', pue=1.2).
    """
    import time

    from ..api import resolve, resolve_spec
    from ..spec.sim import PrefixCache, Slo, parse_prefix_cache, parse_slo
    from .workload import Workload

    tp, pp, ep = (args.positive_int(k, v) for k, v in (("tp", tp), ("pp", pp), ("ep", ep)))
    dp = args.dp_attention(dp_attention, tp)
    replicas = args.positive_int("replicas", replicas, maximum=MAX_REPLICAS)
    router = args.choice("router", router, ROUTERS)
    for flag, v in (("event_log", event_log), ("force", force), ("check_steps", check_steps)):
        if not isinstance(v, bool):
            raise SpecError(f"{flag} must be True or False, got {v!r}.")
    if progress is not None and not callable(progress):
        raise SpecError(f"progress must be a function progress(done, total) or None, got {progress!r}.")
    prefix = prefix_cache if isinstance(prefix_cache, PrefixCache) else parse_prefix_cache(prefix_cache)
    slo_ = slo if isinstance(slo, Slo) or slo is None else parse_slo(slo)
    if requests is not None and duration_s is not None:
        raise SpecError("give requests or duration_s (CLI --requests or --duration), not both.")
    if duration_s is not None:
        duration_s = args.number("duration_s", duration_s, minimum=0.0, allow_minimum=False, maximum=MAX_DURATION_S)
    sd, _ = resolve_spec(spec)
    from ..economics.base import get_scenario
    sc = get_scenario(scenario, **overrides)
    pools = {"prefill_hardware": prefill_hardware, "decode_hardware": decode_hardware, "prefill_tp": prefill_tp,
             "decode_tp": decode_tp, "prefill_pp": prefill_pp, "decode_pp": decode_pp, "prefill_ep": prefill_ep,
             "decode_ep": decode_ep, "prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas,
             "kv_link": kv_link}

    def work(client_tokens_per_s: float | None = None) -> Workload:
        if isinstance(workload, Workload):
            if requests is not None:
                raise SpecError("requests applies to a workload text; a Workload object already holds its requests.")
            return workload
        if not isinstance(workload, str):
            raise SpecError(f"workload must be a workload text or a Workload, got {workload!r} "
                            f"({type(workload).__name__}); e.g. 'poisson:rate=4,isl=1000,osl=200'.")
        extra = {} if client_tokens_per_s is None else {"client_tokens_per_s": client_tokens_per_s}
        return _parse(workload, requests=requests, duration_s=duration_s, seed=seed,
                      base_dir=None if base_dir is None else Path(base_dir), **extra)

    if any(v is not None for v in pools.values()):
        from .disagg_run import run_disagg

        return run_disagg(model, hardware, pools, engine=engine, precision=precision, tp=tp, pp=pp, ep=ep, dp=dp,
                          replicas=replicas, router=router, spec=sd, work=work,
                          duration_s=duration_s, prefix=prefix, slo=slo_, event_log=event_log, progress=progress,
                          force=force, check_steps=check_steps, fixed_workload=isinstance(workload, Workload),
                          scenario=sc)
    if hardware is None:
        raise SpecError("hardware is required (CLI --hardware), or prefill_hardware and decode_hardware for a "
                        "disaggregated run.")
    m, h, e, p = resolve(model, hardware, engine, precision)
    args.tp_in_domain(tp, h.scaleup_domain, h.id)
    wl = work()
    longest = _in_context(wl, m, force)
    step = _step_model(m, h, e, p, tp=tp, pp=pp, ep=ep, dp=dp, spec=sd, max_context=longest, scenario=sc)
    if wl.kind == "closed" and duration_s is not None and not isinstance(workload, Workload):
        # the fastest a client can go: one sequence alone, nearly empty cache (1 / batch-1 decode step time)
        client = float(step.tokens_per_step / step.step_s(1, 1, 0, 0))
        wl = work(client)
        longest2 = _in_context(wl, m, force)
        if longest2 > longest:
            step = _step_model(m, h, e, p, tp=tp, pp=pp, ep=ep, dp=dp, spec=sd, max_context=longest2, scenario=sc)
    from .kernel import simulate_requests
    from .scheduler import policy_for

    t0 = time.perf_counter()
    res = simulate_requests(wl, step, policy=policy_for(e, step), replicas=replicas, router=router,  # type: ignore[arg-type]
                            prefix=prefix, slo=slo_, duration_s=duration_s, event_log=event_log, progress=progress,
                            request_overhead_s=e.for_vendor(h.vendor).request_overhead_s)   # the profile that
    # builds the steps: an alias ('serving') carries its own (0), not its vendor engine's
    summary = _checked(dict(res.summary), f"{step.description}; {wl.description}")
    summary.setdefault("wall_s", time.perf_counter() - t0)
    err = None
    if check_steps:
        from .steps import step_model_error
        err = step_model_error(step, m, h, engine=e, precision=p, tp=tp, pp=pp, ep=ep, dp_attention=dp, spec=sd)
    what = wl.description
    if wl.kind == "closed" and duration_s is not None:    # clients stop at duration_s: fewer than generated
        what = f"{what.rpartition(';')[0]}; {len(res.requests)} requests issued in {duration_s:g} s " \
               f"(of {len(wl)} drawn)"
    where = f"{replicas} x " if replicas > 1 else ""
    return Simulation(summary=summary, requests=res.requests, timeline=res.timeline,
                      deployment=f"{where}{step.description}, router {router}" if replicas > 1 else step.description,
                      workload=what, replicas=replicas, step_error=err, events=res.events)


def _in_context(wl: Workload, m, force: bool) -> int:
    """The longest request's input + output tokens, checked against the model's context with its own split."""
    if not len(wl):
        return 1                  # the kernel refuses an empty workload with its own message
    total = wl.input_tokens + wl.output_tokens
    i = int(total.argmax())
    args.request_in_context(float(wl.input_tokens[i]), float(wl.output_tokens[i]), m.max_position_embeddings,
                            m.name, force)
    return int(total[i])


def _checked(summary: dict[str, Any], inputs: str) -> dict[str, Any]:
    """``summary`` with plain floats; UnsupportedError when a number is NaN, infinite or negative (api.check_outputs'
    rule for the simulator), except the cost of a chip with neither a price nor a rent: None (unknown)."""
    from ..errors import UnsupportedError

    out: dict[str, Any] = {}
    for k, v in summary.items():
        if k == "usd_per_mtok_all_in" and isinstance(v, float) and math.isnan(v):
            out[k] = None        # a chip with neither a price nor a rent: the cost is unknown (null), not an error
            continue
        if isinstance(v, (int, float)) and not (math.isfinite(v) and v >= 0):
            raise UnsupportedError(f"The simulation of {inputs} gives {k} = {v}: these inputs are outside what "
                                   "tokenomy models; check the files given or report it.")
        out[k] = _plain(v)
    return out


def _plain(v: Any) -> Any:
    """NumPy scalars as Python numbers (JSON writes those)."""
    import numpy as np

    return v.item() if isinstance(v, np.generic) else v


def _parse(text: str, **kw) -> Workload:
    from .workload import parse_workload
    return parse_workload(text, **kw)


def _step_model(m, h, e, p, *, tp: int, pp: int, ep: int, dp: int, spec, max_context: int,
                scenario=None) -> StepModel:
    from .steps import build_step_model
    return build_step_model(m, h, engine=e, precision=p, tp=tp, pp=pp, ep=ep, dp_attention=dp, spec=spec,
                            max_context=max_context, scenario=scenario)

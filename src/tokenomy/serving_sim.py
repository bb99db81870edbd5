"""The request-level simulator (``sim/``) for the serving rows whose metrics need queueing: ``validate --serving``
predicts TTFT, TPOT, ITL and E2E of these rows by simulating the run's workload request by request on the
row's deployment (built as ``serving_check`` builds it); throughput and power keep the steady-state path.

Rows simulated (``needs_sim``): open- or closed-loop rows that measure TTFT or E2E (blis, inferencex).
Per row:
    deployment   chip, tp / ep / attention DP, precision, spec as serving_check; the row's engine profile for
                 its chip, with the row's max_num_seqs and max_num_batched_tokens when the source gives them
    blis         open loop: Poisson arrivals at each load stage's rate (loaders/serving.BLIS_WORKLOADS),
                 stages back to back, OPEN_REQUESTS requests split across stages in proportion to their rates
                 (equal-length stages); a stage's metrics over the requests that arrived in it, stage -1 over
                 all. ISL/OSL ~ normal(mean, LENGTH_CV * mean) (assumption: the file gives only means), clipped
                 so that input + output <= max_model_len 4096 (README). No prefix-cache hits (assumption: the
                 workloads' prompts are not known to share prefixes).
    inferencex   closed loop: ``conc`` clients start together; ISL/OSL uniform in [0.8 L, L] (README);
                 PROMPTS_PER_CLIENT * conc prompts per run (assumption: the InferenceX benchmark scripts pass
                 --num-prompts conc * 10 to the vLLM/SGLang benchmark client; not in the file), one run with a fixed
                 seed, as measured (its start-up burst is part of what was measured and stays in).
Metrics as the sources define them: blis TTFT / E2E mean and p90 over requests, ITL mean = mean of every
inter-token gap = sum(E2E - TTFT) / sum(output - 1) over the requests; inferencex TTFT median / p99, TPOT
median (per request (E2E - TTFT) / (output - 1)), E2E median, tok_s_per_user = 1 / median TPOT, ITL median
= the median gap between a sequence's steps (its streamed chunks hold ~10 tokens on H200 SGLang: a
definition difference the steady state shares).
StepModels are cached per deployment and max context (one per (model, chip, engine, layout) per file).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import SpecError, TokenomyError
from .loaders.engines import engine_for_chip
from .loaders.hardware import load_hardware
from .spec.engine import EngineProfile
from .spec.serving import ServingRow

QUEUE_METRICS = ("ttft_s", "ttft_p90_s", "ttft_p99_s", "e2e_s", "e2e_p90_s")
OPEN_REQUESTS = 2000       # per open-loop run (all stages; fixed seed)
PROMPTS_PER_CLIENT = 10    # assumption: InferenceX runs conc * 10 prompts per point (labelled above)
LENGTH_CV = 0.25           # assumption: blis ISL/OSL spread (sd / mean); the file gives only means
MAX_MODEL_LEN = 4096       # blis serving default (README)
SEED = 0


def needs_sim(row: ServingRow) -> bool:
    """Whether the row measures a metric that depends on queueing (TTFT, E2E) under a load the simulator
    can replay (open or closed loop, one pool)."""
    return (row.mode in ("open_loop", "closed_loop") and not row.disaggregated
            and any(m in row.metrics for m in QUEUE_METRICS))


def _engine(row: ServingRow, engine: EngineProfile, hw: Any) -> EngineProfile:
    e = engine_for_chip(engine, hw)
    upd = {k: v for k, v in (("max_num_seqs", row.max_batch), ("max_num_batched_tokens", row.max_batched_tokens))
           if v is not None}
    return e.model_copy(update=upd) if upd else e


def _max_len(row: ServingRow) -> int:
    if row.mode == "open_loop":
        return MAX_MODEL_LEN
    return _top(row.isl) + _top(row.osl)


def _top(mean: int) -> int:
    """L of a length drawn uniformly in [0.8 L, L] whose mean the loader gave as round(0.9 L)."""
    return max(1, round(mean / 0.9))


def step_model(row: ServingRow, model: Any, engine: EngineProfile, layout: tuple[int, int, int], spec: str | None,
               cache: dict[tuple, Any]) -> tuple[Any, EngineProfile]:
    """(StepModel of the row's replica, its engine profile), cached per deployment (project errors such as
    NothingFitsError pass through); SpecError when the row's longest request does not fit its KV cache."""
    from .sim.steps import build_step_model

    hw = load_hardware(row.chip or "")
    e = _engine(row, engine, hw)
    tp, ep, dp = layout
    key = (id(model), hw.id, e.model_dump_json(), row.precision, tp, row.pp, ep, dp, spec)
    if key not in cache:
        cache[key] = (build_step_model(model, hw, engine=e, precision=row.precision or None, tp=tp, pp=row.pp,
                                       ep=ep, dp_attention=dp, spec=spec), e)
    step = cache[key][0]
    if step.kv_capacity_tokens < _max_len(row):
        raise SpecError(f"KV cache holds {step.kv_capacity_tokens} tokens, a request needs {_max_len(row)}")
    return cache[key]


def _lengths(rng: np.random.Generator, isl: int, osl: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.clip(np.rint(rng.normal(isl, LENGTH_CV * isl, n)), 1, MAX_MODEL_LEN - 1).astype(np.int64)
    o = np.clip(np.rint(rng.normal(osl, LENGTH_CV * osl, n)), 1, None).astype(np.int64)
    return i, np.minimum(o, MAX_MODEL_LEN - i)


def open_workload(row: ServingRow) -> tuple[Any, np.ndarray]:
    """(Workload of every stage back to back, stage index of each request)."""
    from .sim.workload import Workload

    rates = row.stage_rates or (row.request_rate or 1.0,)
    rng = np.random.default_rng(SEED)
    counts = [max(1, round(OPEN_REQUESTS * r / sum(rates))) for r in rates]
    arrivals, t0 = [], 0.0
    for r, n in zip(rates, counts, strict=True):
        a = t0 + np.cumsum(rng.exponential(1.0 / r, n))
        arrivals.append(a)
        t0 = max(t0 + n / r, float(a[-1]))    # equal-length stages: each lasts about its count / rate
    isl, osl = _lengths(rng, row.isl, row.osl, sum(counts))
    stage = np.repeat(np.arange(len(rates)), counts)
    desc = (f"poisson stages {'/'.join(f'{r:g}' for r in rates)} req/s, isl normal:{row.isl}:{LENGTH_CV * row.isl:g}, "
            f"osl normal:{row.osl}:{LENGTH_CV * row.osl:g}; {sum(counts)} requests")
    return Workload("open", np.concatenate(arrivals), isl, osl, None, desc), stage


def closed_text(row: ServingRow) -> str:
    li, lo = _top(row.isl), _top(row.osl)
    return f"closed:conc={row.concurrency},isl=uniform:{round(0.8 * li)}:{li},osl=uniform:{round(0.8 * lo)}:{lo}"


def _frame(res: Any) -> Any:
    return res.requests.sort_values("request_id")


def simulate_row(row: ServingRow, step: Any, engine: EngineProfile,
                 runs: dict[tuple, Any] | None = None) -> dict[str, float]:
    """The row's latency metrics from the simulator (module docstring). ``runs`` caches open-loop runs: the
    stages of one run are rows of their own, simulated once."""
    from .sim.kernel import simulate_requests
    from .sim.scheduler import policy_for
    from .sim.workload import parse_workload

    policy = policy_for(engine, step)
    kw: dict[str, Any] = {"policy": policy, "request_overhead_s": engine.request_overhead_s}
    if row.mode == "open_loop":
        key = (id(step), row.stage_rates, row.request_rate, row.isl, row.osl)
        if runs is None or key not in runs:
            wl, stage = open_workload(row)
            done = (_frame(simulate_requests(wl, step, **kw)), stage)
            if runs is not None:
                runs[key] = done
        req, stage = runs[key] if runs is not None else done  # type: ignore[possibly-undefined]
        if row.stage is not None and row.stage >= 0:
            req = req[stage[req["request_id"].to_numpy()] == row.stage]
    else:
        # one run of the prompts the source ran (p99 over one run, as measured)
        wl = parse_workload(closed_text(row), requests=PROMPTS_PER_CLIENT * (row.concurrency or 1), seed=SEED)
        req = _frame(simulate_requests(wl, step, **kw))
    return _metrics(req, row)


def _metrics(req: Any, row: ServingRow) -> dict[str, float]:
    ttft, e2e = req["ttft_s"].to_numpy(), req["e2e_s"].to_numpy()
    out_tok = req["output_tokens"].to_numpy()
    multi = out_tok > 1
    tpot = req["tpot_s"].to_numpy()[multi]          # (E2E - TTFT) / (output - 1), from the simulator
    if row.stat == "mean":
        itl = float(np.sum(e2e[multi] - ttft[multi]) / np.sum(out_tok[multi] - 1))
        out = {"ttft_s": float(ttft.mean()), "ttft_p90_s": float(np.percentile(ttft, 90)),
               "ttft_p99_s": float(np.percentile(ttft, 99)), "e2e_s": float(e2e.mean()),
               "e2e_p90_s": float(np.percentile(e2e, 90)), "itl_s": itl, "tpot_s": float(tpot.mean())}
    else:
        med = float(np.median(tpot))
        out = {"ttft_s": float(np.median(ttft)), "ttft_p90_s": float(np.percentile(ttft, 90)),
               "ttft_p99_s": float(np.percentile(ttft, 99)), "e2e_s": float(np.median(e2e)),
               "e2e_p90_s": float(np.percentile(e2e, 90)), "tpot_s": med, "tok_s_per_user": 1.0 / med}
    return {k: v for k, v in out.items() if math.isfinite(v) and v > 0}


def predict_sim(row: ServingRow, model: Any, engine: EngineProfile, layout: tuple[int, int, int],
                spec: str | None, cache: dict[tuple, Any]) -> dict[str, float] | str:
    """The row's simulated latency metrics, or why the simulator cannot run it."""
    try:
        step, e = step_model(row, model, engine, layout, spec, cache)
        with np.errstate(all="ignore"):
            return simulate_row(row, step, e, cache.setdefault(("runs",), {}))
    except TokenomyError as err:
        return f"simulator refused the deployment: {str(err).split('. ')[0][:100]}"

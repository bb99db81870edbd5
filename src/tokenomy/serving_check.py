"""Predicted versus measured for every row of a serving CSV (``loaders/serving.py``), on the steady-state
serving model of ``core/serving.py`` (the frontier's), each row at its own deployment.

Per row, one decode prediction over micro-batches b = 1..B at context isl + osl/2 and one prefill of isl
tokens (``api.predict``), combined by ``serving_estimate`` (prefill interleaved with decode). The batch:
    closed_loop     b = concurrency / pp, capped at the largest batch whose KV cache fits (the engine
                    queues the rest)
    max_throughput  the b of highest output tokens/s that fits (b <= the engine's max_num_seqs, MAX_BATCH)
    open_loop       Little's law: the smallest b with b >= rate * E2E(b), E2E = TTFT + osl * TPOT, within
                    the engine's max_num_seqs; past saturation, the largest b that fits
Metrics (spec/serving.py): itl_s is one decode step (L_d) when the source gives medians (most steps carry no
prefill) and TPOT (prefill stalls averaged in) when it gives means; e2e_s = TTFT + osl * TPOT.
Rows with spec_method 'mtp' (InferenceX DeepSeek-R1) are predicted with ``mtp`` speculative decoding at the
documented default (core/speculative.py: K = 1, acceptance 0.85; the files give no K), per emitted token.
A row the model cannot express (unknown chip or model, other speculative methods, a deployment the core
refuses) stays in the output with ``skipped`` saying why.
Disaggregated rows (InferenceX Dynamo: prefill and decode pools, ``row.prefill``/``row.decode``) are predicted
at their own pool sizes by core/disagg_serving.py with the profile of their workers' engine (dynamo-sglang:
sglang, dynamo-trt: trtllm), their checks labelled source '<source> disagg <framework>' (disagg_source) so
they are reported apart; per-GPU throughput over the row's own basis (``output_gpus``: the decode pool for
InferenceX multinode rows). Nothing is fitted on them (``expressible`` leaves them out of the serving fit):
they are held out for every profile. No request-level simulation for them (serving_sim.py is one pool).
Attention data-parallel rows (``_parallel``): InferenceX ``dp_attention`` (tp = D chips, experts ep-wide) and
ML.ENERGY tp=1, ep=N on N GPUs (vLLM's N attention replicas over N-way expert parallelism) are one replica of
chips / pp chips per stage, D attention groups (core/graph.py); the row's concurrency is the replica's.

    ratio = predicted / measured,   MAPE = mean |ratio - 1|,   p90 = 90th percentile of |ratio - 1|
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import api
from .core.disagg_serving import PoolSpec, disagg_estimate
from .core.predict import Prediction
from .core.serving import chunked_prefill, serving_estimate
from .core.speculative import per_token
from .errors import CatalogError, SpecError, TokenomyError
from .loaders.engines import engine_for_chip, load_engine
from .loaders.hardware import load_hardware
from .loaders.models import load_model
from .loaders.serving import read_serving
from .serving_sim import needs_sim, predict_sim
from .spec.engine import EngineProfile
from .spec.serving import METRICS, Pool, ServingRow

SPEC_METHODS = {"mtp": "mtp"}   # a row's spec_method -> tokenomy spec (core/speculative.py defaults: K=1, a=0.85)
MAX_BATCH = 4096          # highest micro-batch a max-throughput row may reach (the frontier's largest)


@dataclass(frozen=True)
class Check:
    """One (data row, metric): measured, predicted (None when skipped) and why it was skipped."""

    file_row: int
    metric: str
    measured: float
    predicted: float | None
    skipped: str | None
    source: str
    chip: str

    def to_dict(self) -> dict[str, Any]:
        return {"file_row": self.file_row, "metric": self.metric, "measured": self.measured,
                "predicted": self.predicted, "skipped": self.skipped}


@dataclass(frozen=True)
class ServingValidation:
    path: str
    source: str
    engine: str
    data_rows: int
    checks: tuple[Check, ...]
    seconds: float

    def groups(self) -> list[dict[str, Any]]:
        """Per source x chip x metric: count, median predicted/measured, MAPE, p90 |error| (predicted rows)."""
        keys = sorted({(c.source, c.chip, c.metric) for c in self.checks if c.predicted is not None},
                      key=lambda k: (k[0], k[1], list(METRICS).index(k[2])))
        out = []
        for src, chip, metric in keys:
            r = np.array([c.predicted / c.measured for c in self.checks if (c.source, c.chip, c.metric)
                          == (src, chip, metric) and c.predicted is not None])
            err = np.abs(r - 1.0)
            out.append({"source": src, "chip": chip, "metric": metric, "count": int(r.size),
                        "median_ratio": float(np.median(r)), "mape": float(err.mean()),
                        "p90_abs_error": float(np.percentile(err, 90))})
        return out

    def skipped_rows(self) -> dict[str, int]:
        """Data rows skipped (no metric predicted), per reason (each row counted once)."""
        predicted = {c.file_row for c in self.checks if c.skipped is None}
        seen = {c.file_row: c.skipped for c in self.checks if c.skipped and c.file_row not in predicted}
        return dict(Counter(seen.values()).most_common())

    def summary(self) -> dict[str, Any]:
        n_pred = len({c.file_row for c in self.checks if c.skipped is None})
        return {"file": self.path, "source": self.source, "engine": self.engine, "data_rows": self.data_rows,
                "rows_predicted": n_pred, "rows_skipped": sum(self.skipped_rows().values()),
                "skipped_by_reason": self.skipped_rows(), "groups": self.groups(), "seconds": self.seconds}

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [c.to_dict() for c in self.checks], "summary": self.summary()}


@contextmanager
def hub_offline():
    """Model names the catalog does not know are not fetched from the Hugging Face hub while validating
    (a name it cannot serve would retry for ~30 s each); a config already in the local hub cache still loads."""
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def _model(name: str, cache: dict[str, Any]) -> Any:
    """The ModelSpec for ``name``, or the skip reason (a str)."""
    if name not in cache:
        try:
            cache[name] = load_model(name)
        except CatalogError:
            cache[name] = f"model not in the catalog: {name}"
        except TokenomyError as e:
            cache[name] = f"model not expressible: {name} ({str(e).split('. ')[0][:80]})"
    return cache[name]


def _deployment_reason(row: ServingRow) -> str | None:
    if row.chip is None:
        return f"chip not in the catalog: {row.chip_name}"
    if row.spec_method and row.spec_method not in SPEC_METHODS:
        return f"speculative decoding ({row.spec_method}) not modelled yet"
    if row.disaggregated:
        return None if row.pp == 1 else "disaggregated pools with pipeline parallelism not modelled"
    if row.dp_attention > 1:
        return None if _parallel(row) else "attention data-parallel layout not recognised"
    if row.tp * row.pp * row.dp_attention != row.chips:
        return "deployment chips differ from tp x pp x dp"
    return None


def _parallel(row: ServingRow) -> tuple[int, int, int] | None:
    """(tp, ep, dp_attention) of the row's replica in the core's terms (module docstring), None when unclear."""
    d = row.dp_attention
    if d == 1:
        return row.tp, row.ep, 1
    if row.tp * row.pp == row.chips and row.tp % d == 0:          # InferenceX: attention tp-wide, D = tp groups
        return row.tp, row.ep, d
    if row.tp * d * row.pp == row.chips and row.ep == row.tp * d:  # ML.ENERGY: tp=1, ep=N, N attention replicas
        return row.tp * d, row.ep, d
    return None


def expressible(row: ServingRow, cache: dict[str, Any]) -> bool:
    """Whether the row's deployment and model can be predicted at all (no prediction run; ``cache``: models).
    The serving fit (calibrate/serving_fit.py) uses it; attention data-parallel rows are predicted but left out
    of it until the shipped profiles are refitted with them."""
    return (_deployment_reason(row) is None and row.dp_attention == 1 and not row.disaggregated
            and not isinstance(_model(row.model, cache), str))


def _batches(row: ServingRow, engine: EngineProfile) -> np.ndarray:
    """Micro-batch sizes to evaluate: every b for open-loop rows (Little's law walks them), the target b and a
    log-spaced grid below it for closed-loop rows (the grid finds the largest b that fits when the target does
    not), ~100 log-spaced sizes up to the engine's max_num_seqs for max-throughput rows (the throughput
    curve is flat near its top: steps of 7% move the best point by well under 1%)."""
    cap = min(row.max_batch or engine.max_num_seqs, MAX_BATCH)
    if row.mode == "open_loop":
        return np.arange(1, cap + 1)
    top = max(1, round((row.concurrency or 1) / row.pp)) if row.mode == "closed_loop" else cap
    n = 24 if row.mode == "closed_loop" else 100
    return np.unique(np.concatenate([np.round(np.geomspace(1, top, n)), [top]])).astype(int)


def _batch_index(row: ServingRow, est: dict[str, np.ndarray], fits: np.ndarray, batches: np.ndarray) -> int:
    """Index into ``batches`` of the row's operating point (module docstring)."""
    ok = np.flatnonzero(fits)
    top = int(ok.max())
    if row.mode == "max_throughput":
        return int(ok[np.argmax(est["tokens_per_s"][ok])])
    if row.mode == "closed_loop":
        return top
    b = batches[: top + 1].astype(float)
    e2e = est["ttft_s"][: top + 1] + row.osl * est["tpot_s"][: top + 1]
    hit = np.flatnonzero(b >= (row.request_rate or 0.0) * e2e)
    return int(hit[0]) if hit.size else top


def _predict(row: ServingRow, model: Any, engine: EngineProfile,
             steps: dict[tuple, Any] | None = None) -> dict[str, float] | str:
    """Predicted metrics of ``row``, or the reason it cannot be predicted. ``steps`` (a StepModel cache): rows
    whose metrics need queueing take TTFT, TPOT, ITL and E2E from the request-level simulator (serving_sim.py)."""
    hw = load_hardware(row.chip or "")
    engine = engine_for_chip(engine, hw)
    batches = _batches(row, engine)
    tp, ep, dp = _parallel(row) or (row.tp, row.ep, 1)
    kw: dict[str, Any] = {"engine": engine, "precision": row.precision or None, "tp": tp, "pp": row.pp,
                          "ep": ep, "dp_attention": dp, "force": True, "spec": SPEC_METHODS.get(row.spec_method)}
    try:
        with np.errstate(all="ignore"):
            dec: Prediction = api.predict(model, hw, phase="decode", batch=batches,
                                          context=row.isl + row.osl // 2, **kw)
            m, _, e, p = api.resolve(model, hw, engine, row.precision or None)
            chunk = chunked_prefill(m, hw, e, p, row.isl, tp=tp, pp=row.pp, ep=ep, dp_attention=dp)   # as the frontier
    except TokenomyError as e:
        return f"deployment refused by the core: {str(e).split('. ')[0][:100]}"
    if not bool(chunk.pred.fits) or not bool(np.asarray(dec.fits)[0]):
        return "does not fit in memory at batch 1"
    dec = per_token(dec)                     # speculative decoding: step times per emitted token
    est = serving_estimate(dec, float(chunk.stage_s), float(chunk.latency_s), float(chunk.power_w), isl=row.isl,
                           osl=row.osl, usd_per_hour=0.0, request_overhead_s=engine.request_overhead_s,
                           prefill_latency_one_s=float(chunk.latency_one_s), prefill_requests=float(chunk.requests))
    k = _batch_index(row, est, np.asarray(dec.fits, dtype=bool), batches)
    chips = float(dec.chips)
    tpot = float(est["tpot_s"][k])
    out = {"output_tok_s_per_gpu": float(est["tokens_per_s"][k]) / chips,
           "tok_s_per_user": float(est["tokens_per_s_per_user"][k]), "tpot_s": tpot,
           "itl_s": float(np.asarray(dec.latency_s)[k]) if row.stat == "median" else tpot,
           "ttft_s": float(est["ttft_s"][k]), "e2e_s": float(est["ttft_s"][k]) + row.osl * tpot,
           "power_w_per_gpu": float(est["power_w"][k]) / chips, "j_per_token": float(est["j_per_token"][k])}
    out = {m: v for m, v in out.items() if np.isfinite(v) and v > 0}
    if steps is not None and needs_sim(row):
        sim = predict_sim(row, model, engine, (tp, ep, dp), SPEC_METHODS.get(row.spec_method), steps)
        if isinstance(sim, str):
            return sim
        out.update(sim)
    return out


def _predict_disagg(row: ServingRow, model: Any, engine: EngineProfile) -> dict[str, float] | str:
    """Predicted metrics of a disaggregated ``row`` (core/disagg_serving.py), or the reason it cannot be."""
    hw = load_hardware(row.chip or "")
    engine = engine_for_chip(engine, hw)
    assert row.prefill is not None and row.decode is not None
    try:
        m, _, e, p = api.resolve(model, hw, engine, row.precision or None)
        sd, draft = api.resolve_spec(SPEC_METHODS.get(row.spec_method))

        def pool(q: Pool) -> PoolSpec:
            return PoolSpec(hardware=hw, engine=e, precision=p, tp=q.tp, ep=q.ep,
                            dp_attention=q.tp if q.dp_attention else 1, workers=q.workers)
        with np.errstate(all="ignore"):
            est = disagg_estimate(m, pool(row.prefill), pool(row.decode), isl=row.isl, osl=row.osl, spec=sd,
                                  draft=draft, conc=row.concurrency or 1)
    except TokenomyError as err:
        return f"deployment refused by the core: {str(err).split('. ')[0][:100]}"
    tpot, ttft = float(est.tpot_s), float(est.ttft_s)
    chips = est.prefill_chips + est.decode_chips
    out = {"output_tok_s_per_gpu": float(est.tokens_per_s) / (row.output_gpus or row.chips),
           "tok_s_per_user": float(est.tokens_per_s_per_user), "tpot_s": tpot, "ttft_s": ttft,
           "itl_s": tpot * (sd.tokens_per_step if sd is not None else 1.0),     # one decode step, as aggregated
           "e2e_s": ttft + row.osl * tpot, "power_w_per_gpu": float(est.power_w) / chips,
           "j_per_token": float(est.j_per_token)}
    return {k: v for k, v in out.items() if np.isfinite(v) and v > 0}


def disagg_source(row: ServingRow) -> str:
    """The source label of a disaggregated row's checks: reported apart, by framework ('inferencex disagg
    dynamo-sglang')."""
    return f"{row.source} disagg {row.runtime + '-' if row.runtime else ''}{row.engine}"


def check_rows(rows: list[ServingRow], engine: EngineProfile, *, simulate: bool = False) -> list[Check]:
    """One Check per (row, measured metric), every row present. ``simulate``: latency metrics of the rows that
    need queueing from the request-level simulator (serving_sim.py); else every metric from the steady state."""
    models: dict[str, Any] = {}
    steps: dict[tuple, Any] | None = {} if simulate else None
    checks = []
    with hub_offline():
        for row in rows:
            reason = _deployment_reason(row)
            model = None
            if reason is None:
                model = _model(row.model, models)
                reason = model if isinstance(model, str) else None
            if reason is not None:
                pred: dict[str, float] | str = reason
            elif row.disaggregated:
                pred = _predict_disagg(row, model, engine)
            else:
                pred = _predict(row, model, engine, steps)
            source = disagg_source(row) if row.disaggregated else row.source
            for metric, measured in row.metrics.items():
                p = None if isinstance(pred, str) else pred.get(metric)
                why = pred if isinstance(pred, str) else (None if p is not None else "not predicted for this row")
                checks.append(Check(row.file_row, metric, measured, p, why, source, row.chip or row.chip_name))
    return checks


def row_engines(rows: list[ServingRow], holdout_chip: str | None = None,
                fit_dir: str | Path | None = None) -> dict[str, EngineProfile]:
    """The profile of each engine the rows name: the shipped one, or (``holdout_chip``) the same fit rerun on
    the four serving files in ``fit_dir`` (default: the repository's copy) without that chip's rows
    (calibrate/serving_fit.py)."""
    if holdout_chip is None:
        return {e: load_engine(e) for e in sorted({r.engine for r in rows})}
    from .calibrate.serving_fit import fit_all, read_all
    return fit_all(read_all(fit_dir), holdout_chip=load_hardware(holdout_chip).id)


def validate_serving(path: str | Path, profile: str | Path | EngineProfile | None = None, *,
                     holdout_chip: str | None = None, fit_dir: str | Path | None = None,
                     simulate: bool = True) -> ServingValidation:
    """Every row of the serving CSV at ``path``, each with the profile of its own engine (``profile`` given: that
    one for every row). ``holdout_chip``: the engine terms refitted without that chip, only its rows predicted.
    ``simulate``: rows that need queueing through the request-level simulator (``False``: steady state only)."""
    t0 = time.perf_counter()
    if profile is not None and holdout_chip is not None:
        raise SpecError("holdout_chip (--holdout-chip) refits each row's engine; it does not take a profile.")
    source, rows = read_serving(path)
    if profile is not None:
        engine = profile if isinstance(profile, EngineProfile) else load_engine(str(profile))
        checks, name = check_rows(rows, engine, simulate=simulate), engine.name
    else:
        if holdout_chip is not None:
            rows = [r for r in rows if r.chip == load_hardware(holdout_chip).id]
        from .calibrate.serving_fit import has_all
        if fit_dir is None and has_all(Path(path).parent):
            fit_dir = Path(path).parent          # the file sits beside the other shared files: fit on them
        if holdout_chip is not None and fit_dir is None:
            raise SpecError(f"--holdout-chip refits on the four public serving benchmark files (TensorRT-LLM perf "
                            f"overview, InferenceX, ML.ENERGY v3, BLIS vLLM); {path} is not beside them. Pass a file "
                            "from the folder that holds all four (or fit_dir=).")
        engines = row_engines(rows, holdout_chip, fit_dir)
        checks = sorted((c for e, prof in engines.items() for c in check_rows([r for r in rows if r.engine == e],
                                                                                prof, simulate=simulate)),
                        key=lambda c: c.file_row)
        name = "per row" + (f", refitted without {holdout_chip}" if holdout_chip else "")
    return ServingValidation(path=str(path), source=source, engine=name, data_rows=len(rows),
                             checks=tuple(checks), seconds=round(time.perf_counter() - t0, 3))

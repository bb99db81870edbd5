"""Fit the serving-engine terms on measured serving rows (``shared/data/serving``), with the same stage fitter
as ``tokenomy calibrate`` (calibrate/fit.py ``_fit_stage``: least squares of log(predicted / measured)).

What is fitted, per engine (vllm, sglang, trtllm), on that engine's rows (every chip it was measured on):
    host_per_seq_s            scheduler/sampling CPU time per sequence per step: CPU work, so it carries to
                              every chip unchanged. Only for engines without async scheduling (vllm): with
                              it the host hides under the GPU step on these rows and the data cannot see it
    backends[V].kernel_fixed_s  fixed time per non-GEMM kernel on vendor V's chips (launch gap, prologue,
                              tail inside a CUDA/HIP graph), one per vendor the engine has rows on
    request_overhead_s        per-request latency outside the engine steps (front end, tokenizer/detokenizer
                              processes, streaming): CPU work, one per engine for every chip. Fitted after the
                              terms above (it moves no throughput metric, so the order is exact) on TTFT_METRIC
                              of the engine's simulated rows (serving_sim.py; at most ROWS_PER_GROUP per chip, as
                              below): the median over rows of measured - simulated TTFT at zero overhead, clipped
                              at 0. The median is the least-absolute-deviation estimate of a constant offset: rows
                              whose simulated prefill is itself off (MI300X at ISL 8192, saturated BLIS stages)
                              move it less than they would move a mean (least squares)
Nothing else. The rows are throughput and per-user speed of a handful of deployments per engine x chip, nearly
all fp8 (only vLLM's H100 rows mix bf16 and fp8, 8 fit rows), so no per-format term is separable.
Per-vendor GEMM/attention rates were tried on the 8 MI300X fit rows: a ROCm HBM share fitted with the kernel
time lands at 0.60 and 29 us (same optimum from three starts, fit error 16% -> 12%), but the two Jacobian
columns correlate at 0.97, so only the kernel time is fitted. Chip-level rates stay the
torch-eager kernel fit (datasheet fractions fitted on H100 microbenchmarks).
Metrics fitted: FIT_METRICS. Rows: at most ROWS_PER_GROUP per (engine, chip), evenly spaced in file order,
among the rows the model can predict without speculative decoding (its acceptance rate is an input, not an
engine term); the fit must run in seconds for leave-one-chip-out.

    python -m tokenomy.calibrate.serving_fit [DATA_DIR]   # rewrite catalog/engines/{vllm,sglang,trtllm}.yaml
tests/test_serving_fit.py checks that refitting reproduces the shipped files.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..loaders.engines import engine_from_dict, load_engine
from ..loaders.hardware import load_hardware
from ..loaders.serving import read_serving
from ..serving_check import Check, check_rows, expressible, hub_offline
from ..serving_sim import needs_sim
from ..spec.engine import BackendTerms, EngineProfile
from ..spec.serving import ServingRow
from .fit import _fit_stage, round_profile

FILES = ("trtllm_perf_overview.csv", "inferencex_benchmarks.csv", "mlenergy_v3_llm.csv",
         "blis_vllm_ground_truth.csv")
FITTED_ENGINES = ("vllm", "sglang", "trtllm")
HOLDOUT_CHIPS = ("h100-sxm", "h200-sxm", "mi300x")
FIT_METRICS = ("output_tok_s_per_gpu", "tok_s_per_user")
TTFT_METRIC = "ttft_s"           # request_overhead_s: median (inferencex) or mean (blis) TTFT, simulated
ROWS_PER_GROUP = 8
ITERS = 6
MIN_ROWS = 4                     # a vendor term needs this many rows of its vendor
X0_HOST_US, X0_KERNEL_US = 20.0, 2.0
LO, HI = (0.0, 0.0), (500.0, 50.0)   # microseconds: host per sequence, per kernel
CATALOG = Path(__file__).resolve().parents[1] / "catalog" / "engines"


def data_dir() -> Path:
    """The repository's copy of shared/data/serving (tests/data/serving)."""
    return Path(__file__).resolve().parents[3] / "tests" / "data" / "serving"


def has_all(directory: str | Path) -> bool:
    return all((Path(directory) / f).is_file() for f in FILES)


def read_all(directory: str | Path | None = None) -> list[ServingRow]:
    """Every row of the four shared serving files in ``directory`` (default: ``data_dir()``)."""
    d = Path(directory) if directory else data_dir()
    return [r for f in FILES for r in read_serving(d / f)[1]]


def vendor(row: ServingRow) -> str:
    return load_hardware(row.chip).vendor if row.chip else ""


@dataclass(frozen=True)
class _Point:
    """One (row, metric) of the fit, its prediction under a trial profile (measured when not predicted)."""

    predicted: float
    measured: float

    @property
    def rel_err(self) -> float:
        return self.predicted / self.measured - 1.0


def fit_rows(rows: Sequence[ServingRow], engine: str, base: EngineProfile,
             metrics: Sequence[str] = FIT_METRICS, simulated: bool = False) -> list[ServingRow]:
    """The rows an engine is fitted on: at most ROWS_PER_GROUP per chip, evenly spaced in file order among the
    rows the model can express that measure one of ``metrics`` (``simulated``: rows the simulator replays), less
    those ``base`` cannot predict (too big for the chips)."""
    mine = [r for r in rows if r.engine == engine and (needs_sim(r) or not simulated)]
    models: dict[str, object] = {}
    with hub_offline():
        ok = [r for r in mine if any(m in r.metrics for m in metrics) and not r.spec_method
              and expressible(r, models)]
    out: list[ServingRow] = []
    for chip in sorted({r.chip or "" for r in ok}):
        group = [r for r in ok if r.chip == chip]
        idx = np.unique(np.linspace(0, len(group) - 1, min(ROWS_PER_GROUP, len(group))).round().astype(int))
        out += [group[i] for i in idx]
    good = {(c.source, c.file_row) for c in check_rows(out, base) if c.predicted is not None}
    return [r for r in out if (r.source, r.file_row) in good]


def _points(rows: Sequence[ServingRow], prof: EngineProfile) -> list[_Point]:
    """Prediction of every (row, FIT_METRICS metric), in a fixed order (a metric not predicted reads as measured)."""
    pts = []
    for c in check_rows(list(rows), prof):
        if c.metric in FIT_METRICS:
            pts.append(_Point(c.measured if c.predicted is None else c.predicted, c.measured))
    return pts


def _update(host: bool, vendors: Sequence[str]):
    def update(prof: EngineProfile, x: np.ndarray) -> EngineProfile:
        backends = dict(prof.backends)
        for v, us in zip(vendors, x[int(host):], strict=True):
            backends[v] = (backends.get(v) or BackendTerms()).model_copy(update={"kernel_fixed_s": float(us) * 1e-6})
        top = {"host_per_seq_s": float(x[0]) * 1e-6} if host else {}
        return prof.model_copy(update={**top, "backends": backends})
    return update


def _where(rows: Sequence[ServingRow]) -> str:
    return "; ".join(f"{s} rows {','.join(str(r.file_row) for r in rows if r.source == s)}"
                     for s in sorted({r.source for r in rows}))


def fit_overhead(rows: Sequence[ServingRow], engine: str, prof: EngineProfile) -> tuple[EngineProfile, str]:
    """``prof`` with request_overhead_s fitted (module docstring) and the sentence saying so."""
    fit = fit_rows(rows, engine, prof, (TTFT_METRIC,), simulated=True)
    zero = prof.model_copy(update={"request_overhead_s": 0.0})
    res = [c.measured - c.predicted for c in check_rows(fit, zero, simulate=True)
           if c.metric == TTFT_METRIC and c.predicted is not None]
    if not res:
        return zero, "request_overhead_s: 0 (no simulated row measures TTFT)"
    x = max(float(np.median(res)), 0.0)
    return (zero.model_copy(update={"request_overhead_s": x}),
            f"request_overhead_s fitted on {TTFT_METRIC} of {_where(fit)} (median of measured - simulated TTFT "
            f"at zero overhead over {len(res)} rows, clipped at 0)")


def fit_engine(rows: Sequence[ServingRow], engine: str, base: EngineProfile) -> tuple[EngineProfile, dict]:
    """One kernel_fixed_s per vendor of ``engine``'s rows, and host_per_seq_s when the engine does not overlap
    host and GPU (module docstring); ``base`` unchanged when it has fewer than MIN_ROWS predictable rows."""
    fit = fit_rows(rows, engine, base)
    vendors = sorted(v for v in {vendor(r) for r in fit} if sum(vendor(r) == v for r in fit) >= MIN_ROWS)
    fit = [r for r in fit if vendor(r) in vendors]
    if not vendors:
        return base, {"rows": 0, "fit_mape": float("nan"), "terms": []}
    host = not base.async_scheduling
    terms = ["host_per_seq_s"] * host + [f"backends.{v}.kernel_fixed_s" for v in vendors]
    # with a host term every row sees every term: one stage; without, each vendor's term moves only its own
    # rows, so it is a stage of its own on those rows (same optimum, half the predictions)
    stages = [(host, vendors, fit)] if host else [(False, [v], [r for r in fit if vendor(r) == v]) for v in vendors]
    prof, errs = base, []
    for h, vs, rs in stages:
        prof, err = _fit_stage(lambda e, rs=rs: _points(rs, e), _update(h, vs), prof,
                               [X0_HOST_US] * h + [X0_KERNEL_US] * len(vs), [LO[0]] * h + [LO[1]] * len(vs),
                               [HI[0]] * h + [HI[1]] * len(vs), iters=ITERS)
        errs += [err] * len(rs)
    err = float(np.mean(errs))            # row-weighted mean |error| of the stages
    prof, overhead = fit_overhead(rows, engine, prof)
    prof = prof.model_copy(update={"calibrated_hardware": sorted({r.chip or "" for r in fit}),
                                   "fitted_on": f"{', '.join(terms)} fitted on {', '.join(FIT_METRICS)} of "
                                                f"the public serving benchmarks ({_where(fit)}); {overhead}; "
                                                "gemm, attention, power and elementwise_hbm_frac: the torch-eager "
                                                "kernel fit (H100 microbenchmarks); everything else sourced or assumed "
                                                "(assumptions)"})
    return prof, {"rows": len(fit), "fit_mape": err, "terms": terms,
                  "request_overhead_s": prof.request_overhead_s}


def base_profile(engine: str) -> EngineProfile:
    """The shipped profile of ``engine`` with its fitted terms reset (the fit's starting point)."""
    raw = yaml.safe_load((CATALOG / f"{engine}.yaml").read_text())
    raw.update(host_per_seq_s=X0_HOST_US * 1e-6, request_overhead_s=0.0, fitted_on="", calibrated_hardware=[])
    raw["backends"] = {v: {k: x for k, x in b.items() if k != "kernel_fixed_s"}
                       for v, b in (raw.get("backends") or {}).items()}
    return engine_from_dict(raw, f"{engine}.yaml")


def fit_all(rows: Sequence[ServingRow], *, holdout_chip: str | None = None) -> dict[str, EngineProfile]:
    """Every fitted engine refitted on ``rows`` without ``holdout_chip``'s rows; 'dynamo' runs trtllm's terms.
    An engine with no row on the held-out chip fits the same rows as the shipped profile: that one is used
    (test_serving_fit.py checks that the shipped profiles are this fit)."""
    out = {}
    for e in FITTED_ENGINES:
        if holdout_chip is not None and not any(r.engine == e and r.chip == holdout_chip for r in rows):
            out[e] = load_engine(e)
        else:
            out[e] = fit_engine([r for r in rows if r.chip != holdout_chip], e, base_profile(e))[0]
    out["dynamo"] = out["trtllm"].model_copy(update={"name": "dynamo"})
    return out


def checks_by_engine(rows: Sequence[ServingRow], engines: dict[str, EngineProfile]) -> list[Check]:
    """Every row predicted with the profile of its own engine."""
    out: list[Check] = []
    for e, prof in engines.items():
        out += check_rows([r for r in rows if r.engine == e], prof)
    return out


def leave_one_chip_out(rows: Sequence[ServingRow], chips: Sequence[str] = HOLDOUT_CHIPS) -> list[Check]:
    """Each chip's rows predicted by the engines refitted without that chip (``fit_all``)."""
    out: list[Check] = []
    for chip in chips:
        out += checks_by_engine([r for r in rows if r.chip == chip], fit_all(rows, holdout_chip=chip))
    return out


def profile_yaml(prof: EngineProfile) -> str:
    """The YAML a shipped profile is written as (4 significant digits, unset backend terms left out)."""
    d = round_profile(prof)
    d["backends"] = {v: {k: x for k, x in b.items() if x is not None} for v, b in d["backends"].items()}
    return yaml.safe_dump(d, sort_keys=False)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(argv if argv is not None else sys.argv[1:])
    rows = read_all(argv[0] if argv else None)
    for e in FITTED_ENGINES:
        prof, info = fit_engine(rows, e, base_profile(e))
        (CATALOG / f"{e}.yaml").write_text(profile_yaml(prof))
        print(e, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in info.items()})


if __name__ == "__main__":
    main()

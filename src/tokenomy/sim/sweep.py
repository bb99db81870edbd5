"""Grids of simulations (``tokenomy simulate --sweep FILE.yaml``): local cores by default, a Ray cluster on request.

The sweep file (YAML, JSON or TOML, read by ``loaders/files.py``):

    base:                        # arguments of tokenomy.simulate shared by every scenario
      model: llama-3.1-8b
      workload: poisson:rate={rate},isl=uniform:500:1500,osl=200
      requests: 2000
    grid:                        # lists crossed in full, in the order written (the last key varies fastest)
      hardware: [h100-sxm, b200]
      replicas: [1, 2]
      rate: [2, 4, 8]            # not an argument: a variable, put in place of {rate} in base's text values

Keys of ``base`` and ``grid`` are the keyword arguments of ``simulate`` (``ARGS``); any other grid key is a
variable that some ``{name}`` in a text value of ``base`` must use (and every ``{name}`` must be a grid key).
Without ``grid`` the sweep is the one scenario ``base``. Relative trace paths are relative to the sweep file.

Each scenario is one row: ``scenario_index``, every argument given (text after substitution; ``scenario``
is a scenario file pricing the run), the variables, ``feasible`` and ``reason`` (a scenario whose inputs are
refused or do not fit is a row with ``feasible`` False and the one-line reason, never an error of the sweep),
then the run's row (``Simulation.to_dict``: ``ttft_p99_s``, ``fleet_tokens_per_s``, ``usd_per_mtok_all_in``,
..., ``deployment``, ``workload``), the glossary names of ``tokenomy simulate --json``. Rows keep the grid's order
whatever ran them: ``concurrent.futures.ProcessPoolExecutor`` on ``workers`` local processes, or Ray tasks
(``ray_address`` 'auto' or a cluster address; Ray is imported only then: ``pip install 'tokenomy[ray]'``;
the cluster's nodes need tokenomy installed).
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError, TokenomyError
from ..loaders.files import read_data, require_mapping

if TYPE_CHECKING:
    import pandas as pd

ARGS = ("model", "hardware", "workload", "engine", "precision", "tp", "pp", "ep", "dp_attention", "replicas",
        "router", "spec", "requests", "duration_s", "prefix_cache", "slo", "seed", "force", "scenario")
MAX_SCENARIOS = 1_000_000      # one Parquet row each (~1 KB): a fleet study is thousands; catches a runaway grid
SWEEP_HINT = ("A sweep file has 'base' (arguments of tokenomy.simulate) and 'grid' (lists to cross), e.g. "
              "base: {model: llama-3.1-8b, workload: 'poisson:rate={rate},isl=1000,osl=200'} "
              "grid: {hardware: [h100-sxm, b200], rate: [2, 4]}.")
_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_sweep(path: str | Path) -> list[dict[str, Any]]:
    """The scenarios of the sweep file at ``path`` (module docstring), each {'args': kwargs, 'vars': {..}}."""
    p = Path(path)
    data = require_mapping(read_data(p, SpecError, "sweep file"), str(p), SpecError)
    extra = sorted(set(data) - {"base", "grid"})
    if extra or "base" not in data:
        why = f"unknown top-level key {extra[0]!r}" if extra else "no 'base'"
        raise SpecError(f"{p}: {why}. {SWEEP_HINT}")
    base = require_mapping(data["base"], f"{p}: base", SpecError)
    grid = require_mapping(data.get("grid") or {}, f"{p}: grid", SpecError)
    for k in base:
        if k not in ARGS:
            raise SpecError(f"{p}: base.{k} is not an argument of simulate; use one of {', '.join(ARGS)}.")
    used = {v for x in base.values() if isinstance(x, str) for v in _VAR.findall(x)}
    for k, values in grid.items():
        if k not in ARGS and k not in used:
            raise SpecError(f"{p}: grid.{k} is neither an argument of simulate nor a variable used as {{{k}}} in "
                            f"a text of base. {SWEEP_HINT}")
        if k in base:
            raise SpecError(f"{p}: {k} is in both base and grid; keep it in one.")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{p}: grid.{k} must be a non-empty list, got {values!r}.")
        if any(isinstance(v, (dict, list)) for v in values):
            raise SpecError(f"{p}: grid.{k} must list plain values (text or numbers), got {values!r}.")
    missing = sorted(used - set(grid))
    if missing:
        raise SpecError(f"{p}: base uses {{{missing[0]}}} but grid has no list {missing[0]!r}.")
    total = math.prod(len(v) for v in grid.values())
    if total > MAX_SCENARIOS:
        raise SpecError(f"{p}: the grid crosses to {total:,} scenarios, more than {MAX_SCENARIOS:,}; split it.")
    out = []
    for combo in itertools.product(*grid.values()):
        point = dict(zip(grid, combo, strict=True))
        values = {k: v for k, v in point.items() if k not in ARGS}
        kw = {k: _fill(v, values) for k, v in base.items()}
        kw.update({k: v for k, v in point.items() if k in ARGS})
        out.append({"args": kw, "vars": values})
    return out


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with each {name} replaced by the variable's value (only names: no format mini-language)."""
    if not isinstance(value, str):
        return value
    return _VAR.sub(lambda m: str(values[m.group(1)]), value)


def run_scenario(job: tuple[int, dict[str, Any], str | None]) -> dict[str, Any]:
    """One row of the table (module docstring): ``job`` is (index, scenario, folder of relative paths)."""
    from .run import simulate

    i, sc, base_dir = job
    row: dict[str, Any] = {"scenario_index": i, **{k: _cell(v) for k, v in sc["args"].items()},
                           **{k: _cell(v) for k, v in sc["vars"].items()}}
    kw = dict(sc["args"])
    try:
        model, hardware = kw.pop("model", None), kw.pop("hardware", None)
        if model is None or hardware is None or "workload" not in kw:
            raise SpecError("a scenario needs model, hardware and workload (in base or grid).")
        res = simulate(model, hardware, base_dir=base_dir, **kw)
    except TokenomyError as e:
        return {**row, "feasible": False, "reason": " ".join(str(e).split())}
    except TypeError as e:          # a value of the wrong type reached a keyword (e.g. a list)
        return {**row, "feasible": False, "reason": f"bad argument: {e}"}
    return {**row, "feasible": True, "reason": "", **res.to_dict()}


def _cell(v: Any) -> Any:
    """A grid value as one Parquet cell: numbers and text as they are, anything else as text."""
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def sweep(path: str | Path, *, workers: int | None = None, ray_address: str | None = None,
          on_done: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Run every scenario of the sweep file ``path``: one row each, in the grid's order (module docstring)."""
    import pandas as pd

    scenarios = read_sweep(path)
    base_dir = str(Path(path).resolve().parent)
    jobs = [(i, sc, base_dir) for i, sc in enumerate(scenarios)]
    rows = _local_rows(jobs, workers, on_done) if ray_address is None else _ray_rows(jobs, ray_address, on_done)
    df = pd.DataFrame(rows)
    for c in df.columns:          # a column mixing text and numbers (e.g. spec: [null, mtp]) becomes text
        kinds = {type(v) for v in df[c] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1 and str in kinds:
            df[c] = [None if v is None else str(v) for v in df[c]]
    return df


def _local_rows(jobs: list, workers: int | None, on_done) -> list[dict]:
    n = len(jobs)
    w = min(n, workers if workers is not None else (os.cpu_count() or 1))
    if w <= 1:
        rows = []
        for k, job in enumerate(jobs, 1):
            rows.append(run_scenario(job))
            if on_done:
                on_done(k, n)
        return rows
    from concurrent.futures import ProcessPoolExecutor

    rows = []
    with ProcessPoolExecutor(max_workers=w) as pool:
        for k, row in enumerate(pool.map(run_scenario, jobs, chunksize=max(1, n // (w * 8))), 1):
            rows.append(row)
            if on_done:
                on_done(k, n)
    return rows


def _ray_rows(jobs: list, address: str, on_done) -> list[dict]:
    try:
        import ray
    except ImportError:
        raise SpecError("--ray needs Ray: pip install 'tokenomy[ray]' (or run without --ray on local cores).") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise SpecError(f"--ray {address}: cannot connect to a Ray cluster ({' '.join(str(e).split())[:200]}); "
                            "start one (ray start --head) or pass its address.") from None
    task = ray.remote(run_scenario)
    refs = [task.remote(job) for job in jobs]
    rows: list[dict | None] = [None] * len(refs)
    index = {ref: i for i, ref in enumerate(refs)}
    pending, done = list(refs), 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
        for ref in ready:
            rows[index[ref]] = ray.get(ref)
            done += 1
            if on_done:
                on_done(done, len(refs))
    return rows  # type: ignore[return-value]

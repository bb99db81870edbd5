"""``FrontierResult``: every evaluated point of a sweep as NumPy columns, with tables and cost curves.

What it exposes uses the glossary's names (tokenomy/glossary/): ``records()``, ``to_pandas()`` and the rows of
``to_dict()`` (the one result shape of ``tokenomy frontier --json``) carry COLUMNS; ``columns`` holds those plus
the sweep's bookkeeping (``dataflow``, ``limit``, ``kv_cache``) that the summaries read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import crossover as _crossover
from . import summary as _summary
from .crossover import best_at

#: Columns of every point (the rows of ``frontier --json``, ``records()`` and ``to_pandas()``), glossary names, the
#: most read first.
COLUMNS = ("hardware", "kind", "chips", "tp", "pp", "ep", "precision", "batch", "tokens_per_s_per_user",
           "tokens_per_s", "tokens_per_s_per_chip", "ttft_s", "usd_per_mtok_all_in", "j_per_token_chip",
           "tokens_per_s_per_mw_chip", "j_per_token_facility", "tokens_per_s_per_mw_facility", "meets_slo",
           "on_frontier", "on_frontier_cost", "on_frontier_energy", "on_global_frontier_cost",
           "on_global_frontier_energy", "model", "micro_batch", "tpot_s", "input_tokens_per_s", "usd_per_mtok_output",
           "usd_per_mtok_input", "usd_per_mtok_blended", "usd_per_chip_hour", "power_w", "memory_bytes_per_chip",
           "memory_bytes_per_s_per_chip", "memory_bandwidth_frac", "prefill_time_frac", "spec", "deployment",
           "prefill_hardware", "decode_hardware", "prefill_chips", "decode_chips", "kv_transfer_s",
           "kv_link_utilization")

#: core/serving.serving_estimate's short names -> the glossary names the result exposes
ESTIMATE_NAMES = {"usd_per_mtok": "usd_per_mtok_all_in", "j_per_token": "j_per_token_chip",
                  "tokens_per_s_per_mw": "tokens_per_s_per_mw_chip"}

#: Scenario fields that set a frontier's figures (chip-hour price, host power, PUE); echoed in the query
SCENARIO_USED = ("mode", "chip_price_usd", "rent_usd_per_hour", "chip_power_w", "server_multiplier",
                 "network_multiplier", "facility_usd_per_mw", "depreciation_years", "facility_life_years",
                 "cost_of_capital_frac", "electricity_usd_per_kwh", "pue", "host_power_w_per_chip", "ops_frac",
                 "utilization_frac")


def _whole(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def frontier_query(*, model: str, hardware: list[str], isl: float, osl: float, speed: float | None,
                   max_ttft_s: float | None, chips: int | None, fixed: dict, precision: str, engine: str, spec: str,
                   disagg: bool, pins: dict, scenario) -> dict[str, Any]:
    """The envelope's query: the inputs as the sweep used them (None: the sweep chose), the Scenario fields that
    priced it (SCENARIO_USED, those with a glossary name)."""
    from ..glossary import GLOSSARY

    q: dict[str, Any] = {"model": model, "hardware": ",".join(hardware), "isl": _whole(isl), "osl": _whole(osl),
                         "tokens_per_s_per_user_required": speed, "max_ttft_s": max_ttft_s, "chips": chips,
                         **fixed, "precision": precision, "engine": engine, "spec": spec, "disagg": disagg, **pins}
    if scenario is not None:
        q.update({k: getattr(scenario, k) for k in SCENARIO_USED if k in GLOSSARY and hasattr(scenario, k)})
    return q


@dataclass
class FrontierResult:
    """Every evaluated point that fits, plus what was dropped and the derived summaries.

    ``columns`` holds the raw NumPy columns (no pandas needed); ``points``, ``frontier`` and
    ``best_per_chip`` are pandas DataFrames built on first use.
    """

    model: str
    hardware: list[str]
    isl: float
    osl: float
    columns: dict[str, np.ndarray]
    dropped: dict[str, dict[str, int]]          # hardware -> reason -> points dropped
    infeasible: dict[str, str]                  # hardware -> why nothing was evaluated
    min_tokens_per_s_per_user: float | None = None
    max_ttft_s: float | None = None
    evaluated: int = 0                          # configurations evaluated (fitting or not)
    pairs: list[str] = field(default_factory=list)   # disaggregated "P+D" groups (frontier/disagg.py)
    prefill: dict[str, np.ndarray] | None = None     # disagg: each prefill deployment (disagg.PREFILL_KEYS)
    scenario: Any = None                             # the economics Scenario that priced the chip-hours
    query: dict[str, Any] = field(default_factory=dict)   # the inputs as used (the envelope's query)
    _cache: dict = field(default_factory=dict, repr=False)

    # -- tables
    def __len__(self) -> int:
        return int(self.columns["tokens_per_s"].size)

    @property
    def dropped_total(self) -> int:
        return sum(sum(r.values()) for r in self.dropped.values())

    def records(self, mask=None) -> list[dict]:
        """Plain dicts (JSON-ready) of the points, COLUMNS order."""
        cols = {k: (self.columns[k] if mask is None else self.columns[k][mask]).tolist() for k in COLUMNS}
        return [dict(zip(COLUMNS, row, strict=True)) for row in zip(*(cols[k] for k in COLUMNS), strict=True)]

    def to_pandas(self):
        """Every point as a new pandas DataFrame (COLUMNS: the rows of ``frontier --json``)."""
        return self.points.copy()

    @property
    def tokens_per_s_per_user_required(self) -> float | None:
        """The speed target (points below it have ``meets_slo`` False)."""
        return self.min_tokens_per_s_per_user

    def _df(self, key, mask):
        if key not in self._cache:
            import pandas as pd
            self._cache[key] = pd.DataFrame({k: self.columns[k][mask] for k in COLUMNS})
        return self._cache[key]

    @property
    def points(self):
        """pandas DataFrame of all evaluated points that fit (one row per deployment x batch)."""
        return self._df("points", slice(None))

    @property
    def frontier(self):
        """Points on their chip's tokens/s/user vs tokens/s-per-chip frontier (meeting the SLO)."""
        return self._df("frontier", self.columns["on_frontier"])

    @property
    def best_per_chip(self):
        """Per chip, the cheapest point that meets the SLO (most tokens/s per chip when unpriced)."""
        return self._df("best", self.best_index())

    @property
    def groups(self) -> list[str]:
        """The chips, then the disaggregated "P+D" pairs: the values of the hardware column."""
        return [*self.hardware, *self.pairs]

    def per_chip(self, flag: str, order_by: str | None = None, pairs: bool = False):
        """(chip, indices of its points where column ``flag`` is set, sorted by ``order_by`` if given), for each
        chip (``pairs``: and each disaggregated "P+D" pair) with at least one such point."""
        c = self.columns
        for hw in (self.groups if pairs else self.hardware):
            sel = np.flatnonzero((c["hardware"] == hw) & c[flag])
            if sel.size:
                yield hw, (sel if order_by is None else sel[np.argsort(c[order_by][sel])])

    def best_index(self) -> np.ndarray:
        c = self.columns
        idx = []
        for _, sel in self.per_chip("meets_slo"):
            usd = c["usd_per_mtok_all_in"][sel]
            if np.all(np.isnan(usd)):
                idx.append(sel[np.argmax(c["tokens_per_s_per_chip"][sel])])
            else:
                order = np.lexsort((-c["tokens_per_s_per_user"][sel], np.where(np.isnan(usd), np.inf, usd)))
                idx.append(sel[order[0]])
        return np.asarray(idx, dtype=int)

    @property
    def max_tokens_per_s_per_user(self) -> dict[str, float]:
        """Each chip's highest reachable tokens/s/user (over all points that fit; TTFT limit applied)."""
        c = self.columns
        out = {}
        for hw in self.hardware:
            sel = c["hardware"] == hw
            if self.max_ttft_s is not None:
                sel = sel & (c["ttft_s"] <= self.max_ttft_s)
            if sel.any():
                out[hw] = float(np.max(c["tokens_per_s_per_user"][sel]))
        return out

    # -- cost curves and crossovers
    def cost_curves(self, n: int = 240, key: str = "usd_per_mtok_all_in", pairs: bool = False
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(speeds, {chip: lowest ``key`` ($/Mtok) at >= speed}) on a log grid of tokens/s/user (inf:
        unreachable); ``pairs``: the disaggregated pairs too."""
        c = self.columns
        ok = c["meets_slo"] & np.isfinite(c[key])
        if not ok.any():
            return np.array([]), {}
        s = c["tokens_per_s_per_user"][ok]
        grid = np.geomspace(max(s.min(), 1e-3), s.max(), n)
        curves = {}
        for hw in (self.groups if pairs else self.hardware):
            sel = ok & (c["hardware"] == hw)
            if not sel.any():
                continue
            curves[hw] = best_at(c["tokens_per_s_per_user"][sel], c[key][sel], grid)  # cheapest at >= speed
        return grid, curves

    @property
    def crossovers(self) -> list[dict]:
        """Speeds where one chip becomes cheaper than another (pairwise, on the $ frontiers)."""
        return _summary.crossovers(*self.cost_curves())

    @staticmethod
    def cheapest_changes(grid, curves) -> list[dict]:
        """Where the cheapest chip (the lower envelope of the $ curves) changes, ties within TIE_FRAC kept."""
        return _summary.cheapest_changes(grid, curves)

    @property
    def sram_crossovers(self) -> list[dict]:
        """Per (SRAM system, other chip): the speed above which the SRAM system is cheaper per token and
        lower in J/token (frontier/crossover.py), with a sentence under "line"."""
        if "sram_crossovers" not in self._cache:
            self._cache["sram_crossovers"] = _crossover.sram_crossovers(self)
        return self._cache["sram_crossovers"]

    @property
    def saturation(self) -> list[dict]:
        """Per chip: its fastest deployment from 1 user up to saturation and what stops it (a sentence under
        "line")."""
        if "saturation" not in self._cache:
            self._cache["saturation"] = _crossover.saturation(self)
        return self._cache["saturation"]

    def summary_dict(self) -> dict:
        """The envelope's summary: the lines, SRAM crossovers, saturation, what was infeasible or dropped, and
        (disagg) the prefill deployments the pairs draw on."""
        out = {"lines": self.summary(), "sram_crossovers": self.sram_crossovers, "saturation": self.saturation,
               "infeasible": self.infeasible, "dropped": self.dropped}
        if self.prefill is not None:
            keys = list(self.prefill)
            out["prefill_deployments"] = [dict(zip(keys, row, strict=True)) for row in
                                          zip(*(self.prefill[k].tolist() for k in keys), strict=True)]
        return out

    def to_dict(self) -> dict:
        """JSON-ready, the one result shape of every command (cli/output.envelope): ``query`` (the inputs as used),
        ``rows`` (every point, COLUMNS), ``summary`` (summary_dict) and ``warnings``."""
        return {"command": "frontier", "query": dict(self.query), "rows": self.records(),
                "summary": self.summary_dict(), "warnings": []}

    def summary(self) -> list[str]:
        """Plain-language lines: cheapest chip per speed band, where costs explode, top speeds."""
        from .disagg import summary_lines as disagg_lines

        return _summary.summary_lines(self) + disagg_lines(self, _summary.TIE_FRAC)

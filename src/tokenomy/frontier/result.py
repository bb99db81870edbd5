"""``FrontierResult``: every evaluated point of a sweep as NumPy columns, with tables and cost curves."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import crossover as _crossover
from . import summary as _summary
from .crossover import best_at

#: Columns of every point, in output order; the first ones are the CLI's JSON contract.
COLUMNS = ("hardware", "chips", "tp", "pp", "ep", "precision", "batch", "tokens_per_s_per_user", "tokens_per_s",
           "tokens_per_s_per_chip", "ttft_s", "usd_per_mtok", "j_per_token", "tokens_per_s_per_mw", "on_frontier",
           "model", "kind", "micro_batch", "tpot_s", "input_tokens_per_s", "usd_per_mtok_output",
           "usd_per_mtok_input", "usd_per_mtok_blended", "usd_per_chip_hour", "power_w", "memory_bytes_per_chip",
           "memory_bytes_per_s_per_chip", "memory_bandwidth_frac",
           "prefill_time_frac", "meets_slo", "on_frontier_usd", "on_frontier_j", "on_global_frontier_usd",
           "on_global_frontier_j", "spec", "deployment", "prefill_hardware", "decode_hardware", "prefill_chips",
           "decode_chips", "kv_transfer_s", "kv_link_utilization")


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
            usd = c["usd_per_mtok"][sel]
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
    def cost_curves(self, n: int = 240, key: str = "usd_per_mtok", pairs: bool = False
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

    def to_dict(self) -> dict:
        """JSON-ready: the workload, every point (COLUMNS), the summary lines, crossovers and saturation."""
        out = {"model": self.model, "isl": self.isl, "osl": self.osl, "points": self.records(),
               "summary": self.summary(), "sram_crossovers": self.sram_crossovers, "saturation": self.saturation,
               "infeasible": self.infeasible, "dropped": self.dropped}
        if self.prefill is not None:          # disagg: the prefill deployments the pairs draw on
            keys = list(self.prefill)
            out["prefill_deployments"] = [dict(zip(keys, row, strict=True)) for row in
                                          zip(*(self.prefill[k].tolist() for k in keys), strict=True)]
        return out

    def summary(self) -> list[str]:
        """Plain-language lines: cheapest chip per speed band, where costs explode, top speeds."""
        from .disagg import summary_lines as disagg_lines

        return _summary.summary_lines(self) + disagg_lines(self, _summary.TIE_FRAC)

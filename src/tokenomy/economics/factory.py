"""The AI factory: a power budget, several chips side by side (replicas, tokens, cost, revenue, margin)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import api as _api
from ..core import economics as ce
from ..errors import SpecError
from ..spec import args
from ..spec.economics import Scenario
from ..spec.hardware import HardwareSpec
from .base import (
    MAX_CHIPS_COMPARED,
    MAX_POWER_MW,
    ScenarioLike,
    _Dict,
    check_number,
    get_scenario,
    hw_spec,
)
from .chip_hour import chip_price_usd, cost, host_power_w
from .operating_point import OperatingPoint, operating_point, pricing_power_w


@dataclass(frozen=True)
class FactoryRow(_Dict):
    """One chip filling the power budget: replicas of ``point`` (one replica's operating point). Tokens are
    output tokens (prefill time included); ``fleet_`` figures are every replica's together."""

    hardware: str
    feasible: bool
    reason: str
    chips: int                          # one replica's
    replicas: int
    fleet_chips: int
    provisioned_w_per_chip: float       # chip power limit + host, times PUE: what the budget is sized by
    fleet_tokens_per_s: float           # when busy
    tokens_per_s_per_mw_provisioned: float  # fleet tokens/s per MW of the budget
    tokens_per_year: float              # at utilization
    fleet_capex_usd: float              # upfront: IT (owned) plus facility
    cost_usd_per_year: float
    revenue_usd_per_year: float
    margin_usd_per_year: float
    margin_frac: float
    chip_price_usd: float | None
    point: OperatingPoint

    def record(self) -> dict:
        """The flat row: the fleet figures, then the replica's operating point (hardware, feasible, reason and
        chips from the fleet)."""
        own = {k: v for k, v in self.to_dict().items() if k != "point"}
        return {**own, **{k: v for k, v in self.point.to_dict().items() if k not in own}}


@dataclass(frozen=True)
class FactoryResult(_Dict):
    power_mw: float
    model: str
    tokens_per_s_per_user_required: float
    token_price_usd_per_mtok: float
    rows: tuple[FactoryRow, ...]
    best_margin: str                    # hardware id with the largest margin ("" if none feasible)
    lowest_price_chip: str                  # hardware id with the lowest chip price (owned)

    def records(self) -> list[dict]:
        """One flat row per chip (FactoryRow.record)."""
        return [r.record() for r in self.rows]

    def summary(self) -> dict:
        return {"best_margin": self.best_margin, "lowest_price_chip": self.lowest_price_chip}


def per_chip(value: Any, hardware: list[str], name: str) -> list:
    """One value per chip: ``value`` repeated, or a list of exactly len(hardware)."""
    vals = list(value) if isinstance(value, (list, tuple)) else [value] * len(hardware)
    if len(vals) != len(hardware):
        raise SpecError(f"{name} has {len(vals)} values for {len(hardware)} chips; give one, or one per chip.")
    return vals


def factory_row(op: OperatingPoint, hw: HardwareSpec, sc: Scenario, power_mw: float, price: float) -> FactoryRow:
    """``op`` replicated to fill ``power_mw`` (sized at power limit + host, times PUE)."""
    nan = float("nan")
    chip_price = chip_price_usd(hw, sc) if sc.mode == "owned" else None
    if not op.feasible:
        return FactoryRow(hw.id, False, op.reason, op.chips, 0, 0, nan, nan, nan, nan, nan, nan, nan, nan, nan,
                          chip_price, op)
    chip_w = pricing_power_w(hw, sc, op.power_w / op.chips)
    prov_w = float(ce.facility_power_w(chip_w, 1, host_power_w(hw, sc), sc.pue))
    replicas = math.floor(power_mw * 1e6 / (prov_w * op.chips) + 1e-9)
    c = cost(hw, sc, chip_w)
    capex_chip = float(c.capex_usd + c.facility_capex_usd)
    chips = replicas * op.chips
    tps = replicas * op.tokens_per_s
    tokens_year = tps * ce.S_PER_HOUR * ce.HOURS_PER_YEAR * sc.utilization_frac
    cost_year = replicas * op.usd_per_calendar_hour * ce.HOURS_PER_YEAR
    revenue = tokens_year / ce.TOKENS_PER_MTOK * price
    reason = "" if replicas else f"one replica needs {prov_w * op.chips / 1e6:.3f} MW > {power_mw:g} MW"
    return FactoryRow(hw.id, replicas > 0, reason, op.chips, replicas, chips, prov_w, tps, tps / power_mw,
                      tokens_year, chips * capex_chip, cost_year, revenue, revenue - cost_year,
                      (revenue - cost_year) / revenue if revenue > 0 else nan, chip_price, op)


def factory(power_mw: float, model: Any, hardware: list[str] | str, tokens_per_s_per_user: float, isl: int = 1024,
            osl: int = 1024, *, token_price_usd_per_mtok: float | None = None, scenario: ScenarioLike = None,
            engine: Any = None, precision: Any = None, tp: Any = None, pp: Any = None, ep: Any = None,
            chips: Any = None, **overrides: Any) -> FactoryResult:
    """For each chip: replicas that fit in ``power_mw`` (sized at power limit + host, times PUE), output
    tokens per year, cost per year, revenue at ``token_price_usd_per_mtok`` (per output Mtok), margin.
    ``tp``, ``pp``, ``ep``, ``chips`` (per replica; None: chosen, operating_point) and ``precision`` may be one
    value or one per chip."""
    power_mw = check_number("power_mw", power_mw, 0, MAX_POWER_MW, flag="power-mw")
    hws = args.names("hardware", hardware, HardwareSpec, args.HARDWARE_HINT)
    if not 1 <= len(hws) <= MAX_CHIPS_COMPARED:
        raise SpecError(f"factory compares 1 to {MAX_CHIPS_COMPARED} chips, got {len(hws)}.")
    sc = get_scenario(scenario, **overrides)
    price = sc.token_price_usd_per_mtok if token_price_usd_per_mtok is None else check_number(
        "token_price_usd_per_mtok", token_price_usd_per_mtok, 0, 1e6)   # > 0: margin_frac divides by revenue
    rows = []
    per = {k: per_chip(v, hws, k) for k, v in (("precision", precision), ("tp", tp), ("pp", pp), ("ep", ep),
                                                ("chips", chips))}
    for i, h in enumerate(hws):
        hw = hw_spec(h)
        op = operating_point(model, hw, tokens_per_s_per_user, isl, osl, scenario=sc, engine=engine,
                             **{k: v[i] for k, v in per.items()})
        rows.append(factory_row(op, hw, sc, power_mw, price))
    ok = [r for r in rows if r.feasible]
    priced = [r for r in rows if r.chip_price_usd is not None]
    return FactoryResult(power_mw, _api.resolve(model, hws[0])[0].name, float(tokens_per_s_per_user), price,
                         tuple(rows), max(ok, key=lambda r: r.margin_usd_per_year).hardware if ok else "",
                         min(priced, key=lambda r: r.chip_price_usd or 0.0).hardware if priced else "")

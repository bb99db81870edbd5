"""Stranded capital: a fleet's NPV and payback while the token price falls, and the cost of an answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import economics as ce
from ..errors import InfeasibleError
from .base import (
    MAX_POWER_MW,
    MAX_TOKENS,
    ScenarioLike,
    _Dict,
    check_number,
    get_scenario,
    hw_spec,
)
from .chip_hour import cost
from .factory import factory_row
from .operating_point import OperatingPoint, operating_point, pricing_power_w


@dataclass(frozen=True)
class Investment(_Dict):
    """A fleet filling ``power_mw`` over its depreciation life while the token price falls.
    ``records()``: the operating point of one replica (one row); ``summary()``: the fleet and its cash flows."""

    hardware: str
    power_mw: float
    fleet_chips: int
    years: int                          # round(depreciation_years), 1..50 (the scenario bounds it)
    fleet_it_capex_usd: float             # upfront IT capex (0 when rented); facility is paid yearly (annuity)
    running_cost_usd_per_year: float    # facility annuity + energy + ops (or rent); capex paid upfront
    tokens_per_year: float
    token_price_usd_per_mtok: float     # today
    token_price_decline_frac_per_year: float
    cash_flows_usd: list                # years 0..years
    price_usd_per_mtok_by_year: list    # mean price in years 1..years
    npv_usd: float
    payback_years: float                # inf: never paid back
    unrecovered_usd: float              # stranded capital: cumulative cash still negative at the end
    tokens_per_answer: float            # tokens_per_query x tokens_multiplier
    cost_usd_per_answer: float
    price_usd_per_answer_by_year: list
    point: OperatingPoint

    def records(self) -> list[dict]:
        """The operating point of one replica."""
        return [self.point.to_dict()]

    def summary(self) -> dict:
        return {k: v for k, v in self.to_dict().items() if k not in ("point", "hardware", "power_mw",
                                                                      "token_price_usd_per_mtok",
                                                                      "token_price_decline_frac_per_year")}


def invest(model: Any, hardware: Any, tokens_per_s_per_user: float, isl: int = 1024, osl: int = 1024, *,
           power_mw: float = 1.0, tokens_per_query: float | None = None, tokens_multiplier: float = 1.0,
           scenario: ScenarioLike = None, engine: Any = None, precision: str | None = None, tp: int | None = None,
           pp: int | None = None, ep: int | None = None, chips: int | None = None, **overrides: Any) -> Investment:
    """NPV (at cost_of_capital_frac) and payback of a fleet over round(depreciation_years) when the price per
    token falls token_price_decline_frac_per_year of itself each year (0.9: 10x cheaper a year); cost per answer
    of tokens_per_query (default osl) output tokens times ``tokens_multiplier`` (reasoning workloads burn ~20x
    more tokens, GTC 2025). ``tp``/``pp``/``ep``/``chips`` per replica (None: chosen, operating_point)."""
    power_mw = check_number("power_mw", power_mw, 0, MAX_POWER_MW, flag="power-mw")
    tokens_multiplier = check_number("tokens_multiplier", tokens_multiplier, 0, 1e6, flag="tokens-multiplier")
    if tokens_per_query is not None:
        tokens_per_query = check_number("tokens_per_query", tokens_per_query, 0, MAX_TOKENS, flag="tokens-per-query")
    sc = get_scenario(scenario, **overrides)
    hw = hw_spec(hardware)
    op = operating_point(model, hw, tokens_per_s_per_user, isl, osl, scenario=sc, engine=engine, precision=precision,
                         tp=tp, pp=pp, ep=ep, chips=chips)
    if not op.feasible:
        raise InfeasibleError(f"{hw.id} cannot serve {tokens_per_s_per_user:g} tokens/s/user: {op.reason}")
    row = factory_row(op, hw, sc, power_mw, sc.token_price_usd_per_mtok)
    if not row.feasible:
        raise InfeasibleError(f"{hw.id}: {row.reason}")
    years = max(1, round(sc.depreciation_years))      # <= 50: Scenario bounds depreciation_years
    c = cost(hw, sc, pricing_power_w(hw, sc, op.power_w / op.chips))
    capex = row.fleet_chips * float(c.capex_usd)
    # capex is paid upfront here, so drop its annuity from the yearly cost (ops, facility, energy stay)
    cost_year = row.cost_usd_per_year - row.fleet_chips * float(c.capex_usd_per_hour) * ce.HOURS_PER_YEAR
    revenue_today = row.tokens_per_year / ce.TOKENS_PER_MTOK * sc.token_price_usd_per_mtok
    decline = sc.token_price_decline_frac_per_year
    cash = ce.fleet_cash_flows_usd(capex, revenue_today, cost_year, years, decline)
    prices = sc.token_price_usd_per_mtok * ce.yearly_price_factor(decline, years)
    per_answer = (tokens_per_query if tokens_per_query is not None else osl) * tokens_multiplier
    return Investment(hw.id, power_mw, row.fleet_chips, years, capex, cost_year, row.tokens_per_year,
                      sc.token_price_usd_per_mtok, decline, cash.tolist(), prices.tolist(),
                      ce.npv_usd(cash, sc.cost_of_capital_frac), ce.payback_years(cash),
                      max(0.0, -float(np.cumsum(cash)[-1])), per_answer,
                      op.usd_per_mtok_all_in * per_answer / ce.TOKENS_PER_MTOK,
                      (prices * per_answer / ce.TOKENS_PER_MTOK).tolist(), op)

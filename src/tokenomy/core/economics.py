"""Token economics in pure NumPy: what a chip-hour costs and what that makes a token cost.

Owned chip, per calendar hour (H = 8760 h per year):
    CRF(r, n)        = r (1+r)^n / ((1+r)^n - 1)          capital recovery factor; 1/n at r = 0
    capex_usd        = chip_price_usd * s * n,  by what the catalog price buys (``form_factor``):
                         hgx-server, pcie-server:  s = server_multiplier, n = network_multiplier
                         rack-share (GB200/GB300 NVL72: host CPUs, NVLink switches and rack are in
                         the price), wafer-system (a CS-3 price is the whole system):  s = 1, n = network
                         cloud-instance (rented only):  s = server_multiplier, n = network_multiplier
    capex    $/h     = capex_usd * CRF(r, depreciation_years) / H
    it_power_w       = chip_power_w + host_power_w_per_chip   (host: the catalog's host_power_w of
                       the platform, e.g. all-in kW per GPU minus TDP for 8-GPU servers)
    facility $/h     = facility_usd_per_mw * it_power_w / 1e6 * CRF(r, facility_life_years) / H
    energy   $/h     = it_power_w * pue / 1000 * electricity_usd_per_kwh  (every hour, at the stated power)
    ops      $/h     = ops_frac / (1 - ops_frac) * (capex + facility + energy)   (ops is ops_frac of the total)
    total    $/h     = capex + facility + energy + ops     PER CALENDAR HOUR (every hour of the year)
    effective $/h    = total / utilization_frac            PER BUSY HOUR (hours that serve tokens)
Rented chip: total = rent_usd_per_hour (per calendar hour); effective = total / utilization_frac.
Every term is linear in chip_price_usd, so the break-even price has a closed form.

Per token:  usd_per_mtok = usd_per_hour / (3600 * tokens_per_s) * 1e6
            j_per_token_facility = (power_w + chips * host_power_w_per_chip) * pue / tokens_per_s
            tokens_per_s_per_mw  = tokens_per_s / (facility_power_w / 1e6) = 1e6 / j_per_token_facility
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOURS_PER_YEAR = 8760.0     # 365 days x 24 h
S_PER_HOUR = 3600.0
TOKENS_PER_MTOK = 1e6

# form factor -> (server multiplier applies, network multiplier applies); see the module docstring
FORM_FACTORS: dict[str, tuple[bool, bool]] = {
    "hgx-server": (True, True),
    "pcie-server": (True, True),
    "rack-share": (False, True),
    "wafer-system": (False, True),
    "cloud-instance": (True, True),
}


def capex_multipliers(form_factor: str, server_multiplier: float, network_multiplier: float) -> tuple[float, float]:
    """(server, network) multipliers that apply to a chip price of ``form_factor`` (1.0 where the price
    already includes that part)."""
    server, network = FORM_FACTORS[form_factor]
    return (server_multiplier if server else 1.0), (network_multiplier if network else 1.0)


def capital_recovery_factor(rate_frac, years):
    """Annual payment per dollar borrowed at ``rate_frac`` per year over ``years`` (1/years at rate 0)."""
    r = np.asarray(rate_frac, dtype=float)
    n = np.asarray(years, dtype=float)
    safe_r = np.where(r > 0, r, 1.0)
    # r (1+r)^n / ((1+r)^n - 1) = r / (1 - (1+r)^-n), written with expm1/log1p so tiny r stays exact
    crf = safe_r / -np.expm1(-n * np.log1p(safe_r))
    return np.where(r > 0, crf, 1.0 / n)


@dataclass(frozen=True)
class ChipHourCost:
    """Cost of one chip for one hour, in USD per hour (arrays broadcast over the inputs)."""

    capex_usd_per_hour: np.ndarray      # server + network capex, annualized
    facility_usd_per_hour: np.ndarray   # building, cooling, power delivery per W of IT load, annualized
    energy_usd_per_hour: np.ndarray     # chip + host power, times PUE, times the electricity price
    ops_usd_per_hour: np.ndarray        # operations share
    rent_usd_per_hour: np.ndarray       # rented mode only (0 when owned)
    total_usd_per_hour: np.ndarray      # PER CALENDAR HOUR (every hour of the year)
    utilization_frac: np.ndarray
    effective_usd_per_hour: np.ndarray  # PER BUSY HOUR: total / utilization
    capex_usd: np.ndarray               # upfront IT capex per chip (0 when rented)
    facility_capex_usd: np.ndarray      # upfront facility capex per chip (0 when rented)
    it_power_w: np.ndarray              # chip + host
    facility_power_w: np.ndarray        # (chip + host) * PUE


def owned_chip_hour_cost(chip_price_usd, *, chip_power_w, server_multiplier, network_multiplier,
                         facility_usd_per_mw, depreciation_years, facility_life_years, cost_of_capital_frac,
                         electricity_usd_per_kwh, pue, host_power_w_per_chip, ops_frac,
                         utilization_frac) -> ChipHourCost:
    """Owned chip: the formula in the module docstring. All arguments broadcast."""
    f = lambda x: np.asarray(x, dtype=float)  # noqa: E731
    capex_usd = f(chip_price_usd) * f(server_multiplier) * f(network_multiplier)
    capex = capex_usd * capital_recovery_factor(cost_of_capital_frac, depreciation_years) / HOURS_PER_YEAR
    it_w = f(chip_power_w) + f(host_power_w_per_chip)
    facility_capex = f(facility_usd_per_mw) * it_w / 1e6
    facility = facility_capex * capital_recovery_factor(cost_of_capital_frac, facility_life_years) / HOURS_PER_YEAR
    energy = it_w * f(pue) / 1000.0 * f(electricity_usd_per_kwh)
    base = capex + facility + energy
    ops = base * f(ops_frac) / (1.0 - f(ops_frac))
    total = base + ops
    u = f(utilization_frac)
    zero = np.zeros_like(total)
    return ChipHourCost(capex, facility, energy, ops, zero, total, u, total / u, capex_usd, facility_capex,
                        it_w, it_w * f(pue))


def rented_chip_hour_cost(rent_usd_per_hour, *, utilization_frac, chip_power_w=0.0, host_power_w_per_chip=0.0,
                          pue=1.0) -> ChipHourCost:
    """Rented chip: pay ``rent_usd_per_hour`` for every hour; power figures only for J/token and sizing."""
    rent = np.asarray(rent_usd_per_hour, dtype=float)
    u = np.asarray(utilization_frac, dtype=float)
    zero = np.zeros_like(rent)
    it_w = np.asarray(chip_power_w, dtype=float) + host_power_w_per_chip
    return ChipHourCost(zero, zero, zero, zero, rent, rent, u, rent / u, zero, zero, it_w, it_w * pue)


def usd_per_mtok(usd_per_hour, tokens_per_s):
    """USD per 10^6 tokens from a cost rate (USD/h) and a token rate (tokens/s) of the same hardware."""
    usd_per_s = np.asarray(usd_per_hour, dtype=float) / S_PER_HOUR
    return usd_per_s / np.asarray(tokens_per_s, dtype=float) * TOKENS_PER_MTOK


def facility_power_w(power_w, chips, host_power_w_per_chip, pue):
    """Power drawn from the grid, W: (accelerator power + host power of every chip) x PUE."""
    return (np.asarray(power_w, dtype=float) + chips * np.asarray(host_power_w_per_chip, dtype=float)) * pue


def j_per_token(power_w, tokens_per_s):
    """Energy per token, J: power (W) / throughput (tokens/s)."""
    return np.asarray(power_w, dtype=float) / np.asarray(tokens_per_s, dtype=float)


def tokens_per_s_per_mw(tokens_per_s, power_w):
    """Throughput per megawatt of (facility) power: tokens/s / (W / 1e6)."""
    return np.asarray(tokens_per_s, dtype=float) / (np.asarray(power_w, dtype=float) / 1e6)


def break_even_chip_price_usd(target_usd_per_mtok, tokens_per_s_per_chip, slope_usd_per_hour_per_usd,
                              intercept_usd_per_hour, utilization_frac):
    """Chip price at which a chip's $/Mtok equals ``target_usd_per_mtok``.

    Cost per chip per calendar hour is linear in price p: c(p) = slope * p + intercept. Setting
    c(p) / u / (3600 * tps) * 1e6 = target gives  p = (target * tps * 3600 / 1e6 * u - intercept) / slope.
    Negative p: even a free chip costs more per token than the target.
    """
    budget = (np.asarray(target_usd_per_mtok, dtype=float) * np.asarray(tokens_per_s_per_chip, dtype=float)
              * S_PER_HOUR / TOKENS_PER_MTOK * np.asarray(utilization_frac, dtype=float))
    slope = np.asarray(slope_usd_per_hour_per_usd, dtype=float)
    return (budget - np.asarray(intercept_usd_per_hour, dtype=float)) / slope


def yearly_price_factor(decline_frac_per_year, years: int) -> np.ndarray:
    """Mean price in each year 1..years relative to today's, for a price falling ``decline_frac_per_year`` of
    itself a year (0.9: to a tenth, i.e. d = 1 / (1 - 0.9) = 10x cheaper a year).

    price(t) = p0 * d^-t (t in years), so the mean over year y is d^-(y-1) * (1 - 1/d) / ln d; 1 at d = 1.
    """
    d = 1.0 / (1.0 - float(decline_frac_per_year))
    y = np.arange(1, years + 1, dtype=float)
    mean = 1.0 if d == 1.0 else (1.0 - 1.0 / d) / np.log(d)
    return d ** -(y - 1.0) * mean


def fleet_cash_flows_usd(capex_usd, revenue_usd_per_year_today, cost_usd_per_year, years: int,
                         decline_frac_per_year) -> np.ndarray:
    """Cash flow of years 0..years: -capex, then revenue at the declining price minus yearly costs."""
    rev = float(revenue_usd_per_year_today) * yearly_price_factor(decline_frac_per_year, years)
    return np.concatenate([[-float(capex_usd)], rev - float(cost_usd_per_year)])


def npv_usd(cash_flows_usd, rate_frac) -> float:
    """Net present value: sum of cash_t / (1 + r)^t, t = 0, 1, ..."""
    c = np.asarray(cash_flows_usd, dtype=float)
    return float(np.sum(c / (1.0 + rate_frac) ** np.arange(c.size)))


def payback_years(cash_flows_usd) -> float:
    """Years until cumulative (undiscounted) cash turns non-negative, interpolated within the year; inf if never."""
    c = np.asarray(cash_flows_usd, dtype=float)
    cum = np.cumsum(c)
    hit = np.nonzero(cum >= 0)[0]
    if hit.size == 0:
        return float("inf")
    t = int(hit[0])
    if t == 0:
        return 0.0
    return (t - 1) + float(-cum[t - 1] / c[t])

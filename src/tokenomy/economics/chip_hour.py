"""A chip-hour: what one chip costs per calendar hour and per busy hour (owned or rented), and the
per-token figures ($/Mtok, J/token, tokens/s per MW) of any prediction at that cost."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import economics as ce
from ..errors import SpecError
from ..spec.economics import Scenario, with_overrides
from ..spec.hardware import HardwareSpec
from .base import ScenarioLike, _Dict, get_scenario, hw_spec

# used only for a user's chip file without host_power_w: the median all-in kW per GPU minus TDP of
# the 8-GPU servers in the SemiAnalysis InferenceX TCO constants (2026-07; 640-720 W)
FALLBACK_HOST_POWER_W = 680.0

PER_HOUR_NOTE = ("usd_per_chip_calendar_hour and the *_usd_per_chip_hour parts: per calendar hour (every hour of "
                 "the year, what a TCO survey quotes per GPU-hour); usd_per_chip_hour: per busy hour "
                 "(calendar / utilization_frac), what the tokens of a busy hour must pay")


def host_power_w(hw: HardwareSpec, sc: Scenario) -> float:
    """Host power per chip, W: the scenario override, else the catalog's platform figure."""
    if sc.host_power_w_per_chip is not None:
        return sc.host_power_w_per_chip
    return hw.host_power_w if hw.host_power_w is not None else FALLBACK_HOST_POWER_W


def chip_price_usd(hw: HardwareSpec, sc: Scenario) -> float | None:
    """The scenario's chip price, else the catalog's (None: not sold)."""
    return sc.chip_price_usd if sc.chip_price_usd is not None else hw.price_usd


def rent_usd_per_hour(hw: HardwareSpec, sc: Scenario) -> float | None:
    """The scenario's rent, else the catalog's (None: not rented)."""
    return sc.rent_usd_per_hour if sc.rent_usd_per_hour is not None else hw.rent_usd_per_hour


def payable(hw: HardwareSpec, sc: Scenario) -> Scenario | None:
    """``sc`` in a mode the inputs can price: owned needs a chip price, rented a rent; a chip with
    only one of them switches to it; None when neither is known (costs are then NaN)."""
    has_price, has_rent = chip_price_usd(hw, sc) is not None, rent_usd_per_hour(hw, sc) is not None
    if sc.mode == "owned" and not has_price and has_rent:
        return with_overrides(sc, {"mode": "rented"})
    if (sc.mode == "owned" and has_price) or (sc.mode == "rented" and has_rent):
        return sc
    return None


def pricing_warning(hw: HardwareSpec, sc: Scenario) -> str | None:
    """The sentence a reader needs when ``payable`` does not price ``hw`` in the mode asked (None when it does)."""
    has_price, has_rent = chip_price_usd(hw, sc) is not None, rent_usd_per_hour(hw, sc) is not None
    if sc.mode == "owned" and not has_price and has_rent:
        return f"{hw.id} has no price in the catalog: priced rented, at its rent of ${rent_usd_per_hour(hw, sc):g}/h."
    if sc.mode == "rented" and not has_rent:
        fix = "--rent-usd-per-hour" + (" or --mode owned" if has_price else "")
        return f"{hw.id} has no rent in the catalog: its $ figures are unknown (null); pass {fix}."
    if sc.mode == "owned" and not has_price:
        return (f"{hw.id} has neither a price nor a rent in the catalog: its $ figures are unknown (null); pass "
                "--chip-price-usd or --rent-usd-per-hour.")
    return None


def pricing_warnings(hardware: list[str | HardwareSpec], scenario: ScenarioLike = None, **overrides: Any) -> list[str]:
    """``pricing_warning`` of each chip (ids or YAML paths), in order, without repeats."""
    sc = get_scenario(scenario, **overrides)
    return list(dict.fromkeys(w for w in (pricing_warning(hw_spec(h), sc) for h in hardware) if w))


def cost(hw: HardwareSpec, sc: Scenario, chip_power_w: float | None = None, *, mode: str | None = None,
         chip_price: float | None = None) -> ce.ChipHourCost:
    """Per-chip cost at ``chip_power_w`` (default: scenario, then the catalog power limit)."""
    power = chip_power_w if chip_power_w is not None else (sc.chip_power_w or hw.power_limit_w)
    if power is None:
        raise SpecError(f"{hw.id} has no power_limit_w in the catalog; pass chip_power_w (--chip-power-w).")
    host = host_power_w(hw, sc)
    if (mode or sc.mode) == "rented":
        rent = rent_usd_per_hour(hw, sc)
        if rent is None:
            raise SpecError(f"{hw.id} has no rent_usd_per_hour in the catalog; pass rent_usd_per_hour "
                            f"(--rent-usd-per-hour) or use mode='owned'.")
        return ce.rented_chip_hour_cost(rent, utilization_frac=sc.utilization_frac, chip_power_w=power,
                                        host_power_w_per_chip=host, pue=sc.pue)
    price = chip_price if chip_price is not None else chip_price_usd(hw, sc)
    if price is None:
        raise SpecError(f"{hw.id} has no price_usd in the catalog (rent only); pass chip_price_usd "
                        f"(--chip-price-usd) or use mode='rented'.")
    server, network = ce.capex_multipliers(hw.form_factor, sc.server_multiplier, sc.network_multiplier)
    return ce.owned_chip_hour_cost(
        price, chip_power_w=power, server_multiplier=server, network_multiplier=network,
        facility_usd_per_mw=sc.facility_usd_per_mw, depreciation_years=sc.depreciation_years,
        facility_life_years=sc.facility_life_years, cost_of_capital_frac=sc.cost_of_capital_frac,
        electricity_usd_per_kwh=sc.electricity_usd_per_kwh, pue=sc.pue, host_power_w_per_chip=host,
        ops_frac=sc.ops_frac, utilization_frac=sc.utilization_frac)


def effective_usd_per_chip_hour(hardware: str | HardwareSpec, scenario: ScenarioLike = None,
                                **overrides: Any) -> float:
    """USD per busy chip-hour at the chip's power limit (owned at its price, or its rent when it has
    no price); NaN when neither is known."""
    hw = hw_spec(hardware)
    sc = payable(hw, get_scenario(scenario, **overrides))
    return float("nan") if sc is None else float(cost(hw, sc).effective_usd_per_hour)


@dataclass(frozen=True)
class ChipCost(_Dict):
    """Cost of one chip-hour, USD per hour, by component, with the inputs that set it (one flat row)."""

    hardware: str
    mode: str
    form_factor: str
    chip_price_usd: float | None        # owned: the price used; rented: None
    chip_power_w: float
    host_power_w_per_chip: float
    usd_per_chip_hour: float            # per busy hour (calendar / utilization)
    usd_per_chip_calendar_hour: float   # per calendar hour: the sum of the parts below
    capex_usd_per_chip_hour: float
    facility_usd_per_chip_hour: float
    energy_usd_per_chip_hour: float
    ops_usd_per_chip_hour: float
    rent_usd_per_chip_hour: float
    capex_usd_per_chip: float           # upfront (0 when rented)
    facility_capex_usd_per_chip: float
    it_power_w_per_chip: float          # chip + host
    provisioned_w_per_chip: float       # (chip + host) x PUE: what a power budget is sized by


def chip_hour_cost(hardware: str | HardwareSpec, scenario: ScenarioLike = None, **overrides: Any) -> ChipCost:
    """Cost per chip-hour (capex, facility, energy, ops or rent; per calendar hour and per busy hour)."""
    hw, sc = hw_spec(hardware), get_scenario(scenario, **overrides)
    c = cost(hw, sc)
    f = lambda x: float(x)  # noqa: E731
    return ChipCost(hw.id, sc.mode, hw.form_factor, chip_price_usd(hw, sc) if sc.mode == "owned" else None,
                    float(sc.chip_power_w or hw.power_limit_w or 0.0), host_power_w(hw, sc),
                    f(c.effective_usd_per_hour), f(c.total_usd_per_hour), f(c.capex_usd_per_hour),
                    f(c.facility_usd_per_hour), f(c.energy_usd_per_hour), f(c.ops_usd_per_hour),
                    f(c.rent_usd_per_hour), f(c.capex_usd), f(c.facility_capex_usd), f(c.it_power_w),
                    f(c.facility_power_w))


@dataclass(frozen=True)
class TokenEconomics(_Dict):
    """Economics of a Prediction's tokens (of its phase), arrays of the prediction's shape."""

    usd_per_hour: np.ndarray            # replica, per busy hour (effective, at utilization)
    usd_per_mtok: np.ndarray            # per 10^6 tokens of the phase (input for prefill, output for decode)
    j_per_token: np.ndarray             # accelerators only
    j_per_token_facility: np.ndarray    # with host power and PUE
    facility_power_w: np.ndarray
    tokens_per_s_per_mw: np.ndarray     # per MW of facility power


PREDICTION_FIELDS = ("hardware", "chips", "power_w", "power_w_per_chip", "tokens_per_s")   # what is read


def token_economics(prediction: Any, scenario: ScenarioLike = None, *,
                    hardware: str | HardwareSpec | None = None, **overrides: Any) -> TokenEconomics:
    """$/Mtok, J/token (chip and facility) and tokens/s per MW of a ``tokenomy.predict`` result. The chip-hour is
    priced as ``cost`` and ``frontier`` price it (at the scenario's chip power, else the catalog power limit; the
    predicted draw only for a chip without a power limit), so one deployment has one usd_per_hour everywhere."""
    if not all(hasattr(prediction, k) for k in PREDICTION_FIELDS):
        raise SpecError(f"prediction must be the result of tokenomy.predict(...), got {prediction!r:.80}.")
    hw, sc = hw_spec(hardware or prediction.hardware), get_scenario(scenario, **overrides)
    c = cost(hw, sc, None if (sc.chip_power_w or hw.power_limit_w) else prediction.power_w_per_chip)
    usd_h = prediction.chips * c.effective_usd_per_hour
    fac_w = ce.facility_power_w(prediction.power_w, prediction.chips, host_power_w(hw, sc), sc.pue)
    tps = prediction.tokens_per_s
    return TokenEconomics(usd_h, ce.usd_per_mtok(usd_h, tps), ce.j_per_token(prediction.power_w, tps),
                          ce.j_per_token(fac_w, tps), fac_w, ce.tokens_per_s_per_mw(tps, fac_w))


def economics_fields(prediction: Any, scenario: ScenarioLike = None, *,
                     hardware: str | HardwareSpec | None = None) -> dict[str, np.ndarray]:
    """The economics columns to join to a Prediction: usd_per_hour, usd_per_mtok, j_per_token_facility,
    facility_power_w, tokens_per_s_per_mw. Catalog entries without a price fall back to rent; neither
    gives NaN costs (no error), so every prediction can carry these columns."""
    hw = hw_spec(hardware or prediction.hardware)
    sc = payable(hw, get_scenario(scenario))
    if sc is None:
        te = token_economics(prediction, get_scenario(scenario, mode="rented", rent_usd_per_hour=0.0), hardware=hw)
        nan = np.full(np.shape(te.usd_per_hour), np.nan)
        te = dataclasses.replace(te, usd_per_hour=nan, usd_per_mtok=nan)
    else:
        te = token_economics(prediction, sc, hardware=hw)
    return {k: v for k, v in dataclasses.asdict(te).items() if k != "j_per_token"}

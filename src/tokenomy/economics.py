"""Token economics, public API: chip-hour cost, $/Mtok and J/token of an operating point, the
power-limited AI factory, the free-chip break-even price, and fleet NPV under token deflation.

Every function takes ``scenario`` (a Scenario, a path to a YAML/TOML scenario file, or None for the
defaults in catalog/economics/defaults.yaml) and keyword ``**overrides`` of Scenario fields.
Formulas: tokenomy/core/economics.py. Results are frozen dataclasses with ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import api as _api
from .core import economics as ce
from .errors import InfeasibleError, SpecError
from .loaders.economics import default_scenario, load_scenario
from .loaders.hardware import load_hardware
from .spec.economics import Scenario, with_overrides
from .spec.hardware import HardwareSpec

__all__ = ["ChipCost", "TokenEconomics", "OperatingPoint", "FactoryRow", "FactoryResult", "BreakEven",
           "Investment", "get_scenario", "chip_hour_cost", "token_economics", "economics_fields",
           "operating_point", "factory", "break_even_price", "invest"]


def _plain(x):
    if isinstance(x, np.ndarray):
        return x.item() if x.ndim == 0 else x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if dataclasses.is_dataclass(x):
        return {f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    return x


class _Dict:
    def to_dict(self) -> dict:
        """JSON-ready dict (NumPy values as Python numbers or lists)."""
        return _plain(self)


def get_scenario(scenario: Scenario | str | Path | None = None, **overrides) -> Scenario:
    """A Scenario from an object, a YAML/TOML file, or the defaults; ``overrides`` replace fields."""
    if scenario is None:
        base = default_scenario()
    elif isinstance(scenario, Scenario):
        base = scenario
    else:
        base = load_scenario(scenario)
    return with_overrides(base, overrides, "overrides")


def _hw(hardware) -> HardwareSpec:
    return hardware if isinstance(hardware, HardwareSpec) else load_hardware(str(hardware))


def _cost(hw: HardwareSpec, sc: Scenario, chip_power_w=None, *, mode: str | None = None,
          chip_price_usd=None) -> ce.ChipHourCost:
    """Per-chip cost at ``chip_power_w`` (default: scenario, then the catalog power limit)."""
    power = chip_power_w if chip_power_w is not None else (sc.chip_power_w or hw.power_limit_w)
    if power is None:
        raise SpecError(f"{hw.id} has no power_limit_w in the catalog; pass chip_power_w (--chip-power-w).")
    if (mode or sc.mode) == "rented":
        rent = sc.rent_usd_per_hour if sc.rent_usd_per_hour is not None else hw.rent_usd_per_hour
        if rent is None:
            raise SpecError(f"{hw.id} has no rent_usd_per_hour in the catalog; pass rent_usd_per_hour "
                            f"(--rent-usd-per-hour) or use mode='owned'.")
        return ce.rented_chip_hour_cost(rent, utilization_frac=sc.utilization_frac, chip_power_w=power,
                                        host_power_w_per_chip=sc.host_power_w_per_chip, pue=sc.pue)
    price = chip_price_usd if chip_price_usd is not None else (
        sc.chip_price_usd if sc.chip_price_usd is not None else hw.price_usd)
    if price is None:
        raise SpecError(f"{hw.id} has no price_usd in the catalog (rent only); pass chip_price_usd "
                        f"(--chip-price-usd) or use mode='rented'.")
    return ce.owned_chip_hour_cost(
        price, chip_power_w=power, server_multiplier=sc.server_multiplier, network_multiplier=sc.network_multiplier,
        facility_usd_per_mw=sc.facility_usd_per_mw, depreciation_years=sc.depreciation_years,
        facility_life_years=sc.facility_life_years, cost_of_capital_frac=sc.cost_of_capital_frac,
        electricity_usd_per_kwh=sc.electricity_usd_per_kwh, pue=sc.pue, host_power_w_per_chip=sc.host_power_w_per_chip,
        ops_frac=sc.ops_frac, utilization_frac=sc.utilization_frac)


# --- 1. a chip-hour ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChipCost(_Dict):
    """Cost of one chip-hour, USD per hour, with the inputs that set it."""

    hardware: str
    mode: str
    chip_price_usd: float | None
    rent_usd_per_hour_input: float | None
    chip_power_w: float
    breakdown: ce.ChipHourCost
    scenario: dict


def chip_hour_cost(hardware: str | HardwareSpec, scenario: Scenario | str | Path | None = None,
                   **overrides) -> ChipCost:
    """Cost per chip-hour (capex, facility, energy, ops or rent; total and effective at utilization)."""
    hw, sc = _hw(hardware), get_scenario(scenario, **overrides)
    cost = _cost(hw, sc)
    price = sc.chip_price_usd if sc.chip_price_usd is not None else hw.price_usd
    rent = sc.rent_usd_per_hour if sc.rent_usd_per_hour is not None else hw.rent_usd_per_hour
    power = sc.chip_power_w or hw.power_limit_w
    return ChipCost(hw.id, sc.mode, price if sc.mode == "owned" else None, rent if sc.mode == "rented" else None,
                    float(power), cost, sc.model_dump())


# --- 2. per token, for any prediction --------------------------------------------------------------


@dataclass(frozen=True)
class TokenEconomics(_Dict):
    """Economics of a Prediction's tokens (of its phase), arrays of the prediction's shape."""

    usd_per_hour: np.ndarray            # replica, per busy hour (effective, at utilization)
    usd_per_mtok: np.ndarray            # per 10^6 tokens of the phase (input for prefill, output for decode)
    j_per_token: np.ndarray             # accelerators only
    j_per_token_facility: np.ndarray    # with host power and PUE
    facility_power_w: np.ndarray
    tokens_per_s_per_mw: np.ndarray     # per MW of facility power


def token_economics(prediction, scenario: Scenario | str | Path | None = None, *,
                    hardware: str | HardwareSpec | None = None, **overrides) -> TokenEconomics:
    """$/Mtok, J/token (chip and facility) and tokens/s per MW of a ``tokenomy.predict`` result."""
    hw, sc = _hw(hardware or prediction.hardware), get_scenario(scenario, **overrides)
    cost = _cost(hw, sc, prediction.power_w_per_chip)
    usd_h = prediction.chips * cost.effective_usd_per_hour
    fac_w = ce.facility_power_w(prediction.power_w, prediction.chips, sc.host_power_w_per_chip, sc.pue)
    tps = prediction.tokens_per_s
    return TokenEconomics(usd_h, ce.usd_per_mtok(usd_h, tps), ce.j_per_token(prediction.power_w, tps),
                          ce.j_per_token(fac_w, tps), fac_w, ce.tokens_per_s_per_mw(tps, fac_w))


def economics_fields(prediction, scenario: Scenario | str | Path | None = None, *,
                     hardware: str | HardwareSpec | None = None) -> dict[str, np.ndarray]:
    """The economics columns to join to a Prediction: usd_per_hour, usd_per_mtok, j_per_token_facility,
    facility_power_w, tokens_per_s_per_mw. Catalog entries without a price fall back to rent; neither
    gives NaN costs (no error), so every prediction can carry these columns."""
    hw = _hw(hardware or prediction.hardware)
    sc = get_scenario(scenario)
    if sc.mode == "owned" and sc.chip_price_usd is None and hw.price_usd is None:
        sc = with_overrides(sc, {"mode": "rented"})
    if sc.mode == "rented" and sc.rent_usd_per_hour is None and hw.rent_usd_per_hour is None:
        te = token_economics(prediction, sc, hardware=hw, rent_usd_per_hour=0.0)
        nan = np.full(np.shape(te.usd_per_hour), np.nan)
        te = dataclasses.replace(te, usd_per_hour=nan, usd_per_mtok=nan)
    else:
        te = token_economics(prediction, sc, hardware=hw)
    return {k: v for k, v in dataclasses.asdict(te).items() if k != "j_per_token"}


# --- an operating point at a required per-user speed ---------------------------------------------------


@dataclass(frozen=True)
class OperatingPoint(_Dict):
    """The largest decode batch that meets ``tokens_per_s_per_user_required``, and what its tokens cost.

    Per request the replica spends t_prefill = isl / prefill tokens/s and t_decode = osl / decode tokens/s;
    each phase is charged its own share of chip time (its power sets its energy cost).
    """

    model: str
    hardware: str
    precision: str
    tp: int
    chips: int
    isl: int
    osl: int
    tokens_per_s_per_user_required: float
    feasible: bool
    reason: str
    batch: int
    tokens_per_s_per_user: float
    tokens_per_s: float                 # decode, replica
    prefill_tokens_per_s: float         # replica
    output_tokens_per_s: float          # replica, with prefill time included (osl / (t_prefill + t_decode))
    power_w: float                      # decode, replica, accelerators
    usd_per_hour: float                 # replica per busy hour, time-weighted over the phases
    total_usd_per_hour: float           # replica per calendar hour
    usd_per_mtok_output: float
    usd_per_mtok_input: float
    usd_per_mtok_blended: float         # at input_per_output_tokens
    usd_per_mtok_all_in: float          # replica cost per output token: output + input * isl / osl
    j_per_token: float                  # decode step, accelerators
    j_per_token_facility: float         # decode step, with host power and PUE
    tokens_per_s_per_mw: float          # decode step, per MW of facility power
    input_per_output_tokens: float


def _infeasible(m, h, precision, tp, chips, isl, osl, s, reason, sc) -> OperatingPoint:
    nan = float("nan")
    return OperatingPoint(m, h, precision, tp, chips, isl, osl, s, False, reason, 0, nan, nan, nan, nan, nan, nan, nan,
                          nan, nan, nan, nan, nan, nan, nan, sc.input_per_output_tokens)


def _phase_costs(hw, sc, dec_w_chip, pre_w_chip, t_d, t_p, chips, price=None):
    """Replica cost per calendar hour, time-weighted over decode and prefill: (total, ChipHourCosts)."""
    cd = _cost(hw, sc, dec_w_chip, chip_price_usd=price, mode="owned" if price is not None else None)
    cp = _cost(hw, sc, pre_w_chip, chip_price_usd=price, mode="owned" if price is not None else None)
    w = lambda a, b: chips * (a * t_d + b * t_p) / (t_d + t_p)  # noqa: E731
    return w(cd.total_usd_per_hour, cp.total_usd_per_hour), cd, cp, w


def operating_point(model, hardware, tokens_per_s_per_user: float = 0.0, isl: int = 1024, osl: int = 1024, *,
                    scenario: Scenario | str | Path | None = None, engine=None, precision: str = "bf16",
                    tp: int = 1, pp: int = 1, ep: int = 1, max_batch: int = 4096, **overrides) -> OperatingPoint:
    """Highest-throughput decode batch (1..max_batch, one vectorized predict) whose per-user speed is at
    least ``tokens_per_s_per_user`` (0: the highest-throughput point), decode context = isl + osl/2.
    Input tokens: one prefill of ``isl`` tokens per request. Infeasible points return feasible=False."""
    sc = get_scenario(scenario, **overrides)
    if isl < 1 or osl < 1 or max_batch < 1:
        raise SpecError(f"isl, osl and max_batch must be >= 1, got {isl}, {osl}, {max_batch}.")
    if tokens_per_s_per_user < 0:
        raise SpecError(f"tokens_per_s_per_user must be >= 0, got {tokens_per_s_per_user}.")
    m, hw, e, p = _api.resolve(model, hardware, engine, precision)
    kw = dict(engine=e, precision=p, tp=tp, pp=pp, ep=ep)
    dec = _api.predict(m, hw, phase="decode", batch=np.arange(1, max_batch + 1), context=isl + osl // 2, **kw)
    ok = np.asarray(dec.fits) & (dec.tokens_per_s_per_user >= tokens_per_s_per_user)
    args = (m.name, hw.id, p.label, tp, dec.chips, isl, osl, float(tokens_per_s_per_user))
    if not ok.any():
        why = (f"does not fit at batch 1: {dec.fit_reason(0)}" if not bool(dec.fits[0]) else
               f"batch 1 reaches only {dec.tokens_per_s_per_user[0]:.1f} tokens/s/user < {tokens_per_s_per_user:g}; "
               f"use more chips (--tp), a lower precision, or a faster chip")
        return _infeasible(*args, why, sc)
    i = int(np.argmax(np.where(ok, dec.tokens_per_s, -np.inf)))
    pre = _api.predict(m, hw, phase="prefill", batch=1, seq=isl, **kw)
    tps_d, tps_p = float(dec.tokens_per_s[i]), float(pre.tokens_per_s)
    t_d, t_p = osl / tps_d, isl / tps_p
    total, cd, cp, w = _phase_costs(hw, sc, float(dec.power_w_per_chip[i]), float(pre.power_w_per_chip), t_d, t_p,
                                    dec.chips)
    u = sc.utilization_frac
    out = float(ce.usd_per_mtok(dec.chips * cd.effective_usd_per_hour, tps_d))
    inp = float(ce.usd_per_mtok(dec.chips * cp.effective_usd_per_hour, tps_p))
    fac_w = float(ce.facility_power_w(dec.power_w[i], dec.chips, sc.host_power_w_per_chip, sc.pue))
    out_tps = osl / (t_d + t_p)
    return OperatingPoint(
        *args, True, "", i + 1, float(dec.tokens_per_s_per_user[i]), tps_d, tps_p, out_tps, float(dec.power_w[i]),
        float(total) / u, float(total), out, inp, float(ce.blended_usd_per_mtok(inp, out, sc.input_per_output_tokens)),
        float(ce.usd_per_mtok(float(total) / u, out_tps)), float(dec.energy_j_per_token[i]), fac_w / tps_d,
        float(ce.tokens_per_s_per_mw(tps_d, fac_w)), sc.input_per_output_tokens)



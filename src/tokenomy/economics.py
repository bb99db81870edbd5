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
from .core.serving import serving_estimate
from .errors import InfeasibleError, SpecError
from .loaders.economics import default_scenario, load_scenario
from .loaders.hardware import load_hardware
from .spec import args as argcheck
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
    argcheck.optional_text("scenario", scenario, "Pass a Scenario or a scenario YAML/TOML path.", spec_type=(Scenario, Path))
    if scenario is None:
        base = default_scenario()
    elif isinstance(scenario, Scenario):
        base = scenario
    else:
        base = load_scenario(scenario)
    return with_overrides(base, overrides, "overrides")


def _hw(hardware) -> HardwareSpec:
    argcheck.name_or_spec("hardware", hardware, HardwareSpec, argcheck.HARDWARE_HINT)
    return hardware if isinstance(hardware, HardwareSpec) else load_hardware(str(hardware))


def _payable(hw: HardwareSpec, sc: Scenario) -> Scenario | None:
    """``sc`` in a mode the inputs can price: owned needs a chip price, rented a rent; a chip with
    only one of them switches to it; None when neither is known (costs are then NaN)."""
    has_price = sc.chip_price_usd is not None or hw.price_usd is not None
    has_rent = sc.rent_usd_per_hour is not None or hw.rent_usd_per_hour is not None
    if sc.mode == "owned" and not has_price and has_rent:
        return with_overrides(sc, {"mode": "rented"})
    if (sc.mode == "owned" and has_price) or (sc.mode == "rented" and has_rent):
        return sc
    return None


def effective_usd_per_chip_hour(hardware: str | HardwareSpec, scenario: Scenario | str | Path | None = None,
                                **overrides) -> float:
    """USD per busy chip-hour at the chip's power limit (owned at its price, or its rent when it has
    no price); NaN when neither is known."""
    hw = _hw(hardware)
    sc = _payable(hw, get_scenario(scenario, **overrides))
    return float("nan") if sc is None else float(_cost(hw, sc).effective_usd_per_hour)


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
    sc = _payable(hw, get_scenario(scenario))
    if sc is None:
        te = token_economics(prediction, get_scenario(scenario, mode="rented", rent_usd_per_hour=0.0), hardware=hw)
        nan = np.full(np.shape(te.usd_per_hour), np.nan)
        te = dataclasses.replace(te, usd_per_hour=nan, usd_per_mtok=nan)
    else:
        te = token_economics(prediction, sc, hardware=hw)
    return {k: v for k, v in dataclasses.asdict(te).items() if k != "j_per_token"}


# --- an operating point at a required per-user speed ---------------------------------------------------


@dataclass(frozen=True)
class OperatingPoint(_Dict):
    """The highest-throughput concurrency that meets ``tokens_per_s_per_user_required``, and what its
    tokens cost, on the steady-state serving model of core/serving.py (the frontier's): the per-user
    speed includes the prefills interleaved with decode steps.

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
    prefill_power_w: float              # prefill of one request, replica, accelerators
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
                          nan, nan, nan, nan, nan, nan, nan, nan, sc.input_per_output_tokens)


def _phase_costs(hw, sc, dec_w_chip, pre_w_chip, t_d, t_p, chips, price=None):
    """Replica cost per calendar hour, time-weighted over decode and prefill: (total, ChipHourCosts)."""
    cd = _cost(hw, sc, dec_w_chip, chip_price_usd=price, mode="owned" if price is not None else None)
    cp = _cost(hw, sc, pre_w_chip, chip_price_usd=price, mode="owned" if price is not None else None)
    w = lambda a, b: chips * (a * t_d + b * t_p) / (t_d + t_p)  # noqa: E731
    return w(cd.total_usd_per_hour, cp.total_usd_per_hour), cd, cp, w


def operating_point(model, hardware, tokens_per_s_per_user: float = 0.0, isl: int = 1024, osl: int = 1024, *,
                    scenario: Scenario | str | Path | None = None, engine=None, precision: str | None = None,
                    tp: int = 1, pp: int = 1, ep: int = 1, max_batch: int = 4096, **overrides) -> OperatingPoint:
    """Highest-throughput decode batch (1..max_batch, one vectorized predict) whose per-user speed is at
    least ``tokens_per_s_per_user`` (0: the highest-throughput point), decode context = isl + osl/2.
    Input tokens: one prefill of ``isl`` tokens per request. Infeasible points return feasible=False."""
    sc = get_scenario(scenario, **overrides)
    isl, osl = (argcheck.count(k, v, maximum=argcheck.MAX_TOKENS) for k, v in (("isl", isl), ("osl", osl)))
    max_batch = argcheck.count("max_batch", max_batch, maximum=argcheck.MAX_BATCH)
    tokens_per_s_per_user = argcheck.number("tokens_per_s_per_user", tokens_per_s_per_user)
    m, hw, e, p = _api.resolve(model, hardware, engine, precision)
    kw = dict(engine=e, precision=p, tp=tp, pp=pp, ep=ep)
    dec = _api.predict(m, hw, phase="decode", batch=np.arange(1, max_batch + 1), context=isl + osl / 2, **kw)
    pre = _api.predict(m, hw, phase="prefill", batch=1, seq=isl, **kw)
    est = serving_estimate(dec, float(pre.stage_s), float(pre.latency_s), float(pre.power_w), isl=isl, osl=osl,
                           usd_per_hour=0.0, pp=pp)          # the frontier's steady state: prefill interleaved
    speed = est["tokens_per_s_per_user"]
    ok = np.asarray(dec.fits) & bool(pre.fits) & (speed >= tokens_per_s_per_user)
    args = (m.name, hw.id, p.label, tp, dec.chips, isl, osl, float(tokens_per_s_per_user))
    if not ok.any():
        why = (f"does not fit at batch 1: {dec.fit_reason(0)}" if not bool(dec.fits[0]) else
               f"prefill of {isl} tokens does not fit: {pre.fit_reason()}" if not bool(pre.fits) else
               f"batch 1 reaches only {speed[0]:.1f} tokens/s/user < {tokens_per_s_per_user:g}; "
               f"use more chips (--tp), a lower precision, or a faster chip")
        return _infeasible(*args, why, sc)
    i = int(np.argmax(np.where(ok, est["tokens_per_s"], -np.inf)))
    tps_d, tps_p = float(dec.tokens_per_s[i]), float(pre.tokens_per_s)
    t_d, t_p = osl / tps_d, isl / tps_p
    total, cd, cp, w = _phase_costs(hw, sc, float(dec.power_w_per_chip[i]), float(pre.power_w_per_chip), t_d, t_p,
                                    dec.chips)
    u = sc.utilization_frac
    out = float(ce.usd_per_mtok(dec.chips * cd.effective_usd_per_hour, tps_d))
    inp = float(ce.usd_per_mtok(dec.chips * cp.effective_usd_per_hour, tps_p))
    fac_w = float(ce.facility_power_w(dec.power_w[i], dec.chips, sc.host_power_w_per_chip, sc.pue))
    out_tps = float(est["tokens_per_s"][i])                # = osl / (t_d + t_p)
    return OperatingPoint(
        *args, True, "", int(est["batch"][i]), float(speed[i]), tps_d, tps_p, out_tps, float(dec.power_w[i]),
        float(pre.power_w),
        float(total) / u, float(total), out, inp, float(ce.blended_usd_per_mtok(inp, out, sc.input_per_output_tokens)),
        float(ce.usd_per_mtok(float(total) / u, out_tps)), float(dec.energy_j_per_token[i]), fac_w / tps_d,
        float(ce.tokens_per_s_per_mw(tps_d, fac_w)), sc.input_per_output_tokens)


# --- 3. the AI factory: a power budget, several chips side by side ------------------------------------


@dataclass(frozen=True)
class FactoryRow(_Dict):
    """One chip filling the power budget. Tokens are output tokens (prefill time included)."""

    hardware: str
    feasible: bool
    reason: str
    chips_per_replica: int
    replicas: int
    chips: int
    provisioned_w_per_chip: float       # chip power limit + host, times PUE: what the budget is sized by
    batch: int
    tokens_per_s_per_user: float
    tokens_per_s: float                 # fleet output tokens/s when busy
    tokens_per_s_per_mw: float          # per MW of the budget
    tokens_per_year: float              # at utilization
    capex_usd: float                    # upfront: IT (owned) plus facility
    cost_usd_per_year: float
    revenue_usd_per_year: float
    margin_usd_per_year: float
    margin_frac: float
    usd_per_mtok: float                 # all-in cost per output Mtok
    chip_price_usd: float | None


@dataclass(frozen=True)
class FactoryResult(_Dict):
    power_mw: float
    model: str
    tokens_per_s_per_user: float
    token_price_usd_per_mtok: float
    rows: tuple[FactoryRow, ...]
    best_margin: str                    # hardware id with the largest margin ("" if none feasible)
    cheapest_chip: str                  # hardware id with the lowest chip price (owned)


def _per_chip(value, hardware: list[str], name: str) -> list:
    vals = list(value) if isinstance(value, (list, tuple)) else [value] * len(hardware)
    if len(vals) != len(hardware):
        raise SpecError(f"{name} has {len(vals)} values for {len(hardware)} chips; give one, or one per chip.")
    return vals


def _fleet(op: OperatingPoint, hw: HardwareSpec, sc: Scenario, power_mw: float):
    """Size a fleet of ``op`` replicas in ``power_mw``: (replicas, provisioned W per chip, capex per chip USD)."""
    chip_w = sc.chip_power_w or hw.power_limit_w or op.power_w / op.chips
    prov_w = (chip_w + sc.host_power_w_per_chip) * sc.pue
    replicas = int(math.floor(power_mw * 1e6 / (prov_w * op.chips) + 1e-9))
    c = _cost(hw, sc, chip_w)
    return replicas, prov_w, float(c.capex_usd + c.facility_capex_usd)


def _factory_row(op: OperatingPoint, hw: HardwareSpec, sc: Scenario, power_mw: float, price: float) -> FactoryRow:
    nan = float("nan")
    chip_price = (sc.chip_price_usd if sc.chip_price_usd is not None else hw.price_usd) if sc.mode == "owned" else None
    if not op.feasible:
        return FactoryRow(hw.id, False, op.reason, op.chips, 0, 0, nan, 0, nan, nan, nan, nan, nan, nan, nan, nan,
                          nan, nan, chip_price)
    replicas, prov_w, capex_chip = _fleet(op, hw, sc, power_mw)
    chips = replicas * op.chips
    tps = replicas * op.output_tokens_per_s
    tokens_year = tps * ce.S_PER_HOUR * ce.HOURS_PER_YEAR * sc.utilization_frac
    cost = replicas * op.total_usd_per_hour * ce.HOURS_PER_YEAR
    revenue = tokens_year / ce.TOKENS_PER_MTOK * price
    reason = "" if replicas else f"one replica needs {prov_w * op.chips / 1e6:.3f} MW > {power_mw:g} MW"
    return FactoryRow(hw.id, replicas > 0, reason, op.chips, replicas, chips, prov_w, op.batch, op.tokens_per_s_per_user,
                      tps, tps / power_mw, tokens_year, chips * capex_chip, cost, revenue, revenue - cost,
                      (revenue - cost) / revenue if revenue > 0 else nan, op.usd_per_mtok_all_in, chip_price)


def factory(power_mw: float, model, hardware: list[str] | str, tokens_per_s_per_user: float, isl: int = 1024,
            osl: int = 1024, *, token_price_usd_per_mtok: float | None = None,
            scenario: Scenario | str | Path | None = None, engine=None, precision=None, tp=1,
            **overrides) -> FactoryResult:
    """For each chip: replicas that fit in ``power_mw`` (sized at power limit + host, times PUE), output
    tokens per year, cost per year, revenue at ``token_price_usd_per_mtok`` (per output Mtok), margin.
    ``tp`` and ``precision`` may be one value or one per chip."""
    argcheck.number("power_mw", power_mw, maximum=argcheck.MAX_POWER_MW, allow_minimum=False)
    hws = argcheck.names("hardware", hardware, HardwareSpec, argcheck.HARDWARE_HINT)
    sc = get_scenario(scenario, **overrides)
    price = sc.token_price_usd_per_mtok if token_price_usd_per_mtok is None else token_price_usd_per_mtok
    argcheck.number("token_price_usd_per_mtok", price)
    rows = []
    for h, t, prec in zip(hws, _per_chip(tp, hws, "tp"), _per_chip(precision, hws, "precision")):
        hw = _hw(h)
        op = operating_point(model, hw, tokens_per_s_per_user, isl, osl, scenario=sc, engine=engine, precision=prec, tp=t)
        rows.append(_factory_row(op, hw, sc, power_mw, price))
    ok = [r for r in rows if r.feasible]
    priced = [r for r in rows if r.chip_price_usd is not None]
    return FactoryResult(power_mw, _api.resolve(model, hws[0])[0].name, float(tokens_per_s_per_user), price, tuple(rows),
                         max(ok, key=lambda r: r.margin_usd_per_year).hardware if ok else "",
                         min(priced, key=lambda r: r.chip_price_usd).hardware if priced else "")


# --- 4. the free chip: break-even price of X against Y ---------------------------------------------------


@dataclass(frozen=True)
class BreakEven(_Dict):
    """Chip price of X at which X's all-in $/Mtok equals Y's, at the same per-user speed."""

    hardware_x: str
    hardware_y: str
    tokens_per_s_per_user: float
    usd_per_mtok_y: float
    usd_per_mtok_x_free: float          # X at price 0: its non-chip costs per output Mtok
    usd_per_mtok_x_list: float | None   # X at its catalog price (None without one)
    list_price_usd_x: float | None
    break_even_price_usd: float         # negative: even free, X is not cheap enough; -inf: X cannot run it
    is_free_enough: bool
    non_chip_usd_per_mtok: dict         # X at price 0: energy (power), facility (space, cooling), ops
    reason: str
    x: OperatingPoint
    y: OperatingPoint


def break_even_price(model, hardware_x, hardware_y, tokens_per_s_per_user: float, isl: int = 1024, osl: int = 1024, *,
                     scenario: Scenario | str | Path | None = None, engine=None, precision=None, tp_x: int = 1,
                     tp_y: int = 1, precision_y: str | None = None, **overrides) -> BreakEven:
    """X is owned at the unknown price p; Y is costed by the scenario (owned or rented). X's replica cost per
    hour is slope * p + intercept (core.economics), so p = (target * tps * 3600e-6 * u - intercept) / slope."""
    sc = get_scenario(scenario, **overrides)
    hx, hy = _hw(hardware_x), _hw(hardware_y)
    kw = dict(scenario=sc, engine=engine)
    oy = operating_point(model, hy, tokens_per_s_per_user, isl, osl, precision=precision_y or precision, tp=tp_y, **kw)
    if not oy.feasible:
        raise InfeasibleError(f"reference chip {hy.id} cannot serve {tokens_per_s_per_user:g} tokens/s/user: {oy.reason}")
    ox = operating_point(model, hx, tokens_per_s_per_user, isl, osl, precision=precision, tp=tp_x, **kw)
    target, list_price = oy.usd_per_mtok_all_in, hx.price_usd if sc.chip_price_usd is None else sc.chip_price_usd
    if not ox.feasible:
        return BreakEven(hx.id, hy.id, float(tokens_per_s_per_user), target, float("nan"), None, list_price,
                         float("-inf"), False, {}, f"even free, {hx.id} cannot do it: {ox.reason}", ox, oy)
    # recover time per request and per-phase power from the operating point
    t_d, t_p = osl / ox.tokens_per_s, isl / ox.prefill_tokens_per_s
    dec_w, pre_w = ox.power_w / ox.chips, ox.prefill_power_w / ox.chips
    at0, cd, cp, w = _phase_costs(hx, sc, dec_w, pre_w, t_d, t_p, ox.chips, price=0.0)
    at1 = _phase_costs(hx, sc, dec_w, pre_w, t_d, t_p, ox.chips, price=1.0)[0]
    u, tps = sc.utilization_frac, ox.output_tokens_per_s
    p = float(ce.break_even_chip_price_usd(target, tps, at1 - at0, at0, u))
    per_mtok = lambda usd_h: float(ce.usd_per_mtok(usd_h / u, tps))  # noqa: E731
    parts = {"energy (power)": per_mtok(w(cd.energy_usd_per_hour, cp.energy_usd_per_hour)),
             "facility (space, cooling, power delivery)": per_mtok(w(cd.facility_usd_per_hour, cp.facility_usd_per_hour)),
             "operations": per_mtok(w(cd.ops_usd_per_hour, cp.ops_usd_per_hour))}
    free = per_mtok(float(at0))
    x_list = None if list_price is None else per_mtok(float(at0 + (at1 - at0) * list_price))
    top = max(parts, key=parts.get)
    if p < 0:
        reason = (f"even free, {hx.id} costs ${free:.3f}/Mtok in non-chip costs, more than {hy.id}'s ${target:.3f}/Mtok; "
                  f"largest: {top} ${parts[top]:.3f}/Mtok")
    else:
        reason = f"{hx.id} matches {hy.id}'s ${target:.3f}/Mtok at a chip price of ${p:,.0f}"
    return BreakEven(hx.id, hy.id, float(tokens_per_s_per_user), target, free, x_list, list_price, p, p >= 0, parts,
                     reason, ox, oy)


# --- 5. stranded capital: NPV under token deflation, token inflation per answer ------------------------


@dataclass(frozen=True)
class Investment(_Dict):
    """A fleet filling ``power_mw`` over its depreciation life while the token price falls."""

    hardware: str
    power_mw: float
    chips: int
    years: int
    capex_usd: float                    # upfront IT capex (0 when rented); facility is paid yearly (annuity)
    cost_usd_per_year: float            # facility annuity + energy + ops (or rent)
    tokens_per_year: float
    token_price_usd_per_mtok: float     # today
    token_price_decline_per_year: float
    cash_flows_usd: list                # years 0..years
    price_usd_per_mtok_by_year: list    # mean price in years 1..years
    npv_usd: float
    payback_years: float                # inf: never paid back
    unrecovered_usd: float              # stranded capital: cumulative cash still negative at the end
    tokens_per_answer: float            # tokens_per_query x tokens_multiplier
    cost_usd_per_answer: float
    price_usd_per_answer_by_year: list
    point: OperatingPoint


def invest(model, hardware, tokens_per_s_per_user: float, isl: int = 1024, osl: int = 1024, *, power_mw: float = 1.0,
           tokens_per_query: float | None = None, tokens_multiplier: float = 1.0,
           scenario: Scenario | str | Path | None = None, engine=None, precision=None, tp: int = 1,
           **overrides) -> Investment:
    """NPV (at cost_of_capital_frac) and payback of a fleet over round(depreciation_years) when the price per
    token falls token_price_decline_per_year x per year; cost per answer of tokens_per_query (default osl)
    output tokens times ``tokens_multiplier`` (reasoning workloads burn ~20x more tokens, GTC 2025)."""
    argcheck.number("power_mw", power_mw, maximum=argcheck.MAX_POWER_MW, allow_minimum=False)
    argcheck.number("tokens_multiplier", tokens_multiplier, allow_minimum=False)
    if tokens_per_query is not None:
        argcheck.number("tokens_per_query", tokens_per_query, allow_minimum=False)
    sc = get_scenario(scenario, **overrides)
    hw = _hw(hardware)
    op = operating_point(model, hw, tokens_per_s_per_user, isl, osl, scenario=sc, engine=engine, precision=precision,
                         tp=tp)
    if not op.feasible:
        raise InfeasibleError(f"{hw.id} cannot serve {tokens_per_s_per_user:g} tokens/s/user: {op.reason}")
    row = _factory_row(op, hw, sc, power_mw, sc.token_price_usd_per_mtok)
    if not row.feasible:
        raise InfeasibleError(f"{hw.id}: {row.reason}")
    years = max(1, int(round(sc.depreciation_years)))
    chip_w = sc.chip_power_w or hw.power_limit_w or op.power_w / op.chips
    c = _cost(hw, sc, chip_w)
    capex = row.chips * float(c.capex_usd)
    # capex is paid upfront here, so drop its annuity from the yearly cost (ops, facility, energy stay)
    cost_year = row.cost_usd_per_year - row.chips * float(c.capex_usd_per_hour) * ce.HOURS_PER_YEAR
    revenue_today = row.tokens_per_year / ce.TOKENS_PER_MTOK * sc.token_price_usd_per_mtok
    cash = ce.fleet_cash_flows_usd(capex, revenue_today, cost_year, years, sc.token_price_decline_per_year)
    prices = sc.token_price_usd_per_mtok * ce.yearly_price_factor(sc.token_price_decline_per_year, years)
    per_answer = (tokens_per_query if tokens_per_query is not None else osl) * tokens_multiplier
    return Investment(hw.id, power_mw, row.chips, years, capex, cost_year, row.tokens_per_year,
                      sc.token_price_usd_per_mtok, sc.token_price_decline_per_year, cash.tolist(), prices.tolist(),
                      ce.npv_usd(cash, sc.cost_of_capital_frac), ce.payback_years(cash),
                      max(0.0, -float(np.cumsum(cash)[-1])), per_answer,
                      op.usd_per_mtok_all_in * per_answer / ce.TOKENS_PER_MTOK,
                      (prices * per_answer / ce.TOKENS_PER_MTOK).tolist(), op)

"""The free chip: the price of chip X at which its all-in $/Mtok equals chip Y's at a per-user speed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import economics as ce
from ..errors import InfeasibleError, SpecError
from .base import ScenarioLike, _Dict, get_scenario, hw_spec
from .chip_hour import chip_price_usd, cost
from .operating_point import OperatingPoint, operating_point, pricing_power_w


@dataclass(frozen=True)
class BreakEven(_Dict):
    """Chip price of X at which X's all-in $/Mtok equals Y's, at the same per-user speed.

    ``records()``: X's and Y's operating points (``role`` x / y); ``summary()``: the verdict."""

    hardware_x: str
    hardware_y: str
    tokens_per_s_per_user_required: float
    usd_per_mtok_all_in_y: float
    usd_per_mtok_all_in_x_free: float           # X at price 0: its non-chip costs per output Mtok
    usd_per_mtok_all_in_x_list: float | None    # X at its catalog price (None without one)
    list_price_usd_x: float | None
    break_even_price_usd: float                 # negative: even free, X is not cheap enough
    is_free_enough: bool
    non_chip_usd_per_mtok: dict                 # X at price 0: energy, facility (space, cooling, power), operations
    reason: str
    x: OperatingPoint
    y: OperatingPoint

    def records(self) -> list[dict]:
        """X's and Y's operating points, flat, ``role`` saying which."""
        return [{"role": "x", **self.x.to_dict()}, {"role": "y", **self.y.to_dict()}]

    def summary(self) -> dict:
        """The verdict (every field but the two points)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("x", "y")}


# Scenario fields that describe one chip (None: from each chip's catalog entry)
PER_CHIP_FIELDS = ("chip_price_usd", "rent_usd_per_hour", "chip_power_w", "host_power_w_per_chip")


def break_even_price(model: Any, hardware_x: Any, hardware_y: Any, tokens_per_s_per_user: float, isl: int = 1024,
                     osl: int = 1024, *, scenario: ScenarioLike = None, engine: Any = None,
                     precision: str | None = None, tp_x: int | None = None, tp_y: int | None = None,
                     precision_y: str | None = None, pp_x: int | None = None, pp_y: int | None = None,
                     ep_x: int | None = None, ep_y: int | None = None, chips_x: int | None = None,
                     chips_y: int | None = None, **overrides: Any) -> BreakEven:
    """X is owned at the unknown price p; Y is costed by the scenario (owned or rented). X's replica cost per
    hour is slope * p + intercept (core.economics), so p = (target * tps * 3600e-6 * u - intercept) / slope.
    ``tp_*``/``pp_*``/``ep_*``/``chips_*``: the deployment of X and Y (None: chosen, operating_point)."""
    sc = get_scenario(scenario, **overrides)
    per_chip = [k for k in PER_CHIP_FIELDS if getattr(sc, k) is not None]
    if per_chip:   # one value would price both chips (and X's price is the unknown): refused, not guessed
        flags = ", ".join("--" + k.replace("_", "-") for k in per_chip)
        raise SpecError(f"breakeven compares two chips, so a per-chip figure ({flags}) would apply to both; put it in "
                        "a hardware YAML of the chip it belongs to (tokenomy hardware show ID lists the fields).")
    hx, hy = hw_spec(hardware_x), hw_spec(hardware_y)
    kw: dict[str, Any] = {"scenario": sc, "engine": engine}
    oy = operating_point(model, hy, tokens_per_s_per_user, isl, osl, precision=precision_y or precision, tp=tp_y,
                         pp=pp_y, ep=ep_y, chips=chips_y, **kw)
    if not oy.feasible:
        raise InfeasibleError(f"reference chip {hy.id} cannot serve {tokens_per_s_per_user:g} tokens/s/user: "
                              f"{oy.reason}")
    ox = operating_point(model, hx, tokens_per_s_per_user, isl, osl, precision=precision, tp=tp_x, pp=pp_x, ep=ep_x,
                         chips=chips_x, **kw)
    target, list_price = oy.usd_per_mtok_all_in, chip_price_usd(hx, sc)
    if not ox.feasible:
        raise InfeasibleError(f"{hx.id} cannot serve {tokens_per_s_per_user:g} tokens/s/user at any price, so it "
                              f"has no break-even price: {ox.reason}")
    # X owned at price 0 and 1, per chip and calendar hour, priced as its operating point is (pricing_power_w)
    chip_w = pricing_power_w(hx, sc, ox.power_w / ox.chips)
    c0 = cost(hx, sc, chip_w, chip_price=0.0, mode="owned")
    at0 = ox.chips * float(c0.total_usd_per_hour)
    at1 = ox.chips * float(cost(hx, sc, chip_w, chip_price=1.0, mode="owned").total_usd_per_hour)
    u, tps = sc.utilization_frac, ox.tokens_per_s
    p = float(ce.break_even_chip_price_usd(target, tps, at1 - at0, at0, u))

    def per_mtok(usd_per_chip_calendar_hour: Any) -> float:
        return float(ce.usd_per_mtok(ox.chips * usd_per_chip_calendar_hour / u, tps))

    parts = {"energy": per_mtok(c0.energy_usd_per_hour), "facility": per_mtok(c0.facility_usd_per_hour),
             "operations": per_mtok(c0.ops_usd_per_hour)}
    free = per_mtok(float(c0.total_usd_per_hour))
    x_list = None if list_price is None else float(ce.usd_per_mtok((at0 + (at1 - at0) * list_price) / u, tps))
    top = max(parts, key=lambda k: parts[k])
    if p < 0:
        reason = (f"even free, {hx.id} costs ${free:.3f}/Mtok in non-chip costs, "
                  f"more than {hy.id}'s ${target:.3f}/Mtok; largest: {top} ${parts[top]:.3f}/Mtok")
    else:
        reason = f"{hx.id} matches {hy.id}'s ${target:.3f}/Mtok at a chip price of ${p:,.0f}"
    return BreakEven(hx.id, hy.id, float(tokens_per_s_per_user), target, free, x_list, list_price, p, p >= 0, parts,
                     reason, ox, oy)

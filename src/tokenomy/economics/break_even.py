"""The free chip: the price of chip X at which its all-in $/Mtok equals chip Y's at a per-user speed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import economics as ce
from ..errors import InfeasibleError
from .base import ScenarioLike, _Dict, get_scenario, hw_spec
from .chip_hour import chip_price_usd
from .operating_point import OperatingPoint, operating_point, phase_costs


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
    break_even_price_usd: float         # negative: even free, X is not cheap enough
    is_free_enough: bool
    non_chip_usd_per_mtok: dict         # X at price 0: energy (power), facility (space, cooling), ops
    reason: str
    x: OperatingPoint
    y: OperatingPoint


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
    # recover time per request and per-phase power from the operating point
    t_d, t_p = osl / ox.tokens_per_s, isl / ox.prefill_tokens_per_s
    dec_w, pre_w = ox.power_w / ox.chips, ox.prefill_power_w / ox.chips
    at0, cd, cp, w = phase_costs(hx, sc, dec_w, pre_w, t_d, t_p, ox.chips, price=0.0)
    at1 = phase_costs(hx, sc, dec_w, pre_w, t_d, t_p, ox.chips, price=1.0)[0]
    u, tps = sc.utilization_frac, ox.output_tokens_per_s
    p = float(ce.break_even_chip_price_usd(target, tps, at1 - at0, at0, u))

    def per_mtok(usd_h: Any) -> float:
        return float(ce.usd_per_mtok(usd_h / u, tps))

    parts = {"energy (power)": per_mtok(w(cd.energy_usd_per_hour, cp.energy_usd_per_hour)),
             "facility (space, cooling, power delivery)": per_mtok(w(cd.facility_usd_per_hour,
                                                                     cp.facility_usd_per_hour)),
             "operations": per_mtok(w(cd.ops_usd_per_hour, cp.ops_usd_per_hour))}
    free = per_mtok(float(at0))
    x_list = None if list_price is None else per_mtok(float(at0 + (at1 - at0) * list_price))
    top = max(parts, key=lambda k: parts[k])
    if p < 0:
        reason = (f"even free, {hx.id} costs ${free:.3f}/Mtok in non-chip costs, "
                  f"more than {hy.id}'s ${target:.3f}/Mtok; largest: {top} ${parts[top]:.3f}/Mtok")
    else:
        reason = f"{hx.id} matches {hy.id}'s ${target:.3f}/Mtok at a chip price of ${p:,.0f}"
    return BreakEven(hx.id, hy.id, float(tokens_per_s_per_user), target, free, x_list, list_price, p, p >= 0, parts,
                     reason, ox, oy)

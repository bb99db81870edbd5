"""The findings of ``tokenomy brief``: pure functions from results of the public API (``frontier.sweep``,
``economics.factory`` / ``invest`` / ``break_even_price``) to ``Finding`` objects.

Each finding kind applies only where its analysis says something (two chips reach a speed, an SRAM chip is in
the list, ...); none is invented. Every number in a headline is formatted from a result, in the format the
reproduce command prints it (``cli/tables.num`` or the frontier summary's ``.3g``), so the reader finds it there.

The score is how much a finding changes a decision: ``ratio_score`` (|ln| of a cost, energy or throughput ratio
between the best option and the next) or ``fraction_score`` (an NPV swing as a fraction of capex, ln(1 + f)), so a
5x gap scores ln 5 = 1.61 and a 5% gap ln 1.05 = 0.049.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..frontier import TIE_FRAC
from .formats import num, scaled

# assumption: the span of industrial electricity prices a buyer meets (issue 15: "3 to 15 cents/kWh")
ELECTRICITY_RANGE_USD_PER_KWH = (0.03, 0.15)
# assumption: the token price may be half or double the scenario's (factory margin sensitivity)
TOKEN_PRICE_FACTORS = (0.5, 2.0)
SPEED_FACTORS = (0.5, 2.0)     # energy ranking: re-read at half and double the speed target
millions = scaled(1e-6)


def usd_m(x: float) -> str:
    """Dollars in millions as the economics tables print them ($M column, ``millions``), sign first: -$925M."""
    return ("-" if x < 0 else "") + f"${millions(abs(x))}M"

WHY = {
    "cheapest_chip": ("A chip-hour costs its capex, power and operations whether busy or not; at a given per-user "
                      "speed the chip that batches the most users per dollar of chip-hour wins."),
    "lowest_energy": ("Decode reads every weight once per step: joules per token fall with the batch a chip can "
                      "hold at the speed, and with fewer watts per byte/s of memory bandwidth."),
    "speed_premium": ("A faster stream per user needs a smaller batch (or more chips per replica), so the same "
                      "chip-hour is shared by fewer tokens."),
    "sram_crossover": ("SRAM systems hold the weights on chip and stream them far faster than HBM, but need "
                       "hundreds of chips per replica: costly at low speed, cheaper once GPUs must run tiny batches."),
    "factory_ranking": ("A power budget caps the chips, not the capex: tokens per provisioned MW decide the output "
                        "of the factory, so a costlier chip with more throughput can earn the larger margin."),
    "stranded_capital": ("Capex is spent up front while the token price falls each year; revenue late in the "
                         "chips' life may not cover even their running cost."),
    "free_chip": ("Without the chip, a token still pays for power, facility and operations; a chip that needs "
                  "many more chip-hours per token loses even at price zero."),
}


@dataclass(frozen=True)
class Finding:
    """One insight: ``kind`` (a key of WHY), ``score`` (decision weight), the sentence with its numbers, the
    reason, the shell line that reproduces the numbers, how it moves with the main assumption, and a chart
    (label -> value, in ``chart_unit``)."""

    kind: str
    score: float
    headline: str
    command: str
    sensitivity: str
    chart: Mapping[str, float] = field(default_factory=dict)
    chart_unit: str = ""
    subject: str = ""          # the chip a per-speed finding is about: rank keeps one finding per kind and chip

    @property
    def why(self) -> str:
        return WHY[self.kind]


@dataclass(frozen=True)
class Inputs:
    """What the brief was asked (CLI flags, resolved)."""

    model: str
    hardware: tuple[str, ...]
    isl: int
    osl: int
    speeds: tuple[float, ...]
    power_mw: float
    scenario: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)


def ratio_score(a: float, b: float) -> float:
    """|ln(a / b)|: a 5x gap scores 1.61, a 5% gap 0.049."""
    return abs(math.log(a / b)) if a > 0 and b > 0 else 0.0


def fraction_score(f: float) -> float:
    """ln(1 + |f|) of a swing given as a fraction (of capex)."""
    return math.log1p(abs(f))


def rank(findings: Sequence[Finding], top: int) -> list[Finding]:
    """The ``top`` findings by score, highest first (ties: kind, then headline, for a stable order); of several
    findings of one kind about one chip (the same chip leads at several speeds) only the highest-scored."""
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for f in sorted(findings, key=lambda f: (-f.score, f.kind, f.headline)):
        if f.subject and (f.kind, f.subject) in seen:
            continue
        seen.add((f.kind, f.subject))
        out.append(f)
    return out[:top]


def command(inp: Inputs, sub: str, **flags: Any) -> str:
    """The ``tokenomy`` shell line of ``sub`` with ``flags`` (None dropped) and the brief's price flags."""
    import shlex

    parts = ["tokenomy", sub]
    given = {**flags, "scenario": inp.scenario, **inp.overrides}
    for k, v in given.items():
        if v is not None:
            parts += ["--" + k.replace("_", "-"), shlex.quote(f"{v:g}" if isinstance(v, float) else str(v))]
    return " ".join(parts)


def _frontier_cmd(inp: Inputs, chips: Sequence[str], speed: float | None = None) -> str:
    return command(inp, "frontier", model=inp.model, hardware=",".join(chips), isl=inp.isl, osl=inp.osl,
                   tokens_per_s_per_user=speed)


# -- reading a frontier
def best_at_speed(res, speed: float, key: str = "usd_per_mtok_all_in", flag: str = "meets_slo") -> dict[str, float]:
    """Per chip, the lowest ``key`` over its points (``flag`` set) at >= ``speed`` tokens/s/user."""
    c = res.columns
    out = {}
    for hw in res.hardware:
        sel = (c["hardware"] == hw) & c[flag] & (c["tokens_per_s_per_user"] >= speed) & np.isfinite(c[key])
        if sel.any():
            out[hw] = float(c[key][sel].min())
    return out


def best_deployment(res, speed: float) -> dict[str, dict[str, int]]:
    """Per chip, the tp / pp / ep of its cheapest point at >= ``speed`` (the deployment ``best_at_speed`` reads)."""
    c = res.columns
    out = {}
    for hw in res.hardware:
        sel = np.flatnonzero((c["hardware"] == hw) & c["meets_slo"] & (c["tokens_per_s_per_user"] >= speed)
                            & np.isfinite(c["usd_per_mtok_all_in"]))
        if sel.size:
            i = sel[np.argmin(c["usd_per_mtok_all_in"][sel])]
            out[hw] = {k: int(c[k][i]) for k in ("tp", "pp", "ep")}
    return out


def _two_best(values: Mapping[str, float], tie: bool = True) -> tuple[tuple[str, float], tuple[str, float]] | None:
    """The lowest two (chip, value), or None with fewer than two chips or (``tie``) when the runner-up is within
    TIE_FRAC of the best: the frontier counts them even, so there is no winner to report."""
    if len(values) < 2:
        return None
    (a, va), (b, vb) = sorted(values.items(), key=lambda kv: kv[1])[:2]
    if tie and vb <= (1 + TIE_FRAC) * va:
        return None
    return (a, va), (b, vb)


def _lead(values: Mapping[str, float]) -> str:
    top = _two_best(values, tie=False)
    if top is None:
        return "no comparison"
    (a, va), (b, vb) = top
    return f"{a} leads {b} by {vb / va:.2f}x"


def _holds(leaders: Sequence[str], best: str) -> str:
    return "the conclusion holds" if all(x == best for x in leaders) else "the conclusion does not hold"


def cheapest_chip(inp: Inputs, base, sens: Mapping[float, Any]) -> list[Finding]:
    """Per speed of ``inp.speeds``: the cheapest chip ($/Mtok all-in) and its ratio to the runner-up; ``sens``:
    the same sweep at each electricity price of ELECTRICITY_RANGE_USD_PER_KWH."""
    out = []
    for s in inp.speeds:
        top = _two_best(best_at_speed(base, s))
        if top is None:
            continue
        (a, va), (b, vb) = top
        alt = {e: best_at_speed(r, s) for e, r in sens.items()}
        leaders = [min(v, key=v.__getitem__) for v in alt.values() if v]
        lo, hi = min(sens), max(sens)
        sensitivity = (f"electricity {lo:g} to {hi:g} $/kWh: " + "; ".join(f"at {e:g}, {_lead(v)}"
                                                                         for e, v in alt.items())
                       + f"; {_holds(leaders, a)}.")
        out.append(Finding(
            "cheapest_chip", ratio_score(vb, va),
            f"At >= {s:g} tok/s/user the cheapest chip is {a} at ${va:.3g}/Mtok all-in; the next, {b}, costs "
            f"${vb:.3g}/Mtok ({vb / va:.2f}x).",
            _frontier_cmd(inp, inp.hardware, s), sensitivity, best_at_speed(base, s), "$/Mtok", a))
    return out


def lowest_energy(inp: Inputs, base) -> list[Finding]:
    """Per speed: the chip with the lowest J/token (chip watts) on the frontier at >= that speed, and its ratio
    to the next; sensitivity: the same reading at half and double the speed."""
    out = []
    for s in inp.speeds:
        vals = best_at_speed(base, s, "j_per_token_chip", "on_frontier")
        top = _two_best(vals)
        if top is None:
            continue
        (a, va), (b, vb) = top
        alt = {f * s: best_at_speed(base, f * s, "j_per_token_chip", "on_frontier") for f in SPEED_FACTORS}
        leaders = [min(v, key=v.__getitem__) for v in alt.values() if len(v) >= 2]
        sensitivity = ("speed target: " + "; ".join(f"at {x:g} tok/s/user, {_lead(v)}" for x, v in alt.items())
                       + f"; {_holds(leaders, a) if leaders else 'no other speed to compare'}.")
        out.append(Finding(
            "lowest_energy", ratio_score(vb, va),
            f"At >= {s:g} tok/s/user {a} uses the least energy: {num(va)} J/token (chip), against {num(vb)} "
            f"J/token on {b} ({vb / va:.2f}x).",
            _frontier_cmd(inp, [a, b], s), sensitivity, vals, "J/token", a))
    return out


def speed_premium(inp: Inputs, base, sens: Mapping[float, Any]) -> list[Finding]:
    """On the cheapest chip at the highest speed any chip reaches: its cost there against the lowest speed."""
    lo = min(inp.speeds)
    reached = [s for s in inp.speeds if s > lo and best_at_speed(base, s)]
    if not reached:
        return []
    hi = max(reached)
    at_hi = best_at_speed(base, hi)
    chip = min(at_hi, key=at_hi.__getitem__)
    c_lo, c_hi = best_at_speed(base, lo)[chip], at_hi[chip]
    ratios = {e: best_at_speed(r, hi).get(chip, math.inf) / best_at_speed(r, lo)[chip] for e, r in sens.items()}
    sensitivity = (f"electricity {min(sens):g} to {max(sens):g} $/kWh: the premium is "
                   + ", ".join(f"{x:.2f}x at {e:g}" for e, x in ratios.items())
                   + f"; {'it holds' if all(x > 1 for x in ratios.values()) else 'it does not hold'}.")
    cmds = " && ".join(_frontier_cmd(inp, [chip], s) for s in (lo, hi))
    return [Finding(
        "speed_premium", ratio_score(c_hi, c_lo),
        f"Speed costs: on {chip}, >= {hi:g} tok/s/user costs ${c_hi:.3g}/Mtok all-in against ${c_lo:.3g}/Mtok at "
        f">= {lo:g} ({c_hi / c_lo:.2f}x).", cmds, sensitivity,
        {f"{s:g} tok/s/user": best_at_speed(base, s)[chip] for s in inp.speeds if chip in best_at_speed(base, s)},
        "$/Mtok")]


def _top_crossover(res) -> dict | None:
    """The SRAM-versus-other-chip cost crossover at the highest speed (direction 'above'), or None."""
    xs = [x for x in res.sram_crossovers if x.get("cost_crossover", {}).get("direction") == "above"]
    return max(xs, key=lambda x: x["cost_crossover"]["speed"]) if xs else None


def sram_crossover(inp: Inputs, base, sens: Mapping[float, Any]) -> list[Finding]:
    """Where an SRAM system becomes cheaper per token than the strongest other chip (frontier sram_crossovers)."""
    x = _top_crossover(base)
    if x is None:
        return []
    cc = x["cost_crossover"]
    sram_usd, gpu_usd = cc["sram_usd_per_mtok_all_in"], cc.get("gpu_usd_per_mtok_all_in")
    if gpu_usd is None:
        return []
    parts = []
    for e, r in sens.items():
        y = next((z for z in r.sram_crossovers if z["sram"] == x["sram"] and z["gpu"] == x["gpu"]), None)
        d = (y or {}).get("cost_crossover", {})
        parts.append(f"at {e:g}, ~{d['speed']:,.0f} tok/s/user" if d.get("direction") == "above"
                     else f"at {e:g}, no crossover from below")
    holds = all("~" in p for p in parts)
    sensitivity = (f"electricity {min(sens):g} to {max(sens):g} $/kWh: the crossover lies " + "; ".join(parts)
                   + f"; {'it holds' if holds else 'it does not hold'}.")
    weight = 1.0 if cc["speed"] <= max(inp.speeds) else 0.5      # inside the speeds asked: the choice flips there
    return [Finding(
        "sram_crossover", weight * ratio_score(gpu_usd, sram_usd),
        f"{x['sram']} vs {x['gpu']}: the SRAM system is cheaper per token above ~{cc['speed']:,.0f} tok/s/user "
        f"({sram_usd:.3g} vs {gpu_usd:.3g} $/Mtok just above).",
        _frontier_cmd(inp, [x["sram"], x["gpu"]]), sensitivity,
        {x["sram"]: sram_usd, x["gpu"]: gpu_usd}, "$/Mtok")]


def factory_ranking(inp: Inputs, fac, speed: float, price_usd_per_mtok: float,
                    fixed: Mapping[str, str]) -> list[Finding]:
    """Tokens per provisioned MW under the power budget (``fac``: economics.factory's result at ``speed``, on the
    deployments ``fixed``: flag -> comma list), and whether the largest margin goes to a costlier chip than the
    lowest-priced one."""
    rows = [r for r in fac.records() if r["feasible"]]
    per_mw = {r["hardware"]: r["tokens_per_s_per_mw_provisioned"] for r in rows}
    top = _two_best({k: -v for k, v in per_mw.items()}, tie=False)
    if top is None:
        return []
    (a, _), (b, _) = top
    va, vb = per_mw[a], per_mw[b]
    margin = {r["hardware"]: r["margin_usd_per_year"] for r in rows}
    best, low = fac.summary()["best_margin"], fac.summary()["lowest_price_chip"]
    tail = (f"; the largest margin, {usd_m(margin[best])}/yr, goes to {best}"
            + (f", not the lowest-priced chip ({low})" if best != low and low else "") + ".")
    alt = {}
    for f in TOKEN_PRICE_FACTORS:
        m = {r["hardware"]: r["tokens_per_year"] * price_usd_per_mtok * f / 1e6 - r["cost_usd_per_year"]
             for r in rows}
        alt[f * price_usd_per_mtok] = max(m, key=m.__getitem__)
    sensitivity = (f"token price ${min(alt):g} to ${max(alt):g}/Mtok: the largest margin goes to "
                   + ", ".join(f"{c} at ${p:g}" for p, c in alt.items())
                   + f" (tokens per MW do not depend on price); {_holds(list(alt.values()), best)}.")
    return [Finding(
        "factory_ranking", ratio_score(va, vb),
        f"Under {inp.power_mw:g} MW at >= {speed:g} tok/s/user (each chip on its cheapest frontier deployment), "
        f"{a} makes the most tokens per provisioned MW: {millions(va)} Mtok/s/MW against {millions(vb)} on {b} "
        f"({va / vb:.2f}x)" + tail,
        command(inp, "factory", power_mw=inp.power_mw, model=inp.model,
                hardware=",".join(r["hardware"] for r in fac.records()), tokens_per_s_per_user=speed, isl=inp.isl,
                osl=inp.osl, **fixed),
        sensitivity, {k: v / 1e6 for k, v in per_mw.items()}, "Mtok/s/MW")]


def stranded_capital(inp: Inputs, chip: str, speed: float, falling, flat, half,
                     fixed: Mapping[str, int]) -> list[Finding]:
    """NPV of a fleet of ``chip`` (economics.invest results, on the deployment ``fixed``) with the token price
    falling at the scenario's rate (``falling``), flat (``flat``) and falling at half the rate (``half``, the
    sensitivity). Applies only where the NPV at the falling price is negative (capital stranded)."""
    capex = falling.fleet_it_capex_usd
    npv_d, npv_f, npv_h = falling.npv_usd, flat.npv_usd, half.npv_usd
    if capex <= 0 or npv_d >= 0:         # the fleet pays back even as the price falls: no capital stranded
        return []
    rate = falling.token_price_decline_frac_per_year
    base = command(inp, "invest", model=inp.model, hardware=chip, tokens_per_s_per_user=speed,
                   power_mw=inp.power_mw, isl=inp.isl, osl=inp.osl, **fixed)
    sign = "holds" if (npv_h < npv_f) == (npv_d < npv_f) else "does not hold"
    below = "below" if npv_h < npv_f else "not below"
    return [Finding(
        "stranded_capital", fraction_score((npv_f - npv_d) / capex),
        f"A {inp.power_mw:g} MW fleet of {chip} at >= {speed:g} tok/s/user: NPV {usd_m(npv_d)} if the token "
        f"price falls {rate:.0%} a year, against {usd_m(npv_f)} at a flat price; upfront IT capex "
        f"{usd_m(capex)}.",
        f"{base} && {base} --token-price-decline-frac-per-year 0",
        f"price decline: at half the rate ({rate / 2:.0%} a year) NPV is {usd_m(npv_h)}, {below} the flat "
        f"price's {usd_m(npv_f)}; the conclusion {sign}.",
        {f"falls {rate:.0%}/yr": npv_d / 1e6, f"falls {rate / 2:.0%}/yr": npv_h / 1e6, "flat": npv_f / 1e6},
        "$M NPV")]


def free_chip(inp: Inputs, be, speed: float, sens_ratio: Mapping[float, float]) -> list[Finding]:
    """A chip that loses even at price zero (economics.break_even_price ``be``); ``sens_ratio``: its free cost
    over the reference's, per electricity price (from frontier sweeps)."""
    s = be.summary()
    if s["is_free_enough"]:
        return []
    x, y = s["hardware_x"], s["hardware_y"]
    free, ref = s["usd_per_mtok_all_in_x_free"], s["usd_per_mtok_all_in_y"]
    sensitivity = (f"electricity {min(sens_ratio):g} to {max(sens_ratio):g} $/kWh (frontier figures): free {x} "
                   "costs " + ", ".join(f"{r:.2f}x {y}'s at {e:g}" for e, r in sens_ratio.items())
                   + f"; {'it holds' if all(r > 1 for r in sens_ratio.values()) else 'it does not hold'}.")
    return [Finding(
        "free_chip", ratio_score(free, ref),
        f"Even free, {x} cannot match {y} at >= {speed:g} tok/s/user: ${num(free)}/Mtok all-in with the chip at "
        f"$0, against ${num(ref)}/Mtok on {y}.",
        command(inp, "breakeven", model=inp.model, hardware=x, versus=y, tokens_per_s_per_user=speed,
                isl=inp.isl, osl=inp.osl), sensitivity, {f"{x} (free)": free, y: ref}, "$/Mtok")]

"""``tokenomy cost | factory | breakeven | invest``: token economics on the command line.

Every command takes ``--scenario FILE`` (YAML or TOML) and one flag per Scenario field
(``--pue 1.2``, ``--chip-price-usd 25000``, ...), applied over the file or the defaults.
"""

# no ``from __future__ import annotations``: Typer reads the real annotation objects added below
import itertools
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from .. import economics as E
from ..errors import SpecError
from .common import print_json
from .options import (
    ECONOMICS_CHOOSES,
    POSITIVE,
    deployment_list_option,
    deployment_option,
    engine_option,
    hardware_option,
    json_option,
    model_option,
    scenario_options,
    speed_option,
    tokens_option,
)


def _money(x) -> str:
    return "-" if x is None or x != x else f"{x:,.4g}" if abs(x) < 100 else f"{x:,.0f}"


def _table(title: str, headers: list[str], rows: list[list]) -> Table:
    t = Table(title=title)
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*[v if isinstance(v, str) else _money(v) for v in r])
    return t


def _split(value: str | None, cast, name: str) -> list:
    try:
        return [cast(v.strip()) for v in str(value).split(",")]
    except ValueError:
        raise SpecError(f"{name} must be one value or a comma-separated list, got {value!r}.") from None


def _one(vals: list):
    return vals[0] if len(vals) == 1 else vals


@scenario_options
def cost_command(
    hardware: str = hardware_option("Chip id(s), comma-separated.", required=True),
    json_out: bool = json_option(),
    *, scenario=None, overrides=None,
) -> None:
    """Cost of one chip-hour: capex, facility, energy, ops (or rent), total and effective at utilization."""
    res = [E.chip_hour_cost(h.strip(), scenario, **overrides) for h in hardware.split(",")]
    if json_out:
        print_json([r.to_dict() for r in res] if len(res) > 1 else res[0].to_dict())
        return
    keys = ["capex_usd_per_hour", "facility_usd_per_hour", "energy_usd_per_hour", "ops_usd_per_hour",
            "rent_usd_per_hour", "total_usd_per_hour", "effective_usd_per_hour"]
    heads = ["chip", "mode", "capex ($/h)", "facility ($/h)", "energy ($/h)", "ops ($/h)", "rent ($/h)",
             "total ($/h)", "effective ($/h busy)"]
    rows = [[r.hardware, r.mode, *[float(getattr(r.breakdown, k)) for k in keys]] for r in res]
    Console().print(_table("tokenomy cost (per chip-hour)", heads, rows))


@scenario_options
def factory_command(
    power_mw: float = typer.Option(..., "--power-mw", parser=POSITIVE,
                                   help="Facility power budget, MW (chips + host, times PUE)."),
    model: str = model_option("Model name.", required=True),
    hardware: str = hardware_option("Chip ids, comma-separated.", required=True),
    tokens_per_s_per_user: float = speed_option(),
    isl: int = tokens_option("--isl", 1024, "Input tokens per request."),
    osl: int = tokens_option("--osl", 1024, "Output tokens per request."),
    tp: str = deployment_list_option("--tp"),
    pp: str = deployment_list_option("--pp"),
    ep: str = deployment_list_option("--ep"),
    chips: str = deployment_list_option("--chips"),
    precision: str = typer.Option(None, "--precision", help="One value or one per chip."),
    engine: str | None = engine_option(help="Engine profile."),
    json_out: bool = json_option(),
    *, scenario=None, overrides=None,
) -> None:
    """The AI factory: per chip, how many fit in the power budget, tokens, cost, revenue and margin per year."""
    fixed: dict[str, Any] = {k: v and _one(_split(v, int, "--" + k))
                             for k, v in (("tp", tp), ("pp", pp), ("ep", ep), ("chips", chips))}
    r = E.factory(power_mw, model, hardware, tokens_per_s_per_user, isl, osl, scenario=scenario, engine=engine,
                  precision=precision and _one(_split(precision, str, "--precision")), **fixed, **overrides)
    if json_out:
        print_json(r.to_dict())
        return
    heads = ["chip", "chips", "batch", "tok/s/user", "Mtok/s per MW", "Ttok/yr", "capex ($M)", "cost ($M/yr)",
             "revenue ($M/yr)", "margin ($M/yr)", "$/Mtok (all-in)", "chip price ($)"]
    rows = [[x.hardware, f"{x.chips:,}", f"{x.batch}", x.tokens_per_s_per_user, x.tokens_per_s_per_mw / 1e6,
             x.tokens_per_year / 1e12, x.capex_usd / 1e6, x.cost_usd_per_year / 1e6, x.revenue_usd_per_year / 1e6,
             x.margin_usd_per_year / 1e6, x.usd_per_mtok, x.chip_price_usd] if x.feasible else
            [x.hardware, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", x.chip_price_usd] for x in r.rows]
    Console().print(_table(f"tokenomy factory: {r.power_mw:g} MW, {r.model}, "
                           f">= {r.tokens_per_s_per_user:g} tok/s/user, ${r.token_price_usd_per_mtok:g}/Mtok",
                           heads, rows))
    for x in r.rows:
        if not x.feasible:
            Console(stderr=True).print(f"[yellow]{x.hardware}:[/yellow] {x.reason}")
    if r.best_margin:
        note = "" if r.best_margin == r.cheapest_chip else f" (not the cheapest chip, {r.cheapest_chip})"
        Console().print(f"largest margin: {r.best_margin}{note}")


@scenario_options
def break_even_command(
    model: str = model_option("Model name.", required=True),
    hardware: str = hardware_option("Chip X, whose break-even price is solved for.", required=True),
    versus: str = typer.Option(..., "--versus", help="Reference chip Y (costed by the scenario)."),
    tokens_per_s_per_user: float = speed_option(),
    isl: int = tokens_option("--isl", 1024, "Input tokens per request."),
    osl: int = tokens_option("--osl", 1024, "Output tokens per request."),
    tp: int = deployment_option("--tp", ECONOMICS_CHOOSES, of=" of X"),
    pp: int = deployment_option("--pp", ECONOMICS_CHOOSES, of=" of X"),
    ep: int = deployment_option("--ep", ECONOMICS_CHOOSES, of=" of X"),
    chips: int = deployment_option("--chips", ECONOMICS_CHOOSES, of=" of X"),
    tp_versus: int = deployment_option("--tp", ECONOMICS_CHOOSES, "-versus", " of Y"),
    pp_versus: int = deployment_option("--pp", ECONOMICS_CHOOSES, "-versus", " of Y"),
    ep_versus: int = deployment_option("--ep", ECONOMICS_CHOOSES, "-versus", " of Y"),
    chips_versus: int = deployment_option("--chips", ECONOMICS_CHOOSES, "-versus", " of Y"),
    precision: str = typer.Option(None, "--precision", help="Precision for X (and Y unless --precision-versus)."),
    precision_versus: str | None = typer.Option(None, "--precision-versus", help="Precision for Y."),
    engine: str | None = engine_option(help="Engine profile."),
    json_out: bool = json_option(),
    *, scenario=None, overrides=None,
) -> None:
    """Free-chip analysis: the price of X at which its $/Mtok equals Y's at a per-user speed
    (negative: even free, no)."""
    r = E.break_even_price(model, hardware, versus, tokens_per_s_per_user, isl, osl, scenario=scenario,
                           engine=engine, precision=precision, precision_y=precision_versus, tp_x=tp, pp_x=pp,
                           ep_x=ep, chips_x=chips, tp_y=tp_versus, pp_y=pp_versus, ep_y=ep_versus,
                           chips_y=chips_versus, **overrides)
    if json_out:
        print_json(r.to_dict())
        return
    heads = ["X", "Y", "tok/s/user", "Y $/Mtok", "X $/Mtok (free)", "X $/Mtok (list)", "X list ($)", "break-even ($)"]
    Console().print(_table("tokenomy breakeven (all-in $ per output Mtok)", heads,
                           [[r.hardware_x, r.hardware_y, r.tokens_per_s_per_user, r.usd_per_mtok_y,
                             r.usd_per_mtok_x_free, r.usd_per_mtok_x_list, r.list_price_usd_x,
                             r.break_even_price_usd]]))
    Console().print(r.reason, markup=False)


@scenario_options
def invest_command(
    model: str = model_option("Model name.", required=True),
    hardware: str = hardware_option("Chip id.", required=True),
    tokens_per_s_per_user: float = speed_option(),
    power_mw: float = typer.Option(1.0, "--power-mw", parser=POSITIVE, help="Facility power of the fleet, MW."),
    tokens_per_query: float | None = typer.Option(None, "--tokens-per-query", parser=POSITIVE,
                                                  help="Output tokens per answer (default --osl)."),
    tokens_multiplier: float = typer.Option(1.0, "--tokens-multiplier", parser=POSITIVE,
                                            help="Token inflation: x more tokens per answer."),
    isl: int = tokens_option("--isl", 1024, "Input tokens per request."),
    osl: int = tokens_option("--osl", 1024, "Output tokens per request."),
    tp: int = deployment_option("--tp", ECONOMICS_CHOOSES),
    pp: int = deployment_option("--pp", ECONOMICS_CHOOSES),
    ep: int = deployment_option("--ep", ECONOMICS_CHOOSES),
    chips: int = deployment_option("--chips", ECONOMICS_CHOOSES),
    precision: str = typer.Option(None, "--precision", help="Precision."),
    engine: str | None = engine_option(help="Engine profile."),
    json_out: bool = json_option(),
    *, scenario=None, overrides=None,
) -> None:
    """Stranded capital: NPV and payback of a fleet as the token price falls; cost per answer under token inflation."""
    r = E.invest(model, hardware, tokens_per_s_per_user, isl, osl, power_mw=power_mw, tokens_per_query=tokens_per_query,
                 tokens_multiplier=tokens_multiplier, scenario=scenario, engine=engine, precision=precision, tp=tp,
                 pp=pp, ep=ep, chips=chips, **overrides)
    if json_out:
        print_json(r.to_dict())
        return
    rows = [[str(y), (r.price_usd_per_mtok_by_year[y - 1] if y else None), cf / 1e6, cum / 1e6,
             (r.price_usd_per_answer_by_year[y - 1] if y else None)]
            for y, (cf, cum) in enumerate(zip(r.cash_flows_usd, itertools.accumulate(r.cash_flows_usd), strict=True))]
    Console().print(_table(f"tokenomy invest: {r.hardware}, {r.chips:,} chips, {r.power_mw:g} MW, price falls "
                           f"{r.token_price_decline_per_year:g}x/yr",
                           ["year", "price ($/Mtok)", "cash flow ($M)", "cumulative ($M)", "price per answer ($)"],
                           rows))
    pb = "never" if r.payback_years == float("inf") else f"{r.payback_years:.2f} years"
    Console().print(f"NPV ${r.npv_usd / 1e6:,.1f}M; payback {pb}; "
                    f"unrecovered capital ${r.unrecovered_usd / 1e6:,.1f}M; "
                    f"cost per answer ({r.tokens_per_answer:,.0f} tokens) ${r.cost_usd_per_answer:.5f}", markup=False)

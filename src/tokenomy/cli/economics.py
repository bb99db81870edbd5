"""``tokenomy cost | factory | breakeven | invest``: token economics on the command line.

Every command takes ``--scenario FILE`` (YAML or TOML) and one flag per Scenario field
(``--pue 1.2``, ``--chip-price-usd 25000``, ...), applied over the file or the defaults, and prints the
one result shape of cli/output.py (``--json``; rows also as ``--csv`` / ``--parquet``):
- cost: one row per chip (its chip-hour by component);
- factory: one row per chip (the fleet filling the power budget, then one replica's operating point);
  summary: best_margin, lowest_price_chip;
- breakeven: two rows, chip X's and chip Y's operating points (``role`` x / y); summary: the verdict;
- invest: one row, the operating point of one replica; summary: the fleet, its cash flow and price per
  year, NPV, payback.
The query echoes every input as used, the scenario fields flat among them.
"""

# no ``from __future__ import annotations``: Typer reads the real annotation objects added below
import itertools
from collections.abc import Mapping
from typing import Any

import typer
from rich.console import Console

from .. import economics as E
from ..economics.chip_hour import PER_HOUR_NOTE
from ..errors import SpecError
from .common import err_console
from .options import (
    ECONOMICS_CHOOSES,
    POSITIVE,
    csv_option,
    deployment_list_option,
    deployment_option,
    engine_option,
    force_option,
    hardware_option,
    json_option,
    model_option,
    parquet_option,
    scenario_options,
    speed_option,
    tokens_option,
)
from .output import check_row_files, emit, envelope
from .tables import Col, num, pct, scaled, show_one, show_rows, text, whole

ISL_HELP, OSL_HELP = "Input tokens per request.", "Output tokens per request."
FORCE_HELP = "Overwrite the --csv / --parquet files."
millions = scaled(1e-6)

# the operating point of one replica (factory, breakeven, invest), most important first
POINT_COLS = [
    Col("hardware", "chip", fmt=text, left=True), Col("chips", "chips", fmt=whole), Col("batch", "batch", fmt=whole),
    Col("tokens_per_s_per_user", "speed", "tok/s/user"), Col("usd_per_mtok_all_in", "all-in", "$/Mtok"),
    Col("tokens_per_s", "output", "tok/s"), Col("usd_per_mtok_output", "output", "$/Mtok"),
    Col("usd_per_mtok_input", "input", "$/Mtok"), Col("usd_per_mtok_blended", "blended", "$/Mtok"),
    Col("j_per_token_chip", "chip", "J/token"), Col("j_per_token_facility", "facility", "J/token"),
    Col("power_w", "power", "W", whole), Col("usd_per_hour", "replica", "$/h busy"),
    Col("ttft_s", "TTFT", "ms", scaled(1e3)), Col("precision", "precision", fmt=text, left=True),
    Col("tp", "tp", fmt=whole), Col("pp", "pp", fmt=whole), Col("ep", "ep", fmt=whole),
]


def _split(value: str | None, cast, name: str) -> list:
    try:
        return [cast(v.strip()) for v in str(value).split(",")]
    except ValueError:
        raise SpecError(f"{name} must be one value or a comma-separated list, got {value!r}.") from None


def _one(vals: list):
    return vals[0] if len(vals) == 1 else vals


def _query(scenario, overrides: Mapping[str, Any], **inputs: Any) -> dict[str, Any]:
    """The inputs as used, then every scenario field as resolved (flat)."""
    return {**inputs, **E.get_scenario(scenario, **overrides).model_dump()}


def _run(command: str, query: dict, result: Any, show, json_out: bool, csv, parquet, force) -> None:
    emit(envelope(command, query, result.records(), result.summary()), json_out=json_out, show=show, csv=csv,
         parquet=parquet, force=force)


def _show_cost(res: Mapping[str, Any]) -> None:
    cols = [Col("hardware", "chip", fmt=text, left=True), Col("mode", "mode", fmt=text, left=True),
            Col("usd_per_chip_hour", "busy", "$/h"), Col("usd_per_chip_calendar_hour", "calendar", "$/h"),
            Col("capex_usd_per_chip_hour", "capex", "$/h"), Col("facility_usd_per_chip_hour", "facility", "$/h"),
            Col("energy_usd_per_chip_hour", "energy", "$/h"), Col("ops_usd_per_chip_hour", "ops", "$/h"),
            Col("rent_usd_per_chip_hour", "rent", "$/h"), Col("chip_price_usd", "price", "$", whole),
            Col("provisioned_w_per_chip", "facility", "W", whole), Col("it_power_w_per_chip", "IT", "W", whole),
            Col("capex_usd_per_chip", "capex", "$", whole), Col("facility_capex_usd_per_chip", "facility", "$", whole)]
    show_rows("tokenomy cost: one chip-hour (calendar hours; busy = calendar / utilization)", res["rows"], cols)


@scenario_options
def cost_command(
    hardware: str = hardware_option("Chip id(s), comma-separated.", required=True),
    json_out: bool = json_option(),
    csv: str | None = csv_option(),
    parquet: str | None = parquet_option(),
    force: bool = force_option(FORCE_HELP),
    *, scenario=None, overrides=None,
) -> None:
    """Cost of one chip-hour: capex, facility, energy, ops (or rent), per calendar hour and per busy hour."""
    check_row_files(csv, parquet, force)
    res = [E.chip_hour_cost(h.strip(), scenario, **overrides) for h in hardware.split(",")]
    result = envelope("cost", _query(scenario, overrides, hardware=hardware), [r.to_dict() for r in res],
                      {"per_hour_note": PER_HOUR_NOTE})
    emit(result, json_out=json_out, show=_show_cost, csv=csv, parquet=parquet, force=force)


def _show_factory(res: Mapping[str, Any]) -> None:
    q, s = res["query"], res["summary"]
    cols = [Col("hardware", "chip", fmt=text, left=True), Col("fleet_chips", "fleet", "chips", whole),
            Col("chips", "replica", "chips", whole), Col("usd_per_mtok_all_in", "all-in", "$/Mtok"),
            Col("margin_usd_per_year", "margin", "$M/yr", millions),
            Col("tokens_per_s_per_mw_provisioned", "tokens", "Mtok/s/MW", millions),
            Col("fleet_capex_usd", "capex", "$M", millions), Col("cost_usd_per_year", "cost", "$M/yr", millions),
            Col("revenue_usd_per_year", "revenue", "$M/yr", millions),
            Col("tokens_per_s_per_user", "speed", "tok/s/user"), Col("batch", "batch", fmt=whole),
            Col("replicas", "replicas", fmt=whole), Col("tokens_per_year", "tokens", "Ttok/yr", scaled(1e-12)),
            Col("margin_frac", "margin", "%", pct), Col("chip_price_usd", "price", "$", whole)]
    show_rows(f"tokenomy factory: {q['power_mw']:g} MW, {q['model']}, >= {q['tokens_per_s_per_user_required']:g} "
              f"tok/s/user, ${q['token_price_usd_per_mtok']:g}/Mtok", res["rows"], cols)
    for r in res["rows"]:
        if not r["feasible"]:
            err_console.print(f"{r['hardware']}: {r['reason']}", markup=False, soft_wrap=True)
    if s["best_margin"]:
        low = s["lowest_price_chip"]
        note = "" if s["best_margin"] == low else f" (not the lowest-priced chip, {low})"
        Console().print(f"largest margin: {s['best_margin']}{note}", markup=False)


@scenario_options
def factory_command(
    power_mw: float = typer.Option(..., "--power-mw", parser=POSITIVE,
                                   help="Facility power budget, MW (chips + host, times PUE)."),
    model: str = model_option("Model name.", required=True),
    hardware: str = hardware_option("Chip ids, comma-separated.", required=True),
    tokens_per_s_per_user: float = speed_option(),
    isl: int = tokens_option("--isl", 1024, ISL_HELP),
    osl: int = tokens_option("--osl", 1024, OSL_HELP),
    tp: str = deployment_list_option("--tp"),
    pp: str = deployment_list_option("--pp"),
    ep: str = deployment_list_option("--ep"),
    chips: str = deployment_list_option("--chips"),
    precision: str = typer.Option(None, "--precision", help="One value or one per chip."),
    engine: str | None = engine_option(help="Engine profile."),
    json_out: bool = json_option(),
    csv: str | None = csv_option(),
    parquet: str | None = parquet_option(),
    force: bool = force_option(FORCE_HELP),
    *, scenario=None, overrides=None,
) -> None:
    """The AI factory: per chip, how many fit in the power budget, tokens, cost, revenue and margin per year."""
    check_row_files(csv, parquet, force)
    fixed: dict[str, Any] = {k: v and _one(_split(v, int, "--" + k))
                             for k, v in (("tp", tp), ("pp", pp), ("ep", ep), ("chips", chips))}
    prec = precision and _one(_split(precision, str, "--precision"))
    with err_console.status("sizing the factory..."):
        r = E.factory(power_mw, model, hardware, tokens_per_s_per_user, isl, osl, scenario=scenario, engine=engine,
                      precision=prec, **fixed, **overrides)
    q = _query(scenario, overrides, model=r.model, hardware=hardware, power_mw=power_mw,
               tokens_per_s_per_user_required=tokens_per_s_per_user, isl=isl, osl=osl, precision=prec, engine=engine,
               **fixed)
    _run("factory", q, r, _show_factory, json_out, csv, parquet, force)


def _show_break_even(res: Mapping[str, Any]) -> None:
    s = res["summary"]
    verdict = [Col("break_even_price_usd", "break-even price of X", "$", whole),
               Col("list_price_usd_x", "list price of X", "$", whole),
               Col("usd_per_mtok_all_in_y", "Y all-in", "$/Mtok"),
               Col("usd_per_mtok_all_in_x_free", "X all-in, chip free", "$/Mtok"),
               Col("usd_per_mtok_all_in_x_list", "X all-in, list price", "$/Mtok")]
    show_one(f"tokenomy breakeven: X = {s['hardware_x']} versus Y = {s['hardware_y']} at "
             f">= {s['tokens_per_s_per_user_required']:g} tok/s/user", s, verdict)
    parts = {f"X non-chip: {k}": v for k, v in s["non_chip_usd_per_mtok"].items()}
    show_one("X's non-chip cost (chip free)", parts, [Col(k, k, "$/Mtok") for k in parts])
    show_rows("operating points", res["rows"], [Col("role", "", fmt=text, left=True), *POINT_COLS])
    Console().print(s["reason"], markup=False, soft_wrap=True)


@scenario_options
def break_even_command(
    model: str = model_option("Model name.", required=True),
    hardware: str = hardware_option("Chip X, whose break-even price is solved for.", required=True),
    versus: str = typer.Option(..., "--versus", help="Reference chip Y (costed by the scenario)."),
    tokens_per_s_per_user: float = speed_option(),
    isl: int = tokens_option("--isl", 1024, ISL_HELP),
    osl: int = tokens_option("--osl", 1024, OSL_HELP),
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
    csv: str | None = csv_option(),
    parquet: str | None = parquet_option(),
    force: bool = force_option(FORCE_HELP),
    *, scenario=None, overrides=None,
) -> None:
    """Free-chip analysis: the price of X at which its $/Mtok equals Y's at a per-user speed
    (negative: even free, no)."""
    check_row_files(csv, parquet, force)
    with err_console.status("pricing both chips..."):
        r = E.break_even_price(model, hardware, versus, tokens_per_s_per_user, isl, osl, scenario=scenario,
                               engine=engine, precision=precision, precision_y=precision_versus, tp_x=tp, pp_x=pp,
                               ep_x=ep, chips_x=chips, tp_y=tp_versus, pp_y=pp_versus, ep_y=ep_versus,
                               chips_y=chips_versus, **overrides)
    q = _query(scenario, overrides, model=r.x.model, hardware_x=r.hardware_x, hardware_y=r.hardware_y,
               tokens_per_s_per_user_required=tokens_per_s_per_user, isl=isl, osl=osl, tp=tp, pp=pp, ep=ep,
               chips=chips, tp_versus=tp_versus, pp_versus=pp_versus, ep_versus=ep_versus, chips_versus=chips_versus,
               precision=precision, precision_versus=precision_versus, engine=engine)
    _run("breakeven", q, r, _show_break_even, json_out, csv, parquet, force)


def _show_invest(res: Mapping[str, Any]) -> None:
    q, s = res["query"], res["summary"]
    cash = s["cash_flows_usd"]
    years = [{"years": y, "token_price_usd_per_mtok": s["price_usd_per_mtok_by_year"][y - 1] if y else None,
              "cash_flows_usd": cf, "unrecovered_usd": cum,
              "cost_usd_per_answer": s["price_usd_per_answer_by_year"][y - 1] if y else None}
             for y, (cf, cum) in enumerate(zip(cash, itertools.accumulate(cash), strict=True))]
    decline = q["token_price_decline_frac_per_year"]
    show_rows(f"tokenomy invest: {q['hardware']}, {s['fleet_chips']:,} chips, {q['power_mw']:g} MW, the price "
              f"falls {decline:.0%} a year", years,
              [Col("years", "year", fmt=whole), Col("token_price_usd_per_mtok", "price", "$/Mtok"),
               Col("cash_flows_usd", "cash flow", "$M", millions), Col("unrecovered_usd", "cumulative", "$M", millions),
               Col("cost_usd_per_answer", "price per answer", "$", lambda x: num(x, 3))])
    pay = s["payback_years"]
    pay_txt = "never" if pay is None or pay == float("inf") else f"{pay:.2f}"
    show_one("the fleet", {**s, "payback_years": pay_txt, **res["rows"][0]},
             [Col("npv_usd", "NPV", "$M", millions), Col("payback_years", "payback", "years", text),
              Col("unrecovered_usd", "unrecovered capital", "$M", millions),
              Col("fleet_it_capex_usd", "upfront IT capex", "$M", millions),
              Col("running_cost_usd_per_year", "running cost", "$M/yr", millions),
              Col("tokens_per_answer", "tokens per answer", "tokens", whole),
              Col("cost_usd_per_answer", "cost per answer", "$", lambda x: num(x, 3)),
              Col("usd_per_mtok_all_in", "all-in cost", "$/Mtok"), Col("batch", "batch per replica", fmt=whole),
              Col("tokens_per_s_per_user", "speed", "tok/s/user"), Col("chips", "chips per replica", fmt=whole)])


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
    isl: int = tokens_option("--isl", 1024, ISL_HELP),
    osl: int = tokens_option("--osl", 1024, OSL_HELP),
    tp: int = deployment_option("--tp", ECONOMICS_CHOOSES),
    pp: int = deployment_option("--pp", ECONOMICS_CHOOSES),
    ep: int = deployment_option("--ep", ECONOMICS_CHOOSES),
    chips: int = deployment_option("--chips", ECONOMICS_CHOOSES),
    precision: str = typer.Option(None, "--precision", help="Precision."),
    engine: str | None = engine_option(help="Engine profile."),
    json_out: bool = json_option(),
    csv: str | None = csv_option(),
    parquet: str | None = parquet_option(),
    force: bool = force_option(FORCE_HELP),
    *, scenario=None, overrides=None,
) -> None:
    """Stranded capital: NPV and payback of a fleet as the token price falls; cost per answer under token inflation."""
    check_row_files(csv, parquet, force)
    with err_console.status("pricing the fleet..."):
        r = E.invest(model, hardware, tokens_per_s_per_user, isl, osl, power_mw=power_mw,
                     tokens_per_query=tokens_per_query, tokens_multiplier=tokens_multiplier, scenario=scenario,
                     engine=engine, precision=precision, tp=tp, pp=pp, ep=ep, chips=chips, **overrides)
    q = _query(scenario, overrides, model=r.point.model, hardware=r.hardware, power_mw=power_mw,
               tokens_per_s_per_user_required=tokens_per_s_per_user, isl=isl, osl=osl,
               tokens_per_query=tokens_per_query, tokens_multiplier=tokens_multiplier, tp=tp, pp=pp, ep=ep,
               chips=chips, precision=precision, engine=engine)
    _run("invest", q, r, _show_invest, json_out, csv, parquet, force)

"""``tokenomy hardware list``, ``tokenomy hardware show NAME`` and ``tokenomy hardware trends``: the chip catalog.

``--json`` prints the envelope of cli/output.py. ``list``: one flat row per chip in base units (FLOP/s, bytes,
bytes/s, W, $). ``show``: one row per catalog figure, ``{field, value, unit, reference, note}``, in the units the
datasheet and the catalog file use (the ``unit`` column says which; ``value`` is a number, or text for text
figures), so every figure sits beside its source; the query names the chip, the summary gives its name and vendor.
``trends``: one row per chip (vendor, year) with its per-generation ratios (report/trends.py); ``--model`` with
``--tokens-per-s-per-user`` adds one reference operating point per chip (all-in $/Mtok, J/token).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.errors import SpecError
from tokenomy.loaders.hardware import hardware_figures, hardware_ids, load_hardware
from tokenomy.report.trends import trend_rows

from .common import TokenomyGroup
from .options import csv_option, force_option, json_option, model_option, parquet_option, speed_option
from .output import check_row_files, emit, envelope
from .tables import Col, gb, mega, num, scaled, show_rows, text, whole

hardware_app = typer.Typer(name="hardware", cls=TokenomyGroup, no_args_is_help=True, rich_markup_mode=None,
                           help="Accelerators in the catalog: list them, show one, compare generations.")

tera = scaled(1e-12)
LIST_COLS = (
    Col("hardware", "id", left=True, fmt=text), Col("bf16_flop_per_s", "BF16", "TFLOP/s", tera),
    Col("fp8_flop_per_s", "FP8", "TFLOP/s", tera), Col("hbm_bytes", "HBM", "GB", gb),
    Col("hbm_bytes_per_s", "HBM", "TB/s", tera), Col("power_limit_w", "power", "W", whole),
    Col("price_usd", "price", "k$", scaled(1e-3)), Col("rent_usd_per_hour", "rent", "$/h"),
    Col("fp4_flop_per_s", "FP4", "TFLOP/s", tera), Col("sram_bytes", "SRAM", "MB", mega),
    Col("vendor", "vendor", left=True, fmt=text), Col("hardware_name", "name", left=True, fmt=text),
)


def catalog_row(hw_id: str) -> dict:
    """One chip of the catalog as a flat row of base units (FLOP/s, bytes, bytes/s, W, $)."""
    hw = load_hardware(hw_id)
    return {"hardware": hw.id, "hardware_name": hw.name, "vendor": hw.vendor,
            "bf16_flop_per_s": hw.peak("bf16"), "fp8_flop_per_s": hw.peak("fp8"), "fp4_flop_per_s": hw.peak("fp4"),
            "hbm_bytes": hw.hbm_bytes, "hbm_bytes_per_s": hw.hbm_bytes_per_s, "sram_bytes": hw.sram_bytes,
            "power_limit_w": hw.power_limit_w, "price_usd": hw.price_usd, "rent_usd_per_hour": hw.rent_usd_per_hour}


@hardware_app.command("list")
def list_hardware(as_json: bool = json_option("Print JSON: {command, query, rows, summary, warnings}."),
                  csv: str = csv_option(), parquet: str = parquet_option(), force: bool = force_option()) -> None:
    """Every built-in chip: dense peak rates, memory, power and prices."""
    check_row_files(csv, parquet, force)
    result = envelope("hardware list", {}, [catalog_row(h) for h in hardware_ids()])
    emit(result, json_out=as_json, csv=csv, parquet=parquet, force=force,
         show=lambda r: show_rows("Hardware catalog: dense rates per chip ('-' = none or unknown)", r["rows"],
                                  LIST_COLS))


def _show_figures(result) -> None:
    s, q = result["summary"], result["query"]
    t = Table(title=f"{s['hardware_name']} ({q['hardware']}): {s['vendor']}", caption=s["lines"][0],
              caption_justify="left")
    t.add_column("figure", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("source and note", overflow="fold", ratio=1)
    for f in result["rows"]:
        v = f["value"]
        value = v if isinstance(v, str) or f["field"] == "year" else f"{v:,}"
        t.add_row(f["field"], f"{value} {f['unit']}".strip(), "; ".join(x for x in (f["reference"], f["note"]) if x))
    Console().print(t)


@hardware_app.command("show")
def show_hardware(
    name: str = typer.Argument(..., help="A catalog id (see 'tokenomy hardware list') or a path to a YAML file."),
    as_json: bool = json_option("Print JSON: one row per figure {field, value, unit, reference, note}."),
    csv: str = csv_option(), parquet: str = parquet_option(), force: bool = force_option(),
) -> None:
    """One chip: every figure in datasheet units, with its source and note."""
    check_row_files(csv, parquet, force)
    spec, figures = load_hardware(name), hardware_figures(name)
    rows = [{"field": f["key"], "value": f["value"], "unit": f["unit"] or "", "reference": f["source"],
             "note": f["note"] or ""} for f in figures]
    nic = (f"{spec.scaleout_gbps:g} Gb/s = {spec.scaleout_bytes_per_s / 1e9:g} GB/s per chip, one way"
           if spec.scaleout_gbps else "unknown (add scaleout_gbps)")
    line = f"SRAM holds weights: {'no (cache)' if spec.sram_is_cache else 'yes'}; scale-out NIC: {nic}"
    result = envelope("hardware show", {"hardware": spec.id}, rows,
                      {"hardware_name": spec.name, "vendor": spec.vendor, "lines": [line]})
    emit(result, json_out=as_json, show=_show_figures, csv=csv, parquet=parquet, force=force)


giga = scaled(1e-9)
REF_ISL = REF_OSL = 1024      # the reference point's request: operating_point's default (tokens)
TREND_COLS = (
    Col("hardware", "id", left=True, fmt=text), Col("vendor", "vendor", left=True, fmt=text),
    Col("year", "year", fmt=text), Col("bf16_flop_per_j", "BF16/W", "TFLOP/J", tera),
    Col("fp8_flop_per_j", "FP8/W", "TFLOP/J", tera), Col("bf16_flop_per_s_per_mm2", "BF16", "TFLOP/s/mm2", tera),
    Col("bf16_flop_per_s_per_dollar", "BF16", "GFLOP/s/$", giga), Col("usd_per_mtok_all_in", "ref", "$/Mtok"),
    Col("j_per_token_chip", "ref", "J/token"), Col("memory_bytes_per_j", "mem/W", "GB/J", giga),
    Col("fp8_flop_per_s_per_mm2", "FP8", "TFLOP/s/mm2", tera),
    Col("fp8_flop_per_s_per_dollar", "FP8", "GFLOP/s/$", giga),
    Col("silicon_area_mm2", "silicon", "mm2", whole), Col("process_node", "process", left=True, fmt=text),
    Col("memory_type", "memory", left=True, fmt=text), Col("estimated_inputs", "estimated", left=True, fmt=text),
)
TREND_LINES = ("ratios of catalog peaks (dense) to the power limit (FLOP/s per W = FLOP/J), to the compute-die "
               "silicon (die area x compute dies; I/O dies and memory not counted) and to the catalog price (what "
               "form_factor says it buys); '-' = an input is unknown",)


def _reference_points(model: str, speed: float) -> dict[str, object]:
    """Chip id -> its operating point for ``model`` at ``speed`` (or why there is none): economics.operating_point."""
    from tokenomy.economics import operating_point

    out: dict[str, object] = {}
    for hw_id in hardware_ids():
        if load_hardware(hw_id).price_usd is None:
            out[hw_id] = "no catalog price (rent only): an owned $/Mtok is not defined"
            continue
        out[hw_id] = operating_point(model, hw_id, speed, REF_ISL, REF_OSL)
    return out


@hardware_app.command("trends")
def hardware_trends(
    model: str = model_option("Reference model: adds each chip's all-in $/Mtok and J/token at "
                              "--tokens-per-s-per-user (e.g. llama-3.1-70b)."),
    speed: float = speed_option(required=False, help="Per-user decode speed of the reference point (tokens/s)."),
    as_json: bool = json_option("Print JSON: {command, query, rows, summary, warnings}."),
    csv: str = csv_option(), parquet: str = parquet_option(), force: bool = force_option(),
) -> None:
    """Per-generation figures by vendor and year: peak FLOP/s per W, per mm2 and per $, memory bytes/s per W."""
    check_row_files(csv, parquet, force)
    if (model is None) != (speed is None):
        raise SpecError("the reference point needs both --model and --tokens-per-s-per-user (or neither).")
    points = _reference_points(model, speed) if model is not None and speed is not None else None
    rows = trend_rows((load_hardware(h) for h in hardware_ids()), points)
    query: dict[str, object] = {}
    lines = list(TREND_LINES)
    if points is not None:
        query = {"model": model, "tokens_per_s_per_user_required": speed, "isl": REF_ISL, "osl": REF_OSL}
        lines.append(f"reference: {model} at {num(speed)} tokens/s/user, {REF_ISL} in / {REF_OSL} out tokens, the "
                     "cheapest all-in deployment per chip (tokenomy.economics.operating_point)")
    warnings = [f"{r['hardware']}: no reference point: {r['reason']}" for r in rows if r.get("reason")]
    result = envelope("hardware trends", query, rows, {"lines": lines}, warnings)
    emit(result, json_out=as_json, csv=csv, parquet=parquet, force=force,
         show=lambda r: show_rows("Hardware trends by vendor and year ('-' = unknown)", r["rows"],
                                  [c for c in TREND_COLS if any(c.key in row for row in r["rows"])],
                                  caption=" ".join(r["summary"]["lines"])))

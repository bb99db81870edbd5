"""``tokenomy hardware list`` and ``tokenomy hardware show NAME``: the chip catalog."""

from __future__ import annotations

import json

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tokenomy.loaders.hardware import hardware_catalog_rows, hardware_figures, load_hardware

from .common import TokenomyGroup, make_table
from .options import json_option

hardware_app = typer.Typer(name="hardware", cls=TokenomyGroup, no_args_is_help=True,
                           help="Accelerators in the catalog: list them, show one.")

# row key -> column header, units in the header ("name" is in --json and in 'show')
_LIST_COLUMNS = {
    "id": "id",
    "bf16_tflops": "BF16\nTFLOPS",
    "fp8_tflops": "FP8\nTFLOPS",
    "fp4_tflops": "FP4\nTFLOPS",
    "hbm_gb": "HBM\nGB",
    "hbm_tb_per_s": "HBM\nTB/s",
    "sram_mb": "SRAM\nMB",
    "power_w": "power\nW",
    "price_usd": "price\nk USD",
    "rent_usd_per_hour": "rent\nUSD/h",
}


def _cell(value: object) -> str:
    """Short display of a summary figure: whole numbers as such, else 4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)


@hardware_app.command("list")
def list_hardware(as_json: bool = json_option("Print a JSON array instead of a table.")) -> None:
    """Every built-in chip: dense peak rates, memory, power and prices."""
    rows = hardware_catalog_rows()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(
        title="Hardware catalog: dense rates, per chip ('-' = none or unknown)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for key, header in _LIST_COLUMNS.items():
        table.add_column(header, justify="left" if key == "id" else "right", no_wrap=True)
    for row in rows:
        price_k = None if row["price_usd"] is None else row["price_usd"] / 1e3
        table.add_row(*(_cell(price_k if k == "price_usd" else row[k]) for k in _LIST_COLUMNS))
    Console().print(table)


@hardware_app.command("show")
def show_hardware(
    name: str = typer.Argument(..., help="A catalog id (see 'tokenomy hardware list') or a path to a YAML file."),
    as_json: bool = json_option("Print the spec in SI units as JSON."),
) -> None:
    """One chip: every figure in datasheet units, with its source and note."""
    spec, figures = load_hardware(name), hardware_figures(name)
    if as_json:
        typer.echo(spec.model_dump_json(indent=2))
        return
    nic = (f"{spec.scaleout_gbps:g} Gb/s = {spec.scaleout_bytes_per_s / 1e9:g} GB/s per chip, one way"
           if spec.scaleout_gbps else "unknown (add scaleout_gbps)")
    Console().print(make_table(
        f"{spec.name} ({spec.id}): {spec.vendor} {spec.kind}, {spec.year or 'year n/a'}",
        ("figure", "value", "unit", "source", "note"),
        [(f["key"], f["value"] if isinstance(f["value"], str) else f"{f['value']:,}", f["unit"], f["source"],
          f["note"] or "") for f in figures],
        left=("figure", "unit", "source", "note"), overflow="fold",
        caption=f"SRAM holds weights: {'no (cache)' if spec.sram_is_cache else 'yes'}; scale-out NIC: {nic}"))

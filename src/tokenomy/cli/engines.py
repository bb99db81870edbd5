"""``tokenomy engines list|show``.

``--json`` prints the envelope of cli/output.py. ``list``: one row per built-in profile ``{engine, graph,
calibrated_hardware, description}``. ``show``: one row per parameter ``{field, value}``, nested groups flattened
with a dot (``gemm.compute_frac``); the profile's assumptions (sentences) in ``summary.assumptions``.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ..loaders.engines import engine_names, load_engine
from .common import TokenomyGroup
from .options import csv_option, force_option, json_option, parquet_option
from .output import check_row_files, emit, envelope
from .tables import Col, show_rows, text

engines_app = typer.Typer(name="engines", cls=TokenomyGroup, no_args_is_help=True, rich_markup_mode=None)

LIST_COLS = (Col("engine", "name", left=True, fmt=text), Col("graph", "kernels", left=True, fmt=text),
             Col("calibrated_hardware", "calibrated on", left=True, fmt=text))


def _flat(d: dict, prefix: str = "") -> list[dict]:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            rows += _flat(v, f"{prefix}{k}.")
        elif isinstance(v, dict):
            continue
        else:
            rows.append({"field": prefix + k, "value": ", ".join(map(str, v)) if isinstance(v, list | tuple) else v})
    return rows


def _show_list(result) -> None:
    show_rows("engine profiles", result["rows"], LIST_COLS)
    con = Console()
    for r in result["rows"]:
        con.print(f"{r['engine']}: {r['description']}", markup=False)


@engines_app.command("list")
def list_engines(json_out: bool = json_option("Print JSON: {command, query, rows, summary, warnings}."),
                 csv: str = csv_option(), parquet: str = parquet_option(), force: bool = force_option()) -> None:
    """Built-in engine profiles."""
    check_row_files(csv, parquet, force)
    rows = [{"engine": p.name, "graph": p.graph, "calibrated_hardware": ", ".join(p.calibrated_hardware),
             "description": p.description} for p in (load_engine(n) for n in engine_names())]
    emit(envelope("engines list", {}, rows), json_out=json_out, csv=csv, parquet=parquet, force=force,
         show=_show_list)


def _show_profile(result) -> None:
    t = Table(title=f"engine profile {result['query']['engine']}")
    t.add_column("parameter", no_wrap=True)
    t.add_column("value", overflow="fold")
    for r in result["rows"]:
        t.add_row(r["field"], "-" if r["value"] is None else str(r["value"]))
    con = Console()
    con.print(t)
    con.print("Assumptions:")
    for line in result["summary"]["assumptions"]:
        con.print(f"- {line}", markup=False)


@engines_app.command("show")
def show_engine(name: str, json_out: bool = json_option("Print JSON: one row per parameter {field, value}."),
                csv: str = csv_option(), parquet: str = parquet_option(), force: bool = force_option()) -> None:
    """Every parameter of one profile (a name or a profile file)."""
    check_row_files(csv, parquet, force)
    p = load_engine(name)
    data = p.model_dump()
    assumptions = data.pop("assumptions", [])
    emit(envelope("engines show", {"engine": p.name}, _flat(data), {"assumptions": list(assumptions)}),
         json_out=json_out, show=_show_profile, csv=csv, parquet=parquet, force=force)

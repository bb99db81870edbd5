"""``tokenomy engines list|show``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ..loaders.engines import engine_names, load_engine
from .common import TokenomyGroup, print_json
from .options import json_option

engines_app = typer.Typer(name="engines", cls=TokenomyGroup, no_args_is_help=True)


@engines_app.command("list")
def list_engines(json_out: bool = json_option()) -> None:
    """Built-in engine profiles."""
    profs = [load_engine(n) for n in engine_names()]
    if json_out:
        print_json([{"name": p.name, "graph": p.graph, "description": p.description} for p in profs])
        return
    t = Table(title="engine profiles")
    for c in ("name", "kernels", "calibrated on", "description"):
        t.add_column(c)
    for p in profs:
        t.add_row(p.name, p.graph, ", ".join(p.calibrated_hardware) or "-", p.description)
    Console().print(t)


@engines_app.command("show")
def show_engine(name: str, json_out: bool = json_option()) -> None:
    """Every parameter of one profile (a name or a profile file)."""
    p = load_engine(name)
    if json_out:
        print_json(p.model_dump())
        return
    Console().print_json(data=p.model_dump())

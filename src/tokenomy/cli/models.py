"""`tokenomy models list|show`: the model catalog and the shape of any config.json."""

from __future__ import annotations

import dataclasses
import json

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.core.params import param_counts
from tokenomy.loaders.models import load_model, model_aliases, model_names

from .common import TokenomyGroup
from .options import json_option

models_app = typer.Typer(name="models", cls=TokenomyGroup, no_args_is_help=True,
                         help="List built-in models or show one model's shape.")


def _short_source(url: str) -> str:
    """'https://huggingface.co/org/name/blob/main/config.json' -> 'org/name'."""
    return url.removeprefix("https://huggingface.co/").removesuffix("/blob/main/config.json")


def _billions(n: float | None) -> str:
    return "" if n is None else f"{n / 1e9:.2f}"


@models_app.command("list")
def list_models(as_json: bool = json_option("Print JSON instead of a table.")) -> None:
    """Built-in models: shape, parameter counts (billions) and the aliases each answers to."""
    rows = []
    for name in model_names():
        spec = load_model(name)
        counts = param_counts(spec)
        rows.append(dict(
            name=name, family=spec.family, n_layers=spec.n_layers, d_model=spec.d_model,
            n_heads=spec.n_heads, n_kv_heads=spec.n_kv_heads, params_total=counts.total,
            params_active=counts.active, source=spec.source, aliases=model_aliases(name),
        ))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    _print_models(rows)


@models_app.command("show")
def show_model(
    name: str = typer.Argument(..., help="Catalog name or alias, path to a config.json (or its folder), or hub id "
                                         "org/name."),
    as_json: bool = json_option("Print JSON instead of a table."),
) -> None:
    """Every field of one model and its parameter counts (elements)."""
    spec = load_model(name)
    counts = dataclasses.asdict(param_counts(spec))
    if not as_json:
        _print_model(spec, counts)
    else:
        typer.echo(json.dumps({"spec": spec.model_dump(), "params": counts}, indent=2))


def _print_model(spec, counts: dict) -> None:
    table = Table(title=f"Model {spec.name}")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for field, value in spec.model_dump().items():
        table.add_row(field, "" if value is None else str(value))
    table.add_section()
    for field, value in counts.items():
        table.add_row(f"params.{field}", f"{value:,}")
    Console().print(table)


def _print_models(rows: list[dict]) -> None:
    table = Table(title="Built-in models")
    table.add_column("name", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("layers", justify="right")
    table.add_column("d_model", justify="right")
    table.add_column("heads/kv", justify="right")
    table.add_column("params B total/active", justify="right")
    table.add_column("aliases", overflow="fold")
    for r in rows:
        active = _billions(r["params_active"]) if r["params_active"] != r["params_total"] else "-"
        table.add_row(r["name"], r["family"], str(r["n_layers"]), str(r["d_model"]),
                      f"{r['n_heads']}/{r['n_kv_heads']}", f"{_billions(r['params_total'])} / {active}",
                      ", ".join(r["aliases"]) or _short_source(r["source"]))
    Console().print(table)

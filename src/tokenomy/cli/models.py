"""`tokenomy models list|show`: the model catalog and the shape of any config.json.

``--json`` prints the envelope of cli/output.py. ``list``: one flat row per built-in model (glossary keys:
``model``, ``n_layers``, ``params_total`` ...). ``show``: one row per field of the model spec and per parameter
count, ``{field, value}`` (``value`` a number, text or bool; lists joined by ", "), the query naming the model.
"""

from __future__ import annotations

import dataclasses

import typer
from rich.console import Console
from rich.table import Table

from tokenomy.core.params import param_counts
from tokenomy.loaders.models import load_model, model_aliases, model_names

from .common import TokenomyGroup
from .options import csv_option, force_option, json_option, parquet_option
from .output import check_row_files, emit, envelope
from .tables import Col, scaled, show_rows, text, whole

models_app = typer.Typer(name="models", cls=TokenomyGroup, no_args_is_help=True, rich_markup_mode=None,
                         help="List built-in models or show one model's shape.")

billions = scaled(1e-9)
LIST_COLS = (
    Col("model", "name", left=True, fmt=text), Col("params_total", "params", "B", billions),
    Col("params_active", "active", "B", billions), Col("n_layers", "layers", fmt=whole),
    Col("d_model", "d_model", fmt=whole), Col("n_heads", "heads", fmt=whole), Col("n_kv_heads", "kv heads", fmt=whole),
    Col("family", "family", left=True, fmt=text), Col("aliases", "aliases", left=True, fmt=text),
)


def _short_source(url: str) -> str:
    """'https://huggingface.co/org/name/blob/main/config.json' -> 'org/name'."""
    return url.removeprefix("https://huggingface.co/").removesuffix("/blob/main/config.json")


def _scalar(v):
    """A spec value as a row scalar: sequences joined by ', '."""
    return ", ".join(map(str, v)) if isinstance(v, list | tuple) else v


@models_app.command("list")
def list_models(as_json: bool = json_option("Print JSON: {command, query, rows, summary, warnings}."),
                csv: str = csv_option(), parquet: str = parquet_option(), force: bool = force_option()) -> None:
    """Built-in models: shape, parameter counts and the aliases each answers to."""
    check_row_files(csv, parquet, force)
    rows = []
    for name in model_names():
        spec = load_model(name)
        counts = param_counts(spec)
        rows.append({"model": name, "family": spec.family, "n_layers": spec.n_layers, "d_model": spec.d_model,
                     "n_heads": spec.n_heads, "n_kv_heads": spec.n_kv_heads, "params_total": counts.total,
                     "params_active": counts.active, "aliases": ", ".join(model_aliases(name)),
                     "reference": spec.source})
    emit(envelope("models list", {}, rows), json_out=as_json, csv=csv, parquet=parquet, force=force,
         show=lambda r: show_rows("Built-in models", r["rows"], LIST_COLS))


def _print_model(result) -> None:
    table = Table(title=f"Model {result['query']['model']}")
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for r in result["rows"]:
        v = r["value"]
        table.add_row(r["field"], "" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool)
                      else str(v))
    Console().print(table)


@models_app.command("show")
def show_model(
    name: str = typer.Argument(..., help="Catalog name or alias, path to a config.json (or its folder), or hub id "
                                         "org/name."),
    as_json: bool = json_option("Print JSON: one row per field {field, value}."),
    csv: str = csv_option(), parquet: str = parquet_option(), force: bool = force_option(),
) -> None:
    """Every field of one model and its parameter counts (elements)."""
    check_row_files(csv, parquet, force)
    spec = load_model(name)
    counts = dataclasses.asdict(param_counts(spec))
    rows = [{"field": k, "value": _scalar(v)} for k, v in spec.model_dump().items()]
    rows += [{"field": f"params_{k}", "value": v} for k, v in counts.items()]
    emit(envelope("models show", {"model": spec.name}, rows), json_out=as_json, show=_print_model, csv=csv,
         parquet=parquet, force=force)

"""Shared CLI helpers: error printing and JSON output."""

from __future__ import annotations

import json
import math
import sys
from contextlib import contextmanager

import typer
from rich.console import Console

from ..errors import TokenomyError

err_console = Console(stderr=True, highlight=False)


@contextmanager
def cli_errors():
    """Turn a TokenomyError into one red line on stderr and its exit code (2 bad input, 1 infeasible)."""
    try:
        yield
    except TokenomyError as e:
        err_console.print(f"error: {e}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(_clean(obj), indent=None, separators=(",", ":")) + "\n")

"""The ``tokenomy`` command: Typer app; each sub-command lives in its own module."""

from __future__ import annotations

import sys

import typer

from .hardware import hardware_app
from .models import models_app
from .predict import predict_command
from .engines import engines_app

app = typer.Typer(name="tokenomy", no_args_is_help=False, add_completion=False, invoke_without_command=True,
                  help="What every token of LLM inference costs: seconds, dollars and joules, on any chip.")
app.add_typer(hardware_app, name="hardware", help="List and show accelerators (every figure with its source).")
app.add_typer(models_app, name="models", help="List and show model shapes.")
app.add_typer(engines_app, name="engines", help="List and show engine profiles.")
app.command("predict")(predict_command)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Run without a command for a short demo table on built-in defaults."""
    if ctx.invoked_subcommand is None:
        from .demo import demo
        demo()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

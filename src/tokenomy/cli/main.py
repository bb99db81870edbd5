"""The ``tokenomy`` command: Typer app; each sub-command lives in its own module."""

from __future__ import annotations

import typer

from .brief import brief_command
from .calibrate import calibrate_command, validate_command
from .common import TokenomyGroup
from .economics import break_even_command, cost_command, factory_command, invest_command
from .engines import engines_app
from .frontier import frontier_command
from .gemm_shape import gemm_command, shape_command
from .hardware import hardware_app
from .models import models_app
from .predict import predict_command
from .simulate import simulate_command

# rich_markup_mode=None: Click's plain help, which wraps long flag names where Rich's panels cut them at 80 columns
app = typer.Typer(name="tokenomy", cls=TokenomyGroup, no_args_is_help=False, add_completion=False,
                  rich_markup_mode=None, invoke_without_command=True,
                  help="What every token of LLM inference costs: seconds, dollars and joules, on any chip.")
app.add_typer(hardware_app, name="hardware", help="List and show accelerators (every figure with its source).")
app.add_typer(models_app, name="models", help="List and show model shapes.")
app.add_typer(engines_app, name="engines", help="List and show engine profiles.")
app.command("predict")(predict_command)
app.command("calibrate")(calibrate_command)
app.command("validate")(validate_command)
app.command("frontier")(frontier_command)
app.command("simulate")(simulate_command)
app.command("cost")(cost_command)
app.command("factory")(factory_command)
app.command("breakeven")(break_even_command)
app.command("invest")(invest_command)
app.command("gemm")(gemm_command)
app.command("shape")(shape_command)
app.command("brief")(brief_command)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Run without a command for a short demo table on built-in defaults."""
    if ctx.invoked_subcommand is None:
        from .demo import demo
        demo()


def main() -> None:
    """Entry point of the ``tokenomy`` script; errors end in one line (``common.TokenomyGroup``)."""
    app()

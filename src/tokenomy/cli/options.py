"""Options several commands share, declared once, and the number types that guard float flags.

Float flags take ``FINITE``, ``NON_NEGATIVE`` or ``POSITIVE`` as their parser: NaN, inf and values
below the bound are usage errors (one line, exit 2) before any work starts.
"""

from __future__ import annotations

import math

import typer


class Number:
    """Parser of a finite float, optionally bounded below (``low``; ``strict``: the bound itself is refused)."""

    __name__ = "number"        # typer names the parser in its help

    def __init__(self, low: float | None = None, strict: bool = False):
        self.low, self.strict = low, strict

    def __call__(self, value) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{value!r} is not a number; give e.g. 1.5 or 2e3.") from None
        if not math.isfinite(x):
            raise typer.BadParameter(f"{value!r} is not a finite number; give e.g. 1.5 or 2e3.")
        if self.low is not None and (x < self.low or (self.strict and x == self.low)):
            raise typer.BadParameter(f"{value!r} must be {'>' if self.strict else '>='} {self.low:g}.")
        return x


FINITE = Number()
NON_NEGATIVE = Number(0.0)
POSITIVE = Number(0.0, strict=True)

MODEL_HELP = "Catalog name, path to a config.json, or a Hugging Face id."
CHIP_HELP = "Chip id (tokenomy hardware list) or a YAML file."
PROFILE_HELP = "Calibrated profile file (tokenomy calibrate); replaces --engine."


def model_option(help: str = MODEL_HELP, required: bool = False):
    return typer.Option(... if required else None, "--model", help=help)


def hardware_option(help: str = CHIP_HELP, required: bool = False):
    return typer.Option(... if required else None, "--hardware", help=help)


def engine_option(default=None, help: str = "Engine profile (default: serving; dataflow on SRAM chips)."):
    return typer.Option(default, "--engine", help=help)


def profile_option():
    return typer.Option(None, "--profile", help=PROFILE_HELP)


def json_option(help: str = "Print JSON."):
    return typer.Option(False, "--json", help=help)


def cases_option(help: str):
    return typer.Option(None, "--cases", help=help)


def tokens_option(flag: str, default, help: str):
    """--isl / --osl: whole tokens per request."""
    return typer.Option(default, flag, help=help, min=1)


def speed_option(required: bool = True, help: str = "Required decode speed per user (tokens/s)."):
    return typer.Option(... if required else None, "--tokens-per-s-per-user", parser=POSITIVE, help=help)


def force_option(help: str = "Overwrite files that already exist."):
    return typer.Option(False, "--force", help=help)


def plot_option(help: str):
    return typer.Option(None, "--plot", help=help)


# --tp / --pp / --ep / --chips: the parts of a deployment a command fixes (None: the command chooses),
# checked by spec/args.fixed_deployment and frontier/deployments.fixed_error wherever they are taken
DEPLOYMENT_PARTS = {"--tp": "tensor parallelism", "--pp": "pipeline stages",
                    "--ep": "expert parallelism, MoE, at most tp", "--chips": "the chips per replica"}
SWEEP_CHOOSES = "the sweep chooses"
ECONOMICS_CHOOSES = ("the cheapest that serves the speed of 1 (where the weights fit one chip) and the "
                     "deployments tokenomy frontier proposes")


def deployment_option(flag: str, chooses: str = SWEEP_CHOOSES, suffix: str = "", of: str = ""):
    """``flag`` (a key of DEPLOYMENT_PARTS, optionally with ``suffix``, e.g. '-versus'): a whole number >= 1;
    ``of``: whose deployment, for commands that take two."""
    return typer.Option(None, flag + suffix, min=1,
                        help=f"Fix {DEPLOYMENT_PARTS[flag]}{of} (default: {chooses}).")


def deployment_list_option(flag: str, chooses: str = ECONOMICS_CHOOSES):
    """``flag`` as one value or a comma list of one per chip (factory)."""
    return typer.Option(None, flag, help=f"Fix {DEPLOYMENT_PARTS[flag]}: one value or one per chip "
                                         f"(default: {chooses}).")

"""Options several commands share, declared once, and the number types that guard float flags.

Float flags take ``FINITE``, ``NON_NEGATIVE`` or ``POSITIVE`` as their parser: NaN, inf and values
below the bound are usage errors (one line, exit 2) before any work starts.
"""

from __future__ import annotations

import functools
import inspect
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


def csv_option():
    return typer.Option(None, "--csv", help="Also write the rows to this CSV file (the rows of --json).")


def parquet_option():
    return typer.Option(None, "--parquet", help="Also write the rows to this Parquet file (the rows of --json).")


def scenario_options(func):
    """Add ``--scenario`` and one ``--<field>`` option per Scenario field; pass them as ``scenario, overrides``."""
    from ..loaders.economics import default_sources
    from ..spec.economics import RANGES, RENAMED, Scenario, range_text, renamed_error

    sources = default_sources()
    scenario_help = "Scenario file (YAML or TOML) over the defaults."
    extra = [inspect.Parameter("scenario", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                               default=typer.Option(None, "--scenario", help=scenario_help))]
    for name, field in Scenario.model_fields.items():
        typ = str | None if name == "mode" else float | None
        rng = f" Range {range_text(name)}." if name in RANGES else " owned or rented."
        default = field.default if field.default is not None else "from the hardware catalog"
        help_ = f"Default {default}.{rng} Source: {sources.get(name, 'hardware catalog')}"
        parser = None if name == "mode" else FINITE      # NaN / inf are usage errors; ranges: Scenario
        extra.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=typ,
                                       default=typer.Option(None, "--" + name.replace("_", "-"), help=help_,
                                                            parser=parser)))
    for name in RENAMED:          # an old flag: one line naming the new one (hidden from --help)
        extra.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                                       default=typer.Option(None, "--" + name.replace("_", "-"), hidden=True)))
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.name not in ("overrides", "scenario")]

    @functools.wraps(func)
    def wrapper(**kwargs):
        old = [k for k in RENAMED if kwargs.pop(k, None) is not None]
        if old:
            renamed_error(old, "--" + old[0].replace("_", "-"))
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in Scenario.model_fields}
        return func(**kwargs, overrides={k: v for k, v in overrides.items() if v is not None})

    wrapper.__signature__ = sig.replace(parameters=own + extra)  # type: ignore[attr-defined]  # read by inspect
    wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
    del wrapper.__wrapped__
    return wrapper

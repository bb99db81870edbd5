"""``tokenomy brief``: the top findings for a model on a chip list, each with its numbers, why, the command that
reproduces them and a sensitivity (report/brief.py computes, report/brief_findings.py words them).

Output: the envelope (``--json`` or ``--format json``: one row per finding, the inputs in ``query``), Markdown
(``--format md``), one self-contained HTML file (``--format html --out FILE``), or on the terminal the Markdown
rendered by Rich (the default).
"""

# no ``from __future__ import annotations``: Typer reads the real annotation objects (cli/economics.py)
import typer

from ..errors import SpecError
from .common import err_console
from .options import POSITIVE, force_option, json_option, model_option, scenario_options, tokens_option

DEFAULT_HARDWARE = "h100-sxm,h200-sxm,b200,mi300x,groq-lpu"   # 70B: every analysis in < 5 s (measured)
FORMATS = ("md", "json", "html")


def _speeds(value: str) -> tuple[float, ...]:
    try:
        out = tuple(POSITIVE(v.strip()) for v in value.split(","))
    except typer.BadParameter as e:
        raise SpecError(f"--speeds: {e}") from None
    return tuple(sorted(set(out)))


@scenario_options
def brief_command(
    model: str = model_option("Model name.", required=True),
    hardware: str = typer.Option(DEFAULT_HARDWARE, "--hardware", help="Chip ids, comma-separated."),
    isl: int = tokens_option("--isl", 1024, "Input tokens per request."),
    osl: int = tokens_option("--osl", 1024, "Output tokens per request."),
    speeds: str = typer.Option("20,50,100", "--speeds", help="Per-user speeds to compare chips at, tok/s/user."),
    power_mw: float = typer.Option(100.0, "--power-mw", parser=POSITIVE,
                                   help="Facility power of the factory and the fleet, MW."),
    top: int = typer.Option(5, "--top", min=1, help="Findings to keep (highest score first)."),
    fmt: str = typer.Option(None, "--format", help="md, json or html (default: Markdown on the terminal)."),
    out: str = typer.Option(None, "--out", help="Write to this file instead of printing (html needs it)."),
    json_out: bool = json_option("Print the JSON envelope (same as --format json)."),
    force: bool = force_option("Overwrite --out."),
    *, scenario=None, overrides=None,
) -> None:
    """The top findings of a scenario in plain words: numbers, why, a reproduce command and a sensitivity."""
    from ..economics import get_scenario
    from ..report import brief as B
    from ..report.files import check_target, write_files
    from .output import envelope

    if json_out:
        if fmt not in (None, "json"):
            raise SpecError(f"--json and --format {fmt} clash; give one.")
        fmt = "json"
    if fmt is not None and fmt not in FORMATS:
        raise SpecError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    if fmt == "html" and out is None:
        raise SpecError("--format html writes a file: give --out FILE.html.")
    if out is not None:
        check_target(out, flag="--out", force=force)
    chips = tuple(dict.fromkeys(h.strip() for h in hardware.split(",") if h.strip()))
    inp = B.F.Inputs(model, chips, isl, osl, _speeds(speeds), power_mw, scenario, dict(overrides or {}))
    with err_console.status("running the analyses ..."):
        found = B.analyse(inp)
    ranked = B.F.rank(found, top)
    query = {"model": model, "hardware": ",".join(chips), "isl": isl, "osl": osl,
             "tokens_per_s_per_user_targets": ",".join(f"{s:g}" for s in inp.speeds), "power_mw": power_mw,
             "top_findings": top, **get_scenario(scenario, **(overrides or {})).model_dump()}
    from ..economics.chip_hour import pricing_warnings

    result = envelope("brief", query, B.rows(ranked),
                      {"findings_found": len(found), "lines": [f.headline for f in ranked] or [B.NOTHING]},
                      pricing_warnings(list(chips), scenario, **(overrides or {})))
    text = {"json": lambda: _json(result), "md": lambda: B.markdown(result, ranked),
            "html": lambda: B.html_page(result, ranked)}
    if out is not None:
        write_files({out: text[fmt or "md"]()}, flag="--out", force=force)
        err_console.print(f"wrote {out}", markup=False)
    elif fmt is None:
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(B.markdown(result, ranked)))
    else:
        typer.echo(text[fmt]())
    if fmt != "json":
        for w in result["warnings"]:
            err_console.print(f"warning: {w}", markup=False, soft_wrap=True)


def _json(result) -> str:
    import json

    from .common import _clean

    return json.dumps(_clean(result), separators=(",", ":"))

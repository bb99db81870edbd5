"""``tokenomy calibrate`` (measure this device, fit a profile) and ``tokenomy validate``.

calibrate needs the ``gpu`` extra (PyTorch, nvidia-ml-py); without it, one line says how to install it.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import SpecError
from .common import cli_errors, err_console, print_json


def calibrate_command(
    out: str = typer.Option(..., "--out", help="Profile file to write (JSON); raw rows go to <out>.jsonl beside it."),
    device: str = typer.Option(None, "--device", help="cuda or cpu (default: cuda when PyTorch sees a GPU)."),
    quick: bool = typer.Option(False, "--quick", help="Fewer and smaller cases (on CPU: a tiny model, seconds)."),
    model: str = typer.Option(None, "--model", help="Dense model whose shapes are measured (default: llama-3.1-8b "
                              "on CUDA, a tiny decoder on CPU). Built with random weights; nothing is downloaded."),
    hardware: str = typer.Option(None, "--hardware", help="Chip to fit against (catalog id or YAML); default: the "
                                 "catalog entry of this GPU, else a spec measured here."),
    name: str = typer.Option(None, "--name", help="Profile name (default: calibrated-<hardware id>)."),
) -> None:
    """Measure this device with PyTorch microbenchmarks and fit an engine profile for --profile."""
    from ..calibrate import measure
    torch = measure.import_torch()
    if torch is None:
        err_console.print(measure.TORCH_HINT, markup=False)
        raise typer.Exit(2)
    with cli_errors():
        from ..calibrate.profile import write_profile
        from ..loaders.models import load_model
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        spec = load_model(model) if model else None
        if not out.endswith(".json"):
            raise SpecError(f"--out must name a .json file, got {out!r}.")
        ses, steps = measure.plan(dev, quick, spec)
        t0 = time.time()
        with Progress(TextColumn("[bold]calibrate[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err_console, transient=False) as bar:
            task = bar.add_task("", total=len(steps))

            order = {id(st): i for i, st in enumerate(steps)}

            last = [""]

            def tick(st):   # called before each step: the bar shows the steps finished so far
                bar.update(task, completed=order[id(st)], description=st.label)
                section = st.label.split()[0]
                if not err_console.is_terminal and section != last[0]:   # logs get one line per section
                    last[0] = section
                    bar.console.print(f"{time.time() - t0:6.1f} s  {st.label}", markup=False, highlight=False)
            rows = measure.run(steps, on_step=tick)
            bar.update(task, completed=len(steps), description="fitting")
        summary = write_profile(out, rows, hardware=hardware, name=name)
    errs = ", ".join(f"{k} {v:.1%}" for k, v in summary["fit_errors"].items() if v == v)
    c = Console(stderr=True, highlight=False, soft_wrap=True)
    c.print(f"measured {len(rows)} rows in {time.time() - t0:.0f} s on {dev}; fitted {summary['name']} "
            f"on {summary['hardware']} (fit error, mean |rel|: {errs})")
    c.print(f"wrote {summary['profile']} and {summary['measurements']}"
            + (f" and {summary['hardware_file']}" if summary["hardware_file"] else ""))
    hw_arg = summary["hardware_file"] or summary["hardware"]
    c.print(f"use it: tokenomy predict --model llama-3.1-8b --hardware {hw_arg} --profile {summary['profile']} "
            "--phase decode --batch 8 --context 1024")


def _fmt(v: float, unit: str) -> str:
    if unit == "s":
        return f"{v * 1e3:.4g} ms"
    return f"{v:.4g} {unit}"


def validate_command(
    measurements: list[str] = typer.Option(..., "--measurements", help="JSONL rows (shared/data/h100 format) or a "
                                           "calibrate profile JSON; repeat for several files."),
    profile: str = typer.Option(None, "--profile", help="Profile to check (file or engine name; default torch-eager)."),
    hardware: str = typer.Option(None, "--hardware", help="Chip (default: from the profile file or the env row)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: MAPE per kind and every row."),
    plot: str = typer.Option(None, "--plot", help="Also write predicted-vs-measured plots to this PNG (matplotlib)."),
    summary_only: bool = typer.Option(False, "--summary", help="Table of MAPE per kind only, without every row."),
) -> None:
    """Predicted versus measured for every row, with MAPE per kind and phase."""
    with cli_errors():
        from ..validate import plot_validation, read_measurements, validate
        res = validate(read_measurements(measurements), profile=profile, hardware=hardware)
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            err_console.print("--plot needs matplotlib: pip install 'tokenomy[plot]'", markup=False)
            raise typer.Exit(2) from None
        plot_validation(res, Path(plot))
    if json_out:
        print_json(res.to_dict())
        return
    con = Console()
    if not summary_only:
        t = Table(title=f"{res.engine} on {res.hardware}: predicted vs measured")
        for h in ("kind", "phase", "case", "measured", "predicted", "error"):
            t.add_column(h, justify="right" if h in ("measured", "predicted", "error") else "left", no_wrap=True)
        for r in res.rows:
            err = f"{r.rel_err:+.1%}"
            t.add_row(r.kind, r.phase, r.case, _fmt(r.measured, r.unit), _fmt(r.predicted, r.unit),
                      f"[red]{err}[/red]" if abs(r.rel_err) > 0.15 else err)
        con.print(t)
    s = Table(title=f"MAPE per kind ({res.engine} on {res.hardware})")
    s.add_column("kind")
    s.add_column("rows", justify="right")
    s.add_column("MAPE", justify="right")
    for k, v in res.mape.items():
        s.add_row(k, str(res.counts[k]), f"{v:.1%}")
    con.print(s)
    if res.skipped:
        err_console.print(f"{res.skipped} rows skipped (no matching model row, precision or power limit on "
                          f"{res.hardware}).", markup=False)

"""``tokenomy calibrate`` (measure this device, fit a profile) and ``tokenomy validate``.

calibrate needs the ``gpu`` extra (PyTorch, nvidia-ml-py); without it, one line says how to install it.
"""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import SpecError
from .common import TABLE_ROWS, err_console, fail_line, print_json
from .options import force_option, hardware_option, json_option, model_option, plot_option


def calibrate_command(
    out: str = typer.Option(..., "--out", help="Profile file to write (JSON); raw rows go to <out>.jsonl beside it."),
    device: str = typer.Option(None, "--device", help="cuda or cpu (default: cuda when PyTorch sees a GPU)."),
    quick: bool = typer.Option(False, "--quick", help="Fewer and smaller cases (on CPU: a tiny model, seconds)."),
    model: str = model_option("Dense model whose shapes are measured (default: llama-3.1-8b on CUDA, a tiny "
                              "decoder on CPU). Built with random weights; nothing is downloaded."),
    hardware: str = hardware_option("Chip to fit against (catalog id or YAML); default: the catalog entry of this "
                                    "GPU, else a spec measured here."),
    name: str = typer.Option(None, "--name", help="Profile name (default: calibrated-<hardware id>)."),
    force: bool = force_option(),
) -> None:
    """Measure this device with PyTorch microbenchmarks and fit an engine profile for --profile."""
    from ..calibrate import measure
    from ..calibrate.profile import output_paths, write_profile
    from ..loaders.hardware import hardware_ids, load_hardware
    from ..loaders.models import load_model
    from ..report.files import check_target

    # every name and path is checked before minutes of measuring
    paths = output_paths(check_target(out, flag="--out", force=force, suffixes=(".json",)))
    known_chip = hardware is not None and hardware in hardware_ids()
    for key in ("measurements",) + (() if known_chip else ("hardware_file",)):
        check_target(paths[key], flag="--out", force=force)
    if hardware is not None:
        load_hardware(hardware)
    spec = load_model(model) if model else None
    if device not in (None, "cuda", "cpu"):
        raise SpecError(f"--device must be cuda or cpu, got {device!r}.")
    torch = measure.import_torch()
    if torch is None:
        raise fail_line(measure.TORCH_HINT, 2)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    _session, steps = measure.plan(dev, quick, spec)
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
    summary = write_profile(out, rows, hardware=hardware, name=name, force=force)
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
    measurements: list[str] = typer.Option(None, "--measurements", help="JSONL rows (shared/data/h100 format) or a "
                                           "calibrate profile JSON; repeat for several files."),
    serving: str = typer.Option(None, "--serving", help="A measured serving CSV (any format of shared/data/serving, "
                                "detected by its columns): every row predicted at its own deployment."),
    profile: str = typer.Option(None, "--profile", help="Profile to check (file or engine name; default torch-eager, "
                                "or each row's own engine with --serving)."),
    hardware: str = hardware_option("Chip (default: from the profile file or the env row)."),
    json_out: bool = json_option("Print JSON: MAPE per kind and every row."),
    plot: str = plot_option("Also write predicted-vs-measured plots to this PNG (matplotlib)."),
    force: bool = force_option(),
    summary_only: bool = typer.Option(False, "--summary", help="Table of MAPE per kind only, without every row."),
    holdout_chip: str = typer.Option(None, "--holdout-chip", help="With --serving: refit the engine terms on the "
                                     "shared serving rows without this chip's, and predict only its rows."),
) -> None:
    """Predicted versus measured for every row, with MAPE per kind and phase (or per source, chip and metric)."""
    from ..report.files import check_plot_target, write_files
    from ..validate import plot_validation, read_measurements, validate

    if bool(measurements) == (serving is not None):
        raise SpecError("Give exactly one of --measurements (kernel rows) and --serving (a serving CSV).")
    if plot is not None:
        check_plot_target(plot, force=force, suffixes=(".png",))
    if serving is not None:
        if hardware is not None:
            raise SpecError("--hardware does not apply to --serving: each row names its own chip.")
        _validate_serving(serving, profile, json_out, plot, force, holdout_chip)
        return
    if holdout_chip is not None:
        raise SpecError("--holdout-chip applies to --serving only.")
    res = validate(read_measurements(measurements), profile=profile, hardware=hardware)
    if plot is not None:
        write_files({plot: lambda p: plot_validation(res, p)}, flag="--plot", force=force)
    if json_out:
        print_json(res.to_dict())
        return
    con = Console()
    if not summary_only:
        t = Table(title=f"{res.engine} on {res.hardware}: predicted vs measured")
        for h in ("kind", "phase", "case", "measured", "predicted", "error"):
            t.add_column(h, justify="right" if h in ("measured", "predicted", "error") else "left", no_wrap=True)
        for r in res.rows[:TABLE_ROWS]:
            err = f"{r.rel_err:+.1%}"
            t.add_row(r.kind, r.phase, r.case, _fmt(r.measured, r.unit), _fmt(r.predicted, r.unit),
                      f"[red]{err}[/red]" if abs(r.rel_err) > 0.15 else err)
        con.print(t)
        if len(res.rows) > TABLE_ROWS:
            con.print(f"showing the first {TABLE_ROWS} of {len(res.rows):,} rows; --json prints them all.",
                      markup=False)
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
    if plot is not None:
        con.print(f"wrote {plot}", markup=False)


def _validate_serving(path: str, profile: str | None, json_out: bool, plot: str | None, force: bool,
                      holdout_chip: str | None = None) -> None:
    from ..report.files import write_files
    from ..report.serving import plot_serving, skipped_lines, summary_table
    from ..serving_check import validate_serving

    res = validate_serving(path, profile, holdout_chip=holdout_chip)
    if plot is not None:
        write_files({plot: lambda p: plot_serving(res, p)}, flag="--plot", force=force)
    if json_out:
        print_json(res.to_dict())
        return
    con = Console()
    con.print(summary_table(res))
    for line in skipped_lines(res):
        err_console.print(line, markup=False)
    con.print(f"{res.data_rows} rows in {res.seconds:.1f} s; --json prints every row.", markup=False)
    if plot is not None:
        con.print(f"wrote {plot}", markup=False)

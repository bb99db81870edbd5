"""``tokenomy calibrate`` (measure this device, fit a profile) and ``tokenomy validate``.

calibrate needs the ``gpu`` extra (PyTorch, nvidia-ml-py); without it, one line says how to install it.
validate prints the envelope of ``cli/output.py`` with ``--json`` (one flat row per comparison: ``metric``,
``measured_<unit>``, ``predicted_<unit>``, ``ratio``; summary: the groups' MAPE and the rows skipped) and
writes the rows with ``--csv`` / ``--parquet``; progress goes to stderr.
"""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import SpecError
from .common import err_console, fail_line
from .options import csv_option, force_option, hardware_option, json_option, model_option, parquet_option, plot_option
from .output import check_row_files, emit, envelope
from .tables import Col, num, pct, show_rows, text, whole


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
        raise fail_line(f"error: {measure.TORCH_HINT}", 2)
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


VALUE_COLS = (Col("measured_s", "measured", "ms", lambda v: num(v * 1e3) if v is not None else "-"),
              Col("predicted_s", "predicted", "ms", lambda v: num(v * 1e3) if v is not None else "-"),
              Col("measured_j_per_token", "measured", "J/token"), Col("predicted_j_per_token", "predicted", "J/token"),
              Col("measured_tokens_per_s", "measured", "tok/s"), Col("predicted_tokens_per_s", "predicted", "tok/s"),
              Col("measured_w", "measured", "W"), Col("predicted_w", "predicted", "W"))
GROUP_COLS = (Col("hardware", "chip", fmt=text, left=True), Col("metric", "metric", fmt=text, left=True),
              Col("median_ratio", "median", "pred/meas"), Col("mape_frac", "MAPE", fmt=pct),
              Col("checks", "rows", fmt=whole), Col("p90_abs_error_frac", "p90 |err|", fmt=pct),
              Col("data_source", "source", fmt=text, left=True))


def _present(cols, rows) -> list[Col]:
    """The columns of ``cols`` some row carries (validate rows carry the value keys of their unit only)."""
    return [c for c in cols if any(c.key in r for r in rows)]


def _show_measurements(result, summary_only: bool) -> None:
    s = result["summary"]
    rows = result["rows"]
    if not summary_only:
        cols = [Col("metric", "kind", fmt=text, left=True), Col("phase", "phase", fmt=text, left=True),
                Col("case", "case", fmt=text, left=True), Col("ratio", "error", fmt=lambda r: f"{r - 1:+.1%}"),
                *_present(VALUE_COLS, rows)]
        show_rows(f"{s['engine']} on {s['hardware']}: predicted vs measured", rows, cols)
    show_rows(f"MAPE per kind ({s['engine']} on {s['hardware']})", s["groups"], _present(GROUP_COLS, s["groups"]))
    if s["rows_skipped"]:
        err_console.print(f"{s['rows_skipped']} rows skipped (no matching model row, precision or power limit on "
                          f"{s['hardware']}).", markup=False)


def validate_command(
    measurements: list[str] = typer.Option(None, "--measurements", help="Measured timings as JSONL (the rows "
                                           "`tokenomy calibrate` writes) or a calibrate profile JSON; repeat for "
                                           "several files."),
    serving: str = typer.Option(None, "--serving", help="A measured serving CSV (TensorRT-LLM perf overview, "
                                "InferenceX, ML.ENERGY or BLIS/vLLM columns, detected by its columns): every row "
                                "predicted at its own deployment."),
    profile: str = typer.Option(None, "--profile", help="Profile to check (file or engine name; default torch-eager, "
                                "or each row's own engine with --serving)."),
    hardware: str = hardware_option("Chip (default: from the profile file or the env row)."),
    json_out: bool = json_option("Print JSON: one row per comparison; the MAPE per group in the summary."),
    csv: str = csv_option(),
    parquet: str = parquet_option(),
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
    check_row_files(csv, parquet, force)
    if serving is not None:
        if hardware is not None:
            raise SpecError("--hardware does not apply to --serving: each row names its own chip.")
        _validate_serving(serving, profile, plot, force, holdout_chip,
                          {"json_out": json_out, "csv": csv, "parquet": parquet, "force": force})
        return
    if holdout_chip is not None:
        raise SpecError("--holdout-chip applies to --serving only.")
    with err_console.status("validating: predicting every measured row"):
        res = validate(read_measurements(measurements), profile=profile, hardware=hardware)
    if plot is not None:
        write_files({plot: lambda p: plot_validation(res, p)}, flag="--plot", force=force)
    from ..validate import validation_rows, validation_summary

    query = {"measurements": list(measurements), "profile": profile, "hardware": res.hardware}
    emit(envelope("validate", query, validation_rows(res), validation_summary(res)), json_out=json_out,
         show=lambda r: _show_measurements(r, summary_only), csv=csv, parquet=parquet, force=force)
    if plot is not None:
        err_console.print(f"wrote {plot}", markup=False)


def _validate_serving(path: str, profile: str | None, plot: str | None, force: bool, holdout_chip: str | None,
                      out: dict) -> None:
    from ..report.files import write_files
    from ..report.serving import plot_serving, serving_rows, serving_summary, skipped_lines
    from ..serving_check import validate_serving

    with err_console.status(f"validating: predicting every row of {path}"):
        res = validate_serving(path, profile, holdout_chip=holdout_chip)
    if plot is not None:
        write_files({plot: lambda p: plot_serving(res, p)}, flag="--plot", force=force)

    def show(result) -> None:
        s = result["summary"]
        show_rows(f"{s['engine']} against {s['data_source']}: {s['rows_predicted']} of {s['data_rows']} rows "
                  "predicted", s["groups"], _present(GROUP_COLS, s["groups"]))
        for line in skipped_lines(res):
            err_console.print(line, markup=False)
        Console().print(f"{s['data_rows']} rows in {s['wall_s']:.1f} s; --json prints every row.", markup=False)

    query = {"serving": path, "profile": profile, "holdout_chip": holdout_chip}
    summary = serving_summary(res)
    skipped = summary.get("rows_skipped") or 0
    warn = ([f"{skipped} of {summary['data_rows']} rows were not predicted (reasons in summary.skipped)"]
            if skipped else [])
    emit(envelope("validate", query, serving_rows(res), summary, warn), show=show, **out)
    if plot is not None:
        err_console.print(f"wrote {plot}", markup=False)

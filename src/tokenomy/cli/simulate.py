"""``tokenomy simulate``: serve a workload request by request; TTFT/TPOT/E2E percentiles, throughput, $ and J.

One run from flags (``tokenomy.simulate``), or a grid from ``--sweep FILE.yaml`` (``sim/sweep.py``). ``--json``
prints the envelope of ``cli/output.py``: one flat row per run (``Simulation.to_dict``: glossary keys such as
``ttft_p99_s``, ``fleet_tokens_per_s``, ``usd_per_mtok_all_in``), the query (the inputs as used, the scenario's
fields included) and a summary (``--check-steps``: the step table's error). ``--csv`` / ``--parquet`` write the
rows; files (``--plot``, ``--requests-out``, ``--event-log``, ``--out``) are checked before the run and written
after it, all or none, through ``report/files.py`` (never over an existing file without ``--force``). Runs longer
than ``PROGRESS_AFTER_S`` show a progress bar on stderr; stdout carries only the table or the JSON.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from ..errors import SpecError
from .common import err_console, missing_flags
from .options import (
    POSITIVE,
    csv_option,
    engine_option,
    force_option,
    hardware_option,
    json_option,
    model_option,
    parquet_option,
    plot_option,
    scenario_options,
)
from .output import check_row_files, emit, envelope
from .tables import Col, ms, pct, show_one, show_rows, text, whole

PROGRESS_AFTER_S = 0.5     # a bar for shorter runs would only flicker
LATENCIES = (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2e", "E2E"), ("kv_transfer", "KV transfer"),
             ("kv_queue", "KV link wait"))
STATS = ("mean", "p50", "p90", "p99")
QUANTITIES = (
    Col("fleet_tokens_per_s", "output tokens/s (fleet)", "tok/s"), Col("fleet_input_tokens_per_s",
                                                                      "input tokens/s (fleet)", "tok/s"),
    Col("requests_per_s", "requests/s", "req/s"), Col("goodput_requests_per_s", "goodput (within SLO)", "req/s"),
    Col("slo_attainment", "SLO attainment", fmt=pct), Col("preemptions", "preemptions", fmt=whole),
    Col("mean_batch", "mean batch", "sequences"), Col("kv_peak_frac", "KV cache peak", fmt=pct),
    Col("fleet_power_w", "power (fleet, mean)", "W", whole), Col("j_per_token_chip", "energy per output token",
                                                                  "J/token"),
    Col("usd_per_mtok_all_in", "cost per output Mtok (all-in)", "$/Mtok"),
    Col("requests", "requests finished", fmt=whole), Col("simulated_s", "simulated time", "s"),
    Col("wall_s", "wall time", "s"), Col("fleet_chips", "chips (both pools)", fmt=whole),
    Col("prefill_busy_frac", "prefill pool busy", fmt=pct), Col("decode_busy_frac", "decode pool busy", fmt=pct),
    Col("prefill_kv_peak_frac", "prefill KV peak", fmt=pct), Col("decode_kv_peak_frac", "decode KV peak", fmt=pct),
    Col("prefill_fleet_power_w", "prefill pool power", "W", whole),
    Col("decode_fleet_power_w", "decode pool power", "W", whole), Col("kv_link", "KV link", fmt=text))
SUFFIXES = {"--requests-out": (".parquet", ".csv"), "--event-log": (".csv", ".jsonl"), "--out": (".parquet", ".csv")}
SWEEP_FLAGS = ("--model", "--hardware", "--workload", "--engine", "--precision", "--spec", "--requests", "--duration",
               "--prefix-cache", "--slo", "--plot", "--requests-out", "--event-log")


class Progress:
    """A progress(done, total) callback drawing a Rich bar on stderr once a run passes PROGRESS_AFTER_S."""

    def __init__(self, what: str):
        self.what, self.t0 = what, time.perf_counter()
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if time.perf_counter() - self.t0 < PROGRESS_AFTER_S:
                return
            from rich.progress import Progress as Bar

            self.bar = Bar(console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _check_out(path: str | None, flag: str, force: bool) -> None:
    from ..report.files import check_target

    if path is not None:
        check_target(path, flag=flag, force=force, suffixes=SUFFIXES[flag])


def table_writer(df, path: str):
    """A write_files content that writes the pandas table ``df`` as Parquet or CSV (by ``path``'s suffix)."""
    if Path(path).suffix.lower() == ".csv":
        return lambda p: df.to_csv(p, index=False)
    try:
        import pyarrow  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise SpecError(f"{path}: Parquet needs pyarrow (pip install pyarrow), or write a .csv.") from None
    return lambda p: df.to_parquet(p, index=False)


def _events_writer(events: list[tuple], path: str):
    import json

    if Path(path).suffix.lower() == ".jsonl":
        return "".join(json.dumps(list(e)) + "\n" for e in events)
    return "t_s,replica,kind,request_id\n" + "".join(",".join(str(x) for x in e) + "\n" for e in events)


def show_run(result) -> None:
    """One run: a latency table (mean / p50 / p90 / p99, ms) and the run's quantities with units."""
    from rich.console import Console

    row = result["rows"][0]
    lat = [{"latency": label, **{k: row[f"{name}_{k}_s"] for k in STATS}} for name, label in LATENCIES
           if f"{name}_mean_s" in row]
    show_rows("tokenomy simulate: latency per request", lat,
              [Col("latency", "latency", left=True, fmt=text), *(Col(k, k, "ms", ms) for k in STATS)])
    show_one("tokenomy simulate", row, QUANTITIES)
    con = Console()
    for what in ("deployment", "workload"):
        con.print(f"{what}: {row[what]}", markup=False, soft_wrap=False)
    err = result["summary"]
    if err:
        err_console.print(f"step table vs core: decode median {err['decode_step_error_median_frac']:.2%} max "
                          f"{err['decode_step_error_max_frac']:.2%}, prefill median "
                          f"{err['prefill_step_error_median_frac']:.2%} max {err['prefill_step_error_max_frac']:.2%}",
                          markup=False)


def scenario_query(scenario) -> dict[str, Any]:
    """The Scenario's fields as query keys (those named in the glossary)."""
    from ..glossary import GLOSSARY

    return {k: v for k, v in scenario.model_dump().items() if k in GLOSSARY}


@scenario_options
def simulate_command(
    model: str = model_option(),
    hardware: str = hardware_option(),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel chips per replica."),
    pp: int = typer.Option(1, "--pp", help="Pipeline stages per replica."),
    ep: int = typer.Option(1, "--ep", help="Expert-parallel degree (MoE; at most tp)."),
    dp_attention: int = typer.Option(1, "--dp-attention", help="Attention data-parallel groups (divides tp)."),
    replicas: int = typer.Option(1, "--replicas", help="Copies of the deployment behind the router."),
    prefill_hardware: str = typer.Option(None, "--prefill-hardware", help="Disaggregated: the prefill pool's chip "
                                         "(default --hardware)."),
    decode_hardware: str = typer.Option(None, "--decode-hardware", help="Disaggregated: the decode pool's chip "
                                        "(default --hardware)."),
    prefill_tp: int = typer.Option(None, "--prefill-tp", help="Disaggregated: tp of a prefill replica (default --tp)."),
    decode_tp: int = typer.Option(None, "--decode-tp", help="Disaggregated: tp of a decode replica (default --tp)."),
    prefill_pp: int = typer.Option(None, "--prefill-pp", help="Disaggregated: pp of a prefill replica (default --pp)."),
    decode_pp: int = typer.Option(None, "--decode-pp", help="Disaggregated: pp of a decode replica (default --pp)."),
    prefill_ep: int = typer.Option(None, "--prefill-ep", help="Disaggregated: ep of a prefill replica (default --ep)."),
    decode_ep: int = typer.Option(None, "--decode-ep", help="Disaggregated: ep of a decode replica (default --ep)."),
    prefill_replicas: int = typer.Option(None, "--prefill-replicas", help="Disaggregated: prefill replicas (x of "
                                         "xPyD; default 1)."),
    decode_replicas: int = typer.Option(None, "--decode-replicas", help="Disaggregated: decode replicas (y of xPyD; "
                                        "default 1)."),
    kv_link: str = typer.Option(None, "--kv-link", help="Disaggregated: auto (scale-up when both pools fit one "
                                "domain of one chip, else NICs), scale-up or scale-out."),
    router: str = typer.Option("round-robin", "--router", help="round-robin or least-loaded."),
    engine: str = engine_option(help="Engine profile: vllm, sglang, trtllm, ... "
                                     "(default: serving; dataflow on SRAM chips)."),
    precision: str = typer.Option(None, "--precision", help="bf16, fp8, fp4, or w=..,a=..,kv=.. (default: shipped)."),
    spec: str = typer.Option(None, "--spec", help="Speculative decoding, e.g. mtp:1,accept=0.85 (frontier --help)."),
    workload: str = typer.Option(None, "--workload", help="poisson:rate=R,isl=DIST,osl=DIST | gamma:rate=R,cv=C,... | "
                                 "closed:conc=N,isl=..,osl=.. | trace:FILE.csv[,speedup=S]. DIST: N, uniform:A:B, "
                                 "normal:MEAN:SD, lognormal:MEDIAN:SIGMA, zipf:A:MAX, trace:FILE.csv."),
    requests: int = typer.Option(None, "--requests", help="Requests to simulate (default 1000; a trace: all)."),
    duration: float = typer.Option(None, "--duration", parser=POSITIVE, help="Simulate arrivals for S seconds."),
    prefix_cache: str = typer.Option(None, "--prefix-cache", help="hit=F (share of each prompt cached) or "
                                     "shared-prefix=TOKENS."),
    slo: str = typer.Option(None, "--slo", help="ttft=S,tpot=S (seconds, or e.g. 50ms): goodput and attainment."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the workload's random draws."),
    json_out: bool = json_option("Print JSON: {command, query, rows, summary, warnings}, one row per run."),
    csv: str = csv_option(),
    parquet: str = parquet_option(),
    plot: str = plot_option("Write latency CDFs and queue/batch/KV over time: FILE.html (Plotly) or FILE.png."),
    requests_out: str = typer.Option(None, "--requests-out", help="Write one row per request: FILE.parquet or .csv."),
    event_log: str = typer.Option(None, "--event-log", help="Write the kernel's events: FILE.csv or FILE.jsonl."),
    check_steps: bool = typer.Option(False, "--check-steps", help="Also measure the step table's error vs the core."),
    force: bool = force_option("Overwrite output files; allow requests longer than the model's context."),
    sweep: str = typer.Option(None, "--sweep", help="Run a grid of scenarios from FILE.yaml: `base:` "
                                                "(simulate's flags, `_` for `-`) crossed with the lists of `grid:`."),
    out: str = typer.Option(None, "--out", help="--sweep: write the table to FILE.parquet (or .csv)."),
    workers: int = typer.Option(None, "--workers", min=1, help="--sweep: local processes (default: all cores)."),
    ray: str = typer.Option(None, "--ray", help="--sweep: run on Ray, 'auto' or a cluster address."),
    *, scenario=None, overrides=None,
) -> None:
    """Simulate serving a workload request by request: latency percentiles, throughput, $ and J."""
    pools = {"prefill_hardware": prefill_hardware, "decode_hardware": decode_hardware, "prefill_tp": prefill_tp,
             "decode_tp": decode_tp, "prefill_pp": prefill_pp, "decode_pp": decode_pp, "prefill_ep": prefill_ep,
             "decode_ep": decode_ep, "prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas,
             "kv_link": kv_link}
    from ..economics.base import get_scenario

    sc = get_scenario(scenario, **(overrides or {}))       # bad values: one line, exit 2, before any work
    check_row_files(csv, parquet, force)
    _distinct_outputs({"--plot": plot, "--requests-out": requests_out, "--event-log": event_log, "--out": out,
                       "--csv": csv, "--parquet": parquet})
    if sweep is not None:
        given = dict(zip(SWEEP_FLAGS, (model, hardware, workload, engine, precision, spec, requests, duration,
                                       prefix_cache, slo, plot, requests_out, event_log), strict=True))
        extra = [f for f, v in given.items() if v is not None] + ["--" + k.replace("_", "-") for k, v in pools.items()
                                                                  if v is not None]
        if extra:
            raise SpecError(f"--sweep takes the scenarios from its file; drop {', '.join(extra)} (put them in the "
                            "file's base or grid).")
        if scenario is not None or overrides:
            raise SpecError("--sweep takes the scenario from its file (scenario: FILE.yaml in base or grid); drop "
                            "--scenario and the scenario flags.")
        _sweep(sweep, out, workers, ray, json_out, force, csv, parquet)
        return
    for flag, v in (("--out", out), ("--workers", workers), ("--ray", ray)):
        if v is not None:
            raise SpecError(f"{flag} applies to --sweep FILE.yaml; drop it for a single run.")
    disagg = any(v is not None for k, v in pools.items() if k != "kv_link")
    if kv_link is not None and not disagg:
        raise SpecError("--kv-link applies to a disaggregated run; give a pool flag too (e.g. --prefill-hardware, "
                        "--decode-hardware, --prefill-replicas), or drop it.")
    if disagg and hardware is None and not (prefill_hardware and decode_hardware):
        raise SpecError("a disaggregated run needs --prefill-hardware and --decode-hardware (or --hardware for both).")
    missing_flags((("--model", model), ("--hardware", hardware or (disagg or None)), ("--workload", workload)),
                  "; e.g. tokenomy simulate --model llama-3.1-8b --hardware h100-sxm "
                  "--workload poisson:rate=4,isl=1000,osl=200.")
    from ..report.files import check_plot_target, write_files
    from ..sim.run import simulate

    if plot is not None:
        check_plot_target(plot, force=force)
    _check_out(requests_out, "--requests-out", force)
    _check_out(event_log, "--event-log", force)
    bar = Progress("simulating requests")
    try:
        sim = simulate(model, hardware, workload=workload, engine=engine, precision=precision, tp=tp, pp=pp, ep=ep,
                       dp_attention=dp_attention, replicas=replicas, router=router, spec=spec, requests=requests,
                       duration_s=duration, prefix_cache=prefix_cache, slo=slo, seed=seed,
                       event_log=event_log is not None, progress=bar, force=force, check_steps=check_steps,
                       scenario=sc, **pools)
    finally:
        bar.close()
    files: dict = {}
    if plot is not None:
        from ..report.sim_plot import write_sim_plot
        files[plot] = lambda p: write_sim_plot(sim, p)
    if requests_out is not None:
        files[requests_out] = table_writer(sim.requests, requests_out)
    if event_log is not None:
        files[event_log] = _events_writer(sim.events or [], event_log)
    if files:
        write_files(files, flag="--plot" if plot else "--requests-out", force=force)
    query = {"model": model, "hardware": hardware, "workload": workload, "engine": engine, "precision": precision,
             "spec": spec, "tp": tp, "pp": pp, "ep": ep, "dp_attention": dp_attention, "replicas": replicas,
             "router": router, "requests_asked": requests, "duration_s": duration, "prefix_cache": prefix_cache,
             "slo": slo, "seed": seed, **{k: v for k, v in pools.items() if v is not None}, **scenario_query(sc)}
    summary = {f"{k.split('_')[0]}_step_error_{k.split('_')[1]}_frac": v for k, v in (sim.step_error or {}).items()}
    from ..economics.chip_hour import pricing_warnings

    chips = [h for h in (hardware, pools.get("prefill_hardware"), pools.get("decode_hardware")) if h]
    emit(envelope("simulate", query, [sim.to_dict()], summary, pricing_warnings(chips, sc)), json_out=json_out,
         show=show_run, csv=csv, parquet=parquet, force=force)
    for f in files:
        err_console.print(f"wrote {f}", markup=False)


SWEEP_METRICS = (Col("ttft_p99_s", "TTFT p99", "ms", ms), Col("tpot_p50_s", "TPOT p50", "ms", ms),
                 Col("fleet_tokens_per_s", "tokens/s", "tok/s"), Col("usd_per_mtok_all_in", "cost", "$/Mtok"),
                 Col("e2e_p90_s", "E2E p90", "s"), Col("j_per_token_chip", "energy", "J/token"))


def _distinct_outputs(paths: dict[str, str | None]) -> None:
    """Every output file its own: two flags naming one file would overwrite each other (one line, before work)."""
    outs = [(f, str(Path(v).resolve())) for f, v in paths.items() if v is not None]
    for i, (f1, p1) in enumerate(outs):
        for f2, p2 in outs[i + 1:]:
            if p1 == p2:
                raise SpecError(f"{f1} and {f2} name the same file ({p1}); give each output its own file.")


def _sweep(path: str, out: str | None, workers: int | None, ray: str | None, json_out: bool, force: bool,
           csv: str | None, parquet: str | None) -> None:
    from ..report.files import write_files
    from ..sim.sweep import sweep

    _check_out(out, "--out", force)
    bar = Progress("scenarios")
    try:
        df = sweep(path, workers=workers, ray_address=ray, on_done=bar)
    finally:
        bar.close()
    if out is not None:
        write_files({out: table_writer(df, out)}, flag="--out", force=force)
    rows = [{str(k): v for k, v in r.items()} for r in df.astype(object).where(df.notna(), None).to_dict("records")]
    # the inputs that vary across the grid (the others are the same on every row), then the metrics
    inputs = [c for c in df.columns[1: list(df.columns).index("feasible")] if c not in ("model", "workload")
              and df[c].astype(str).nunique() > 1]
    inputs.append("feasible")

    def show(result) -> None:
        cols = [Col("scenario_index", "#", fmt=whole), *(Col(c, c, fmt=_cell, left=True) for c in inputs),
                *SWEEP_METRICS]
        show_rows(f"tokenomy simulate --sweep {path}: {len(rows)} scenarios", result["rows"], cols)

    emit(envelope("simulate", {"sweep": path, "workers": workers, "ray": ray}, rows), json_out=json_out, show=show,
         csv=csv, parquet=parquet, force=force)
    if out is not None:
        err_console.print(f"wrote {out}", markup=False)


def _cell(v) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.4g}"
    return "-" if v is None else str(v)

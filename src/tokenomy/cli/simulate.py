"""``tokenomy simulate``: serve a workload request by request; TTFT/TPOT/E2E percentiles, throughput, $ and J.

One run from flags (``tokenomy.simulate``), or a grid from ``--sweep FILE.yaml`` (``sim/sweep.py``). Files
(``--plot``, ``--requests-out``, ``--event-log``, ``--out``) are checked before the run and written after it,
all or none, through ``report/files.py`` (never over an existing file without ``--force``). Runs longer than
``PROGRESS_AFTER_S`` show a progress bar on stderr; stdout carries only the table or the JSON.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from ..errors import SpecError
from .common import err_console, make_table, missing_flags, print_json, print_quantities
from .options import POSITIVE, engine_option, force_option, hardware_option, json_option, model_option, plot_option

PROGRESS_AFTER_S = 0.5     # a bar for shorter runs would only flicker
TABLE_UNITS = (("ttft_s", "TTFT (ms)"), ("tpot_s", "TPOT (ms)"), ("itl_s", "ITL (ms)"), ("e2e_s", "E2E (s)"))
SCALARS = (("output_tokens_per_s", "output tokens/s", ",.1f"), ("input_tokens_per_s", "input tokens/s", ",.1f"),
           ("requests_per_s", "requests/s", ",.3f"), ("goodput_requests_per_s", "goodput (requests/s within SLO)",
                                                       ",.3f"),
           ("slo_attainment", "SLO attainment", ".1%"), ("preemptions", "preemptions", ",d"),
           ("mean_batch", "mean batch (sequences)", ",.1f"), ("kv_peak_frac", "KV cache peak", ".1%"),
           ("power_w", "power (W)", ",.0f"), ("j_per_token", "J per output token", ".4g"),
           ("usd_per_mtok", "$ per million output tokens", ".4g"), ("requests", "requests finished", ",d"),
           ("simulated_s", "simulated time (s)", ",.2f"), ("wall_s", "wall time (s)", ".3f"))
DISAGG_UNITS = (("kv_transfer_s", "KV transfer after prefill (ms)"), ("kv_queue_s", "KV wait for the link (ms)"))
DISAGG_SCALARS = (("chips", "chips (both pools)", ",d"), ("prefill_busy_frac", "prefill pool busy", ".1%"),
                  ("decode_busy_frac", "decode pool busy", ".1%"), ("prefill_kv_peak_frac", "prefill KV peak", ".1%"),
                  ("decode_kv_peak_frac", "decode KV peak", ".1%"), ("prefill_power_w", "prefill pool power (W)",
                                                                     ",.0f"),
                  ("decode_power_w", "decode pool power (W)", ",.0f"), ("kv_link", "KV link", "s"))
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


def _ms(stats: dict, scale: float) -> str:
    return " / ".join(f"{stats[k] * scale:,.2f}" for k in ("mean", "p50", "p90", "p99"))


def render(sim) -> None:
    """The summary as a two-column table with units."""
    s = sim.summary
    rows = [(f"{label} mean / p50 / p90 / p99", _ms(s[k], 1.0 if k == "e2e_s" else 1e3))
            for k, label in TABLE_UNITS + DISAGG_UNITS if k in s]
    rows += [(label, format(s[k], spec)) for k, label, spec in SCALARS + DISAGG_SCALARS if k in s]
    print_quantities("tokenomy simulate", rows)
    from rich.console import Console

    con = Console()
    for what in ("deployment", "workload"):
        con.print(f"{what}: {getattr(sim, what)}", markup=False, soft_wrap=True)


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
    json_out: bool = json_option("Print the summary as JSON (with deployment and workload)."),
    plot: str = plot_option("Write latency CDFs and queue/batch/KV over time: FILE.html (Plotly) or FILE.png."),
    requests_out: str = typer.Option(None, "--requests-out", help="Write one row per request: FILE.parquet or .csv."),
    event_log: str = typer.Option(None, "--event-log", help="Write the kernel's events: FILE.csv or FILE.jsonl."),
    check_steps: bool = typer.Option(False, "--check-steps", help="Also measure the step table's error vs the core."),
    force: bool = force_option("Overwrite output files; allow requests longer than the model's context."),
    sweep: str = typer.Option(None, "--sweep", help="Run a grid of scenarios from FILE.yaml (schema: sim/sweep.py)."),
    out: str = typer.Option(None, "--out", help="--sweep: write the table to FILE.parquet (or .csv)."),
    workers: int = typer.Option(None, "--workers", min=1, help="--sweep: local processes (default: all cores)."),
    ray: str = typer.Option(None, "--ray", help="--sweep: run on Ray, 'auto' or a cluster address."),
) -> None:
    """Simulate serving a workload request by request: latency percentiles, throughput, $ and J."""
    pools = {"prefill_hardware": prefill_hardware, "decode_hardware": decode_hardware, "prefill_tp": prefill_tp,
             "decode_tp": decode_tp, "prefill_pp": prefill_pp, "decode_pp": decode_pp, "prefill_ep": prefill_ep,
             "decode_ep": decode_ep, "prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas,
             "kv_link": kv_link}
    if sweep is not None:
        given = dict(zip(SWEEP_FLAGS, (model, hardware, workload, engine, precision, spec, requests, duration,
                                       prefix_cache, slo, plot, requests_out, event_log), strict=True))
        extra = [f for f, v in given.items() if v is not None] + ["--" + k.replace("_", "-") for k, v in pools.items()
                                                                  if v is not None]
        if extra:
            raise SpecError(f"--sweep takes the scenarios from its file; drop {', '.join(extra)} (put them in the "
                            "file's base or grid).")
        _sweep(sweep, out, workers, ray, json_out, force)
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
    outs = [(f, str(Path(v).resolve())) for f, v in (("--plot", plot), ("--requests-out", requests_out),
                                                      ("--event-log", event_log)) if v is not None]
    for i, (f1, p1) in enumerate(outs):
        for f2, p2 in outs[i + 1:]:
            if p1 == p2:
                raise SpecError(f"{f1} and {f2} name the same file ({p1}); give each output its own file.")
    bar = Progress("simulating requests")
    try:
        sim = simulate(model, hardware, workload=workload, engine=engine, precision=precision, tp=tp, pp=pp, ep=ep,
                       dp_attention=dp_attention, replicas=replicas, router=router, spec=spec, requests=requests,
                       duration_s=duration, prefix_cache=prefix_cache, slo=slo, seed=seed,
                       event_log=event_log is not None, progress=bar, force=force, check_steps=check_steps,
                       **pools)
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
    if json_out:
        print_json(sim.to_dict())
    else:
        render(sim)
        if sim.step_error is not None:
            err = sim.step_error
            err_console.print(f"step table vs core: decode median {err['decode_median']:.2%} max "
                              f"{err['decode_max']:.2%}, prefill median {err['prefill_median']:.2%} max "
                              f"{err['prefill_max']:.2%}", markup=False)
    for f in files:
        err_console.print(f"wrote {f}", markup=False)


SWEEP_METRICS = ("ttft_s_p99", "tpot_s_p50", "e2e_s_p90", "output_tokens_per_s", "usd_per_mtok")


def _sweep(path: str, out: str | None, workers: int | None, ray: str | None, json_out: bool, force: bool) -> None:
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
    if json_out:
        print_json(df.astype(object).where(df.notna(), None).to_dict(orient="records"))
    else:
        from rich.console import Console

        inputs = list(df.columns[: list(df.columns).index("feasible") + 1])
        cols = [c for c in inputs if c not in ("model", "workload")] + [c for c in SWEEP_METRICS if c in df.columns]
        rows = [tuple(_cell(r[c]) for c in cols) for r in df.head(200).to_dict(orient="records")]
        con = Console()
        if not con.is_terminal:
            con = Console(width=max(con.width, 160))
        con.print(make_table(f"tokenomy simulate --sweep {path}: {len(df)} scenarios", cols, rows))
        if len(df) > len(rows):
            con.print(f"showing {len(rows)} of {len(df)} scenarios; --out or --json has them all.", markup=False)
    if out is not None:
        err_console.print(f"wrote {out}", markup=False)


def _cell(v) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.4g}"
    return str(v)

"""``tokenomy frontier``: throughput-interactivity frontier of one model over several chips.

Chip-hours are priced as the economics commands price them: ``--scenario FILE`` and one flag per
Scenario field (``--mode rented``, ``--rent-usd-per-hour 2.5``, ``--chip-price-usd 25000``, ...).
"""

# no ``from __future__ import annotations``: Typer reads the real annotation objects (cli/economics.py)
import numpy as np
import typer

from ..errors import InfeasibleError, SpecError
from .common import err_console
from .options import (
    POSITIVE,
    csv_option,
    deployment_option,
    engine_option,
    force_option,
    hardware_option,
    json_option,
    model_option,
    parquet_option,
    plot_option,
    profile_option,
    scenario_options,
    speed_option,
    tokens_option,
)
from .tables import Col, ms, num, text, whole

ROWS_PER_CHIP = 8   # frontier rows shown per chip in the table (--json has them all)


def _thin(res, k: int) -> np.ndarray:
    """Indices of up to ``k`` frontier points per chip, spread evenly in log tokens/s/user."""
    c = res.columns
    out = []
    for _, sel in res.per_chip("on_frontier", order_by="tokens_per_s_per_user", pairs=True):
        if sel.size > k:
            s = np.log(c["tokens_per_s_per_user"][sel])
            targets = np.linspace(s[0], s[-1], k)
            sel = sel[np.unique(np.abs(s[:, None] - targets[None, :]).argmin(axis=0))]
        out.append(sel)
    return np.concatenate(out) if out else np.array([], dtype=int)


def _chips(v) -> str:
    """Chips per replica; a disaggregated point's fleet average is fractional (8 + 0.37 prefill chips)."""
    return whole(v) if v >= 100 or float(v).is_integer() else num(v)


# the table's columns, most read first (cli/tables.py keeps those that fit the width and names the rest)
TABLE = (Col("hardware", "chip", left=True, fmt=text), Col("tokens_per_s_per_user", "speed", "tok/s/user"),
         Col("usd_per_mtok_all_in", "cost", "$/Mtok"), Col("tokens_per_s_per_chip", "per chip", "tok/s"),
         Col("ttft_s", "TTFT", "ms", ms), Col("j_per_token_chip", "energy", "J/token"),
         Col("chips", "chips", fmt=_chips), Col("tp", "tp/pp/ep", fmt=text), Col("precision", "prec", left=True,
                                                                               fmt=text),
         Col("batch", "users", fmt=whole), Col("tokens_per_s", "replica", "tok/s", whole),
         Col("j_per_token_facility", "facility", "J/token"),
         Col("tokens_per_s_per_mw_chip", "chip W", "tok/s/MW", whole))


def _title(res) -> str:
    c = res.columns
    slo = []
    if res.min_tokens_per_s_per_user is not None:
        slo.append(f">= {res.min_tokens_per_s_per_user:g} tok/s/user")
    if res.max_ttft_s is not None:
        slo.append(f"TTFT <= {res.max_ttft_s:g} s")
    title = f"tokenomy frontier: {res.model}, isl {res.isl:g}, osl {res.osl:g}"
    if c["spec"].size and c["spec"][0] != "off":
        title += f", speculative {str(c['spec'][0]).split(' (')[0]}"
    return title + (f" ({', '.join(slo)})" if slo else "")


def _render(res) -> None:
    from rich.console import Console

    from .tables import show_rows

    c = res.columns
    idx = _thin(res, ROWS_PER_CHIP)
    total = int(np.count_nonzero(c["on_frontier"]))
    rows = res.records(idx)
    for r in rows:
        r["tp"] = f"{r['tp']}/{r['pp']}/{r['ep']}"
    con = Console()
    shown = "" if idx.size >= total else (f"showing {idx.size} of {total} frontier points, spread over each chip's "
                                          "speed range (--json or --csv lists every point)")
    show_rows(_title(res), rows, TABLE, caption=shown or None, console=con)
    con.print(f"{len(res)} configurations fit and were evaluated; {res.dropped_total} dropped "
              f"(do not fit in memory or lack the precision).", markup=False)
    for hw, why in res.infeasible.items():
        con.print(f"{hw}: nothing fits: {why}", markup=False)
    for hw in dict.fromkeys(c["hardware"].tolist()):           # dataflow systems: how the fastest point runs
        sel = np.flatnonzero((c["hardware"] == hw) & c["on_frontier"])
        if sel.size and c["deployment"][sel[0]]:
            i = sel[np.argmax(c["tokens_per_s_per_user"][sel])]
            pool = f" of the decode pool ({c['decode_hardware'][i]})" if c["kind"][i] == "disagg" else ""
            bw = (f"; each chip{pool} reads {c['memory_bytes_per_s_per_chip'][i] / 1e12:.3g} TB/s "
                  f"({c['memory_bandwidth_frac'][i]:.1%} of its weight memory's datasheet bandwidth)")
            con.print(f"{hw}, fastest point: {c['deployment'][i]}{bw}", markup=False)
    for line in res.summary():
        con.print("- " + line, markup=False)


SPEC_HELP = ("Speculative decoding: mtp, eagle or draft:MODEL, with :K draft tokens and ,accept=A (per token) or "
             ",accepted=L (draft tokens per step), e.g. mtp:1,accept=0.85 or eagle:3,accepted=2.5. "
             "Defaults: mtp K=1 a=0.85 (DeepSeek-V3 report), eagle K=3 a=0.78, draft K=4 a=0.7 (assumptions).")


@scenario_options
def frontier_command(
    model: str = model_option(),
    hardware: str = hardware_option("Comma-separated chip ids, e.g. h100-sxm,b200,groq-lpu."),
    chips: int = deployment_option("--chips"),
    precision: str = typer.Option(None, "--precision",
                                  help="bf16, fp8, fp4, int8, a comma list, 'auto' (all the chip supports), "
                                       "or w=..,a=..,kv=.."),
    isl: int = tokens_option("--isl", 1024, "Input (prompt) tokens per request."),
    osl: int = tokens_option("--osl", 1024, "Output tokens per request."),
    engine: str = engine_option(help="Engine profile (default: serving; dataflow on SRAM chips)."),
    profile: str = profile_option(),
    speed: float = speed_option(required=False, help="Speed target: decode tokens/s per user; points below it "
                                                     "get meets_slo false and leave the frontiers."),
    min_tps_user: float = typer.Option(None, "--min-tokens-per-s-per-user", parser=POSITIVE, hidden=True,
                                       help="Older name of --tokens-per-s-per-user."),
    max_ttft_s: float = typer.Option(None, "--max-ttft-s", parser=POSITIVE,
                                     help="SLO: longest time to first token, seconds."),
    json_out: bool = json_option("Print JSON: {command, query, rows (every point that fits), summary (lines, SRAM "
                                 "crossovers, saturation, ...), warnings}."),
    csv: str = csv_option(),
    parquet: str = parquet_option(),
    plot: str = plot_option("Write the frontier chart: FILE.png (matplotlib) or FILE.html (Plotly)."),
    force: bool = force_option("Overwrite the --plot, --csv and --parquet files; allow isl + osl beyond the "
                               "model's context."),
    tp: int = deployment_option("--tp"),
    pp: int = deployment_option("--pp"),
    ep: int = deployment_option("--ep", "1 and tp"),
    spec: str = typer.Option(None, "--spec", help=SPEC_HELP),
    disagg: bool = typer.Option(False, "--disagg",
                                help="Add disaggregated points: prefill on one chip of --hardware, decode on another "
                                     "(or the same), pools balanced, the KV transfer in TTFT (kind 'disagg')."),
    prefill_hardware: str = typer.Option(None, "--prefill-hardware",
                                         help="Pin the prefill chip of the disaggregated points (implies --disagg)."),
    decode_hardware: str = typer.Option(None, "--decode-hardware",
                                        help="Pin the decode chip of the disaggregated points (implies --disagg)."),
    *, scenario=None, overrides=None,
) -> None:
    """Sweep deployments of a model over chips: tokens/s/user vs tokens/s per chip, $/Mtok and J/token."""
    from ..economics.chip_hour import pricing_warnings
    from ..frontier import sweep
    from ..report.files import check_plot_target, write_files
    from ..report.frontier_plot import write_frontier_plot
    from .common import missing_flags
    from .output import check_row_files, emit

    missing_flags((("--model", model), ("--hardware", hardware)),
                  "; e.g. tokenomy frontier --model llama-3.1-70b --hardware h100-sxm,b200.")
    if speed is not None and min_tps_user is not None:
        raise SpecError("give --tokens-per-s-per-user (--min-tokens-per-s-per-user is its older name), not both.")
    if plot is not None:
        check_plot_target(plot, force=force)
    check_row_files(csv, parquet, force)
    with err_console.status("sweeping deployments ...", spinner="dots"):
        res = sweep(model, hardware, isl, osl, chips=chips, precision=precision, engine=profile or engine,
                    tokens_per_s_per_user=speed if speed is not None else min_tps_user, max_ttft_s=max_ttft_s,
                    force=force, spec=spec, tp=tp, pp=pp, ep=ep, scenario=scenario, disagg=disagg,
                    prefill_hardware=prefill_hardware, decode_hardware=decode_hardware, **(overrides or {}))
    if not res.columns["meets_slo"].any():
        best = ", ".join(f"{k} {v:.0f} tok/s/user" for k, v in res.max_tokens_per_s_per_user.items())
        raise InfeasibleError("no configuration meets the SLO; fastest reachable: "
                              f"{best or 'none within the TTFT limit'}.")
    if plot is not None:
        write_files({plot: lambda p: write_frontier_plot(res, p)}, flag="--plot", force=force)
    result = res.to_dict()
    chips = [*res.hardware, *(h for pair in res.pairs for h in pair.split("+"))]    # ids the sweep resolved
    result["warnings"] += pricing_warnings(list(dict.fromkeys(chips)), scenario, **(overrides or {}))
    emit(result, json_out=json_out, show=lambda _: _render(res), csv=csv, parquet=parquet, force=force)
    if plot is not None:
        err_console.print(f"wrote {plot}", markup=False)

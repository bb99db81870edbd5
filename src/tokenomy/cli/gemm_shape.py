"""``tokenomy gemm`` (one GEMM, or many from ``--cases``) and ``tokenomy shape`` (a model's GEMMs
and nearby better shapes; ``--design`` proposes a shape for a parameter budget)."""

from __future__ import annotations

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from ..errors import SpecError
from ..gemm import DEFAULT_ENGINE, predict_gemm
from ..loaders.cases import read_cases
from ..shape import analyze_shape, design_shape
from .common import missing_flags
from .options import (
    NON_NEGATIVE,
    POSITIVE,
    cases_option,
    csv_option,
    engine_option,
    force_option,
    hardware_option,
    json_option,
    model_option,
    parquet_option,
    profile_option,
)
from .output import check_row_files, emit, envelope
from .tables import Col, ms, pct, scaled, show_one, show_rows, text, us, whole

tera = scaled(1e-12)


def times(x) -> str:
    """A speed-up ratio to three decimals (1.004)."""
    return f"{x:.3f}" if isinstance(x, float) else text(x)

GEMM_CASE_KEYS = {"hardware", "m", "n", "k", "dtype", "engine"}


def run_gemm_cases(path: str, defaults: dict) -> list[dict]:
    """Predict every line of a JSONL file, in order; lines with the same chip/dtype/engine are one call."""
    cases = []
    for i, c in read_cases(path, GEMM_CASE_KEYS):
        c = {**defaults, **{k: v for k, v in c.items() if v is not None}}
        for key in ("hardware", "m", "n", "k"):
            if c.get(key) is None:
                raise SpecError(f"{path} line {i}: missing {key!r}.")
        for key in ("m", "n", "k"):
            v = c[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < 1:
                raise SpecError(f"{path} line {i}: {key} must be a positive integer, got {v!r}.")
        c["_line"] = i
        cases.append(c)
    groups: dict[tuple, list[int]] = {}
    for idx, c in enumerate(cases):
        groups.setdefault((c["hardware"], c.get("dtype") or "bf16", c.get("engine") or DEFAULT_ENGINE), []).append(idx)
    out: list[dict] = [{}] * len(cases)
    for (hw, dtype, engine), idxs in groups.items():
        sub = [cases[i] for i in idxs]
        try:
            m, n, k = (np.array([c[x] for c in sub]) for x in "mnk")
            r = predict_gemm(hw, m, n, k, dtype=dtype, engine=engine)
        except SpecError as e:
            raise SpecError(f"{path} line {sub[0]['_line']}: {e}") from None
        for i, rec in zip(idxs, r.records(), strict=True):
            out[i] = rec
    return out


GEMM_COLS = (
    Col("hardware", "chip", left=True, fmt=text), Col("dtype", "dtype", left=True, fmt=text),
    Col("m", "m", fmt=whole), Col("n", "n", fmt=whole), Col("k", "k", fmt=whole), Col("latency_s", "latency", "us", us),
    Col("flop_per_s", "rate", "TFLOP/s", tera), Col("bound", "bound", left=True, fmt=text),
    Col("efficiency_frac", "efficiency", "of ideal", pct), Col("align_factor", "align factor"),
    Col("tile_factor", "tile factor"), Col("wave_factor", "wave factor"), Col("math_s", "math", "us", us),
    Col("memory_s", "memory", "us", us), Col("flop_per_gemm", "work", "GFLOP", scaled(1e-9)),
    Col("bytes_per_gemm", "traffic", "MB", scaled(1e-6)), Col("engine", "engine", left=True, fmt=text),
    Col("source", "source", left=True, fmt=text),
)
GEMM_TITLE = "tokenomy gemm: y[m,n] = x[m,k] @ w[n,k]^T"


def _show_gemm(result) -> None:
    rows = result["rows"]
    if len(rows) == 1:
        r = rows[0]
        show_one(escape(f"{GEMM_TITLE} on {r['hardware']}"), r, GEMM_COLS[1:])
    else:
        show_rows(escape(GEMM_TITLE), rows, GEMM_COLS)


def gemm_command(
    hardware: str = hardware_option(),
    m: int = typer.Option(None, "--m", help="Rows of x and y (tokens)."),
    n: int = typer.Option(None, "--n", help="Columns of y (output features)."),
    k: int = typer.Option(None, "--k", help="Inner dimension (input features)."),
    dtype: str = typer.Option("bf16", "--dtype", help="Input format: bf16 or fp8 (output bf16)."),
    engine: str = engine_option(DEFAULT_ENGINE, "Engine profile with the GEMM parameters."),
    profile: str = profile_option(),
    cases: str = cases_option("JSONL file, one GEMM per line (keys hardware, m, n, k, dtype)."),
    json_out: bool = json_option("Print JSON: {command, query, rows, summary, warnings}, one row per GEMM."),
    csv: str = csv_option(),
    parquet: str = parquet_option(),
    force: bool = force_option(),
) -> None:
    """Predict the time of one GEMM y[m,n] = x[m,k] @ w[n,k]^T and the factors behind it."""
    check_row_files(csv, parquet, force)
    engine = profile or engine
    if cases:
        recs = run_gemm_cases(cases, {"hardware": hardware, "dtype": dtype if dtype != "bf16" else None,
                                      "engine": engine if engine != DEFAULT_ENGINE else None})
        query: dict = {"cases": cases}
    else:
        missing_flags((("--hardware", hardware), ("--m", m), ("--n", n), ("--k", k)),
                      "(or pass --cases FILE.jsonl).")
        recs = predict_gemm(hardware, m, n, k, dtype=dtype, engine=engine).records()
        query = {key: recs[0][key] for key in ("hardware", "m", "n", "k", "dtype", "engine")}
    emit(envelope("gemm", query, recs), json_out=json_out, show=_show_gemm, csv=csv, parquet=parquet, force=force)


SHAPE_COLS = (
    Col("gemm", "GEMM", left=True, fmt=text), Col("n", "n", fmt=whole), Col("k", "k", fmt=whole),
    Col("prefill_gemm_s", "prefill", "ms", ms), Col("decode_gemm_s", "decode", "ms", ms),
    Col("flags", "flags", left=True, fmt=text), Col("prefill_efficiency_frac", "prefill", "of ideal", pct),
    Col("decode_efficiency_frac", "decode", "of ideal", pct), Col("gemm_count", "count", fmt=whole),
    Col("prefill_flop_per_s", "prefill", "TFLOP/s", tera), Col("decode_flop_per_s", "decode", "TFLOP/s", tera),
)
PROPOSAL_COLS = (
    Col("description", "change", left=True, fmt=text), Col("prefill_speedup", "prefill", "speed-up x", times),
    Col("decode_speedup", "decode", "speed-up x", times), Col("params_change_frac", "params", "change", pct),
)
DESIGN_COLS = (
    *(Col(k, k, fmt=whole) for k in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_head", "d_ff", "vocab_size")),
    Col("params_total", "parameters", "B", scaled(1e-9, 4)),
    Col("params_error_frac", "params off target", fmt=pct),
    Col("prefill_efficiency_frac", "prefill GEMM efficiency", fmt=pct),
    Col("decode_efficiency_frac", "decode GEMM efficiency", fmt=pct))


def _show_shape(result) -> None:
    q, s = result["query"], result["summary"]
    if q.get("design"):
        show_one(f"Proposed shape: {q['params'] / 1e9:.3g}B parameters on {q['hardware']}", result["rows"][0],
                 DESIGN_COLS)
        c = Console()
        c.print("[bold]Reasoning[/bold]")
        for line in s["lines"]:
            c.print(f"- {line}", markup=False)
        return
    show_rows(f"{q['model']} on {q['hardware']} (tp={q['tp']}, {q['precision']}, {q['engine']}): GEMMs per step",
              result["rows"], SHAPE_COLS,
              caption=(f"prefill: {q['prefill_tokens']} tokens in {s['prefill_seqs']} prompt(s), GEMMs "
                       f"{s['prefill_gemm_s'] * 1e3:.3g} ms ({s['prefill_efficiency_frac']:.1%} of ideal); decode: "
                       f"batch {q['decode_batch']}, GEMMs {s['decode_gemm_s'] * 1e3:.3g} ms "
                       f"({s['decode_efficiency_frac']:.1%} of ideal); {s['params_total'] / 1e9:.3f}B params"))
    if s["proposals"]:
        show_rows(f"Proposals within {q['tolerance']:.1%} of the parameter count", s["proposals"], PROPOSAL_COLS)
    else:
        Console().print(f"Proposals within {q['tolerance']:.1%} of the parameter count: none (no nearby shape gains "
                        "1% or more).", markup=False)


def shape_command(
    model: str = model_option(),
    hardware: str = hardware_option(),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel chips: GEMMs are timed per shard."),
    tolerance: float = typer.Option(0.02, "--tolerance", parser=NON_NEGATIVE,
                                    help="Allowed change of the total parameter count (fraction)."),
    prefill_tokens: int = typer.Option(4096, "--prefill-tokens", help="Tokens in the prefill step."),
    decode_batch: int = typer.Option(64, "--decode-batch", help="Sequences in the decode step."),
    precision: str = typer.Option(None, "--precision", help="bf16 or fp8 (LM head stays bf16)."),
    engine: str = engine_option(DEFAULT_ENGINE, "Engine profile with the GEMM parameters."),
    profile: str = profile_option(),
    design: bool = typer.Option(False, "--design", help="Propose a whole shape for --params instead."),
    params: float = typer.Option(None, "--params", parser=POSITIVE, help="--design: parameter budget, e.g. 7e9."),
    layers: int = typer.Option(None, "--layers", help="--design: fix the number of layers."),
    vocab: int = typer.Option(128256, "--vocab", help="--design: tokenizer vocabulary (padded to a multiple of 128)."),
    json_out: bool = json_option("Print JSON: {command, query, rows, summary, warnings}, one row per GEMM kind "
                                 "(--design: the proposed shape), proposals in summary."),
    csv: str = csv_option(),
    parquet: str = parquet_option(),
    force: bool = force_option(),
) -> None:
    """Time every GEMM of a model on a chip, flag weak ones, and propose nearby faster shapes."""
    check_row_files(csv, parquet, force)
    engine = profile or engine
    common = {"hardware": hardware, "engine": engine, "tolerance": tolerance, "prefill_tokens": prefill_tokens,
              "decode_batch": decode_batch}
    if design:
        missing_flags((("--params", params), ("--hardware", hardware)),
                      "for --design, e.g. --design --params 7e9 --hardware h100-sxm.")
        if model is not None:
            raise SpecError("--design proposes a new shape; drop --model (or drop --design to analyze the model).")
        d = design_shape(params, hardware, layers, vocab_size=vocab, tolerance=tolerance, engine=engine,
                         prefill_tokens=prefill_tokens, decode_batch=decode_batch)
        query = {"design": True, "params": params, "layers": layers, "vocab": vocab, **common,
                 "hardware": d.hardware}
        result = envelope("shape", query, d.rows(), {"lines": list(d.reasoning)})
    else:
        missing_flags((("--model", model), ("--hardware", hardware)), "(or use --design --params N --hardware H).")
        a = analyze_shape(model, hardware, tp=tp, tolerance=tolerance, prefill_tokens=prefill_tokens,
                          decode_batch=decode_batch, precision=precision, engine=engine)
        query = {"design": False, "model": a.model, "tp": a.tp, "precision": a.precision, **common,
                 "hardware": a.hardware, "engine": a.engine}
        result = envelope("shape", query, a.rows(), a.summary())
    emit(result, json_out=json_out, show=_show_shape, csv=csv, parquet=parquet, force=force)

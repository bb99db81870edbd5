"""``tokenomy gemm`` (one GEMM, or many from ``--cases``) and ``tokenomy shape`` (a model's GEMMs
and nearby better shapes; ``--design`` proposes a shape for a parameter budget)."""

from __future__ import annotations

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import SpecError
from ..gemm import DEFAULT_ENGINE, predict_gemm
from ..loaders.cases import read_cases
from ..shape import analyze_shape, design_shape
from .common import make_table, missing_flags, print_json, print_quantities, print_records
from .options import (
    NON_NEGATIVE,
    POSITIVE,
    cases_option,
    engine_option,
    hardware_option,
    json_option,
    model_option,
    profile_option,
)

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


def _gemm_table(recs: list[dict]) -> Table:
    cols = ("chip", "dtype", "m", "n", "k", "latency\n(µs)", "TFLOP/s", "bound", "align", "tile", "wave", "eff.\n(%)")
    rows = [(r["hardware"], r["dtype"], str(r["m"]), str(r["n"]), str(r["k"]), f"{r['latency_s'] * 1e6:,.2f}",
             f"{r['tflops']:,.1f}", r["bound"], f"{r['align_factor']:.3f}", f"{r['tile_factor']:.3f}",
             f"{r['wave_factor']:.3f}", f"{r['efficiency_frac'] * 100:.1f}") for r in recs]
    return make_table(escape("tokenomy gemm: y[m,n] = x[m,k] @ w[n,k]^T"), cols, rows, left=("chip", "dtype", "bound"))


def gemm_command(
    hardware: str = hardware_option(),
    m: int = typer.Option(None, "--m", help="Rows of x and y (tokens)."),
    n: int = typer.Option(None, "--n", help="Columns of y (output features)."),
    k: int = typer.Option(None, "--k", help="Inner dimension (input features)."),
    dtype: str = typer.Option("bf16", "--dtype", help="Input format: bf16 or fp8 (output bf16)."),
    engine: str = engine_option(DEFAULT_ENGINE, "Engine profile with the GEMM parameters."),
    profile: str = profile_option(),
    cases: str = cases_option("JSONL file, one GEMM per line (keys hardware, m, n, k, dtype)."),
    json_out: bool = json_option("Print JSON (an object, or an array with --cases)."),
) -> None:
    """Predict the time of one GEMM y[m,n] = x[m,k] @ w[n,k]^T and the factors behind it."""
    engine = profile or engine
    if cases:
        recs = run_gemm_cases(cases, {"hardware": hardware, "dtype": dtype if dtype != "bf16" else None,
                                      "engine": engine if engine != DEFAULT_ENGINE else None})
        print_records(recs, json_out, _gemm_table)
        return
    missing_flags((("--hardware", hardware), ("--m", m), ("--n", n), ("--k", k)), "(or pass --cases FILE.jsonl).")
    rec = predict_gemm(hardware, m, n, k, dtype=dtype, engine=engine).records()[0]
    if json_out:
        print_json(rec)
        return
    print_quantities(escape(f"tokenomy gemm: y[{m},{n}] = x[{m},{k}] @ w[{n},{k}]^T on {rec['hardware']}"), [
        ("dtype (inputs; output bf16)", rec["dtype"]), ("latency (µs)", f"{rec['latency_s'] * 1e6:,.3f}"),
        ("achieved TFLOP/s", f"{rec['tflops']:,.1f}"), ("bound", rec["bound"]),
        ("math time (µs)", f"{rec['math_s'] * 1e6:,.3f}"), ("memory time (µs)", f"{rec['mem_s'] * 1e6:,.3f}"),
        ("alignment factor", f"{rec['align_factor']:.3f}"), ("tile factor", f"{rec['tile_factor']:.3f}"),
        ("wave factor", f"{rec['wave_factor']:.3f}"),
        ("efficiency vs aligned ideal (%)", f"{rec['efficiency_frac'] * 100:.1f}"),
        ("engine", rec["engine"]), ("source", rec["source"])])


def _shape_tables(a) -> list[Table]:
    t = Table(title=f"{a.model} on {a.hardware} (tp={a.tp}, {a.precision}, {a.engine}): GEMMs per step")
    for h in ("GEMM", "n", "k", "count", "prefill\n(ms)", "prefill\nTFLOP/s", "prefill\neff. (%)", "decode\n(ms)",
              "decode\neff. (%)", "flags"):
        t.add_column(h, justify="left" if h in ("GEMM", "flags") else "right")
    for g in a.gemms:
        t.add_row(g.name, str(g.n), str(g.k), f"{g.count:g}", f"{g.prefill_s * 1e3:.3f}", f"{g.prefill_tflops:,.0f}",
                  f"{g.prefill_efficiency_frac * 100:.1f}", f"{g.decode_s * 1e3:.4f}",
                  f"{g.decode_efficiency_frac * 100:.1f}", ", ".join(g.flags) or "-")
    t.caption = (f"prefill: {a.prefill_tokens} tokens in {a.prefill_seqs} prompt(s), "
                 f"GEMMs {a.prefill_gemm_s * 1e3:.3f} ms ({a.prefill_efficiency_frac:.1%} of ideal); "
                 f"decode: batch {a.decode_batch}, GEMMs {a.decode_gemm_s * 1e3:.4f} ms "
                 f"({a.decode_efficiency_frac:.1%} of ideal); {a.params_total / 1e9:.3f}B params")
    out = [t]
    p = Table(title=f"Proposals within {a.tolerance:.1%} of the parameter count")
    for h in ("change", "params\nΔ (%)", "prefill\nspeed-up (x)", "decode\nspeed-up (x)",
              "GEMMs sped up\n(prefill/decode x)"):
        p.add_column(h, justify="left" if h.startswith(("change", "GEMMs")) else "right")
    for q in a.proposals:
        per = ", ".join(f"{name} {s['prefill']:.2f}/{s['decode']:.2f}" for name, s in q.gemm_speedups.items())
        p.add_row(q.description, f"{q.params_change_frac * 100:+.3f}", f"{q.prefill_speedup:.3f}",
                  f"{q.decode_speedup:.3f}", per or "-")
    if not a.proposals:
        p.caption = "nothing worth changing: no nearby shape gains 1% or more"
    out.append(p)
    return out


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
    json_out: bool = json_option(),
) -> None:
    """Time every GEMM of a model on a chip, flag weak ones, and propose nearby faster shapes."""
    engine = profile or engine
    if design:
        missing_flags((("--params", params), ("--hardware", hardware)),
                      "for --design, e.g. --design --params 7e9 --hardware h100-sxm.")
        if model is not None:
            raise SpecError("--design proposes a new shape; drop --model (or drop --design to analyze the model).")
        d = design_shape(params, hardware, layers, vocab_size=vocab, tolerance=tolerance, engine=engine,
                         prefill_tokens=prefill_tokens, decode_batch=decode_batch)
        if json_out:
            print_json(d.to_dict())
            return
        print_quantities(f"Proposed shape: {d.params_target / 1e9:.3g}B parameters on {d.hardware}", [
            *((key, str(getattr(d, key))) for key in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_head",
                                                      "d_ff", "vocab_size")),
            ("params (B)", f"{d.params_total / 1e9:.3f} ({d.params_error_frac:+.2%})"),
            ("prefill GEMM efficiency (%)", f"{d.prefill_efficiency_frac * 100:.1f}"),
            ("decode GEMM efficiency (%)", f"{d.decode_efficiency_frac * 100:.1f}")], headers=("field", "value"))
        c = Console()
        c.print("[bold]Reasoning[/bold]")
        for line in d.reasoning:
            c.print(f"- {line}", markup=False)
        return
    missing_flags((("--model", model), ("--hardware", hardware)), "(or use --design --params N --hardware H).")
    a = analyze_shape(model, hardware, tp=tp, tolerance=tolerance, prefill_tokens=prefill_tokens,
                      decode_batch=decode_batch, precision=precision, engine=engine)
    if json_out:
        print_json(a.to_dict())
    else:
        c = Console()
        for t in _shape_tables(a):
            c.print(t)

"""``tokenomy predict``: one case from flags, or many from a JSONL file (``--cases``)."""

from __future__ import annotations

import math

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..api import predict
from ..errors import SpecError
from ..loaders.cases import read_cases
from .common import (
    make_table,
    missing_flags,
    print_json,
    print_quantities,
    print_records,
)
from .options import (
    cases_option,
    engine_option,
    force_option,
    hardware_option,
    json_option,
    model_option,
)

WORDS_IF_ANY = ("deployment", "weights_streamed")     # shown only where there is something to say
OUT_KEYS = ("model", "hardware", "engine", "precision", "speculative", "tokens_per_step", "tp", "pp", "ep",
            "dp_attention", "chips",
            "phase", "batch", "seq", "context", "latency_s", "tokens_per_s", "tokens_per_s_per_user",
            "energy_j_per_token", "power_w",
            "power_w_per_chip", "memory_bytes", "memory_capacity_bytes", "weight_bytes", "kv_cache_bytes", "fits",
            "fit_reason", "bound", "clock_frac", "gemm_s", "attention_s", "elementwise_s", "comm_s", "overhead_s",
            "flop_per_step", "bytes_per_step", "source", "deployment", "weights_streamed", "usd_per_hour",
            "usd_per_mtok", "j_per_token_facility",
            "facility_power_w", "tokens_per_s_per_mw")
CASE_KEYS = {"model", "hardware", "engine", "precision", "tp", "pp", "ep", "dp_attention", "phase", "batch", "seq",
             "context",
             "profile", "spec"}
GROUP_KEYS = ("model", "hardware", "engine", "precision", "tp", "pp", "ep", "dp_attention", "phase", "profile",
              "spec")


def _records(pred, hardware) -> list[dict]:
    """JSON rows of a prediction with the economics columns (default scenario) joined."""
    from ..economics import economics_fields

    recs = pred.records()
    econ = {k: np.broadcast_to(v, np.shape(pred.latency_s)).ravel().tolist()
            for k, v in economics_fields(pred, hardware=hardware).items()}
    for i, r in enumerate(recs):
        for k, v in econ.items():
            r[k] = v[i]
    return [{k: r[k] for k in OUT_KEYS if k in r and not (k in WORDS_IF_ANY and r[k] == "")} for r in recs]


def _int_or_none(v, key, where):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
        raise SpecError(f"{where}: {key} must be a whole number, got {v!r}.")
    return int(v)


def run_cases(path: str, defaults: dict) -> list[dict]:
    """Predict every line of a JSONL file; lines with the same model/chip/... are one vectorized call."""
    cases = []
    for i, c in read_cases(path, CASE_KEYS):
        c = {**defaults, **c}
        for k in ("model", "hardware", "phase"):
            if c.get(k) is None:
                raise SpecError(f"{path} line {i}: missing {k!r}.")
        where = f"{path} line {i}"
        c["tp"] = _int_or_none(c.get("tp", 1), "tp", where) or 1
        c["pp"] = _int_or_none(c.get("pp", 1), "pp", where) or 1
        c["ep"] = _int_or_none(c.get("ep", 1), "ep", where) or 1
        c["dp_attention"] = _int_or_none(c.get("dp_attention", 1), "dp_attention", where) or 1
        for k in ("batch", "seq", "context"):
            c[k] = _int_or_none(c.get(k), k, where)
        c["_line"] = i
        cases.append(c)
    groups: dict[tuple, list[int]] = {}
    for idx, c in enumerate(cases):
        groups.setdefault(tuple(c.get(k) for k in GROUP_KEYS), []).append(idx)
    out: list[dict | None] = [None] * len(cases)
    for key, idxs in groups.items():
        g = dict(zip(GROUP_KEYS, key, strict=True))
        sub = [cases[i] for i in idxs]
        size = "seq" if g["phase"] == "prefill" else "context"
        missing = [c["_line"] for c in sub if c.get(size) is None or c.get("batch") is None]
        if missing:
            raise SpecError(f"{path} line {missing[0]}: {g['phase']} needs 'batch' and {size!r}.")
        other = "context" if size == "seq" else "seq"
        wrong = [c["_line"] for c in sub if c.get(other) is not None]
        if wrong:
            raise SpecError(f"{path} line {wrong[0]}: {g['phase']} takes {size!r}, not {other!r}.")
        try:
            sizes = np.array([c[size] for c in sub])
            pred = predict(g["model"], g["hardware"], phase=g["phase"], engine=g["engine"],
                           precision=g["precision"], tp=g["tp"], pp=g["pp"], ep=g["ep"], profile=g["profile"],
                           spec=g["spec"], dp_attention=g["dp_attention"],
                           batch=np.array([c["batch"] for c in sub]), seq=sizes if size == "seq" else None,
                           context=sizes if size == "context" else None)
        except SpecError as e:
            raise SpecError(f"{path} line {sub[0]['_line']}: {e}") from None
        for i, rec in zip(idxs, _records(pred, g["hardware"]), strict=True):
            out[i] = rec
    return out  # type: ignore[return-value]


def _num(v: float, spec: str) -> str:
    """``v`` formatted with ``spec``; '-' when unknown (NaN: no power limit or no price for the chip)."""
    return format(v, spec) if math.isfinite(v) else "-"


def _value_text(v: object) -> str:
    """A value for the quantity list; '-' where there is none (e.g. no price or rent for the chip: NaN cost)."""
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else "-"
    return str(v)


def _table(recs: list[dict]) -> Table:
    cols = ("model", "chip", "engine", "prec", "chips", "phase", "batch", "seq/ctx", "latency (ms)", "tokens/s",
            "tok/s/user", "J/token", "power (W)", "memory (GB/chip)", "fits", "bound")
    rows = [(r["model"], r["hardware"], r["engine"], r["precision"], str(r["chips"]), r["phase"], f"{r['batch']:g}",
             f"{r.get('seq', r.get('context')):g}", f"{r['latency_s'] * 1e3:.3f}", f"{r['tokens_per_s']:,.0f}",
             f"{r['tokens_per_s_per_user']:,.1f}", _num(r["energy_j_per_token"], ".4g"), _num(r["power_w"], ".0f"),
             f"{r['memory_bytes'] / 1e9:.1f}", "yes" if r["fits"] else "[red]no[/red]", r["bound"]) for r in recs]
    return make_table("tokenomy predict", cols, rows, left=("model", "chip", "engine", "phase", "bound"))


def predict_command(
    model: str = model_option(),
    hardware: str = hardware_option(),
    engine: str = engine_option(),
    precision: str = typer.Option(None, "--precision", help="bf16, fp8, int8, fp4, or w=..,a=..,kv=.."),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel chips."),
    pp: int = typer.Option(1, "--pp", help="Pipeline stages."),
    ep: int = typer.Option(1, "--ep", help="Expert-parallel degree (MoE; at most tp)."),
    dp_attention: int = typer.Option(1, "--dp-attention", help="Attention data-parallel groups D (divides tp): "
                                     "attention on tp/D chips per group, own sequences and KV; experts over --ep."),
    phase: str = typer.Option(None, "--phase", help="prefill or decode."),
    batch: int = typer.Option(None, "--batch", help="Sequences in the step."),
    seq: int = typer.Option(None, "--seq", help="Prefill: prompt tokens per sequence."),
    context: int = typer.Option(None, "--context", help="Decode: tokens already cached per sequence."),
    cases: str = cases_option("JSONL file, one case per line (same keys)."),
    profile: str = typer.Option(None, "--profile", help="Calibrated profile file from tokenomy calibrate."),
    spec: str = typer.Option(None, "--spec", help="Decode with speculative decoding: mtp, eagle or draft:MODEL, "
                             "optionally :K and ,accept=A or ,accepted=L (e.g. mtp:1,accept=0.85); defaults: "
                             "'frontier --help'."),
    json_out: bool = json_option("Print JSON (an object, or an array with --cases)."),
    force: bool = force_option("Allow --seq/--context beyond the model's max_position_embeddings."),
) -> None:
    """Predict latency, throughput, energy and memory of one prefill or decode step."""
    if cases:
        recs = run_cases(cases, {"model": model, "hardware": hardware, "engine": engine,
                                 "precision": precision, "phase": phase,
                                 "profile": profile, "spec": spec})
        print_records(recs, json_out, _table)
        return
    missing_flags((("--model", model), ("--hardware", hardware), ("--phase", phase), ("--batch", batch)),
                  "(or pass --cases FILE.jsonl).")
    pred = predict(model, hardware, phase=phase, batch=batch, seq=seq, context=context, engine=engine,
                   precision=precision, tp=tp, pp=pp, ep=ep, profile=profile, force=force, spec=spec,
                   dp_attention=dp_attention)
    rec = _records(pred, hardware)[0]
    if json_out:
        print_json(rec)
        return
    print_quantities("tokenomy predict", [(k, _value_text(rec[k])) for k in OUT_KEYS if k in rec and k != "fit_reason"])
    if not rec["fits"]:
        Console(stderr=True).print(f"[yellow]does not fit:[/yellow] {rec['fit_reason']}")

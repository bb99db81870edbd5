"""``tokenomy predict``: one case from flags, or many from a JSONL file (``--cases``).

``--json`` prints the envelope of cli/output.py: one row per case, keyed as ``tokenomy.predict(...).records()``
(glossary names; a row carries its phase's keys: ``decode_tokens_per_s`` or ``prefill_tokens_per_s``, ...), the
query the inputs as used (the scenario fields that priced the steps included).
"""

# no ``from __future__ import annotations``: scenario_options hands Typer real annotation objects
import numpy as np
import typer

from ..api import RECORD_ORDER, Prediction, predict, record_key
from ..errors import SpecError
from ..loaders.cases import read_cases
from .common import missing_flags
from .options import (
    cases_option,
    csv_option,
    engine_option,
    force_option,
    hardware_option,
    json_option,
    model_option,
    parquet_option,
    scenario_options,
)
from .output import check_row_files, emit, envelope
from .tables import Col, gb, ms, nbytes, pct, scaled, seconds, show_one, show_rows, text, whole

OUT_KEYS = tuple(dict.fromkeys(record_key(k, ph) for ph in ("decode", "prefill") for k in RECORD_ORDER
                               if not (ph == "prefill" and k == "tokens_per_s_per_user")))
CASE_KEYS = {"model", "hardware", "engine", "precision", "tp", "pp", "ep", "dp_attention", "phase", "batch", "seq",
             "context",
             "profile", "spec"}
GROUP_KEYS = ("model", "hardware", "engine", "precision", "tp", "pp", "ep", "dp_attention", "phase", "profile",
              "spec")
ASKED = ("model", "hardware", "engine", "precision", "spec", "phase", "tp", "pp", "ep", "dp_attention", "batch", "seq",
         "context")      # row keys a single case echoes in the query


def _int_or_none(v, key, where):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
        raise SpecError(f"{where}: {key} must be a whole number, got {v!r}.")
    return int(v)


def _read(path: str, defaults: dict) -> list[dict]:
    cases = []
    for i, c in read_cases(path, CASE_KEYS):
        c = {**defaults, **c}
        for k in ("model", "hardware", "phase"):
            if c.get(k) is None:
                raise SpecError(f"{path} line {i}: missing {k!r}.")
        where = f"{path} line {i}"
        for k in ("tp", "pp", "ep", "dp_attention"):
            c[k] = _int_or_none(c.get(k, 1), k, where) or 1
        for k in ("batch", "seq", "context"):
            c[k] = _int_or_none(c.get(k), k, where)
        c["_line"] = i
        cases.append(c)
    return cases


def run_cases(path: str, defaults: dict, scenario=None,
              overrides: dict | None = None) -> tuple[list[dict], list[Prediction]]:
    """Predict every line of a JSONL file (priced at ``scenario`` + ``overrides``); lines with the same
    model/chip/... are one vectorized call. The rows in the file's order, and the Prediction of each group."""
    cases = _read(path, defaults)
    groups: dict[tuple, list[int]] = {}
    for idx, c in enumerate(cases):
        groups.setdefault(tuple(c.get(k) for k in GROUP_KEYS), []).append(idx)
    out: list[dict | None] = [None] * len(cases)
    preds = []
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
                           context=sizes if size == "context" else None, scenario=scenario, **(overrides or {}))
        except SpecError as e:
            raise SpecError(f"{path} line {sub[0]['_line']}: {e}") from None
        preds.append(pred)
        for i, rec in zip(idxs, pred.records(), strict=True):
            out[i] = rec
    return out, preds  # type: ignore[return-value]  # every index is filled above


# the quantities of one case, most important first (those the row has)
COLS = (
    Col("model", "model", left=True, fmt=text), Col("hardware", "chip", left=True, fmt=text),
    Col("phase", "phase", left=True, fmt=text), Col("batch", "batch", fmt=whole), Col("seq", "prompt", "tokens", whole),
    Col("context", "context", "tokens", whole), Col("latency_s", "latency", "ms", ms),
    Col("decode_tokens_per_s", "decode", "tok/s"), Col("prefill_tokens_per_s", "prefill", "input tok/s"),
    Col("decode_tokens_per_s_per_user", "per user", "tok/s/user"),
    Col("decode_usd_per_mtok", "cost", "$/Mtok out"), Col("prefill_usd_per_mtok", "cost", "$/Mtok in"),
    Col("decode_j_per_token_chip", "energy", "J/token", scaled(1, 3)),
    Col("prefill_j_per_token_chip", "energy", "J/in-token", scaled(1, 3)),
    Col("memory_bytes_per_chip", "memory", "GB/chip", gb), Col("fits", "fits"), Col("bound", "bound", fmt=text),
    Col("engine", "engine", left=True, fmt=text), Col("precision", "precision", left=True, fmt=text),
    Col("spec", "spec", left=True, fmt=text), Col("tp", "tp", fmt=whole), Col("pp", "pp", fmt=whole),
    Col("ep", "ep", fmt=whole), Col("dp_attention", "dp-attn", fmt=whole), Col("chips", "chips", fmt=whole),
    Col("tokens_per_step", "tokens/step"), Col("usd_per_hour", "replica", "$/h"),
    Col("decode_j_per_token_facility", "facility energy", "J/token", scaled(1, 3)),
    Col("prefill_j_per_token_facility", "facility energy", "J/in-token", scaled(1, 3)),
    Col("decode_power_w", "power", "W", whole), Col("prefill_power_w", "power", "W", whole),
    Col("clock_frac", "clock", "of boost", pct),
    Col("source", "source", left=True, fmt=text),
)
DETAIL_COLS = (     # the single-case view adds these (long texts and the step's parts)
    Col("memory_capacity_bytes", "memory capacity/chip", fmt=nbytes), Col("weight_bytes", "weights/chip", fmt=nbytes),
    Col("kv_cache_bytes", "KV cache/chip", fmt=nbytes), Col("gemm_s", "GEMM time", fmt=seconds),
    Col("attention_s", "attention time", fmt=seconds), Col("elementwise_s", "elementwise time", fmt=seconds),
    Col("comm_s", "communication time", fmt=seconds), Col("overhead_s", "overhead time", fmt=seconds),
    Col("flop_per_step", "compute", "TFLOP", scaled(1e-12)), Col("bytes_per_step", "memory traffic", fmt=nbytes),
    Col("deployment", "deployment", fmt=text), Col("weights_streamed", "weights streamed", fmt=text),
)


# a table of many cases shows each row's phase figures in one column (the phase column says which)
MERGED = {"seq/context": ("seq", "context"), "*_tokens_per_s": ("decode_tokens_per_s", "prefill_tokens_per_s"),
          "*_usd_per_mtok": ("decode_usd_per_mtok", "prefill_usd_per_mtok"),
          "*_j_per_token_chip": ("decode_j_per_token_chip", "prefill_j_per_token_chip"),
          "*_j_per_token_facility": ("decode_j_per_token_facility", "prefill_j_per_token_facility"),
          "*_power_w": ("decode_power_w", "prefill_power_w")}
TABLE_COLS = (
    Col("model", "model", left=True, fmt=text), Col("hardware", "chip", left=True, fmt=text),
    Col("phase", "phase", left=True, fmt=text), Col("batch", "batch", fmt=whole),
    Col("seq/context", "seq/ctx", "tokens", whole), Col("latency_s", "latency", "ms", ms),
    Col("*_tokens_per_s", "speed", "tok/s", whole), Col("decode_tokens_per_s_per_user", "per user", "tok/s/user"),
    Col("*_usd_per_mtok", "cost", "$/Mtok"), Col("*_j_per_token_chip", "energy", "J/token", scaled(1, 3)),
    Col("memory_bytes_per_chip", "memory", "GB/chip", gb), Col("fits", "fits"), Col("bound", "bound", fmt=text),
    Col("engine", "engine", left=True, fmt=text), Col("precision", "precision", left=True, fmt=text),
    Col("spec", "spec", left=True, fmt=text), Col("chips", "chips", fmt=whole), Col("tp", "tp", fmt=whole),
    Col("pp", "pp", fmt=whole), Col("ep", "ep", fmt=whole), Col("usd_per_hour", "replica", "$/h"),
    Col("*_j_per_token_facility", "facility", "J/token", scaled(1, 3)), Col("*_power_w", "power", "W", whole),
    Col("source", "source", left=True, fmt=text),
)


def show(result) -> None:
    rows = result["rows"]
    if len(rows) == 1:
        r = rows[0]
        title = f"tokenomy predict: {r['model']} on {r['hardware']}, {r['phase']}"
        show_one(title, r, [c for c in COLS if c.key not in ("model", "hardware")] + list(DETAIL_COLS))
        return
    shown = [{**r, **{k: next((r[x] for x in keys if x in r), None) for k, keys in MERGED.items()}} for r in rows]
    same = [c for c in TABLE_COLS[:2] + TABLE_COLS[13:20] if len({r.get(c.key) for r in rows}) == 1]
    title = "tokenomy predict: " + ", ".join(f"{c.header} {c.cell(rows[0])}" for c in same)
    show_rows(title, shown, [c for c in TABLE_COLS if c not in same],
              caption="prefill rows: speed in input tok/s, $ and J per input token")


def _asked(scenario_used: dict) -> dict:
    """The scenario fields that priced the steps, for the query (a field left to the catalog is left out)."""
    return {k: v for k, v in scenario_used.items() if v is not None}


def _warnings(preds: list[Prediction], rows: list[dict]) -> list[str]:
    out = [f"row {i + 1} does not fit: {r['fit_reason']}" if len(rows) > 1 else f"does not fit: {r['fit_reason']}"
           for i, r in enumerate(rows) if not r["fits"]]
    out += [p.pricing_note for p in preds if p.pricing_note]     # the sentence frontier and simulate print too
    return list(dict.fromkeys(out))


@scenario_options
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
    json_out: bool = json_option("Print JSON: {command, query, rows, summary, warnings}, one row per case."),
    csv: str = csv_option(),
    parquet: str = parquet_option(),
    force: bool = force_option("Overwrite --csv/--parquet files that exist; allow --seq/--context beyond the "
                               "model's max_position_embeddings."),
    *, scenario=None, overrides=None,
) -> None:
    """Predict latency, throughput, cost, energy and memory of one prefill or decode step."""
    check_row_files(csv, parquet, force)
    if cases:
        rows, preds = run_cases(cases, {"model": model, "hardware": hardware, "engine": engine,
                                        "precision": precision, "phase": phase, "profile": profile, "spec": spec},
                                scenario, overrides)
        query = {"cases": cases, **_asked(preds[0].priced_by if preds else {})}
    else:
        missing_flags((("--model", model), ("--hardware", hardware), ("--phase", phase), ("--batch", batch)),
                      "(or pass --cases FILE.jsonl).")
        pred = predict(model, hardware, phase=phase, batch=batch, seq=seq, context=context, engine=engine,
                       precision=precision, tp=tp, pp=pp, ep=ep, profile=profile, force=force, spec=spec,
                       dp_attention=dp_attention, scenario=scenario, **overrides)
        rows, preds = pred.records(), [pred]
        query = {**{k: rows[0][record_key(k, phase)] for k in ASKED if record_key(k, phase) in rows[0]},
                 **_asked(pred.priced_by)}
    emit(envelope("predict", query, rows, warnings=_warnings(preds, rows)), json_out=json_out, show=show,
         csv=csv, parquet=parquet, force=force)

"""Measured serving rows: the four CSV formats of ``shared/data/serving`` (its README defines every column),
detected by their columns, never by the file name, and read into ``spec.serving.ServingRow``.

    trtllm      TensorRT-LLM perf overview: trtllm-bench max throughput, fixed ISL/OSL
    inferencex  SemiAnalysis InferenceX: closed loop at `conc`, ISL/OSL uniform in [0.8 L, L] (mean 0.9 L)
    mlenergy    ML.ENERGY v3 (vLLM): steady state at the measured average batch; input length not in the file
    blis        vLLM ground truth of an open simulator: open loop at an (approximate) request rate

A bad file or row raises CalibrationError naming the file, the line, the data row and the column.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from ..errors import CalibrationError
from ..spec.serving import Pool, ServingRow
from .files import read_text

CHIPS = {"h100": "h100-sxm", "h200": "h200-sxm", "mi300x": "mi300x"}     # as written (any case) -> catalog id
# framework -> the engine whose profile runs the row; Dynamo rows run on their workers' engine (runtime "dynamo")
ENGINES: dict[str, Any] = {"sglang": "sglang", "trt": "trtllm", "dynamo-sglang": "sglang", "dynamo-trt": "trtllm"}
RUNTIMES = {"dynamo-sglang": "dynamo", "dynamo-trt": "dynamo"}
PRECISIONS = {"fp8": "fp8", "bfloat16": "bf16", "bf16": "bf16", "fp16": "bf16", "mxfp4": ""}   # fp16: bf16 rates
MAX_VALUE = 1e12

# columns each format must have (the ones read); the first format whose columns are all present wins
FORMATS: dict[str, tuple[str, ...]] = {
    "inferencex": ("hardware", "framework", "model", "precision", "spec_method", "disagg", "total_gpus",
                   "prefill_tp", "prefill_ep", "prefill_dp_attention", "prefill_num_workers", "decode_tp",
                   "decode_ep", "decode_dp_attention", "decode_num_workers", "num_prefill_gpu", "num_decode_gpu",
                   "isl", "osl", "conc", "output_tput_per_gpu", "median_intvty", "median_ttft", "median_tpot",
                   "median_itl", "median_e2el", "avg_power_w", "joules_per_output_token"),
    "mlenergy": ("task", "model_id", "weight_precision", "gpu_model", "num_gpus", "tensor_parallel",
                 "expert_parallel", "data_parallel", "max_num_seqs", "avg_batch_size", "avg_output_len",
                 "output_tok_s_per_gpu", "avg_power_watts_per_gpu", "energy_per_token_joules", "median_itl_ms"),
    "blis": ("experiment", "hardware", "model", "precision", "tp", "dp", "workload", "stage_index", "ttft_mean_ms",
             "itl_mean_ms", "e2e_mean_ms"),
    "trtllm": ("model", "hardware", "precision", "tp", "pp", "num_gpus", "isl", "osl", "output_tok_s_per_gpu"),
}

# mlenergy: mean input tokens per task (the file gives only output lengths)
TASK_ISL = {
    "gpqa": (200, "GPQA input ~200 tokens (GPQA questions)"),
    "lm-arena-chat": (200, "LM-Arena chat input assumed 200 tokens (README: short prompts)"),
    "sourcegraph-fim": (2048, "sourcegraph-fim input assumed 2048 tokens (README: long code context)"),
}
# blis: mean (input, output) tokens and request rates per load stage, approximate (README: exact rates are not
# public); stage -1 (whole run) of two equal-length stages runs at their mean rate
BLIS_WORKLOADS = {
    "general": (547, 248, {0: 8.0, 1: 20.0, -1: 14.0}),
    "codegen": (566, 247, {0: 5.0, 1: 10.0, -1: 7.5}),
    "roleplay": (750, 251, {0: 6.0, -1: 6.0}),
    "reasoning": (1034, 1448, {0: 4.0, -1: 4.0}),
    "reasoning-lite": (1034, 1448, {0: 1.0, -1: 1.0}),
}
BLIS_MAX_NUM_SEQS = 128     # README: serving defaults of every blis run


class _Row:
    """One CSV record with typed, checked field access; errors name file, line, data row and column."""

    def __init__(self, rec: dict[str, str], where: str, i: int):
        self.rec, self.where, self.i = rec, where, i

    def fail(self, col: str, want: str) -> CalibrationError:
        return CalibrationError(f"{self.where} (data row {self.i}), column {col!r}: must be {want}, got "
                                f"{self.rec.get(col)!r}. Fix or remove the row.")

    def text(self, col: str) -> str:
        v = (self.rec.get(col) or "").strip()
        if not v:
            raise self.fail(col, "non-empty text")
        return v

    def num(self, col: str, *, optional: bool = False, lo: float = 0.0) -> float | None:
        v = (self.rec.get(col) or "").strip()
        if not v and optional:
            return None
        try:
            x = float(v)
        except ValueError:
            raise self.fail(col, "a number") from None
        if not math.isfinite(x) or not lo <= x <= MAX_VALUE:
            raise self.fail(col, f"a finite number in [{lo:g}, {MAX_VALUE:g}]")
        return x

    def count(self, col: str, default: int | None = None, minimum: int = 1) -> int:
        if default is not None and not (self.rec.get(col) or "").strip():
            return default
        x = self.num(col, lo=0.0)
        if x is None or x != int(x) or not minimum <= x <= 2**20:
            raise self.fail(col, f"a whole number in {minimum}..1048576")
        return int(x)

    def flag(self, col: str) -> bool:
        v = self.text(col).lower()
        if v not in ("true", "false"):
            raise self.fail(col, "True or False")
        return v == "true"

    def choice(self, col: str, table: dict[str, Any]) -> Any:
        v = self.text(col).lower()
        if v not in table:
            raise self.fail(col, "one of " + ", ".join(sorted(table)))
        return table[v]

    def metrics(self, cols: dict[str, tuple[str, float]]) -> dict[str, float]:
        """{metric: value * scale} for the columns present and non-empty (metric -> (column, scale))."""
        out = {}
        for metric, (col, scale) in cols.items():
            v = self.num(col, optional=True)
            if v is not None and v > 0:
                out[metric] = v * scale
        if not out:
            raise self.fail(next(c for c, _ in cols.values()), "a positive measured value (the row has none)")
        return out


def _chip(name: str) -> str | None:
    return CHIPS.get(name.strip().lower())


def _trtllm(r: _Row) -> ServingRow:
    hw = r.text("hardware")
    return ServingRow(
        source="trtllm", file_row=r.i, chip_name=hw, chip=_chip(hw), model=r.text("model"), engine="trtllm",
        chips=r.count("num_gpus"), tp=r.count("tp"), pp=r.count("pp"), ep=1, dp_attention=1,
        precision=r.choice("precision", PRECISIONS), spec_method="", mode="max_throughput", isl=r.count("isl"),
        osl=r.count("osl"), stat="median", metrics=r.metrics({"output_tok_s_per_gpu": ("output_tok_s_per_gpu", 1.0)}))


def _pool(r: _Row, side: str) -> Pool:
    return Pool(tp=r.count(f"{side}_tp"), ep=r.count(f"{side}_ep"), dp_attention=r.flag(f"{side}_dp_attention"),
                workers=r.count(f"{side}_num_workers", minimum=0),
                gpus=r.count(f"num_{side}_gpu"))


def _inferencex(r: _Row) -> ServingRow:
    hw = r.text("hardware")
    disagg = r.flag("disagg")
    pre, dec = _pool(r, "prefill"), _pool(r, "decode")
    spec = r.text("spec_method").lower()
    isl_max, osl_max = r.count("isl"), r.count("osl")
    # README: multinode disagg rows divide output tokens/s by the decode GPUs only
    multinode = (r.rec.get("is_multinode") or "").strip().lower() == "true"
    return ServingRow(
        source="inferencex", file_row=r.i, chip_name=hw, chip=_chip(hw), model=r.text("model"),
        engine=r.choice("framework", ENGINES), chips=r.count("total_gpus"), tp=dec.tp, pp=1, ep=dec.ep,
        dp_attention=dec.tp if dec.dp_attention else 1, precision=r.choice("precision", PRECISIONS),
        spec_method="" if spec == "none" else spec, mode="closed_loop",
        isl=round(0.9 * isl_max), osl=round(0.9 * osl_max),          # uniform in [0.8 L, L]: mean 0.9 L
        stat="median", concurrency=r.count("conc"),
        prefill=pre if disagg else None, decode=dec if disagg else None,
        runtime=RUNTIMES.get(r.text("framework").lower(), ""),
        output_gpus=dec.gpus if disagg and multinode else None,
        metrics=r.metrics({"output_tok_s_per_gpu": ("output_tput_per_gpu", 1.0),
                           "tok_s_per_user": ("median_intvty", 1.0), "tpot_s": ("median_tpot", 1.0),
                           "itl_s": ("median_itl", 1.0), "ttft_s": ("median_ttft", 1.0),
                           "e2e_s": ("median_e2el", 1.0), "ttft_p99_s": ("p99_ttft", 1.0),
                           "power_w_per_gpu": ("avg_power_w", 1.0),
                           "j_per_token": ("joules_per_output_token", 1.0)}))


def _mlenergy(r: _Row) -> ServingRow:
    hw = r.text("gpu_model")
    task = r.text("task")
    if task not in TASK_ISL:
        raise r.fail("task", "one of " + ", ".join(TASK_ISL) + " (its input length is needed)")
    isl, note = TASK_ISL[task]
    tp, ep, chips = r.count("tensor_parallel"), r.count("expert_parallel"), r.count("num_gpus")
    dp = max(r.count("data_parallel"), chips // tp)    # vLLM runs tp=1, ep=N on N GPUs as N attention replicas
    avg_batch = r.num("avg_batch_size", lo=1.0) or 1.0
    return ServingRow(
        source="mlenergy", file_row=r.i, chip_name=hw, chip=_chip(hw), model=r.text("model_id"), engine="vllm",
        chips=chips, tp=tp, pp=1, ep=ep, dp_attention=dp, precision=r.choice("weight_precision", PRECISIONS),
        spec_method="", mode="closed_loop", isl=isl, osl=max(1, round(r.num("avg_output_len", lo=1.0) or 1.0)),
        stat="median", concurrency=max(1, round(avg_batch)), max_batch=r.count("max_num_seqs"),
        assumptions=(note,),
        metrics=r.metrics({"output_tok_s_per_gpu": ("output_tok_s_per_gpu", 1.0),
                           "power_w_per_gpu": ("avg_power_watts_per_gpu", 1.0),
                           "j_per_token": ("energy_per_token_joules", 1.0), "itl_s": ("median_itl_ms", 1e-3)}))


def _blis(r: _Row) -> ServingRow:
    hw = r.text("hardware")
    workload = r.text("workload").lower()
    if "reasoning-lite" in r.text("experiment").lower():
        workload = "reasoning-lite"
    if workload not in BLIS_WORKLOADS:
        raise r.fail("workload", "one of " + ", ".join(BLIS_WORKLOADS))
    isl, osl, rates = BLIS_WORKLOADS[workload]
    stage = r.num("stage_index", lo=-1.0)
    if stage not in rates:
        raise r.fail("stage_index", f"a load stage of the {workload} workload ({', '.join(map(str, rates))})")
    tp = r.count("tp")
    return ServingRow(
        source="blis", file_row=r.i, chip_name=hw, chip=_chip(hw), model=r.text("model"), engine="vllm",
        chips=tp * r.count("dp", default=1), tp=tp, pp=1, ep=1, dp_attention=1,
        precision=r.choice("precision", PRECISIONS), spec_method="", mode="open_loop", isl=isl, osl=osl,
        stat="mean", max_batch=BLIS_MAX_NUM_SEQS, request_rate=rates[int(stage or 0)],
        stage_rates=tuple(rates[k] for k in sorted(rates) if k >= 0), stage=int(stage or 0),
        max_batched_tokens=r.count("max_num_batched_tokens", default=0, minimum=0) or None,
        assumptions=(f"{workload}: ~{isl} in / ~{osl} out tokens at ~{rates[int(stage or 0)]:g} req/s "
                     "(README: approximate, exact rates not public)",),
        metrics=r.metrics({"ttft_s": ("ttft_mean_ms", 1e-3), "itl_s": ("itl_mean_ms", 1e-3),
                           "e2e_s": ("e2e_mean_ms", 1e-3), "ttft_p90_s": ("ttft_p90_ms", 1e-3),
                           "e2e_p90_s": ("e2e_p90_ms", 1e-3)}))


PARSERS = {"trtllm": _trtllm, "inferencex": _inferencex, "mlenergy": _mlenergy, "blis": _blis}


def detect_format(columns: list[str], where: str) -> str:
    """The format whose columns are all in ``columns``; CalibrationError naming the nearest one's missing columns."""
    have = set(columns)
    for name, cols in FORMATS.items():
        if have.issuperset(cols):
            return name
    name, cols = min(FORMATS.items(), key=lambda kv: len(set(kv[1]) - have))
    missing = [c for c in cols if c not in have]
    raise CalibrationError(f"{where}: not a serving CSV of a known format (trtllm, inferencex, mlenergy, blis); "
                           f"closest is {name}, which lacks column(s) {', '.join(missing[:6])}"
                           f"{', ...' if len(missing) > 6 else ''}.")


def read_serving(path: str | Path) -> tuple[str, list[ServingRow]]:
    """(format, every data row) of a serving CSV."""
    p = Path(path)
    text = read_text(p, CalibrationError, "serving CSV")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise CalibrationError(f"{p}: not a valid CSV ({e}).") from None
    if not records or not any(x.strip() for x in records[0]):
        raise CalibrationError(f"{p}: empty file; a serving CSV starts with a header line.")
    header = [h.strip() for h in records[0]]
    fmt = detect_format(header, str(p))
    rows: list[ServingRow] = []
    for i, values in enumerate(records[1:]):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise CalibrationError(f"{p} line {i + 2} (data row {i}): {len(values)} fields, the header has "
                                   f"{len(header)}. Fix or remove the row.")
        rows.append(PARSERS[fmt](_Row(dict(zip(header, values, strict=True)), f"{p} line {i + 2}", len(rows))))
    if not rows:
        raise CalibrationError(f"{p}: a header but no data rows.")
    return fmt, rows

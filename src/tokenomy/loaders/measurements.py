"""Measurement rows (the shared/data/h100 JSONL format, or the ``measurements`` of a calibrate profile),
read and checked row by row before any fit or validation sees them.

Each row is a JSON object with a ``kind``; ``ROW_FIELDS`` lists, per known kind, the fields the fit and
``validate`` use and what each must be. Rows of other kinds (e.g. ``power_after_run``) pass unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import CalibrationError
from .files import read_data, read_jsonl, require_mapping, validation_text

# what a field must be: (description, test)
_COUNT = ("a whole number in 1..2**40", lambda v: _is_num(v) and v == int(v) and 1 <= v <= 2**40)
_TIME = ("a time in seconds in [1e-12, 1e7]", lambda v: _is_num(v) and 1e-12 <= v <= 1e7)
_POS = ("a positive number below 1e30", lambda v: _is_num(v) and 0 < v <= 1e30)
_NONNEG = ("a number in [0, 1e30]", lambda v: _is_num(v) and 0 <= v <= 1e30)
_TEXT = ("text", lambda v: isinstance(v, str))
_PHASE = ("'prefill' or 'decode'", lambda v: v in ("prefill", "decode"))

# kind -> {field: rule}; a field name ending in '?' may be absent or null
ROW_FIELDS: dict[str, dict[str, tuple[str, Any]]] = {
    "env": {"name?": _TEXT, "device?": _TEXT, "sms?": _COUNT, "cores?": _COUNT, "mem_bytes?": _NONNEG,
            "power_limit_w?": _POS, "idle_power_w?": _NONNEG, "sm_clock_max_mhz?": _POS},
    "copy_bw": {"bytes_per_s": _POS},
    "kernel_fixed": {"s": _TIME},
    "gemm": {"m": _COUNT, "n": _COUNT, "k": _COUNT, "s": _TIME, "dtype?": _TEXT},
    "gemm_peak": {"m": _COUNT, "n": _COUNT, "k": _COUNT, "s": _TIME, "flops?": _POS},
    "attn_prefill": {"b": _COUNT, "s": _COUNT, "heads": _COUNT, "head_dim": _COUNT, "s_time": _TIME},
    "attn_decode": {"b": _COUNT, "ctx": _COUNT, "heads": _COUNT, "head_dim": _COUNT, "kv_bytes": _POS,
                    "sdpa_s": _TIME},
    "model": {"name?": _TEXT, "layers": _COUNT, "hidden": _COUNT, "heads": _COUNT, "kv_heads": _COUNT,
              "intermediate": _COUNT, "vocab": _COUNT, "head_dim?": _COUNT},
    "prefill": {"model": _TEXT, "b": _COUNT, "s": _COUNT, "s_time": _TIME},
    "decode": {"model": _TEXT, "b": _COUNT, "ctx": _COUNT, "step_s": _TIME},
    "energy": {"model": _TEXT, "phase": _PHASE, "b": _COUNT, "n": _COUNT, "j_per_token": _POS, "impl?": _TEXT},
}


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_row(row: Any, label: str) -> dict:
    """``row`` if it is an object whose fields fit its kind (``ROW_FIELDS``), else CalibrationError."""
    row = require_mapping(row, label, CalibrationError, "a JSON object (one measurement row)")
    kind = row.get("kind")
    if not isinstance(kind, str):
        raise CalibrationError(f"{label}: field 'kind' must be text such as 'gemm' or 'decode', got {kind!r}.")
    for spec, (desc, ok) in ROW_FIELDS.get(kind, {}).items():
        key = spec.rstrip("?")
        value = row.get(key)
        if value is None and spec.endswith("?"):
            continue
        if value is None:
            raise CalibrationError(f"{label}: a {kind!r} row needs field {key!r} ({desc}); add it or remove the row.")
        if not ok(value):
            raise CalibrationError(f"{label}: field {key!r} of a {kind!r} row must be {desc}, got {value!r}. "
                                   "Fix or remove the row.")
    if kind == "model":
        from ..calibrate.rows import model_from_row  # the one row -> ModelSpec mapping
        try:
            model_from_row(row)
        except ValidationError as e:
            raise CalibrationError(f"{label}: model row: {validation_text(e)}.") from None
    return row


def read_measurements(paths: str | Path | Iterable[str | Path]) -> list[dict]:
    """Checked rows from JSONL files, or from the ``measurements`` of a calibrate profile (.json)."""
    rows: list[dict] = []
    items = [paths] if isinstance(paths, (str, Path)) else paths
    if not isinstance(items, (list, tuple)) or not all(isinstance(p, (str, Path)) for p in items):
        raise CalibrationError(f"measurement files must be a path or a list of paths, got {paths!r}.")
    for p in items:
        p = Path(p)
        if p.suffix == ".json":
            data = require_mapping(read_data(p, CalibrationError, "measurement file", fmt="json"), str(p),
                                   CalibrationError, "a tokenomy calibrate profile")
            if not isinstance(data.get("measurements"), list):
                raise CalibrationError(f"{p}: a .json file must be a tokenomy calibrate profile with a "
                                       "'measurements' list; pass the JSONL rows instead.")
            rows += [check_row(r, f"{p} measurements[{j}]") for j, r in enumerate(data["measurements"])]
        else:
            rows += [check_row(r, f"{p} line {i}") for i, r in read_jsonl(p, CalibrationError, "measurement file")]
    return rows

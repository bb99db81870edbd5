"""The JSON Schema of every command's ``--json`` (and of the web API's answers): one envelope
``{command, query, rows, summary, warnings}`` (built by ``cli/output.envelope``), rows flat objects whose
keys are glossary names, plus the row and query keys each command always prints.

``command_schema(name)`` is a JSON Schema (draft 2020-12) for one command; tests/test_json_schema.py
validates every command's output against it; docs/json.md is generated from it. No I/O here.
"""

from __future__ import annotations

from typing import Any

from .glossary import GLOSSARY

SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}

# row keys every row of the command carries (more may appear; all are glossary names)
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "predict": ("model", "hardware", "engine", "precision", "spec", "phase", "tp", "pp", "ep", "dp_attention", "chips",
                "batch", "latency_s", "usd_per_hour", "memory_bytes_per_chip", "fits", "bound", "source"),
    "frontier": (),
    "simulate": (),
    "cost": (),
    "factory": (),
    "breakeven": (),
    "invest": (),
    "gemm": ("hardware", "engine", "dtype", "m", "n", "k", "latency_s", "flop_per_s", "bound", "efficiency_frac",
             "source"),
    "shape": ("prefill_efficiency_frac", "decode_efficiency_frac"),       # --design: one row, the proposed shape
    "validate": (),
    "hardware list": ("hardware", "hardware_name", "vendor", "bf16_flop_per_s", "hbm_bytes", "hbm_bytes_per_s",
                      "power_limit_w"),
    "hardware show": ("field", "value", "unit", "reference", "note"),
    "models list": ("model", "family", "n_layers", "d_model", "n_heads", "n_kv_heads", "params_total", "params_active"),
    "models show": ("field", "value"),
    "engines list": ("engine", "graph", "calibrated_hardware", "description"),
    "engines show": ("field", "value"),
}

# query keys the command always echoes (the inputs as used, defaults filled in)
QUERY_KEYS: dict[str, tuple[str, ...]] = {
    "predict": ("mode", "electricity_usd_per_kwh", "pue", "utilization_frac"),
    "frontier": (),
    "simulate": (),
    "cost": (),
    "factory": (),
    "breakeven": (),
    "invest": (),
    "gemm": (),
    "shape": ("design", "hardware", "engine", "tolerance", "prefill_tokens", "decode_batch"),
    "validate": (),
    "hardware list": (),
    "hardware show": ("hardware",),
    "models list": (),
    "models show": ("model",),
    "engines list": (),
    "engines show": ("engine",),
}


def command_schema(command: str) -> dict[str, Any]:
    """JSON Schema of ``tokenomy <command> --json``."""
    names = sorted(GLOSSARY)
    row = {"type": "object", "propertyNames": {"enum": names}, "additionalProperties": SCALAR,
           "required": list(ROW_KEYS[command])}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"tokenomy {command} --json",
        "type": "object",
        "required": ["command", "query", "rows", "summary", "warnings"],
        "additionalProperties": False,
        "properties": {
            "command": {"const": command},
            "query": {"type": "object", "propertyNames": {"enum": names}, "required": list(QUERY_KEYS[command])},
            "rows": {"type": "array", "items": row},
            "summary": {"type": "object", "propertyNames": {"enum": names}},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    }

"""The JSON Schema of every command's ``--json`` (and of the web API's answers): one envelope
``{command, query, rows, summary, warnings}`` (built by ``cli/output.envelope``), rows flat objects whose
keys are glossary names, plus the row and query keys each command always prints.

``command_schema(name)`` is a JSON Schema (draft 2020-12) for one command; tests/test_json_schema.py
validates every command's output against it; docs/metrics.md lists, per command, what one row is and the keys
every row carries (``ROW_IS``, ``ROW_KEYS``). No I/O here.
"""

from __future__ import annotations

from typing import Any

from .glossary import GLOSSARY

SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}

# what one row of each command's rows is
ROW_IS: dict[str, str] = {
    "predict": "one case: a prefill or decode step of one replica",
    "frontier": "one deployment point (chip, parallelism, precision, batch) in steady state",
    "simulate": "one simulated run (all replicas), with latency percentiles",
    "cost": "one chip: its chip-hour cost by component",
    "factory": "one chip: the fleet a power budget holds, and one replica's operating point",
    "breakeven": "one chip's operating point (role x: priced for break-even; y: the reference)",
    "invest": "the replica operating point the fleet is built from (years and NPV in summary)",
    "gemm": "one GEMM shape",
    "shape": "one GEMM of the model (whole-step figures and proposals in summary)",
    "validate": "one predicted-versus-measured comparison (a metric of one measured row)",
    "hardware list": "one chip of the catalog",
    "hardware show": "one figure of the chip, with its unit and source",
    "hardware trends": "one chip: its facts and per-generation ratios (per W, per mm2, per $)",
    "models list": "one model of the catalog",
    "models show": "one field of the model's shape",
    "engines list": "one engine profile",
    "engines show": "one parameter of the profile",
    "brief": "one finding: its rank, score, headline, why, reproduce command and sensitivity",
}

# row keys every row of the command carries (more may appear; all are glossary names)
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "predict": ("model", "hardware", "engine", "precision", "spec", "phase", "tp", "pp", "ep", "dp_attention", "chips",
                "batch", "latency_s", "usd_per_hour", "memory_bytes_per_chip", "fits", "bound", "source"),
    "frontier": ("hardware", "kind", "chips", "tp", "pp", "ep", "precision", "batch", "tokens_per_s_per_user",
                 "tokens_per_s", "tokens_per_s_per_chip", "ttft_s", "usd_per_mtok_all_in", "j_per_token_chip",
                 "tokens_per_s_per_mw_chip", "j_per_token_facility", "tokens_per_s_per_mw_facility", "meets_slo",
                 "on_frontier", "on_frontier_cost", "on_frontier_energy", "on_global_frontier_cost",
                 "on_global_frontier_energy"),
    "simulate": (*(f"{n}_{k}_s" for n in ("ttft", "tpot", "itl", "e2e") for k in ("mean", "p50", "p90", "p99")),
                 "fleet_tokens_per_s", "fleet_input_tokens_per_s", "requests_per_s", "goodput_requests_per_s",
                 "slo_attainment", "preemptions", "mean_batch", "kv_peak_frac", "fleet_power_w", "j_per_token_chip",
                 "usd_per_mtok_all_in", "requests", "simulated_s", "wall_s", "deployment", "workload"),
    "cost": ("hardware", "mode", "usd_per_chip_hour", "usd_per_chip_calendar_hour", "capex_usd_per_chip_hour",
             "facility_usd_per_chip_hour", "energy_usd_per_chip_hour", "ops_usd_per_chip_hour",
             "rent_usd_per_chip_hour", "capex_usd_per_chip", "facility_capex_usd_per_chip", "it_power_w_per_chip",
             "provisioned_w_per_chip"),
    "factory": ("hardware", "feasible", "chips", "replicas", "fleet_chips", "tokens_per_s", "fleet_tokens_per_s",
                "tokens_per_s_per_mw_provisioned", "fleet_capex_usd", "usd_per_mtok_all_in", "margin_usd_per_year"),
    "breakeven": ("role", "hardware", "chips", "batch", "tokens_per_s", "tokens_per_s_per_user", "power_w",
                  "usd_per_mtok_all_in", "j_per_token_chip"),
    "invest": ("hardware", "chips", "batch", "tokens_per_s", "tokens_per_s_per_user", "power_w",
               "usd_per_mtok_all_in", "j_per_token_chip"),
    "gemm": ("hardware", "engine", "dtype", "m", "n", "k", "latency_s", "flop_per_s", "bound", "efficiency_frac",
             "source"),
    "shape": ("prefill_efficiency_frac", "decode_efficiency_frac"),       # --design: one row, the proposed shape
    "validate": ("metric", "ratio"),
    "hardware list": ("hardware", "hardware_name", "vendor", "bf16_flop_per_s", "hbm_bytes", "hbm_bytes_per_s",
                      "power_limit_w"),
    "hardware show": ("field", "value", "unit", "reference", "note"),
    "hardware trends": ("vendor", "year", "hardware", "hardware_name", "bf16_flop_per_j", "bf16_flop_per_s_per_mm2",
                        "bf16_flop_per_s_per_dollar", "memory_bytes_per_j", "estimated_inputs"),
    "models list": ("model", "family", "n_layers", "d_model", "n_heads", "n_kv_heads", "params_total", "params_active"),
    "models show": ("field", "value"),
    "engines list": ("engine", "graph", "calibrated_hardware", "description"),
    "engines show": ("field", "value"),
    "brief": ("rank", "finding_kind", "score", "headline", "why", "reproduce_command", "sensitivity"),
}

# query keys the command always echoes (the inputs as used, defaults filled in)
QUERY_KEYS: dict[str, tuple[str, ...]] = {
    "predict": ("mode", "electricity_usd_per_kwh", "pue", "utilization_frac"),
    "frontier": ("model", "hardware", "isl", "osl", "tokens_per_s_per_user_required", "max_ttft_s", "chips", "tp",
                 "pp", "ep", "precision", "engine", "spec", "disagg", "mode", "pue"),
    "simulate": ("model", "hardware", "workload", "engine", "precision", "tp", "pp", "ep", "replicas", "requests_asked",
                 "seed", "mode", "electricity_usd_per_kwh", "pue", "utilization_frac"),
    "cost": ("hardware", "mode", "utilization_frac", "pue", "electricity_usd_per_kwh"),
    "factory": ("model", "hardware", "power_mw", "tokens_per_s_per_user_required", "isl", "osl",
                "token_price_usd_per_mtok", "mode", "utilization_frac", "pue", "electricity_usd_per_kwh"),
    "breakeven": ("model", "hardware_x", "hardware_y", "tokens_per_s_per_user_required", "isl", "osl",
                  "mode", "utilization_frac", "pue", "electricity_usd_per_kwh"),
    "invest": ("model", "hardware", "power_mw", "tokens_per_s_per_user_required", "isl", "osl",
               "token_price_usd_per_mtok", "token_price_decline_frac_per_year",
               "mode", "utilization_frac", "pue", "electricity_usd_per_kwh"),
    "gemm": (),
    "shape": ("design", "hardware", "engine", "tolerance", "prefill_tokens", "decode_batch"),
    "validate": ("profile",),
    "hardware list": (),
    "hardware show": ("hardware",),
    "hardware trends": (),
    "models list": (),
    "models show": ("model",),
    "engines list": (),
    "engines show": ("engine",),
    "brief": ("model", "hardware", "isl", "osl", "tokens_per_s_per_user_targets", "power_mw", "top_findings",
              "mode", "utilization_frac", "pue", "electricity_usd_per_kwh"),
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

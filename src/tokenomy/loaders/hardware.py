"""Read chips from ``catalog/hardware/<id>.yaml`` (datasheet units) into ``HardwareSpec`` (SI).

A catalog file holds plain keys (id, name, vendor, kind, sram_is_cache, form_factor) and figures. A figure
is ``{value: <number>, source: "<url or 'estimate: reasoning'>", note: "<optional>"}`` or ``null``
(not supported / unknown). Keys name the datasheet unit; ``FIGURES`` gives the factor to SI.
``TEXT_FIGURES`` are sourced figures whose value is a word (``served_precision: {value: int8, ...}``).
Prefixes are decimal (1 GB = 1e9 bytes); binary only where the key says ``gib`` / ``mib``.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from pydantic import ValidationError

from tokenomy.errors import CatalogError, SpecError, unknown_name_error
from tokenomy.spec.hardware import MEMORY_TYPES, PRECISIONS, HardwareSpec
from tokenomy.spec.limits import PROCESS_NODE_MAX_CHARS, in_limits, limit_text

from .files import check_name, parse_text, read_data, require_mapping, validation_text

_PACKAGE = "tokenomy.catalog.hardware"
_HINT = "Run 'tokenomy hardware list' or pass a path to your own YAML file."
GIB = 2**30
MIB = 2**20

# catalog key -> (HardwareSpec field, factor to SI, unit as written in the catalog)
FIGURES: dict[str, tuple[str, float, str]] = {
    "bf16_dense_tflops": ("peak_flop_per_s.bf16", 1e12, "TFLOPS"),
    "fp8_dense_tflops": ("peak_flop_per_s.fp8", 1e12, "TFLOPS"),
    "fp4_dense_tflops": ("peak_flop_per_s.fp4", 1e12, "TFLOPS"),
    "int8_dense_tops": ("peak_flop_per_s.int8", 1e12, "TOPS"),
    "hbm_gb": ("hbm_bytes", 1e9, "GB"),
    "hbm_gib": ("hbm_bytes", GIB, "GiB"),
    "hbm_tb_per_s": ("hbm_bytes_per_s", 1e12, "TB/s"),
    "hbm_gib_per_s": ("hbm_bytes_per_s", GIB, "GiB/s"),
    "sram_mb": ("sram_bytes", 1e6, "MB"),
    "sram_mib": ("sram_bytes", MIB, "MiB"),
    "sram_tb_per_s": ("sram_bytes_per_s", 1e12, "TB/s"),
    "ddr_gb": ("ddr_bytes", 1e9, "GB"),
    "ddr_gb_per_s": ("ddr_bytes_per_s", 1e9, "GB/s"),
    "capacity_tier_gb": ("capacity_tier_bytes", 1e9, "GB"),
    "capacity_tier_gb_per_s": ("capacity_tier_bytes_per_s", 1e9, "GB/s"),
    "scaleup_gb_per_s_unidir": ("scaleup_bytes_per_s_unidir", 1e9, "GB/s, one way"),
    "scaleup_domain": ("scaleup_domain", 1, "chips"),
    "scaleout_gbps": ("scaleout_gbps", 1, "Gb/s, one way"),
    "power_limit_w": ("power_limit_w", 1, "W"),
    "idle_power_w": ("idle_power_w", 1, "W"),
    "price_usd": ("price_usd", 1, "USD"),
    "host_power_w": ("host_power_w", 1, "W"),
    "rent_usd_per_hour": ("rent_usd_per_hour", 1, "USD/h"),
    "compute_units": ("compute_units", 1, "SMs/CUs/cores"),
    "clock_mhz": ("clock_hz", 1e6, "MHz"),
    "matmul_rows": ("matmul_rows", 1, "rows"),
    "layer_fixed_us": ("layer_fixed_s", 1e-6, "us"),
    "hop_latency_us": ("hop_latency_s", 1e-6, "us"),
    "year": ("year", 1, ""),                      # a calendar year
    "die_area_mm2": ("die_area_m2", 1e-6, "mm2 per die"),
    "compute_dies": ("compute_dies", 1, "dies"),
    "transistors_billion": ("transistors", 1e9, "billion"),
}
# catalog key -> (HardwareSpec field, the values it may take; None: any short text): sourced figures whose value
# is a word
TEXT_FIGURES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "served_precision": ("served_precision", PRECISIONS),
    "process_node": ("process_node", None),
    "memory_type": ("memory_type", MEMORY_TYPES),
}
PLAIN_KEYS = ("id", "name", "vendor", "kind", "sram_is_cache", "form_factor")
REQUIRED = ("id", "name", "vendor")
_INT_FIELDS = {"scaleup_domain", "compute_units", "matmul_rows", "year", "compute_dies"}
_FIGURE_PARTS = {"value", "source", "note"}


def hardware_to_catalog(hw: HardwareSpec) -> dict[str, Any]:
    """``hw`` in the catalog file format (decimal datasheet units, a source per figure), inverting
    ``FIGURES``: what ``load_hardware`` reads back to the same spec. Writes e.g. calibrate's
    ``<profile>.hardware.yaml``."""
    out: dict[str, Any] = {k: getattr(hw, k) for k in PLAIN_KEYS if getattr(hw, k) is not None}
    for key, (field, factor, _) in FIGURES.items():
        if "gib" in key or "mib" in key:
            continue                                    # written in the decimal units only
        if field.startswith("peak_flop_per_s."):
            value = hw.peak_flop_per_s.get(field.split(".")[1])
        else:
            value = getattr(hw, field)
        if value:
            source = hw.sources.get(field) or hw.sources.get(field.split(".")[0]) or "no source recorded"
            v = value / factor
            out[key] = {"value": int(v) if field in _INT_FIELDS else float(f"{v:.6g}"), "source": source}
    for key, (field, _) in TEXT_FIGURES.items():
        if getattr(hw, field) is not None:
            out[key] = {"value": getattr(hw, field), "source": hw.sources.get(field) or "no source recorded"}
    return out


def hardware_ids() -> list[str]:
    """Sorted ids of the built-in hardware catalog."""
    root = resources.files(_PACKAGE)
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_hardware(name_or_path: str) -> HardwareSpec:
    """A built-in chip id (``h100-sxm``) or a path to a YAML file, as a HardwareSpec in SI units."""
    if not isinstance(name_or_path, str):
        raise SpecError(f"hardware must be a chip id such as 'h100-sxm' or a YAML path, got {name_or_path!r}.")
    check_name(name_or_path, "hardware", SpecError)
    if _is_path(name_or_path):
        label, raw = _read_file(name_or_path)
        return _to_spec(label, raw)
    return _load_builtin(name_or_path)


def hardware_figures(name_or_path: str) -> list[dict[str, Any]]:
    """Every figure of a chip in catalog units: dicts with key, value, unit, source, note."""
    label, raw = _read_file(name_or_path) if _is_path(name_or_path) else _read_builtin(name_or_path)
    return _figures(label, raw)


def hardware_catalog_rows() -> list[dict[str, Any]]:
    """One summary row per built-in chip, in display units (TFLOPS, GB, TB/s, MB, W, USD)."""
    rows = []
    for hw_id in hardware_ids():
        hw = load_hardware(hw_id)

        def scaled(x: float | None, unit: float) -> float | None:
            return None if x is None else round(x / unit, 3)

        rows.append({
            "id": hw.id,
            "name": hw.name,
            "bf16_tflops": scaled(hw.peak("bf16"), 1e12),
            "fp8_tflops": scaled(hw.peak("fp8"), 1e12),
            "fp4_tflops": scaled(hw.peak("fp4"), 1e12),
            "hbm_gb": scaled(hw.hbm_bytes, 1e9),
            "hbm_tb_per_s": scaled(hw.hbm_bytes_per_s, 1e12),
            "sram_mb": scaled(hw.sram_bytes, 1e6),
            "power_w": hw.power_limit_w,
            "price_usd": hw.price_usd,
            "rent_usd_per_hour": hw.rent_usd_per_hour,
        })
    return rows


# --- reading ---------------------------------------------------------------------------------


def _is_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name


@functools.cache
def _load_builtin(hw_id: str) -> HardwareSpec:
    label, raw = _read_builtin(hw_id)
    return _to_spec(label, raw)


def _read_builtin(hw_id: str) -> tuple[str, dict[str, Any]]:
    resource = resources.files(_PACKAGE).joinpath(f"{hw_id}.yaml")
    if not resource.is_file():
        raise unknown_name_error("hardware", hw_id, hardware_ids(), _HINT)
    label = f"{hw_id}.yaml"
    raw = parse_text(resource.read_text(encoding="utf-8"), label, "yaml", CatalogError)
    return label, require_mapping(raw, label, CatalogError, "a mapping of keys to figures")


def _read_file(path: str) -> tuple[str, dict[str, Any]]:
    raw = read_data(path, CatalogError, "hardware YAML file", fmt="yaml")
    return path, require_mapping(raw, path, CatalogError, "a mapping of keys to figures")


# --- validation and conversion -----------------------------------------------------------------


def _figures(label: str, raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Validated figures of one file (null figures skipped), in catalog units."""
    unknown = sorted(set(raw) - set(PLAIN_KEYS) - set(FIGURES) - set(TEXT_FIGURES))
    if unknown:
        allowed = ", ".join([*PLAIN_KEYS, *FIGURES, *TEXT_FIGURES])
        raise CatalogError(f"{label}: unknown key(s) {', '.join(map(repr, unknown))}. Allowed keys: {allowed}.")
    missing = [k for k in REQUIRED if not raw.get(k)]
    if missing:
        raise CatalogError(f"{label}: missing required key(s) {', '.join(map(repr, missing))}.")
    out: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for key, (field, _, unit) in FIGURES.items():
        fig = raw.get(key)
        if fig is None:
            continue
        if field in seen:
            raise CatalogError(f"{label}: keys {seen[field]!r} and {key!r} give the same figure; keep one.")
        seen[field] = key
        out.append({"key": key, "unit": unit, **_check_figure(label, key, fig)})
    for key in TEXT_FIGURES:
        if raw.get(key) is not None:
            out.append({"key": key, "unit": "", **_check_figure(label, key, raw[key])})
    return out


def _check_figure(label: str, key: str, fig: Any) -> dict[str, Any]:
    """``{value, source, note}`` checked: a source, a non-negative number, no other parts."""
    where = f"{label}: key {key!r}"
    if not isinstance(fig, dict):
        raise CatalogError(f"{where} has no source: write {{value: {fig!r}, source: \"<url or 'estimate: why'>\"}}.")
    extra = sorted(set(fig) - _FIGURE_PARTS)
    if extra:
        raise CatalogError(f"{where}: unknown part(s) {', '.join(map(repr, extra))}; a figure has value, source, note.")
    source = fig.get("source")
    if not isinstance(source, str) or not source.strip():
        raise CatalogError(f"{where} has no source: every figure names a URL or 'estimate: <reasoning>'.")
    value = fig.get("value")
    note = fig.get("note")
    if note is not None and not isinstance(note, str):
        raise CatalogError(f"{where}: note must be text, got {note!r}.")
    if key in TEXT_FIGURES:
        allowed = TEXT_FIGURES[key][1]
        if allowed is None:
            if not isinstance(value, str) or not 0 < len(value.strip()) <= PROCESS_NODE_MAX_CHARS:
                raise CatalogError(f"{where}: value must be a name of 1 to {PROCESS_NODE_MAX_CHARS} characters, "
                                   f"got {value!r}.")
            return {"value": value.strip(), "source": source.strip(), "note": note}
        if value not in allowed:
            raise CatalogError(f"{where}: value must be one of {', '.join(allowed)}, got {value!r}.")
        return {"value": value, "source": source.strip(), "note": note}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CatalogError(f"{where}: value must be a number, got {value!r}.")
    if value < 0:
        raise CatalogError(f"{where}: value must not be negative, got {value}.")
    field, factor, unit = FIGURES[key]
    if not in_limits(field.split(".")[0], value * factor):
        raise CatalogError(f"{where}: value {value!r}{' ' + unit if unit else ''} is not physical; it must be "
                           f"{limit_text(field.split('.')[0], factor, unit)} (write null when unknown).")
    return {"value": value, "source": source.strip(), "note": note}


def _to_spec(label: str, raw: dict[str, Any]) -> HardwareSpec:
    """Convert one parsed file to SI: TFLOPS*1e12, GB*1e9, TB/s*1e12, MB*1e6, MHz*1e6."""
    fields: dict[str, Any] = {k: raw[k] for k in PLAIN_KEYS if raw.get(k) is not None}
    peaks: dict[str, float] = {}
    sources: dict[str, str] = {}
    for fig in _figures(label, raw):
        if fig["key"] in TEXT_FIGURES:
            field = TEXT_FIGURES[fig["key"]][0]
            fields[field], sources[field] = fig["value"], fig["source"]
            continue
        field, factor, _ = FIGURES[fig["key"]]
        si = fig["value"] * factor
        if field.startswith("peak_flop_per_s."):
            peaks[field.split(".", 1)[1]] = float(si)
        elif field in _INT_FIELDS:
            if si != int(si):
                raise CatalogError(f"{label}: key {fig['key']!r} must be a whole number, got {fig['value']}.")
            fields[field] = int(si)
        else:
            fields[field] = float(si)
        sources[field] = fig["source"]
    try:
        return HardwareSpec(**fields, peak_flop_per_s=peaks, sources=sources)
    except ValidationError as exc:
        raise CatalogError(f"{label}: {validation_text(exc)}.") from None

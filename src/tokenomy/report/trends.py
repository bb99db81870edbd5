"""Per-generation figures of the chip catalog (``tokenomy hardware trends``): pure arithmetic on HardwareSpecs.

One row per chip, sorted by vendor, then year (unknown last), then id. Every ratio is a catalog figure over
another: dense peak FLOP/s over the power limit (FLOP/s per W = FLOP/J), over the compute silicon (die area x
compute dies, mm^2; I/O dies and memory stacks not counted) and over the catalog price (what ``form_factor``
says it buys); main-memory bandwidth over the power limit (bytes/s per W = bytes/J). A ratio whose inputs are
not both known and positive is None (printed '-'), never 0. ``estimated_inputs`` names the inputs the catalog
marks as estimates (source "estimate: ..."), so a trend drawn through them can be weighed.

An optional reference point (one model at one per-user speed, ``tokenomy.economics.operating_point``) adds its
all-in $/Mtok and J/token; the caller computes the points (this module does no I/O and no serving model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tokenomy.spec.hardware import HardwareSpec

MM2_PER_M2 = 1e6
_ESTIMATE_INPUTS = {"power_limit_w": "power", "price_usd": "price", "die_area_m2": "die area"}


def _ratio(num: float | None, den: float | None) -> float | None:
    """num / den when both are known and positive; None otherwise (an unknown is never a 0)."""
    if num is None or den is None or num <= 0 or den <= 0:
        return None
    return num / den


def _mm2(area_m2: float | None) -> float | None:
    return None if area_m2 is None else round(area_m2 * MM2_PER_M2, 6)


def _estimated(hw: HardwareSpec) -> str:
    """The ratio inputs whose catalog source is an estimate, comma-separated ('' when none)."""
    return ", ".join(word for field, word in _ESTIMATE_INPUTS.items()
                     if hw.sources.get(field, "").strip().lower().startswith("estimate"))


def trend_row(hw: HardwareSpec) -> dict[str, Any]:
    """One chip's facts and per-generation ratios (see the module docstring)."""
    area_mm2 = _mm2(hw.silicon_area_m2)
    memory_bw = hw.main_memory_bytes_per_s or None
    row: dict[str, Any] = {
        "vendor": hw.vendor, "year": hw.year, "hardware": hw.id, "hardware_name": hw.name,
        "process_node": hw.process_node, "memory_type": hw.memory_type,
        "die_area_mm2": _mm2(hw.die_area_m2), "compute_dies": hw.compute_dies, "silicon_area_mm2": area_mm2,
        "transistors": hw.transistors, "power_limit_w": hw.power_limit_w, "price_usd": hw.price_usd,
        "form_factor": hw.form_factor, "bf16_flop_per_s": hw.peak("bf16"), "fp8_flop_per_s": hw.peak("fp8"),
        "memory_bytes_per_s": memory_bw,
    }
    for prec in ("bf16", "fp8"):
        peak = hw.peak(prec)
        row[f"{prec}_flop_per_j"] = _ratio(peak, hw.power_limit_w)
        row[f"{prec}_flop_per_s_per_mm2"] = _ratio(peak, area_mm2)
        row[f"{prec}_flop_per_s_per_dollar"] = _ratio(peak, hw.price_usd)
    row["memory_bytes_per_j"] = _ratio(memory_bw, hw.power_limit_w)
    row["estimated_inputs"] = _estimated(hw)
    return row


def _order(row: Mapping[str, Any]) -> tuple:
    year = row["year"]
    return (str(row["vendor"]).lower(), year is None, year or 0, row["hardware"])


def trend_rows(chips: Iterable[HardwareSpec], points: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``trend_row`` sorted by vendor, year (unknown last), id. ``points``: chip id -> an
    OperatingPoint-like object (``feasible``, ``reason``, ``usd_per_mtok_all_in``, ``j_per_token_chip``,
    ``chips``) or a text saying why the chip has none; adds those keys to each row."""
    rows = []
    for hw in chips:
        row = trend_row(hw)
        if points is not None:
            row.update(reference_keys(points.get(hw.id, "not computed")))
        rows.append(row)
    return sorted(rows, key=_order)


def reference_keys(point: Any) -> dict[str, Any]:
    """The reference point's keys of one row: its cost and energy when feasible, else None and the reason."""
    if isinstance(point, str) or not point.feasible:
        reason = point if isinstance(point, str) else point.reason
        return {"feasible": False, "chips": None, "usd_per_mtok_all_in": None, "j_per_token_chip": None,
                "reason": reason}
    return {"feasible": True, "chips": point.chips, "usd_per_mtok_all_in": point.usd_per_mtok_all_in,
            "j_per_token_chip": point.j_per_token_chip, "reason": ""}

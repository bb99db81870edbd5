"""Fit the per-layer and per-hop times of SRAM dataflow systems (core/sram.py) to published speeds.

One set of terms per system, fitted by least squares on log(predicted / measured) single-user
output speeds (calibrate/fit.py's solver). A system with one row (or a single usable one) fits its
per-layer time only, keeping its catalog hop latency. The prediction of a row is the frontier's
fastest single-user point (tokenomy.frontier.sweep at 1k/1k tokens, the row's precision, its
published chip count where it names one), so the fit and the frontier answer the same question.

Held out: each model of a system predicted by terms fitted without it (leave one model out); a
system with one usable row has no held-out figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec.hardware import HardwareSpec
from .fit import _least_squares


@dataclass(frozen=True)
class SpeedRow:
    system: str
    model: str
    precision: str | None      # the format served; None: the model's shipped format
    chips: int | None          # published chips per replica; None: the model's own sizing
    tokens_per_s: float        # measured single-user output speed
    source: str


# shared/reference/sram-systems.md, "Measured single-user output speeds" (sources as named there).
# Groq served 8-bit-class weights [2nd]; Cerebras and SambaNova state 16-bit [vendor].
REFERENCE: tuple[SpeedRow, ...] = (
    SpeedRow("groq-lpu", "llama-2-70b", "int8", None, 300.0, "TechPowerUp press benchmark, Feb 2024"),
    SpeedRow("groq-lpu", "llama-2-7b", "int8", None, 750.0, "TechPowerUp press benchmark, Feb 2024"),
    SpeedRow("groq-lpu", "mixtral-8x7b", "int8", None, 480.0, "TechPowerUp press benchmark, Feb 2024"),
    SpeedRow("cerebras-wse3", "llama-3.1-405b", "bf16", None, 969.0,
             "vendor claim via Tom's Hardware, Nov 2024; may involve speculative decoding [unsure]"),
    SpeedRow("sambanova-sn40l", "llama-3.1-405b", "bf16", 16, 130.5,
             "benchmark table published by the vendor, Sep 2024 (129-132)"),
    SpeedRow("sambanova-sn40l", "deepseek-r1", None, 16, 198.0, "vendor talk, 2025 (one 16-socket rack)"),
)
ISL = OSL = 1024
FREE = ("layer_fixed_s", "hop_latency_s")
BOUNDS = ((0.0, 1e-3), (0.0, 1e-4))      # s: per layer, per hop


def predicted_speed(hw: HardwareSpec, row: SpeedRow) -> float:
    """The frontier's fastest single-user output speed for ``row`` on ``hw`` (module docstring)."""
    from ..frontier import sweep

    r = sweep(row.model, [hw], isl=ISL, osl=OSL, precision=row.precision, chips=row.chips)
    return float(r.max_tokens_per_s_per_user[hw.id])


def _with(hw: HardwareSpec, x: np.ndarray, free: tuple[str, ...]) -> HardwareSpec:
    return hw.model_copy(update={k: float(v) for k, v in zip(free, x, strict=True)})


def fit_system(hw: HardwareSpec, rows: list[SpeedRow]) -> tuple[HardwareSpec, dict[str, float]]:
    """``hw`` with its terms fitted to ``rows`` (module docstring), and the in-sample ratio per model."""
    free = FREE if len(rows) > 1 else FREE[:1]
    lo = [BOUNDS[FREE.index(f)][0] for f in free]
    hi = [BOUNDS[FREE.index(f)][1] for f in free]

    def residual(x: np.ndarray) -> np.ndarray:
        h = _with(hw, x, free)
        return np.array([np.log(predicted_speed(h, r) / r.tokens_per_s) for r in rows])

    x0 = np.array([max(getattr(hw, f), 1e-7) for f in free])
    x = _least_squares(residual, x0, lo, hi)
    out = _with(hw, x, free)
    return out, {r.model: predicted_speed(out, r) / r.tokens_per_s for r in rows}


def held_out(hw: HardwareSpec, rows: list[SpeedRow]) -> dict[str, float]:
    """predicted / measured of each model with the terms fitted on the system's other models."""
    if len(rows) < 2:
        return {}
    out = {}
    for r in rows:
        fitted, _ = fit_system(hw, [o for o in rows if o is not r])
        out[r.model] = predicted_speed(fitted, r) / r.tokens_per_s
    return out

"""Fit the per-layer and per-hop times of SRAM dataflow systems (core/sram.py) to published speeds.

One set of terms per system, fitted by least squares on log(predicted / measured) single-user
output speeds (calibrate/fit.py's solver; a minimax fit was tried: it drives the Groq hop latency to
0 and every other published speed further off). A system with one row (or a single usable one) fits its
per-layer time only, keeping its catalog hop latency. The prediction of a row is the frontier's
fastest single-user point (tokenomy.frontier.sweep at 1k/1k tokens, the row's precision, its
published chip count where it names one), so the fit and the frontier answer the same question.

Held out: each model of a system predicted by terms fitted without it (leave one model out; a system
with one usable row has none), and OTHER_PUBLISHED: speeds outside the reference table, never fitted.
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
    spec: str | None = None    # speculative decoding the row is modelled with (tokenomy --spec), None: off


# Speculative decoding a row is modelled with where the system's own figures show it was on (below).
DRAFT_8B = "draft:llama-3.1-8b"

# shared/reference/sram-systems.md, "Measured single-user output speeds" (sources as named there).
# Groq served 8-bit-class weights [2nd]; Cerebras and SambaNova state 16-bit [vendor]. The two 405B rows are
# modelled with speculative decoding (a Llama-3.1-8B draft at the default K = 4, a = 0.7; core/speculative.py):
#   Cerebras: the reference marks it "may involve speculative decoding [unsure]"; fitted without it, the layer time
#     (7.3 us) predicts Cerebras' own launch speeds (OTHER_PUBLISHED: 8B 1,800/s, 70B 450/s) 2.4-3.7x too fast.
#   SambaNova: 812 GB of 16-bit weights per token from 16 x 2.9 TB/s of HBM allow 57/s at most; 130/s needs
#     several tokens per weight read. Still beyond the model at the default acceptance: not fitted (NOT_FITTED).
REFERENCE: tuple[SpeedRow, ...] = (
    SpeedRow("groq-lpu", "llama-2-70b", "int8", None, 300.0, "TechPowerUp press benchmark, Feb 2024"),
    SpeedRow("groq-lpu", "llama-2-7b", "int8", None, 750.0, "TechPowerUp press benchmark, Feb 2024"),
    SpeedRow("groq-lpu", "mixtral-8x7b", "int8", None, 480.0, "TechPowerUp press benchmark, Feb 2024"),
    SpeedRow("cerebras-wse3", "llama-3.1-405b", "bf16", None, 969.0,
             "vendor claim via Tom's Hardware, Nov 2024; may involve speculative decoding [unsure]", DRAFT_8B),
    SpeedRow("sambanova-sn40l", "llama-3.1-405b", "bf16", 16, 130.5,
             "benchmark table published by the vendor, Sep 2024 (129-132)", DRAFT_8B),
    SpeedRow("sambanova-sn40l", "deepseek-r1", None, 16, 198.0,
             "vendor talk, 2025 (one 16-socket rack); the vendor states 16-bit, which does not fit 16 x 64 GB of "
             "HBM: run at fp8, the format the sweep picks (the fitted layer time rests on that reading)"),
)
NOT_FITTED = {("sambanova-sn40l", "llama-3.1-405b")}

# Other published single-user speeds, NOT fitted: the held-out check of the fitted terms (scripts/sram_fit.py,
# tests/test_sram_systems.py). Recalled from the named vendor announcements and Artificial Analysis pages; not
# re-checked here (no network) [unsure]. Llama-3 rows use the Llama-3.1 shapes (same layers and widths).
OTHER_PUBLISHED: tuple[SpeedRow, ...] = (
    SpeedRow("groq-lpu", "llama-3.1-8b", "int8", None, 877.0, "Artificial Analysis, Llama-3-8B, Apr 2024"),
    SpeedRow("groq-lpu", "llama-3.1-70b", "int8", None, 284.0, "Artificial Analysis, Llama-3-70B, Apr 2024"),
    SpeedRow("groq-lpu", "llama-3.1-70b", "int8", None, 1665.0,
             "Groq, Llama-3.1-70B speculative decode on GroqCloud, Oct 2024 (draft model not published)", DRAFT_8B),
    SpeedRow("cerebras-wse3", "llama-3.1-8b", "bf16", None, 1800.0, "Cerebras Inference launch, Aug 2024"),
    SpeedRow("cerebras-wse3", "llama-3.1-70b", "bf16", None, 450.0,
             "Cerebras Inference launch, Aug 2024 (16-bit on 4 CS-3)"),
    SpeedRow("cerebras-wse3", "llama-3.1-70b", "bf16", None, 2100.0,
             "Cerebras, Oct 2024 ('3x faster'; speculative decoding [unsure])", DRAFT_8B),
    SpeedRow("sambanova-sn40l", "llama-3.1-70b", "bf16", 16, 461.0,
             "SambaNova Cloud launch, Sep 2024 (Artificial Analysis)", DRAFT_8B),
)
ISL = OSL = 1024
FREE = ("layer_fixed_s", "hop_latency_s")
BOUNDS = ((0.0, 1e-3), (0.0, 1e-4))      # s: per layer, per hop


def predicted_speed(hw: HardwareSpec, row: SpeedRow) -> float:
    """The frontier's fastest single-user output speed for ``row`` on ``hw`` (module docstring)."""
    from ..frontier import sweep

    r = sweep(row.model, [hw], isl=ISL, osl=OSL, precision=row.precision, chips=row.chips, spec=row.spec)
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

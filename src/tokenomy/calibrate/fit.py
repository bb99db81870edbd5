"""Fit an engine profile from measurement rows (the JSONL format of shared/data/h100).

Pure NumPy/SciPy-free least squares on log-ratios, in four independent stages, so each group of
parameters is fitted on the measurements that isolate it:

1. GEMM (``gemm`` rows): compute_frac, hbm_frac, fixed_s and the misaligned-path rates.
2. Attention (``attn_prefill`` / ``attn_decode`` rows): flash prefill rate, critical path, fixed
   time; decode bandwidth share and fixed time.
3. Whole steps (``prefill`` / ``decode`` rows of the end-to-end model): the per-kernel launch
   gap and the elementwise bandwidth share, with stages 1-2 held fixed.
4. Power (``energy`` rows): the occupancy and per-FLOP shares of the power span, no more than the
   rows separate (see POWER_FREE; stages 3 and 4 alternate twice, as the power cap feeds back into
   step times). The energy rows
   of measure.py time decode with the 'bmm' attention path, so they are predicted with it.

Every stage is optional: a missing row kind keeps the base profile's values. Rows are predicted
by calibrate/rows.py, the same code ``tokenomy validate`` reports with.
The chip is the ``hardware`` argument; the model shape comes from the ``model`` row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..errors import CalibrationError
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from .rows import predict_attention_rows, predict_gemm_rows, predict_model_rows


def _least_squares(residual: Callable[[np.ndarray], np.ndarray], x0, lo, hi, iters: int = 60) -> np.ndarray:
    """Bounded Levenberg-Marquardt with numerical Jacobian (few parameters, few rows)."""
    x = np.clip(np.asarray(x0, float), lo, hi)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    lam = 1e-2
    r = residual(x)
    cost = float(r @ r)
    for _ in range(iters):
        J = np.empty((r.size, x.size))
        for j in range(x.size):
            h = 1e-4 * max(abs(x[j]), 1e-3)
            xp = x.copy()
            xp[j] = min(x[j] + h, hi[j]) if x[j] + h <= hi[j] else x[j] - h
            J[:, j] = (residual(xp) - r) / (xp[j] - x[j])
        A = J.T @ J
        g = J.T @ r
        improved = False
        for _ in range(10):
            step = np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), -g)
            xn = np.clip(x + step, lo, hi)
            rn = residual(xn)
            cn = float(rn @ rn)
            if cn < cost:
                x, r, cost, lam, improved = xn, rn, cn, lam * 0.3, True
                break
            lam *= 10
        if not improved or np.max(np.abs(step)) < 1e-9:
            break
    return x


def _fit_stage(predict, update, base: EngineProfile, x0, lo, hi, iters: int = 60) -> tuple[EngineProfile, float]:
    """Least squares of log(predicted / measured) over the rows ``predict(profile)`` returns
    (calibrate/rows.py), with ``update(base, x)`` writing the parameters x into the profile."""
    def resid(x):
        return np.log(np.array([c.predicted / c.measured for c in predict(update(base, x))]))

    x = _least_squares(resid, x0, lo, hi, iters)
    prof = update(base, x)
    return prof, float(np.mean([abs(c.rel_err) for c in predict(prof)]))


def _with(prof: EngineProfile, section: str, **values) -> EngineProfile:
    return prof.model_copy(update={section: getattr(prof, section).model_copy(update=values)})


def fit_gemm(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, float]:
    """Stage 1: the GEMM rates (the misaligned-path ones only when misaligned shapes were measured)."""
    g = [r for r in rows if r.get("kind") == "gemm"]
    if len(g) < 8:
        return base, float("nan")
    n, k = (np.array([r[x] for r in g], float) for x in "nk")
    names = ["compute_frac", "hbm_frac", "fixed_s", "align8_frac", "align2_frac", "misaligned_hbm_frac"]
    if not (np.any((k * 2) % 16 != 0) or np.any((n * 2) % 16 != 0)):
        names = names[:3]

    def update(prof, x):
        d = dict(zip(names, x, strict=True))
        d["fixed_s"] *= 1e-6
        return _with(prof, "gemm", **d)
    p = base.gemm
    x0 = [p.compute_frac, p.hbm_frac, p.fixed_s * 1e6, p.align8_frac, p.align2_frac, p.misaligned_hbm_frac]
    lo, hi = [0.2, 0.3, 0, 0.02, 0.02, 0.02], [1, 1, 30, 1, 1, 1]
    k_ = len(names)
    return _fit_stage(lambda e: predict_gemm_rows(g, hw, e)[0], update, base, x0[:k_], lo[:k_], hi[:k_])


def fit_attention(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, float, float]:
    """Stage 2: flash prefill rate, critical path and fixed time; decode bandwidth share and fixed time."""
    prof, e_pf, e_dc = base, float("nan"), float("nan")
    pf = [r for r in rows if r.get("kind") == "attn_prefill"]
    dc = [r for r in rows if r.get("kind") == "attn_decode"]
    if len(pf) >= 3:
        a = prof.attention
        prof, e_pf = _fit_stage(
            lambda e: predict_attention_rows(pf, hw, e, kinds=("attn_prefill",)),
            lambda e, x: _with(e, "attention", prefill_frac=x[0], prefill_fixed_s=x[1] * 1e-6,
                               prefill_critical_frac=x[2]),
            prof, [a.prefill_frac, a.prefill_fixed_s * 1e6, a.prefill_critical_frac], [0.1, 0, 0], [1, 50, 10])
    if len(dc) >= 3:
        a = prof.attention
        prof, e_dc = _fit_stage(
            lambda e: predict_attention_rows(dc, hw, e, kinds=("attn_decode",)),
            lambda e, x: _with(e, "attention", decode_hbm_frac=x[0], decode_fixed_s=x[1] * 1e-6),
            prof, [a.decode_hbm_frac, a.decode_fixed_s * 1e6], [0.1, 0], [1, 50])
    return prof, e_pf, e_dc


def fit_steps(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, float]:
    """Stage 3: the per-kernel launch gap and the elementwise bandwidth share, on whole steps."""
    if len(predict_model_rows(rows, hw, base, kinds=("prefill", "decode"))[0]) < 3:
        return base, float("nan")
    return _fit_stage(
        lambda e: predict_model_rows(rows, hw, e, kinds=("prefill", "decode"))[0],
        lambda e, x: e.model_copy(update=dict(kernel_fixed_s=x[0] * 1e-6, elementwise_hbm_frac=x[1])),
        base, [base.kernel_fixed_s * 1e6, base.elementwise_hbm_frac], [0, 0.1], [20, 1], iters=30)


# The energy rows cannot separate more than two shares: the decode rows share one context, so their
# HBM utilization barely moves (the byte share is collinear with occupancy) and the one prefill row
# sits at the power cap. Idle power is measured (the chip's idle_power_w) and the limit is the
# datasheet's; busy_frac and byte_frac are held at 0 and their power is carried by occupancy_frac.
# Leave-one-out over the 6 H100 energy rows: 4 free shares 12.1%, these 2 shares 12.3% (docs/accuracy.md).
POWER_FIXED = {"busy_frac": 0.0, "byte_frac": 0.0}
POWER_FREE = ("occupancy_frac", "flop_frac")


def fit_power(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, float]:
    """Stage 4: the occupancy and per-FLOP shares of the power span, on the energy rows (POWER_FIXED held)."""
    en = [r for r in rows if r.get("kind") in ("energy", "model")]
    if len(predict_model_rows(en, hw, base, kinds=("energy",))[0]) < 3:
        return base, float("nan")
    start = _with(base, "power", **POWER_FIXED)
    return _fit_stage(
        lambda e: predict_model_rows(en, hw, e, kinds=("energy",))[0],
        lambda e, x: _with(e, "power", **dict(zip(POWER_FREE, x, strict=True))),
        start, [getattr(start.power, k) for k in POWER_FREE], [0.0] * len(POWER_FREE), [3.0] * len(POWER_FREE))


def fit_kernels(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, dict]:
    """Stages 1-2 (GEMM and attention kernels); they never see the end-to-end rows."""
    errs: dict[str, float] = {}
    prof, errs["gemm"] = fit_gemm(rows, hw, base)
    prof, errs["attn_prefill"], errs["attn_decode"] = fit_attention(rows, hw, prof)
    return prof, errs


def fit_end_to_end(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, dict]:
    """Stages 3-4 on the end-to-end rows; the power cap slows compute-bound steps, so steps and power
    are fitted in turn (twice)."""
    errs: dict[str, float] = {}
    prof = base
    for _ in range(2):
        prof, errs["steps"] = fit_steps(rows, hw, prof)
        prof, errs["energy"] = fit_power(rows, hw, prof)
    return prof, errs


def fit_profile(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile, *, name: str | None = None,
                source: str = "") -> tuple[EngineProfile, dict]:
    """All four stages; returns the profile and the fit errors (mean absolute relative error)."""
    if not rows:
        raise CalibrationError("No measurement rows to fit.")
    prof, errs = fit_kernels(rows, hw, base)
    prof, e2e = fit_end_to_end(rows, hw, prof)
    errs.update(e2e)
    calibrated = sorted(set(base.calibrated_hardware) | {hw.id})
    prof = prof.model_copy(update=dict(name=name or base.name, calibrated_hardware=calibrated,
                                       fitted_on=source or prof.fitted_on))
    return prof, errs


def round_profile(profile: EngineProfile, digits: int = 4) -> dict:
    """The profile as a plain dict with floats rounded to ``digits`` significant digits."""
    def rnd(v):
        if isinstance(v, float):
            return float(f"{v:.{digits}g}")
        if isinstance(v, dict):
            return {k: rnd(x) for k, x in v.items()}
        if isinstance(v, list):
            return [rnd(x) for x in v]
        return v
    return rnd(profile.model_dump())

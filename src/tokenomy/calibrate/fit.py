"""Fit an engine profile from measurement rows (the JSONL format of shared/data/h100).

Pure NumPy/SciPy-free least squares on log-ratios, in four independent stages, so each group of
parameters is fitted on the measurements that isolate it:

1. GEMM (``gemm`` rows): compute_frac, hbm_frac, fixed_s and the misaligned-path rates.
2. Attention (``attn_prefill`` / ``attn_decode`` rows): flash prefill rate, critical path, fixed
   time; decode bandwidth share and fixed time.
3. Whole steps (``prefill`` / ``decode`` rows of the end-to-end model): the per-kernel launch
   gap and the elementwise bandwidth share, with stages 1-2 held fixed.
4. Power (``energy`` rows): busy, occupancy, per-FLOP and per-byte shares of the power span
   (stages 3 and 4 alternate twice, as the power cap feeds back into step times). The energy rows
   of measure.py time decode with the 'bmm' attention path, so they are predicted with it.

Every stage is optional: a missing row kind keeps the base profile's values.
The chip is the ``hardware`` argument; the model shape comes from the ``model`` row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..core.attention import decode_attention_time_s, prefill_attention_time_s
from ..core.gemm import gemm_time
from ..core.precision import parse_precision
from ..core.predict import predict_core
from ..errors import CalibrationError
from ..spec.engine import AttentionParams, EngineProfile, GemmParams
from ..spec.hardware import HardwareSpec
from ..spec.model import ModelSpec


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


def model_from_row(row: dict) -> ModelSpec:
    """A Llama-architecture ModelSpec from a ``model`` measurement row."""
    try:
        return ModelSpec(name=row.get("name", "measured"), family="llama", n_layers=row["layers"],
                         d_model=row["hidden"], n_heads=row["heads"], n_kv_heads=row["kv_heads"],
                         d_head=row.get("head_dim") or row["hidden"] // row["heads"], d_ff=row["intermediate"],
                         vocab_size=row["vocab"], source="measurement row")
    except KeyError as e:
        raise CalibrationError(f"model row lacks {e.args[0]!r}; it needs layers, hidden, heads, kv_heads, "
                               "intermediate, vocab.") from None


def _bytes_of(dtype: str) -> float:
    return 1.0 if dtype == "fp8" else 2.0


def fit_gemm(rows: Sequence[dict], hw: HardwareSpec, base: GemmParams) -> tuple[GemmParams, float]:
    g = [r for r in rows if r.get("kind") == "gemm"]
    if len(g) < 8:
        return base, float("nan")
    m, n, k = (np.array([r[x] for r in g], float) for x in "mnk")
    s = np.array([r["s"] for r in g])
    dt = [r.get("dtype", "bf16") for r in g]
    groups = {d: np.array([x == d for x in dt]) for d in set(dt)}
    names = ["compute_frac", "hbm_frac", "fixed_s", "align8_frac", "align2_frac", "misaligned_hbm_frac"]
    has_mis = np.any((k * 2) % 16 != 0) or np.any((n * 2) % 16 != 0)

    def params(x):
        d = dict(zip(names, x))
        d["fixed_s"] *= 1e-6
        return base.model_copy(update=d if has_mis else {kk: d[kk] for kk in names[:3]})

    def pred(x):
        p = params(x)
        out = np.empty_like(s)
        for d, sel in groups.items():
            peak = hw.peak(d)
            if peak is None:
                raise CalibrationError(f"{hw.id} has no {d} rate but the measurements have {d} GEMMs.")
            b = _bytes_of(d)
            out[sel] = gemm_time(m[sel], n[sel], k[sel], peak_flop_per_s=peak, hbm_bytes_per_s=hw.main_memory_bytes_per_s,
                                 compute_units=int(hw.compute_units or 128), params=p, a_bytes=b, w_bytes=b,
                                 out_bytes=2.0).latency_s
        return out

    x0 = [base.compute_frac, base.hbm_frac, base.fixed_s * 1e6, base.align8_frac, base.align2_frac,
          base.misaligned_hbm_frac]
    x = _least_squares(lambda x: np.log(pred(x) / s), x0, [0.2, 0.3, 0, 0.02, 0.02, 0.02], [1, 1, 30, 1, 1, 1])
    return params(x), float(np.mean(np.abs(pred(x) / s - 1)))


def fit_attention(rows: Sequence[dict], hw: HardwareSpec, base: AttentionParams) -> tuple[AttentionParams, float, float]:
    pf = [r for r in rows if r.get("kind") == "attn_prefill"]
    dc = [r for r in rows if r.get("kind") == "attn_decode"]
    p = base
    e_pf = e_dc = float("nan")
    units = int(hw.compute_units or 128)
    peak = hw.peak("bf16")
    if len(pf) >= 3:
        s = np.array([r["s_time"] for r in pf])

        def pred_pf(x, p=p):
            q = p.model_copy(update=dict(prefill_frac=x[0], prefill_fixed_s=x[1] * 1e-6, prefill_critical_frac=x[2]))
            return np.array([prefill_attention_time_s(r["b"], r["s"], n_heads=r["heads"], d_qk=r["head_dim"],
                                                      d_v=r["head_dim"], peak_flop_per_s=peak, compute_units=units,
                                                      params=q)[0] for r in pf])
        x = _least_squares(lambda x: np.log(pred_pf(x) / s), [p.prefill_frac, p.prefill_fixed_s * 1e6,
                           p.prefill_critical_frac], [0.1, 0, 0], [1, 50, 10])
        p = p.model_copy(update=dict(prefill_frac=x[0], prefill_fixed_s=x[1] * 1e-6, prefill_critical_frac=x[2]))
        e_pf = float(np.mean(np.abs(pred_pf(x) / s - 1)))
    if len(dc) >= 3:
        s = np.array([r["sdpa_s"] for r in dc])

        def pred_dc(x, p=p):
            q = p.model_copy(update=dict(decode_hbm_frac=x[0], decode_fixed_s=x[1] * 1e-6))
            return np.array([decode_attention_time_s(r["kv_bytes"], 4.0 * r["b"] * r["heads"] * r["head_dim"] * r["ctx"],
                                                     peak_flop_per_s=peak, hbm_bytes_per_s=hw.main_memory_bytes_per_s,
                                                     params=q) for r in dc])
        x = _least_squares(lambda x: np.log(pred_dc(x) / s), [p.decode_hbm_frac, p.decode_fixed_s * 1e6], [0.1, 0], [1, 50])
        p = p.model_copy(update=dict(decode_hbm_frac=x[0], decode_fixed_s=x[1] * 1e-6))
        e_dc = float(np.mean(np.abs(pred_dc(x) / s - 1)))
    return p, e_pf, e_dc


def _e2e_cases(rows: Sequence[dict]):
    models = {r.get("name"): model_from_row(r) for r in rows if r.get("kind") == "model"}
    cases = []
    for r in rows:
        kind = r.get("kind")
        if kind in ("prefill", "decode") and r.get("model") in models:
            prec = "fp8" if str(r.get("model", "")).endswith("-fp8") else "bf16"
            if kind == "prefill":
                cases.append((models[r["model"]], prec, "prefill", r["b"], r["s"], r["s_time"]))
            else:
                cases.append((models[r["model"]], prec, "decode", r["b"], r["ctx"], r["step_s"]))
    return cases


def fit_steps(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, float]:
    cases = _e2e_cases(rows)
    if len(cases) < 3:
        return base, float("nan")
    meas = np.array([c[-1] for c in cases])

    def prof(x):
        return base.model_copy(update=dict(kernel_fixed_s=x[0] * 1e-6, elementwise_hbm_frac=x[1]))

    def pred(x):
        e = prof(x)
        return np.array([float(predict_core(mdl, hw, e, parse_precision(pr), phase=ph, batch=b, length=n).latency_s)
                         for mdl, pr, ph, b, n, _ in cases])
    x = _least_squares(lambda x: np.log(pred(x) / meas), [base.kernel_fixed_s * 1e6, base.elementwise_hbm_frac],
                       [0, 0.1], [20, 1], iters=30)
    return prof(x), float(np.mean(np.abs(pred(x) / meas - 1)))


def fit_power(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile) -> tuple[EngineProfile, float]:
    models = {r.get("name"): model_from_row(r) for r in rows if r.get("kind") == "model"}
    en = [r for r in rows if r.get("kind") == "energy" and r.get("model") in models]
    if len(en) < 3 or not hw.power_limit_w:
        return base, float("nan")
    meas = np.array([r["j_per_token"] for r in en])
    bmm = base.model_copy(update=dict(attention=base.attention.model_copy(update=dict(decode_impl="bmm"))))

    def prof(x, e=base):
        return e.model_copy(update=dict(power=e.power.model_copy(update=dict(busy_frac=x[0], flop_frac=x[1], byte_frac=x[2], occupancy_frac=x[3]))))

    def pred(x):
        out = []
        for r in en:
            e = prof(x, bmm if r["phase"] == "decode" else base)
            p = predict_core(models[r["model"]], hw, e, parse_precision("bf16"), phase=r["phase"], batch=r["b"], length=r["n"])
            out.append(float(p.energy_j_per_token))
        return np.array(out)
    pw = base.power
    x = _least_squares(lambda x: np.log(pred(x) / meas), [pw.busy_frac, pw.flop_frac, pw.byte_frac, pw.occupancy_frac],
                       [0, 0, 0, 0], [1.5, 3, 3, 3])
    return prof(x), float(np.mean(np.abs(pred(x) / meas - 1)))


def fit_profile(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile, *, name: str | None = None,
                source: str = "") -> tuple[EngineProfile, dict]:
    """All four stages; returns the profile and the fit errors (mean absolute relative error)."""
    if not rows:
        raise CalibrationError("No measurement rows to fit.")
    errs: dict[str, float] = {}
    gemm, errs["gemm"] = fit_gemm(rows, hw, base.gemm)
    attn, errs["attn_prefill"], errs["attn_decode"] = fit_attention(rows, hw, base.attention)
    prof = base.model_copy(update=dict(gemm=gemm, attention=attn))
    for _ in range(2):   # the power cap slows compute-bound steps, so steps and power are fitted in turn
        prof, errs["steps"] = fit_steps(rows, hw, prof)
        prof, errs["energy"] = fit_power(rows, hw, prof)
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

"""Predict measurement rows (the shared/data/h100 format) with an engine profile, pure, no I/O.

The one place that maps a measured row to the prediction it measures: ``fit.py`` turns these into
residuals, ``validate.py`` into reports.

    gemm          s             one GEMM (core/gemm.py), bf16 or fp8 inputs, bf16 output
    attn_prefill  s_time        one causal attention kernel (core/attention.py)
    attn_decode   sdpa_s        one decode attention kernel (SDPA path)
    prefill       s_time        a whole prefill step of the measured model (core/predict.py)
    decode        step_s        a whole decode step
    energy        j_per_token   board energy per token; decode rows measured with the 'bmm'
                                attention (``impl``, default bmm as in measure.py) use that path
The model of the end-to-end rows comes from the ``model`` row; a model named '*-fp8' is the
fp8 variant of measure.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.attention import decode_attention_time_s, prefill_attention_time_s
from ..core.gemm import gemm_time
from ..core.precision import parse_precision
from ..core.predict import predict_core
from ..errors import CalibrationError
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.model import ModelSpec

KINDS = ("gemm", "attn_prefill", "attn_decode", "prefill", "decode", "energy")
MODEL_KINDS = ("prefill", "decode", "energy")


@dataclass(frozen=True)
class RowCheck:
    """One measured row against its prediction."""

    kind: str
    phase: str            # prefill | decode | kernel
    case: str             # e.g. 'b=8 ctx=1024', 'bf16 m=1 n=6144 k=4096'
    measured: float
    predicted: float
    unit: str

    @property
    def rel_err(self) -> float:
        return self.predicted / self.measured - 1.0


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


def bmm_variant(engine: EngineProfile) -> EngineProfile:
    """``engine`` with decode attention as batched matmuls (how measure.py times its energy rows)."""
    return engine.model_copy(update=dict(attention=engine.attention.model_copy(update=dict(decode_impl="bmm"))))


def predict_gemm_rows(rows: Sequence[dict], hw: HardwareSpec, engine: EngineProfile) -> tuple[list[RowCheck], int]:
    """``gemm`` rows, one vectorized call per dtype; rows of a dtype the chip lacks are skipped (counted)."""
    out, skipped = [], 0
    gemms = [r for r in rows if r.get("kind") == "gemm"]
    bad = [r.get("dtype") for r in gemms if not isinstance(r.get("dtype") or "bf16", str)]
    if bad:
        raise CalibrationError(f"gemm row dtype {bad[0]!r} is not a format name; use bf16, fp8, fp4 or int8 "
                               "(or leave it out for bf16).")
    units = int(hw.compute_units or 128)
    for dt in sorted({r.get("dtype") or "bf16" for r in gemms}):
        g = [r for r in gemms if (r.get("dtype") or "bf16") == dt]
        peak = hw.peak(dt)
        if peak is None:
            skipped += len(g)
            continue
        b = 1.0 if dt == "fp8" else 2.0
        m, n, k = (np.array([r[x] for r in g], float) for x in "mnk")
        pred = gemm_time(m, n, k, peak_flop_per_s=peak, hbm_bytes_per_s=hw.main_memory_bytes_per_s,
                         compute_units=units, params=engine.gemm, a_bytes=b, w_bytes=b, out_bytes=2.0).latency_s
        out += [RowCheck("gemm", "kernel", f"{dt} m={r['m']} n={r['n']} k={r['k']}", r["s"], float(p), "s")
                for r, p in zip(g, np.broadcast_to(pred, m.shape), strict=True)]
    return out, skipped


def predict_attention_rows(rows: Sequence[dict], hw: HardwareSpec, engine: EngineProfile,
                           kinds=("attn_prefill", "attn_decode")) -> list[RowCheck]:
    peak16 = hw.peak("bf16")
    if not peak16:
        return []
    units = int(hw.compute_units or 128)
    out = []
    for r in rows:
        kind = r.get("kind")
        if kind == "attn_prefill" and kind in kinds:
            p = prefill_attention_time_s(r["b"], r["s"], n_heads=r["heads"], d_qk=r["head_dim"], d_v=r["head_dim"],
                                         peak_flop_per_s=peak16, compute_units=units, params=engine.attention)[0]
            out.append(RowCheck(kind, "prefill", f"b={r['b']} s={r['s']}", r["s_time"], float(p), "s"))
        elif kind == "attn_decode" and kind in kinds:
            flop = 4.0 * r["b"] * r["heads"] * r["head_dim"] * r["ctx"]
            p = decode_attention_time_s(r["kv_bytes"], flop, peak_flop_per_s=peak16,
                                        hbm_bytes_per_s=hw.main_memory_bytes_per_s, params=engine.attention)
            out.append(RowCheck(kind, "decode", f"b={r['b']} ctx={r['ctx']}", r["sdpa_s"], float(p), "s"))
    return out


def predict_model_rows(rows: Sequence[dict], hw: HardwareSpec, engine: EngineProfile,
                       kinds=MODEL_KINDS) -> tuple[list[RowCheck], int]:
    """End-to-end ``prefill``/``decode``/``energy`` rows, in row order; rows without their ``model`` row
    (or energy rows on a chip without a power limit) are skipped (counted). Rows that share a model,
    kind, phase and engine go through one vectorized prediction."""
    models = {r.get("name"): model_from_row(r) for r in rows if r.get("kind") == "model"}
    bmm = bmm_variant(engine)
    groups: dict[tuple, list[tuple[int, dict]]] = {}
    skipped = 0
    for i, r in enumerate(rows):
        kind = r.get("kind")
        if kind not in kinds:
            continue
        if models.get(r.get("model")) is None or (kind == "energy" and not hw.power_limit_w):
            skipped += 1
            continue
        phase = r["phase"] if kind == "energy" else kind
        use_bmm = kind == "energy" and phase == "decode" and r.get("impl", "bmm") == "bmm"
        groups.setdefault((r["model"], kind, phase, use_bmm), []).append((i, r))
    found: dict[int, RowCheck] = {}
    for (name, kind, phase, use_bmm), members in groups.items():
        size = "s" if phase == "prefill" else "ctx"
        if kind == "energy":
            length = [r["n"] for _, r in members]
            meas, unit = [r["j_per_token"] for _, r in members], "J/token"
        else:
            length = [r[size] for _, r in members]
            meas, unit = [r["s_time" if kind == "prefill" else "step_s"] for _, r in members], "s"
        prec = parse_precision("fp8" if str(name).endswith("-fp8") else "bf16")
        p = predict_core(models[name], hw, bmm if use_bmm else engine, prec, phase=phase,
                         batch=np.array([r["b"] for _, r in members]), length=np.array(length))
        pred = np.broadcast_to(p.energy_j_per_token if kind == "energy" else p.latency_s, (len(members),))
        for (i, r), n, m, v in zip(members, length, meas, pred, strict=True):
            found[i] = RowCheck(kind, phase, f"b={r['b']} {size}={n}", m, float(v), unit)
    return [found[i] for i in sorted(found)], skipped


def predict_rows(rows: Sequence[dict], hw: HardwareSpec, engine: EngineProfile) -> tuple[list[RowCheck], int]:
    """Every row of a known kind, in the order gemm, attention, end-to-end; and the skipped count."""
    g, s1 = predict_gemm_rows(rows, hw, engine)
    m, s2 = predict_model_rows(rows, hw, engine)
    return g + predict_attention_rows(rows, hw, engine) + m, s1 + s2

"""Predicted versus measured for every row of a measurement file (shared/data/h100 format or a
``tokenomy calibrate`` output), with the mean absolute percentage error per kind.

    rel_err = predicted / measured - 1,   MAPE(kind) = mean |rel_err| over the rows of that kind

Kinds and what is compared:
    gemm          s             one GEMM, core/gemm.py with the profile's GemmParams
    attn_prefill  s_time        one causal attention kernel (core/attention.py)
    attn_decode   sdpa_s        one decode attention kernel (SDPA path)
    prefill       s_time        a whole prefill step of the measured model (core/predict.py)
    decode        step_s        a whole decode step
    energy        j_per_token   board energy per token; decode rows measured with the 'bmm'
                                attention (``impl``, default bmm as in shared/data/h100) use it

The chip: the ``hardware`` argument, else the chip a calibrate profile file was fitted on, else the
catalog entry matching the ``env`` row's device name. The model comes from the ``model`` row.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .calibrate.fit import model_from_row
from .calibrate.profile import catalog_hardware_id, env_row, hardware_from_profile_file
from .core.attention import decode_attention_time_s, prefill_attention_time_s
from .core.gemm import gemm_time
from .core.precision import parse_precision
from .core.predict import predict_core
from .errors import CalibrationError, SpecError
from .loaders.engines import load_engine
from .loaders.hardware import load_hardware
from .spec.engine import EngineProfile
from .spec.hardware import HardwareSpec

KINDS = ("gemm", "attn_prefill", "attn_decode", "prefill", "decode", "energy")
UNITS = {"gemm": "s", "attn_prefill": "s", "attn_decode": "s", "prefill": "s", "decode": "s", "energy": "J/token"}


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


@dataclass(frozen=True)
class Validation:
    """Every compared row and the MAPE (a fraction, 0.05 = 5%) per kind."""

    hardware: str
    engine: str
    rows: tuple[RowCheck, ...]
    mape: dict[str, float]
    counts: dict[str, int]
    skipped: int          # rows of known kinds that could not be predicted (e.g. a precision the chip lacks)

    def to_dict(self) -> dict:
        return {"hardware": self.hardware, "engine": self.engine, "mape": self.mape, "counts": self.counts,
                "skipped": self.skipped,
                "rows": [{**asdict(r), "rel_err": r.rel_err} for r in self.rows]}


def read_measurements(paths) -> list[dict]:
    """Rows from JSONL files, or from the ``measurements`` of a calibrate profile JSON."""
    rows: list[dict] = []
    for p in [paths] if isinstance(paths, (str, Path)) else paths:
        p = Path(p)
        if not p.is_file():
            raise SpecError(f"Measurement file not found: {p}.")
        text = p.read_text()
        if p.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise SpecError(f"{p}: not valid JSON ({e.msg}).") from None
            if not isinstance(data, dict) or not isinstance(data.get("measurements"), list):
                raise SpecError(f"{p}: a .json file must be a tokenomy calibrate profile with 'measurements'; "
                                "pass the JSONL rows instead.")
            rows.extend(data["measurements"])
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise SpecError(f"{p} line {i}: not valid JSON ({e.msg}).") from None
    return rows


def _hardware(rows, hardware, profile) -> HardwareSpec:
    if isinstance(hardware, HardwareSpec):
        return hardware
    if hardware:
        return load_hardware(str(hardware))
    if isinstance(profile, (str, Path)):
        hw = hardware_from_profile_file(profile)
        if hw is not None:
            return hw
    name = env_row(rows).get("name")
    hw_id = catalog_hardware_id(name)
    if hw_id is None:
        raise CalibrationError(f"Cannot tell the chip of these measurements (device {name!r}); pass --hardware "
                               "with a catalog id or the .hardware.yaml that tokenomy calibrate wrote.")
    return load_hardware(hw_id)


def _engine(profile) -> EngineProfile:
    if isinstance(profile, EngineProfile):
        return profile
    return load_engine(str(profile) if profile else "torch-eager")


def _rel_mape(checks) -> float:
    return float(np.mean([abs(c.rel_err) for c in checks])) if checks else float("nan")


def validate(rows, profile: str | Path | EngineProfile | None = None,
             hardware: str | HardwareSpec | None = None) -> Validation:
    """Compare every row of ``rows`` with the prediction of ``profile`` (default torch-eager) on ``hardware``."""
    rows = list(rows)
    if not rows:
        raise CalibrationError("No measurement rows to validate.")
    hw = _hardware(rows, hardware, profile)
    eng = _engine(profile)
    bmm = eng.model_copy(update=dict(attention=eng.attention.model_copy(update=dict(decode_impl="bmm"))))
    units = int(hw.compute_units or 128)
    checks: list[RowCheck] = []
    skipped = 0

    gemms = [r for r in rows if r.get("kind") == "gemm"]
    for dt in sorted({r.get("dtype", "bf16") for r in gemms}):
        g = [r for r in gemms if r.get("dtype", "bf16") == dt]
        peak = hw.peak(dt)
        if peak is None:
            skipped += len(g)
            continue
        b = 1.0 if dt == "fp8" else 2.0
        m, n, k = (np.array([r[x] for r in g], float) for x in "mnk")
        pred = gemm_time(m, n, k, peak_flop_per_s=peak, hbm_bytes_per_s=hw.main_memory_bytes_per_s,
                         compute_units=units, params=eng.gemm, a_bytes=b, w_bytes=b, out_bytes=2.0).latency_s
        checks += [RowCheck("gemm", "kernel", f"{dt} m={r['m']} n={r['n']} k={r['k']}", r["s"], float(p), "s")
                   for r, p in zip(g, np.broadcast_to(pred, m.shape))]

    peak16 = hw.peak("bf16")
    for r in rows:
        kind = r.get("kind")
        if kind == "attn_prefill" and peak16:
            p = prefill_attention_time_s(r["b"], r["s"], n_heads=r["heads"], d_qk=r["head_dim"], d_v=r["head_dim"],
                                         peak_flop_per_s=peak16, compute_units=units, params=eng.attention)[0]
            checks.append(RowCheck(kind, "prefill", f"b={r['b']} s={r['s']}", r["s_time"], float(p), "s"))
        elif kind == "attn_decode" and peak16:
            flop = 4.0 * r["b"] * r["heads"] * r["head_dim"] * r["ctx"]
            p = decode_attention_time_s(r["kv_bytes"], flop, peak_flop_per_s=peak16,
                                        hbm_bytes_per_s=hw.main_memory_bytes_per_s, params=eng.attention)
            checks.append(RowCheck(kind, "decode", f"b={r['b']} ctx={r['ctx']}", r["sdpa_s"], float(p), "s"))

    models = {r.get("name"): model_from_row(r) for r in rows if r.get("kind") == "model"}
    for r in rows:
        kind = r.get("kind")
        if kind not in ("prefill", "decode", "energy"):
            continue
        mdl = models.get(r.get("model"))
        if mdl is None:
            skipped += 1
            continue
        prec = parse_precision("fp8" if str(r["model"]).endswith("-fp8") else "bf16")
        if kind == "energy":
            if not hw.power_limit_w:
                skipped += 1
                continue
            e = bmm if r["phase"] == "decode" and r.get("impl", "bmm") == "bmm" else eng
            p = predict_core(mdl, hw, e, prec, phase=r["phase"], batch=r["b"], length=r["n"]).energy_j_per_token
            size = "s" if r["phase"] == "prefill" else "ctx"
            checks.append(RowCheck(kind, r["phase"], f"b={r['b']} {size}={r['n']}", r["j_per_token"], float(p),
                                   "J/token"))
            continue
        length, meas, size = (r["s"], r["s_time"], "s") if kind == "prefill" else (r["ctx"], r["step_s"], "ctx")
        p = predict_core(mdl, hw, eng, prec, phase=kind, batch=r["b"], length=length).latency_s
        checks.append(RowCheck(kind, kind, f"b={r['b']} {size}={length}", meas, float(p), "s"))

    if not checks:
        raise CalibrationError("None of the rows can be compared: they need kinds " + ", ".join(KINDS) + ".")
    mape, counts = {}, {}
    for kind in KINDS:
        sel = [c for c in checks if c.kind == kind]
        if sel:
            mape[kind], counts[kind] = _rel_mape(sel), len(sel)
    for ph in ("decode", "prefill"):
        sel = [c for c in checks if c.kind == "energy" and c.phase == ph]
        if sel:
            mape[f"energy_{ph}"], counts[f"energy_{ph}"] = _rel_mape(sel), len(sel)
    return Validation(hardware=hw.id, engine=eng.name, rows=tuple(checks), mape=mape, counts=counts, skipped=skipped)


def plot_validation(result: Validation, path: str | Path) -> None:
    """Predicted against measured, log-log, one colour per kind (needs matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if k in result.counts]
    cols = min(3, len(kinds))
    nrows = -(-len(kinds) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.8 * cols, 3.6 * nrows), squeeze=False)
    for ax in axes.ravel()[len(kinds):]:
        ax.set_visible(False)
    for ax, kind in zip(axes.ravel(), kinds):
        sel = [c for c in result.rows if c.kind == kind]
        x = np.array([c.measured for c in sel])
        y = np.array([c.predicted for c in sel])
        lo, hi = min(x.min(), y.min()) / 1.3, max(x.max(), y.max()) * 1.3
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
        ax.scatter(x, y, s=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{kind}: MAPE {result.mape[kind]:.1%}", fontsize=9)
        ax.set_xlabel(f"measured ({UNITS[kind]})", fontsize=8)
        ax.set_ylabel(f"predicted ({UNITS[kind]})", fontsize=8)
    fig.suptitle(f"{result.engine} on {result.hardware}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Predicted versus measured for every row of a measurement file (shared/data/h100 format or a
``tokenomy calibrate`` output), with the mean absolute percentage error per kind.

    rel_err = predicted / measured - 1,   MAPE(kind) = mean |rel_err| over the rows of that kind

Which quantity each row kind is compared on: calibrate/rows.py (shared with the fit).

The chip: the ``hardware`` argument, else the chip a calibrate profile file was fitted on, else the
catalog entry matching the ``env`` row's device name. The model comes from the ``model`` row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .calibrate.profile import catalog_hardware_id, env_row
from .calibrate.rows import KINDS, RowCheck, predict_rows
from .errors import CalibrationError
from .loaders.engines import load_engine, profile_hardware
from .loaders.hardware import load_hardware
from .loaders.measurements import check_row, read_measurements  # noqa: F401  (the reader lives in loaders/)
from .spec.engine import EngineProfile
from .spec.hardware import HardwareSpec


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


VALUE_KEYS = {"s": "s", "J/token": "j_per_token", "W": "w", "tokens/s": "tokens_per_s"}   # unit -> key suffix


def compared(metric: str, unit: str, measured: float, predicted: float) -> dict:
    """The flat row of one comparison: ``metric``, ``measured_<unit>``, ``predicted_<unit>`` (glossary names,
    the unit in the name) and ``ratio`` = predicted / measured."""
    u = VALUE_KEYS[unit]
    return {"metric": metric, f"measured_{u}": measured, f"predicted_{u}": predicted, "ratio": predicted / measured}


def validation_rows(res: Validation) -> list[dict]:
    """One flat row per compared measurement (``tokenomy validate --measurements --json``)."""
    return [{**compared(r.kind, r.unit, r.measured, r.predicted), "phase": r.phase, "case": r.case}
            for r in res.rows]


def validation_summary(res: Validation) -> dict:
    """MAPE per kind (and energy per phase) as ``groups``; the rows that could not be predicted."""
    groups = [{"metric": k, "checks": res.counts[k], "mape_frac": v} for k, v in res.mape.items()]
    return {"hardware": res.hardware, "engine": res.engine, "groups": groups, "rows_skipped": res.skipped}


def _hardware(rows, hardware, profile) -> HardwareSpec:
    if isinstance(hardware, HardwareSpec):
        return hardware
    if hardware:
        return load_hardware(str(hardware))
    if isinstance(profile, (str, Path)):
        hw = profile_hardware(profile)
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
    if not isinstance(rows, (list, tuple)):
        raise CalibrationError(f"rows must be a list of measurement rows (read_measurements(path)), got {rows!r:.80}.")
    rows = [check_row(r, f"measurement row {i}") for i, r in enumerate(rows, 1)]
    if not rows:
        raise CalibrationError("No measurement rows to validate.")
    hw, eng = _hardware(rows, hardware, profile), _engine(profile)
    checks, skipped = predict_rows(rows, hw, eng)
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
    from .report.serving import panel_grid

    kinds = [k for k in KINDS if k in result.counts]
    plt, fig, axes = panel_grid(len(kinds))
    for ax, kind in zip(axes, kinds, strict=True):
        sel = [c for c in result.rows if c.kind == kind]
        x = np.array([c.measured for c in sel])
        y = np.array([c.predicted for c in sel])
        lo, hi = min(x.min(), y.min()) / 1.3, max(x.max(), y.max()) * 1.3
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
        ax.scatter(x, y, s=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{kind}: MAPE {result.mape[kind]:.1%}", fontsize=9)
        unit = next(c.unit for c in result.rows if c.kind == kind)
        ax.set_xlabel(f"measured ({unit})", fontsize=8)
        ax.set_ylabel(f"predicted ({unit})", fontsize=8)
    fig.suptitle(f"{result.engine} on {result.hardware}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

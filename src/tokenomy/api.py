"""The public Python API: names or specs in, typed results out. Thin over ``core``."""

from __future__ import annotations

import numpy as np

from .core.precision import Precision, parse_precision
from .core.predict import Prediction, predict_core
from .errors import SpecError
from .loaders.engines import load_engine
from .loaders.hardware import load_hardware
from .loaders.models import load_model
from .spec.engine import EngineProfile
from .spec.hardware import HardwareSpec
from .spec.model import ModelSpec


def _sizes(name: str, value, *, minimum: float) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number or an array of numbers, got {value!r}.") from None
    if arr.size == 0:
        raise SpecError(f"{name} is empty; give at least one value.")
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"{name} must be finite, got {value!r}.")
    if np.any(arr < minimum):
        bad = arr[arr < minimum].ravel()[0]
        raise SpecError(f"{name} must be >= {minimum:g}, got {bad:g}.")
    if np.any(arr != np.round(arr)):
        raise SpecError(f"{name} must be a whole number of tokens or sequences, got {value!r}.")
    return arr


def resolve(model, hardware, engine=None, precision=None) -> tuple[ModelSpec, HardwareSpec, EngineProfile, Precision]:
    m = model if isinstance(model, ModelSpec) else load_model(str(model))
    h = hardware if isinstance(hardware, HardwareSpec) else load_hardware(str(hardware))
    e = engine if isinstance(engine, EngineProfile) else load_engine(engine)
    return m, h, e, parse_precision(precision)


def predict(model: str | ModelSpec, hardware: str | HardwareSpec, *, phase: str = "decode", batch=1,
            seq=None, context=None, engine: str | EngineProfile | None = None, precision: str | Precision = "bf16",
            tp: int = 1, pp: int = 1, ep: int = 1, profile: str | None = None) -> Prediction:
    """Predict one prefill or decode step; ``batch``, ``seq`` and ``context`` may be NumPy arrays
    (they broadcast, so a whole sweep is one call).

    prefill: ``batch`` sequences of ``seq`` prompt tokens each.
    decode:  ``batch`` sequences, one new token each, ``context`` tokens already cached per sequence.
    ``profile`` is a calibrated engine profile file (``tokenomy calibrate``); it replaces ``engine``.
    """
    if phase not in ("prefill", "decode"):
        raise SpecError(f"phase must be 'prefill' or 'decode', got {phase!r}.")
    m, h, e, p = resolve(model, hardware, profile or engine, precision)
    b = _sizes("batch", batch, minimum=1)
    if phase == "prefill":
        if seq is None:
            raise SpecError("prefill needs seq (prompt tokens per sequence), e.g. --seq 2048.")
        if context is not None:
            raise SpecError("prefill takes seq, not context; context is for decode.")
        n = _sizes("seq", seq, minimum=1)
    else:
        if context is None:
            raise SpecError("decode needs context (tokens already cached per sequence), e.g. --context 1024.")
        if seq is not None:
            raise SpecError("decode takes context, not seq; seq is for prefill.")
        n = _sizes("context", context, minimum=0)
    for name, v in (("tp", tp), ("pp", pp), ("ep", ep)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise SpecError(f"{name} must be a positive integer, got {v!r}.")
    return predict_core(m, h, e, p, phase=phase, batch=b, length=n, tp=int(tp), pp=int(pp), ep=int(ep))

"""Public API: the time of one GEMM y[m,n] = x[m,k] @ w[n,k]^T on one chip, vectorized over (m, n, k).

Thin over ``core.gemm.gemm_time`` (the same model the core engine uses for every linear layer):
names in, a typed frozen result out. Inputs are bf16 or fp8 (1 byte per element, weights and
activations both), outputs bf16, as in the calibration microbenchmarks.

    >>> r = predict_gemm("h100-sxm", 8192, 8192, 8192)
    >>> float(r.tflops[0])      # about 720 TFLOP/s: 0.73 of the 989 TFLOP/s bf16 peak
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .core.gemm import gemm_time, smooth_max
from .core.precision import BYTES_PER_ELEMENT
from .core.rates import chip_rates
from .errors import SpecError
from .loaders.engines import load_engine
from .loaders.hardware import load_hardware
from .spec import args
from .spec.engine import EngineProfile
from .spec.hardware import HardwareSpec

GEMM_DTYPES = {"bf16": 2.0, "fp8": 1.0}   # input bytes per element; output is always bf16
OUT_BYTES = 2.0
DEFAULT_ENGINE = "torch-eager"            # the profile calibrated on the H100 GEMM microbenchmarks
RECORD_KEYS = {"mem_s": "memory_s", "flop": "flop_per_gemm", "bytes": "bytes_per_gemm"}   # attribute -> row key


@dataclass(frozen=True)
class GemmPrediction:
    """One GEMM per element of the broadcast (m, n, k) arrays. Seconds, FLOP, bytes, FLOP/s.

    ``bound`` is 'memory' or 'compute' (the larger of the two terms). The factors multiply the
    large-GEMM rate: ``align_factor`` (1 on the 16-byte-aligned fast path), ``tile_factor``
    (useful / executed work of partial tiles), ``wave_factor`` (useful / scheduled SM time).
    ``ideal_latency_s`` is the same GEMM with all three factors at 1 and full bandwidth;
    ``efficiency_frac`` = ideal / predicted.
    """

    hardware: str
    engine: str
    dtype: str
    source: str                  # 'calibrated' (the engine was fitted on this chip) or 'extrapolated'
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    latency_s: np.ndarray
    math_s: np.ndarray
    mem_s: np.ndarray
    flop: np.ndarray
    bytes: np.ndarray
    bound: np.ndarray            # array of 'memory' / 'compute'
    align_factor: np.ndarray
    tile_factor: np.ndarray
    wave_factor: np.ndarray
    ideal_latency_s: np.ndarray
    efficiency_frac: np.ndarray

    @property
    def flop_per_s(self) -> np.ndarray:
        return self.flop / self.latency_s

    @property
    def tflops(self) -> np.ndarray:
        """Achieved 10^12 FLOP/s (display unit)."""
        return self.flop_per_s / 1e12

    def records(self) -> list[dict]:
        """One flat dict per GEMM (flattened, C order), keyed by the glossary (``gemm --json`` rows): the
        attributes keep their names except ``flop_per_s`` (achieved), ``mem_s`` -> ``memory_s``, ``flop`` ->
        ``flop_per_gemm`` and ``bytes`` -> ``bytes_per_gemm``."""
        shape = self.latency_s.shape
        arrs = {RECORD_KEYS.get(k, k): np.broadcast_to(getattr(self, k), shape).ravel() for k in (
            "m", "n", "k", "latency_s", "flop_per_s", "bound", "align_factor", "tile_factor", "wave_factor",
            "math_s", "mem_s", "flop", "bytes", "efficiency_frac")}
        out = []
        for i in range(int(np.prod(shape, dtype=int))):
            rec: dict[str, Any] = {"hardware": self.hardware, "engine": self.engine, "dtype": self.dtype}
            for key, a in arrs.items():
                v = a[i]
                rec[key] = int(v) if key in ("m", "n", "k") else (str(v) if key == "bound" else float(v))
            rec["source"] = self.source
            out.append(rec)
        return out

    def to_pandas(self):
        """``records()`` as a pandas DataFrame (the columns of ``gemm --csv``)."""
        from .report.frames import rows_frame

        return rows_frame(self.records())


def _positive_ints(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception:  # anything numpy cannot read is bad input
        raise SpecError(f"{name} must be a positive integer or an array of them, got {value!r}.") from None
    if arr.size == 0:
        raise SpecError(f"{name} is empty; give at least one positive integer.")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise SpecError(f"{name} must be a positive integer or an array of them, got {value!r}.")
    arr = arr.astype(float)
    bad = ~np.isfinite(arr) | (arr < 1) | (arr != np.round(arr))
    if np.any(bad):
        v = arr[bad].ravel()[0]
        raise SpecError(f"{name} must be a positive integer, got {v:g}.")
    return arr


def resolve_chip(hardware: str | HardwareSpec, engine: str | EngineProfile | None,
                 dtype: str) -> tuple[HardwareSpec, EngineProfile, float, float, int]:
    """(chip, engine, peak FLOP/s of the ``dtype`` matrix rate, main-memory bytes/s, compute units)."""
    args.name_or_spec("hardware", hardware, HardwareSpec, args.HARDWARE_HINT)
    args.optional_text("engine", engine, args.ENGINE_HINT, spec_type=EngineProfile)
    hw = hardware if isinstance(hardware, HardwareSpec) else load_hardware(str(hardware))
    eng = engine if isinstance(engine, EngineProfile) else load_engine(engine or DEFAULT_ENGINE)
    return (hw, eng, *chip_rates(hw, dtype))


def gemm_prediction(hw: HardwareSpec, eng: EngineProfile, m, n, k, *, dtype: str = "bf16", a_bytes: float | None = None,
                    w_bytes: float | None = None, out_bytes: float = OUT_BYTES, batch=1) -> GemmPrediction:
    """Unchecked core of ``predict_gemm`` for internal callers (fractional ``m`` allowed, e.g. MoE
    experts). ``dtype`` names the chip rate used; bytes per element default to that format's."""
    _, _, peak, bw, units = resolve_chip(hw, eng, dtype)
    b = BYTES_PER_ELEMENT[dtype]
    a_bytes = b if a_bytes is None else a_bytes
    w_bytes = b if w_bytes is None else w_bytes
    g = gemm_time(m, n, k, peak_flop_per_s=peak, hbm_bytes_per_s=bw, compute_units=units, params=eng.gemm,
                  a_bytes=a_bytes, w_bytes=w_bytes, out_bytes=out_bytes, batch=batch)
    p = eng.gemm
    # ideal: the same work at the large aligned rate, full bandwidth, no tile or wave loss
    ideal_math = g.flop / (peak * p.compute_frac)
    ideal_mem = g.bytes / (bw * p.hbm_frac)
    ideal = p.fixed_s + smooth_max(ideal_math, ideal_mem)
    shape = np.shape(g.latency_s)
    m_, n_, k_ = (np.broadcast_to(np.asarray(x, dtype=float), shape) for x in (m, n, k))
    source = eng.source_for(hw.id)
    return GemmPrediction(
        hardware=hw.id, engine=eng.name, dtype=dtype, source=source, m=m_, n=n_, k=k_,
        latency_s=g.latency_s, math_s=g.math_s, mem_s=g.mem_s, flop=g.flop, bytes=g.bytes,
        bound=np.where(g.is_memory_bound, "memory", "compute"),
        align_factor=np.broadcast_to(g.align_factor, shape), tile_factor=np.broadcast_to(g.tile_factor, shape),
        wave_factor=np.broadcast_to(g.wave_factor, shape), ideal_latency_s=ideal,
        efficiency_frac=np.minimum(1.0, ideal / g.latency_s))


def predict_gemm(hardware: str | HardwareSpec, m, n, k, dtype: str = "bf16",
                 engine: str | EngineProfile = DEFAULT_ENGINE) -> GemmPrediction:
    """Predict y[m,n] = x[m,k] @ w[n,k]^T on ``hardware``; m, n, k are positive integers or arrays
    that broadcast (one call predicts a whole sweep). Results are arrays of at least one dimension.

    ``dtype``: 'bf16' (2-byte inputs) or 'fp8' (1-byte inputs, the chip's fp8 rate); output is bf16.
    Raises SpecError for bad sizes or an unknown dtype, UnsupportedError when the chip lacks the dtype.
    """
    if not isinstance(dtype, str):
        raise SpecError(f"dtype must be a string ('bf16' or 'fp8'), got {dtype!r}.")
    dtype = dtype.strip().lower()
    if dtype not in GEMM_DTYPES:
        raise SpecError(f"Unknown GEMM dtype {dtype!r}. Use one of {', '.join(GEMM_DTYPES)}.")
    m_, n_, k_ = (_positive_ints(name, v) for name, v in (("m", m), ("n", n), ("k", k)))
    try:
        m_, n_, k_ = np.broadcast_arrays(np.atleast_1d(m_), np.atleast_1d(n_), np.atleast_1d(k_))
    except ValueError:
        raise SpecError(f"m, n and k do not broadcast together: shapes {np.shape(m)}, {np.shape(n)}, "
                        f"{np.shape(k)}.") from None
    hw, eng, *_ = resolve_chip(hardware, engine, dtype)
    return gemm_prediction(hw, eng, m_, n_, k_, dtype=dtype)

"""GEMM time model: y[m,n] = x[m,k] @ w[n,k]^T on one chip, vectorized over (m, n, k).

    T_math = 2*m*n*k / (peak * compute_frac * tile_eff * wave_eff)
    T_mem  = (m*k*a_bytes + n*k*w_bytes + m*n*out_bytes) / (hbm_bytes_per_s * hbm_frac)
    T      = fixed_s + (T_math^p + T_mem^p)^(1/p)          (p = 4: a smooth max, both regimes)

Factors (NVIDIA "Matrix Multiplication Background" guide; shared/reference/shapes-and-disaggregation.md):
- alignment: row strides (k * bytes of the inputs, n * bytes of the output) that are not a
  multiple of 16 bytes leave the TMA / tensor-core fast path. The rate depends on the largest
  power of two dividing the worst stride: 8-byte rows run at ``align8_frac`` of peak (4100 x 4100:
  ~260 TFLOP/s on the H100), 2-byte rows at ``align2_frac`` (a 50,257-column head: ~100), 4-byte
  rows at their geometric mean. Fitted on the H100 rows.
- tile quantization: partial tiles do full work. The library picks, per shape, the best of its
  CTA tiles (cuBLAS heuristics; CUTLASS): tile_n (weight rows) of 64, 128 or 256 and tile_m
  (activation rows, swap-AB on Hopper: the wgmma N extent) any multiple of 8 up to 256, within a
  128 x 256 register budget. A tile's rate falls with its operand reuse, AI = tm*tn / (tm + tn):
  rate = AI / (AI + 16), relative to the 128 x 256 tile (128 x 128: 0.95, 64 x 128: 0.86). Every
  candidate's time is non-decreasing in m, so is the best; fine tile_m steps keep it nearly
  continuous (no 40% jump from m = 128 to 129).
- wave quantization: tiles run in waves of `compute_units`; Hopper's stream-K scheduling hides
  most of it, so only `wave_penalty_frac` of the data-parallel loss is charged.
- small m (decode) is simply the memory-bound end of the same formula. On the misaligned path
  each CTA streams at a fixed rate, so a GEMM with fewer CTAs than SMs gets a share of the
  bandwidth (eager decode attention as batched matmuls over C+1 keys is such a case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..spec.engine import GemmParams

SMOOTH_P = 4.0
ALIGN_BYTES = 16
TILE_ELEMENTS_MAX = 128 * 256     # register / shared-memory budget of one CTA tile (elements of C)
TILE_REUSE_HALF = 16.0            # operand reuse at which a tile runs at half its asymptotic rate


def _tile_candidates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tile_m, tile_n, relative rate) of every CTA tile the library may pick (module docstring)."""
    tm, tn = (a.ravel() for a in np.meshgrid(np.arange(8.0, 257.0, 8.0), np.array([64.0, 128.0, 256.0])))
    keep = tm * tn <= TILE_ELEMENTS_MAX
    tm, tn = tm[keep], tn[keep]
    reuse = tm * tn / (tm + tn)
    ref = 128.0 * 256.0 / (128.0 + 256.0)
    rate = np.minimum(1.0, reuse / (reuse + TILE_REUSE_HALF) * (ref + TILE_REUSE_HALF) / ref)
    return tm, tn, rate


TILE_M, TILE_N, TILE_RATE = _tile_candidates()


def smooth_max(a: npt.ArrayLike, b: npt.ArrayLike, p: float = SMOOTH_P) -> np.ndarray:
    """(a^p + b^p)^(1/p) for a, b >= 0: the larger of two overlapped times, blended near equality.

    Computed as hi * (1 + (lo/hi)^p)^(1/p), so it stays finite for any finite input (a^4
    overflows above ~1e77)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    hi = np.maximum(a, b)
    lo = np.minimum(a, b)
    ratio = np.divide(lo, hi, out=np.zeros(hi.shape), where=(hi > 0) & np.isfinite(hi))
    return hi * (1.0 + ratio**p) ** (1.0 / p)


@dataclass(frozen=True)
class GemmTime:
    """Arrays (broadcast shape of the inputs). Seconds, FLOP/s, and the factors behind them."""

    latency_s: np.ndarray
    math_s: np.ndarray
    mem_s: np.ndarray
    flop: np.ndarray
    bytes: np.ndarray
    is_memory_bound: np.ndarray
    align_factor: np.ndarray     # rate kept by the alignment path (1 = fast path)
    tile_factor: np.ndarray      # useful / executed work from partial tiles, times the tile's rate
    wave_factor: np.ndarray      # useful / scheduled SM time from waves (after stream-K)
    occupancy: np.ndarray        # share of SMs the kernel keeps busy (below 1 only on the misaligned path)

    @property
    def flop_per_s(self) -> np.ndarray:
        return self.flop / self.latency_s


def row_alignment_bytes(row_bytes: npt.ArrayLike) -> np.ndarray:
    """Largest power of two (up to 16) dividing a row's byte size: the widest vector load it allows."""
    rb = np.asarray(row_bytes, dtype=float)
    out = np.ones(rb.shape)
    for a in (2.0, 4.0, 8.0, 16.0):
        out = np.where(np.mod(rb, a) == 0, a, out)
    return out


def _tile_wave(m: np.ndarray, n: np.ndarray, batch: np.ndarray, units: float,
               wave_penalty_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """(tile_eff * rate, wave_eff) of the best candidate tile for each (m, n, batch)."""
    m, n, batch = (np.expand_dims(x, -1) for x in np.broadcast_arrays(m, n, batch))
    mt = np.ceil(m / TILE_M)
    nt = np.ceil(n / TILE_N)
    tile = (m / (mt * TILE_M)) * (n / (nt * TILE_N)) * TILE_RATE
    tiles = mt * nt * batch
    with np.errstate(invalid="ignore", over="ignore"):
        dp_wave = tiles / (np.ceil(tiles / units) * units)
    dp_wave = np.where(np.isfinite(dp_wave), dp_wave, 1.0)     # astronomically many tiles: no wave loss
    wave = 1.0 - wave_penalty_frac * (1.0 - dp_wave)
    best = np.argmax(tile * wave, axis=-1)[..., None]
    return np.take_along_axis(tile, best, -1)[..., 0], np.take_along_axis(wave, best, -1)[..., 0]


def gemm_time(
    m: npt.ArrayLike, n: npt.ArrayLike, k: npt.ArrayLike, *,
    peak_flop_per_s: float,
    hbm_bytes_per_s: float,
    compute_units: int,
    params: GemmParams,
    a_bytes: float = 2.0,
    w_bytes: float = 2.0,
    out_bytes: float = 2.0,
    batch: npt.ArrayLike = 1,
    weight_reads: float = 1.0,
    max_align_bytes: float = ALIGN_BYTES,
    tile_rows: float | None = None,
) -> GemmTime:
    """Time of ``batch`` independent GEMMs y[m,n] = x[m,k] @ w[n,k]^T in one kernel.

    ``a_bytes``/``w_bytes``/``out_bytes`` are bytes per element of input, weight and output;
    ``weight_reads`` scales weight traffic (e.g. 0 when the weight is already resident);
    ``max_align_bytes`` caps the row alignment when a stride is not fixed by the sizes alone.
    ``tile_rows``: a dataflow chip's own matmul geometry (core/sram.py): only rows beyond a multiple of
    ``tile_rows`` are wasted and there are no waves; None (GPUs): the best CTA tile (module docstring).
    """
    m = np.asarray(m, dtype=float)
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    batch = np.asarray(batch, dtype=float)
    with np.errstate(over="ignore"):        # beyond ~1e308 FLOP the time is honestly infinite
        flop = 2.0 * m * n * k * batch
        nbytes = batch * (m * k * a_bytes + n * k * w_bytes * weight_reads + m * n * out_bytes)

    gemv = m <= 1
    elem_bytes = min(a_bytes, 2.0 ** math.floor(math.log2(w_bytes)))  # MXFP4: 0.5 (its scales are a separate tensor)
    align_bytes = np.minimum(np.minimum(row_alignment_bytes(k * elem_bytes),
                                        np.where(gemv, ALIGN_BYTES, row_alignment_bytes(n * out_bytes))),
                             max_align_bytes)
    a4 = float(np.sqrt(params.align8_frac * params.align2_frac))
    frac = np.select([align_bytes >= 16, align_bytes >= 8, align_bytes >= 4],
                     [params.compute_frac, params.align8_frac, a4], params.align2_frac)
    align = frac / params.compute_frac
    # The misaligned path streams at a fixed rate per CTA (64 x 128 tiles, no split-K): a kernel
    # takes at least one CTA's bytes at 1/units of the bandwidth, so few CTAs get little bandwidth.
    ctas = np.ceil(m / 64.0) * np.ceil(n / 128.0) * batch
    with np.errstate(over="ignore"):
        cta_bytes = (np.minimum(m, 64.0) * k * a_bytes + np.minimum(n, 128.0) * k * w_bytes * weight_reads
                     + np.minimum(m, 64.0) * np.minimum(n, 128.0) * out_bytes)
        slow_bytes = np.maximum(nbytes, compute_units * cta_bytes)
    fast = align_bytes >= ALIGN_BYTES
    occupancy = np.where(fast, 1.0, np.minimum(1.0, ctas / compute_units))

    if tile_rows is None:
        tile_eff, wave_eff = _tile_wave(m, n, batch, float(compute_units), params.wave_penalty_frac)
    else:
        mm = np.maximum(m, 1.0)
        tile_eff, wave_eff = mm / (np.ceil(mm / tile_rows) * tile_rows), np.ones(np.broadcast(m, n, batch).shape)
    with np.errstate(over="ignore"):
        math_s = flop / (peak_flop_per_s * frac * tile_eff * wave_eff)
        mem_s = np.where(fast, nbytes / (hbm_bytes_per_s * params.hbm_frac),
                         slow_bytes / (hbm_bytes_per_s * params.hbm_frac * params.misaligned_hbm_frac))
    latency = params.fixed_s + smooth_max(math_s, mem_s)
    return GemmTime(latency_s=latency, math_s=math_s, mem_s=mem_s, flop=flop, bytes=nbytes,
                    is_memory_bound=mem_s >= math_s, align_factor=align, tile_factor=tile_eff,
                    wave_factor=wave_eff, occupancy=occupancy)

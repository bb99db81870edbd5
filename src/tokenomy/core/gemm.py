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
- tile quantization: partial tiles do full work; the best of the usual CTA tiles is taken.
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

from ..spec.engine import GemmParams

# (tile_m, tile_n, relative rate of the tile shape); cuBLAS's usual CTA tiles (NVIDIA guide)
TILES = ((128, 256, 1.0), (256, 128, 1.0), (128, 128, 0.95), (64, 128, 0.85))
SMOOTH_P = 4.0
ALIGN_BYTES = 16


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
    tile_factor: np.ndarray      # useful / executed work from partial tiles
    wave_factor: np.ndarray      # useful / scheduled SM time from waves (after stream-K)
    occupancy: np.ndarray        # share of SMs the kernel keeps busy (below 1 only on the misaligned path)

    @property
    def flop_per_s(self) -> np.ndarray:
        return self.flop / self.latency_s


def row_alignment_bytes(row_bytes):
    """Largest power of two (up to 16) dividing a row's byte size: the widest vector load it allows."""
    rb = np.asarray(row_bytes, dtype=float)
    out = np.ones(rb.shape)
    for a in (2.0, 4.0, 8.0, 16.0):
        out = np.where(np.mod(rb, a) == 0, a, out)
    return out


def _tile_wave(m, n, batch, units, wave_penalty_frac):
    """Best (tile_eff * rate, wave_eff) over the candidate tiles."""
    best = None
    best_tile = best_wave = None
    for tm, tn, rate in TILES:
        mt = np.ceil(m / tm)
        nt = np.ceil(n / tn)
        tile_eff = (m * n) / (mt * tm * nt * tn)
        tiles = mt * nt * batch
        dp_wave = tiles / (np.ceil(tiles / units) * units)
        wave_eff = 1.0 - wave_penalty_frac * (1.0 - dp_wave)
        score = rate * tile_eff * wave_eff
        if best is None:
            best, best_tile, best_wave = score, tile_eff * rate, wave_eff
        else:
            better = score > best
            best = np.where(better, score, best)
            best_tile = np.where(better, tile_eff * rate, best_tile)
            best_wave = np.where(better, wave_eff, best_wave)
    return best_tile, best_wave


def gemm_time(
    m, n, k, *,
    peak_flop_per_s: float,
    hbm_bytes_per_s: float,
    compute_units: int,
    params: GemmParams,
    a_bytes: float = 2.0,
    w_bytes: float = 2.0,
    out_bytes: float = 2.0,
    batch=1,
    weight_reads=1.0,
) -> GemmTime:
    """Time of ``batch`` independent GEMMs y[m,n] = x[m,k] @ w[n,k]^T in one kernel.

    ``a_bytes``/``w_bytes``/``out_bytes`` are bytes per element of input, weight and output;
    ``weight_reads`` scales weight traffic (e.g. 0 when the weight is already resident).
    """
    m = np.asarray(m, dtype=float)
    n = np.asarray(n, dtype=float)
    k = np.asarray(k, dtype=float)
    batch = np.asarray(batch, dtype=float)
    flop = 2.0 * m * n * k * batch
    nbytes = batch * (m * k * a_bytes + n * k * w_bytes * weight_reads + m * n * out_bytes)

    gemv = m <= 1
    elem_bytes = min(a_bytes, 2.0 ** math.floor(math.log2(w_bytes)))  # MXFP4: 0.5 (its scales are a separate tensor)
    align_bytes = np.minimum(row_alignment_bytes(k * elem_bytes),
                             np.where(gemv, ALIGN_BYTES, row_alignment_bytes(n * out_bytes)))
    a4 = float(np.sqrt(params.align8_frac * params.align2_frac))
    frac = np.select([align_bytes >= 16, align_bytes >= 8, align_bytes >= 4],
                     [params.compute_frac, params.align8_frac, a4], params.align2_frac)
    align = frac / params.compute_frac
    # the misaligned path streams at a fixed rate per CTA (no split-K): few CTAs, little bandwidth
    ctas = np.ceil(m / 64.0) * np.ceil(n / 128.0) * batch
    slow_mem = params.hbm_frac * params.misaligned_hbm_frac * np.minimum(1.0, ctas / compute_units)
    fast = align_bytes >= ALIGN_BYTES
    mem_frac = np.where(fast, params.hbm_frac, slow_mem)
    occupancy = np.where(fast, 1.0, np.minimum(1.0, ctas / compute_units))

    tile_eff, wave_eff = _tile_wave(m, n, batch, float(compute_units), params.wave_penalty_frac)
    math_s = flop / (peak_flop_per_s * frac * tile_eff * wave_eff)
    mem_s = nbytes / (hbm_bytes_per_s * mem_frac)
    body = (math_s ** SMOOTH_P + mem_s ** SMOOTH_P) ** (1.0 / SMOOTH_P)
    latency = params.fixed_s + body
    return GemmTime(latency_s=latency, math_s=math_s, mem_s=mem_s, flop=flop, bytes=nbytes,
                    is_memory_bound=mem_s >= math_s, align_factor=align, tile_factor=tile_eff,
                    wave_factor=wave_eff, occupancy=occupancy)

"""Attention kernel times, vectorized.

Prefill (flash-style, causal): queries and keys in 128 x 128 blocks. A (sequence, head) pair
does nb*(nb+1)/2 blocks for nb = ceil(s/128) (fewer with a sliding window); the longest query
tile does nb blocks one after another, which dominates short sequences (critical path; the
sum fits the H100 rows better than a max, MAPE 5.6% vs 11%):

    T = fixed + blocks * t_block / units + prefill_critical_frac * nb * t_block
    t_block = 4 * 128 * 128 * H / (peak * prefill_frac / units)

Decode (one query per sequence over C cached tokens): memory-bound reading K and V, with the
score/value FLOPs as the compute bound (MLA decode is compute-heavier):

    T = fixed + smoothmax( kv_bytes / (hbm * decode_hbm_frac), flop / (peak * prefill_frac) )

Prefill on a dataflow system (core/sram.py): attention runs on the same matmul fabric as the GEMMs,
which streams one activation row per pass (``matmul_rows`` 1 on every such chip in the catalog), so a
query row does exactly its causal keys and no 128 x 128 block or per-core critical path applies:

    T = fixed + 2 * (d_qk + d_v) * heads * batch * pairs / (peak * prefill_frac)
    pairs = s (s + 1) / 2 per (sequence, head); with a window w < s: w (w + 1) / 2 + (s - w) w
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..spec.engine import AttentionParams
from .gemm import smooth_max

BLOCK = 128


def causal_blocks(s: npt.ArrayLike, window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Executed 128x128 blocks per (sequence, head) for causal attention over s tokens."""
    nb = np.ceil(np.asarray(s, dtype=float) / BLOCK)
    full = nb * (nb + 1.0) / 2.0
    if not window:
        return full, nb
    wb = np.ceil(window / BLOCK) + 1.0       # a query tile sees at most this many key tiles
    capped = np.where(nb <= wb, full, wb * (wb + 1.0) / 2.0 + (nb - wb) * wb)
    return capped, np.minimum(nb, wb)


def prefill_attention_time_s(batch: npt.ArrayLike, seq: npt.ArrayLike, *, n_heads: int, d_qk: int, d_v: int,
                             peak_flop_per_s: float, compute_units: int, params: AttentionParams,
                             window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seconds for one causal attention kernel over ``batch`` sequences of ``seq`` tokens.

    ``n_heads`` query heads on this chip, ``d_qk``/``d_v`` head dims of scores and values.
    Returns (latency_s, executed_flop).
    """
    blocks, crit = causal_blocks(seq, window)
    block_flop = 2.0 * BLOCK * BLOCK * (d_qk + d_v)
    t_block = block_flop / (peak_flop_per_s * params.prefill_frac / compute_units)
    total = np.asarray(batch, dtype=float) * n_heads * blocks
    body = total * t_block / compute_units + params.prefill_critical_frac * crit * t_block
    return params.prefill_fixed_s + body, total * block_flop


def causal_pairs(s: npt.ArrayLike, window: int | None = None) -> np.ndarray:
    """(query, key) pairs per (sequence, head) of causal attention over s tokens (module docstring)."""
    s = np.asarray(s, dtype=float)
    full = s * (s + 1.0) / 2.0
    if not window:
        return full
    return np.where(s <= window, full, window * (window + 1.0) / 2.0 + (s - window) * window)


def dataflow_prefill_attention_time_s(batch: npt.ArrayLike, seq: npt.ArrayLike, *, n_heads: int, d_qk: int,
                                      d_v: int, peak_flop_per_s: float, params: AttentionParams,
                                      window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and FLOP of one causal attention over ``batch`` sequences of ``seq`` tokens on a dataflow
    system's matmul fabric (module docstring); arguments as ``prefill_attention_time_s``."""
    flop = 2.0 * (d_qk + d_v) * n_heads * np.asarray(batch, dtype=float) * causal_pairs(seq, window)
    return params.prefill_fixed_s + flop / (peak_flop_per_s * params.prefill_frac), flop


def decode_attention_time_s(kv_bytes: npt.ArrayLike, flop: npt.ArrayLike, *, peak_flop_per_s: float,
                            hbm_bytes_per_s: float, params: AttentionParams) -> np.ndarray:
    """Seconds for one decode attention kernel reading ``kv_bytes`` and doing ``flop``."""
    mem = np.asarray(kv_bytes, dtype=float) / (hbm_bytes_per_s * params.decode_hbm_frac)
    math = np.asarray(flop, dtype=float) / (peak_flop_per_s * params.prefill_frac)
    return params.decode_fixed_s + smooth_max(mem, math)

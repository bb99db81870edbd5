"""Time of one step on one chip (one pipeline stage), vectorized over batch and length.

    T_step = step_fixed + sum_gemm count * T_gemm(m, n, k) + sum_layers T_attention
           + n_kernels * kernel_fixed + elementwise_bytes / (hbm * elementwise_frac) + T_comm

Prefill: b sequences of s new tokens (T = b*s rows through every GEMM, causal attention over s).
Decode: b sequences, one new token each (T = b), attention over the C cached tokens plus the new one.
GEMM terms depend on T alone, so they are computed once per distinct T and gathered back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CatalogError, UnsupportedError
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from .attention import decode_attention_time_s, prefill_attention_time_s
from .comms import allreduce_time_s, alltoall_time_s
from .gemm import gemm_time
from .graph import GemmOp, StepRecipe, gemm_compute_format, gemm_rows
from .precision import BYTES_PER_ELEMENT, Precision

B16 = 2.0


@dataclass(frozen=True)
class StepTime:
    """Seconds and work of one step on one chip; every field is an array of the broadcast shape."""

    latency_s: np.ndarray
    gemm_s: np.ndarray
    attention_s: np.ndarray
    elementwise_s: np.ndarray
    comm_s: np.ndarray
    fixed_s: np.ndarray          # kernel launch gaps and per-step overhead inside the above
    compute_bound_s: np.ndarray  # time in compute-bound kernels (slows when the clock drops)
    flop: np.ndarray             # useful FLOPs
    bytes: np.ndarray            # bytes moved to/from main memory
    active_s: np.ndarray         # SM-occupied time: kernel bodies weighted by the share of SMs they fill


def chip_rates(hw: HardwareSpec, precision: Precision | str) -> tuple[float, float, int]:
    """(peak FLOP/s of the compute format, main-memory bytes/s, compute units).

    ``precision`` is a Precision (its compute format is used) or a format name such as 'fp8'."""
    fmt = precision if isinstance(precision, str) else precision.compute
    peak = hw.peak(fmt)
    if peak is None:
        have = ", ".join(sorted(hw.peak_flop_per_s)) or "none"
        raise UnsupportedError(f"{hw.id} has no {fmt} matrix rate (it supports {have}); "
                               f"choose one of those precisions.")
    bw = hw.main_memory_bytes_per_s
    if bw <= 0:
        raise CatalogError(f"{hw.id} has no memory bandwidth figure; add hbm_tb_per_s or sram_tb_per_s.")
    return peak, bw, int(hw.compute_units or 128)


def _gemm_terms(op: GemmOp, rows: np.ndarray, hw: HardwareSpec, precision: Precision, bw: float, units: int,
                engine: EngineProfile, recipe: StepRecipe):
    """(latency, compute-bound latency, flop, bytes, active) of ``op`` for each row count (1-D unique):
    tokens for most GEMMs, sequences for the LM head (rows='seqs')."""
    m, batch = gemm_rows(op, rows, rows, top_k=recipe.top_k, n_experts=recipe.n_experts, ep=recipe.ep)
    g = gemm_time(m, op.n, op.k, peak_flop_per_s=hw.peak(gemm_compute_format(op, precision)), hbm_bytes_per_s=bw, compute_units=units,
                  params=engine.gemm, a_bytes=op.a_bytes,
                  w_bytes=op.w_bytes, out_bytes=op.out_bytes, batch=batch)
    cb = np.where(g.is_memory_bound, 0.0, g.latency_s)
    active = (g.latency_s - engine.gemm.fixed_s) * g.occupancy
    return g.latency_s * op.count, cb * op.count, g.flop * op.count, g.bytes * op.count, active * op.count


def _unique_apply(x: np.ndarray, fn):
    """Evaluate fn on the distinct values of x and gather back (fn returns a tuple of arrays)."""
    u, inv = np.unique(x.ravel(), return_inverse=True)
    outs = fn(u)
    return tuple(o[inv].reshape(x.shape) for o in outs)


def step_time(recipe: StepRecipe, hw: HardwareSpec, engine: EngineProfile, precision: Precision,
              batch, length, *, tp: int = 1) -> StepTime:
    """One step. ``length`` is s (new tokens per sequence) for prefill, C (cached tokens) for decode."""
    peak, bw, units = chip_rates(hw, precision)
    b, n = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(length, dtype=float))
    prefill = recipe.phase == "prefill"
    T = b * n if prefill else b
    zeros = np.zeros(b.shape)

    def gemms_of(rows_val, ops):
        def fn(u):
            acc = [np.zeros(u.shape) for _ in range(5)]
            for op in ops:
                terms = _gemm_terms(op, u, hw, precision, bw, units, engine, recipe)
                for a, t in zip(acc, terms):
                    a += t
            return tuple(acc)
        return _unique_apply(rows_val, fn)

    tok_ops = [g for g in recipe.gemms if g.rows != "seqs"]
    seq_ops = [g for g in recipe.gemms if g.rows == "seqs"]
    g1 = gemms_of(T, tok_ops)
    g2 = gemms_of(b, seq_ops)
    gemm_s, gemm_cb, flop, nbytes, active = (x + y for x, y in zip(g1, g2))
    n_gemm_kernels = sum(g.count for g in recipe.gemms)

    # attention
    attn_s = zeros.copy(); attn_cb = zeros.copy()
    kvb = BYTES_PER_ELEMENT[precision.kv_cache]
    ap = engine.attention
    for a in recipe.attns:
        if prefill:
            t, f = prefill_attention_time_s(b, n, n_heads=a.n_heads, d_qk=a.d_qk, d_v=a.d_v,
                                            peak_flop_per_s=hw.peak("bf16") or peak,   # attention runs in bf16
                                            compute_units=units, params=ap, window=a.window)
            attn_s = attn_s + a.count * t
            attn_cb = attn_cb + a.count * t
            active = active + a.count * (t - ap.prefill_fixed_s)
            flop = flop + a.count * f
            nbytes = nbytes + a.count * T * (a.n_heads * (a.d_qk + a.d_v) * B16 + a.kv_elements_per_token * kvb)
        else:
            keys = n + 1.0
            if a.window:
                keys = np.minimum(keys, a.window)
            kv_bytes = b * keys * a.kv_elements_per_token * kvb
            f = 2.0 * b * a.n_heads * keys * (a.decode_d_qk + a.decode_d_v)
            t_sdpa = decode_attention_time_s(kv_bytes, f, peak_flop_per_s=hw.peak("bf16") or peak,
                                             hbm_bytes_per_s=bw, params=ap)
            t, act = t_sdpa, t_sdpa - ap.decode_fixed_s
            if recipe.attention_impl in ("bmm", "best"):
                t_bmm, act_bmm = _bmm_decode_s(b, keys, a, hw, engine, bw, units, kvb)
                use_bmm = (t_bmm < t_sdpa) | (recipe.attention_impl == "bmm")
                t, act = np.where(use_bmm, t_bmm, t_sdpa), np.where(use_bmm, act_bmm, act)
            attn_s = attn_s + a.count * t
            active = active + a.count * act
            flop = flop + a.count * f
            nbytes = nbytes + a.count * kv_bytes

    # elementwise and small kernels
    pad = np.where(np.mod(T, 16) != 0, recipe.ew_pad_kernels, 0.0)
    ew_kernels = recipe.ew_kernels + pad
    ew_bytes = recipe.ew_bytes_per_token * T + recipe.ew_bytes_per_seq * b
    ew_s = ew_kernels * engine.kernel_fixed_s + ew_bytes / (bw * engine.elementwise_hbm_frac)
    nbytes = nbytes + ew_bytes
    active = active + ew_bytes / (bw * engine.elementwise_hbm_frac)

    # communication
    link = hw.scaleup_bytes_per_s_unidir or 1.0
    comm = zeros.copy()
    if recipe.allreduce_count:
        comm = comm + recipe.allreduce_count * allreduce_time_s(T * recipe.allreduce_bytes_per_token, tp, link, engine.comm)
    if recipe.alltoall_count:
        comm = comm + recipe.alltoall_count * alltoall_time_s(T * recipe.alltoall_bytes_per_token, recipe.ep, link, engine.comm)

    fixed = (engine.step_fixed_s + ew_kernels * engine.kernel_fixed_s + n_gemm_kernels * engine.gemm.fixed_s) + zeros
    latency = engine.step_fixed_s + gemm_s + attn_s + ew_s + comm
    return StepTime(latency_s=latency, gemm_s=gemm_s, attention_s=attn_s, elementwise_s=ew_s, comm_s=comm,
                    fixed_s=fixed, compute_bound_s=gemm_cb + attn_cb, flop=flop, bytes=nbytes, active_s=active)


def _bmm_decode_s(b, keys, a, hw, engine, bw, units, kvb):
    """Eager decode attention as two batched matmuls with a softmax between (measure.py 'bmm').

    scores = q[b*K, G, H] @ K^T[b*K, H, keys] -> .float() -> / sqrt(H) -> softmax -> .to(bf16)
    -> @ V[b*K, keys, H]. keys = C + 1 is rarely a multiple of 8, so both GEMMs take the
    misaligned path (core/gemm.py).
    """
    G = a.n_heads // a.n_kv_heads
    batch = b * a.n_kv_heads
    peak16 = hw.peak("bf16")
    qk = gemm_time(G, keys, a.decode_d_qk, peak_flop_per_s=peak16, hbm_bytes_per_s=bw, compute_units=units,
                   params=engine.gemm, a_bytes=2.0, w_bytes=kvb, out_bytes=2.0, batch=batch)
    pv = gemm_time(G, a.decode_d_v, keys, peak_flop_per_s=peak16, hbm_bytes_per_s=bw, compute_units=units,
                   params=engine.gemm, a_bytes=2.0, w_bytes=kvb, out_bytes=2.0, batch=batch)
    scores = b * a.n_heads * keys
    ew_body = scores * 28.0 / (bw * engine.elementwise_hbm_frac)   # float, div, softmax, cast: 28 bytes per score
    fixed = engine.gemm.fixed_s
    active = (qk.latency_s - fixed) * qk.occupancy + (pv.latency_s - fixed) * pv.occupancy + ew_body
    return qk.latency_s + pv.latency_s + 4 * engine.kernel_fixed_s + ew_body, active

"""Time of one step on one chip (one pipeline stage), vectorized over batch and length.

    gpu_s  = sum_gemm count * T_gemm(m, n, k) + sum_layers T_attention
           + n_kernels * kernel_fixed + elementwise_bytes / (hbm * elementwise_frac) + T_comm
           (+ layers * layer_fixed_s and collectives in chip hops on SRAM dataflow systems: core/sram.py)
    host_s = step_fixed + host_per_seq * b                (scheduler, input preparation, sampling on the CPU)
    T_step = max(gpu_s, host_s) with async scheduling (host prepares step n+1 during step n), else gpu_s + host_s

Prefill: b sequences of s new tokens (T = b*s rows through every GEMM, causal attention over s).
Decode: b sequences, one new token each (T = b), attention over the C cached tokens plus the new one.
A verify step of speculative decoding (``queries`` q > 1, core/speculative.py) runs q query tokens per
sequence: T = b*q rows through every GEMM and the LM head (weights read once), attention reads each
sequence's C + q keys once and does q times the score/value FLOPs.
Attention data-parallel D (core/graph.py): every term but the routed-expert GEMMs runs the busiest
group's ceil(b/D) sequences; the routed experts see the tokens of all groups.
GEMM terms depend on T alone, so they are computed once per distinct T and gathered back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from .attention import dataflow_prefill_attention_time_s, decode_attention_time_s, prefill_attention_time_s
from .comms import allreduce_time_s, alltoall_time_s
from .gemm import gemm_time
from .graph import AttnOp, GemmOp, StepRecipe, gemm_compute_format, gemm_rows
from .precision import BYTES_PER_ELEMENT, Precision
from .rates import attention_rate, chip_rates, matrix_rate
from .sram import hop_comm, is_dataflow_system

__all__ = ["StepTime", "chip_rates", "step_time"]   # chip_rates lives in core/rates.py

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
    gpu_s: np.ndarray            # device time of the step (latency_s less the host share not overlapped)
    host_s: np.ndarray           # host (CPU) time of the step
    once_s: np.ndarray           # device time of the once-per-step work in gpu_s: LM head, last-position norm


GemmTerms = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _gemm_terms(op: GemmOp, rows: np.ndarray, hw: HardwareSpec, precision: Precision, bw: float, units: int,
                engine: EngineProfile, recipe: StepRecipe) -> GemmTerms:
    """(latency, compute-bound latency, flop, bytes, active) of ``op`` for each row count (1-D unique):
    tokens for most GEMMs, sequences for the LM head (rows='seqs')."""
    m, batch = gemm_rows(op, rows, rows, top_k=recipe.top_k, n_experts=recipe.n_experts, ep=recipe.ep)
    if op.rows != "seqs":                    # eager fp8: each linear's rows padded (routed: per expert)
        m = np.ceil(m / recipe.gemm_row_multiple) * recipe.gemm_row_multiple
    g = gemm_time(m, op.n, op.k, peak_flop_per_s=matrix_rate(hw, gemm_compute_format(op, precision)),
                  hbm_bytes_per_s=bw, compute_units=units, params=engine.gemm, a_bytes=op.a_bytes,
                  w_bytes=op.w_bytes, out_bytes=op.out_bytes, batch=batch, tile_rows=hw.matmul_rows)
    cb = np.where(g.is_memory_bound, 0.0, g.latency_s)
    active = (g.latency_s - engine.gemm.fixed_s) * g.occupancy
    return g.latency_s * op.count, cb * op.count, g.flop * op.count, g.bytes * op.count, active * op.count


def _gemms(rows: np.ndarray, ops: Sequence[GemmOp], term: Callable[[GemmOp, np.ndarray], GemmTerms]) -> GemmTerms:
    """Sum of ``term`` over ``ops``, evaluated once per distinct row count and gathered back."""
    u, inv = np.unique(rows.ravel(), return_inverse=True)
    acc = [np.zeros(u.shape) for _ in range(5)]
    for op in ops:
        for total, t in zip(acc, term(op, u), strict=True):
            total += t
    a, b, c, d, e = (x[inv].reshape(rows.shape) for x in acc)
    return a, b, c, d, e


def step_time(recipe: StepRecipe, hw: HardwareSpec, engine: EngineProfile, precision: Precision,
              batch: npt.ArrayLike, length: npt.ArrayLike, *, tp: int = 1, queries: int = 1) -> StepTime:
    """One step. ``length`` is s (new tokens per sequence) for prefill, C (cached tokens) for decode;
    ``queries``: query tokens per sequence of a decode step (module docstring)."""
    peak, bw, units = chip_rates(hw, precision)
    b, n = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(length, dtype=float))
    prefill = recipe.phase == "prefill"
    T_all = b * n if prefill else b * queries
    if recipe.dp_attention > 1:          # attention DP: the busiest of D groups runs ceil(b / D) sequences
        b = np.ceil(b / recipe.dp_attention)
    T = b * n if prefill else b * queries
    zeros = np.zeros(b.shape)

    def term(op: GemmOp, rows: np.ndarray) -> GemmTerms:
        return _gemm_terms(op, rows, hw, precision, bw, units, engine, recipe)

    g1: tuple[np.ndarray, ...]
    if recipe.dp_attention > 1:          # routed experts see the tokens of every group (T_all)
        g0 = _gemms(T, [g for g in recipe.gemms if g.rows == "tokens"], term)
        ge = _gemms(T_all, [g for g in recipe.gemms if g.rows == "expert"], term)
        g1 = tuple(x + y for x, y in zip(g0, ge, strict=True))
    else:
        g1 = _gemms(T, [g for g in recipe.gemms if g.rows != "seqs"], term)
    g2 = _gemms(b if prefill else T, [g for g in recipe.gemms if g.rows == "seqs"], term)
    gemm_s, gemm_cb, flop, nbytes, active = (x + y for x, y in zip(g1, g2, strict=True))
    n_gemm_kernels = sum(g.count for g in recipe.gemms)

    # attention (bf16 matrix rate)
    attn_s, attn_cb = zeros.copy(), zeros.copy()
    kvb = BYTES_PER_ELEMENT[precision.kv_cache]
    ap = engine.attention
    peak16 = attention_rate(hw, peak)
    dataflow = is_dataflow_system(hw)
    for a in recipe.attns:
        if prefill:
            if dataflow:                 # the GEMMs' fabric, one query row per pass (core/attention.py)
                t, f = dataflow_prefill_attention_time_s(b, n, n_heads=a.n_heads, d_qk=a.d_qk, d_v=a.d_v,
                                                         peak_flop_per_s=peak16, params=ap, window=a.window)
            else:
                t, f = prefill_attention_time_s(b, n, n_heads=a.n_heads, d_qk=a.d_qk, d_v=a.d_v,
                                                peak_flop_per_s=peak16, compute_units=units, params=ap,
                                                window=a.window)
            attn_cb = attn_cb + a.count * t
            act = t - ap.prefill_fixed_s
            moved = T * (a.n_heads * (a.d_qk + a.d_v) * B16 + a.kv_elements_per_token * kvb)
        else:
            keys = n + queries if not a.window else np.minimum(n + queries, a.window)
            moved = b * keys * a.kv_elements_per_token * kvb
            f = 2.0 * T * a.n_heads * keys * (a.decode_d_qk + a.decode_d_v)
            t = decode_attention_time_s(moved, f, peak_flop_per_s=peak16, hbm_bytes_per_s=bw, params=ap)
            act = t - ap.decode_fixed_s
            if recipe.attention_impl in ("bmm", "best") and queries == 1:
                t_bmm, act_bmm = _bmm_decode_s(b, keys, a, hw, engine, bw, units, kvb, peak16)
                use_bmm = (t_bmm < t) | (recipe.attention_impl == "bmm")
                t, act = np.where(use_bmm, t_bmm, t), np.where(use_bmm, act_bmm, act)
        attn_s = attn_s + a.count * t
        active = active + a.count * act
        flop = flop + a.count * f
        nbytes = nbytes + a.count * moved

    # elementwise and small kernels
    seqs = b if prefill else T                     # positions through the LM head
    ew_bytes = recipe.ew_bytes_per_token * T + recipe.ew_bytes_per_seq * seqs
    ew_body = ew_bytes / (bw * engine.elementwise_hbm_frac)
    ew_s = recipe.ew_kernels * engine.kernel_fixed_s + ew_body
    nbytes = nbytes + ew_bytes
    active = active + ew_body

    # communication
    link = hw.scaleup_bytes_per_s_unidir or 1.0
    comm = zeros.copy()
    if recipe.allreduce_count:
        comm = comm + recipe.allreduce_count * allreduce_time_s(T * recipe.allreduce_bytes_per_token, tp, link,
                                                                hop_comm(engine.comm, hw, "allreduce", tp))
    if recipe.alltoall_count:
        comm = comm + recipe.alltoall_count * alltoall_time_s(T * recipe.alltoall_bytes_per_token, recipe.ep, link,
                                                              hop_comm(engine.comm, hw, "alltoall", recipe.ep))

    kernels_s = recipe.ew_kernels * engine.kernel_fixed_s + n_gemm_kernels * engine.gemm.fixed_s
    host = engine.step_fixed_s + engine.host_per_seq_s * b
    layers_fixed = recipe.layers * hw.layer_fixed_s           # dataflow systems (core/sram.py); 0 elsewhere
    fixed = host + kernels_s + layers_fixed
    gpu = gemm_s + attn_s + ew_s + comm + layers_fixed
    latency = np.maximum(gpu, host) if engine.async_scheduling else gpu + host
    once = g2[0] + recipe.ew_bytes_per_seq * seqs / (bw * engine.elementwise_hbm_frac)
    return StepTime(latency_s=latency, gemm_s=gemm_s, attention_s=attn_s, elementwise_s=ew_s, comm_s=comm,
                    fixed_s=fixed, compute_bound_s=gemm_cb + attn_cb, flop=flop, bytes=nbytes, active_s=active,
                    gpu_s=gpu, host_s=host, once_s=once)


def _bmm_decode_s(b: np.ndarray, keys: np.ndarray, a: AttnOp, hw: HardwareSpec, engine: EngineProfile,
                  bw: float, units: int, kvb: float, peak16: float) -> tuple[np.ndarray, np.ndarray]:
    """Eager decode attention as two batched matmuls with a softmax between (measure.py 'bmm').

    scores = q[b*K, G, H] @ K^T[b*K, H, keys] -> .float() -> / sqrt(H) -> softmax -> .to(bf16)
    -> @ V[b*K, keys, H]. The scores' row stride is keys = C + 1 elements, and C grows by one
    every step: 7 steps in 8 it is not a multiple of 8 and both GEMMs take the misaligned path
    (core/gemm.py), as every measured bmm row did. The model charges that path at every context:
    timing the 1-in-8 aligned step on the fast path made latency fall by half from context 4094
    to 4095 and rise again at 4096, and padding keys to 8 instead misses the measured rows by 30%.
    """
    G = a.n_heads // a.n_kv_heads
    batch = b * a.n_kv_heads
    qk = gemm_time(G, keys, a.decode_d_qk, peak_flop_per_s=peak16, hbm_bytes_per_s=bw, compute_units=units,
                   params=engine.gemm, w_bytes=kvb, batch=batch, max_align_bytes=2.0)
    pv = gemm_time(G, a.decode_d_v, keys, peak_flop_per_s=peak16, hbm_bytes_per_s=bw, compute_units=units,
                   params=engine.gemm, w_bytes=kvb, batch=batch, max_align_bytes=2.0)
    scores = b * a.n_heads * keys
    ew_body = scores * 28.0 / (bw * engine.elementwise_hbm_frac)   # float, div, softmax, cast: 28 bytes per score
    fixed = engine.gemm.fixed_s
    active = (qk.latency_s - fixed) * qk.occupancy + (pv.latency_s - fixed) * pv.occupancy + ew_body
    return qk.latency_s + pv.latency_s + 4 * engine.kernel_fixed_s + ew_body, active

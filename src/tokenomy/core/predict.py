"""One prediction: model + chip + engine + precision + parallelism + phase + sizes -> numbers.

A replica is tp * pp chips. A step runs ``batch`` sequences (one micro-batch) through every stage;
m micro-batches are in flight (``micro_batches``, default pp: the pipeline full).
    stage_s      = the bottleneck stage's step time (core/phases.py: ceil(L/pp) layers and the LM head),
                   after the power cap (core/energy.py); host work per step inside it (max or sum)
    latency_s    = host (+) [once + layers_s * L / ceil(L/pp) + (pp - 1) * T_p2p]   (one step, end to end:
                   the sum over stages, the LM head and the host once; (+) = max with async scheduling)
    prefill:  tokens_per_s = min(m, pp) / pp * T / stage_s     (fewer micro-batches than stages: bubble)
              tokens_per_s_per_user = s / latency_s
    decode:   cycle = max(latency_s, m * stage_s)  (a micro-batch's next token needs its previous one)
              tokens_per_s = m * T / cycle,  tokens_per_s_per_user = 1 / cycle
    (at pp = 1: both = T / stage_s; with m = pp and hand-offs shorter than the host and head time,
    decode is T / stage_s too.)  power_w = chips * P_chip,  energy_j_per_token = power_w / tokens_per_s
Prefill: T = b*s tokens. Decode: T = b. Memory holds the KV cache of b * m sequences (core/memory.py),
ceil(b * m / D) of them on a chip under attention data-parallel D (``dp_attention``; a replica is still
tp * pp chips, tp = D groups of tp / D).
The KV format follows the engine's convention unless the precision gives kv= (core/precision.py).
When weights and KV exceed the fast tier (HBM, or SRAM on SRAM-first chips) the rest streams from
the slow tier (DDR) every step, overlapped with compute: stage_s >= spill / ddr bytes/s, and the
prediction says so (``weights_streamed``). Capacity tiers off the inference path (MemoryX) never hold
weights. On SRAM-first chips prefill is chunked: SRAM holds one chunk's activations (core/memory.py).
Pipelined weights-in-SRAM deployments (pp > 1) hold the embedding and LM head on chips of their own
(core/memory.sram_tables: one more stage, of tp x k chips) counted in ``chips``, power and cost:
    stage_s   = max(layer stage, table stage),  table stage = once * tp / (tp k)  (LM head split k times more)
    latency_s = table stage + layers + (pp + 1) hand-offs (into the table stage and out of it)
and the table chips' weights and fp32 logits must fit their SRAM too (``fits``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.model import ModelSpec
from .comms import p2p_time_s
from .energy import chip_power
from .graph import build_recipe, stage_layers
from .memory import MemoryUse, memory_use, spill_time_s, sram_chunk_tokens, sram_tables, streamed_text
from .phases import step_time
from .precision import BYTES_PER_ELEMENT, Precision, engine_kv
from .rates import chip_rates
from .sram import deployment_text, hop_comm, weights_in_sram


@dataclass(frozen=True)
class Prediction:
    """Arrays of the broadcast shape of (batch, length); scalars give 0-d arrays."""

    phase: str
    model: str
    hardware: str
    engine: str
    precision: str
    kv_cache: str                    # KV-cache format and why: 'fp8 (given)', 'bf16 (checkpoint)', ...
    tp: int
    pp: int
    ep: int
    chips: int
    micro_batches: np.ndarray        # micro-batches in flight (pp unless given)
    batch: np.ndarray
    seq: np.ndarray | None
    context: np.ndarray | None
    latency_s: np.ndarray
    stage_s: np.ndarray
    tokens_per_s: np.ndarray
    tokens_per_s_per_user: np.ndarray
    energy_j_per_token: np.ndarray
    power_w: np.ndarray
    power_w_per_chip: np.ndarray
    clock_frac: np.ndarray
    memory_bytes: np.ndarray
    weight_bytes: float
    kv_cache_bytes: np.ndarray
    memory_capacity_bytes: float
    fits: np.ndarray
    gemm_s: np.ndarray
    attention_s: np.ndarray
    elementwise_s: np.ndarray
    comm_s: np.ndarray
    overhead_s: np.ndarray
    flop_per_step: np.ndarray
    bytes_per_step: np.ndarray
    bound: np.ndarray
    source: str
    speculative: str = "off"         # speculative decoding (core/speculative.py): method:K,accept=a (source)
    tokens_per_step: float = 1.0     # tokens emitted per decode step and sequence (1 without speculation)
    dp_attention: int = 1            # attention data-parallel groups (core/graph.py)
    weights_streamed: str = ""       # non-empty when weights/KV stream from a slow tier (DDR) every step
    deployment: str = ""             # dataflow systems: chips, split, where weights live (core/sram.py)

    def fit_reason(self, i: int | None = None) -> str:
        """Why point ``i`` (flat index into the broadcast shape) does not fit; empty when it does."""
        shape = np.shape(self.latency_s)

        def pick(a: npt.ArrayLike) -> Any:
            return np.broadcast_to(a, shape).ravel()[i or 0] if shape else np.asarray(a)[()]
        if bool(pick(self.fits)):
            return ""
        need = float(pick(self.memory_bytes))
        kv = float(pick(self.kv_cache_bytes))
        cap = self.memory_capacity_bytes
        return (f"needs {need / 1e9:.1f} GB per chip (weights {self.weight_bytes / 1e9:.1f} GB, KV cache "
                f"{kv / 1e9:.1f} GB, plus activations) but {cap / 1e9:.1f} GB is available after the reserve; "
                f"use more chips (--tp), a smaller batch or context, or a lower precision")

    def records(self) -> list[dict[str, Any]]:
        """One plain dict per point (JSON-ready), in row-major order of the broadcast shape."""
        shape = np.shape(self.latency_s)
        n = int(np.prod(shape)) if shape else 1
        cols: dict[str, list[Any]] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            cols[f.name] = (np.broadcast_to(v, shape).ravel().tolist() if isinstance(v, (np.ndarray, np.generic))
                            else [v] * n)
        for k in ("batch", "seq", "context"):
            if k in cols:
                cols[k] = [int(x) for x in cols[k]]
        fits = cols["fits"]
        cols["fit_reason"] = [self.fit_reason(i) if not ok else "" for i, ok in enumerate(fits)]
        keys = list(cols)
        return [dict(zip(keys, vals, strict=True)) for vals in zip(*(cols[k] for k in keys), strict=True)]


def decode_cycle_s(latency_s: npt.ArrayLike, stage_s: npt.ArrayLike, micro_batches: npt.ArrayLike) -> np.ndarray:
    """Time between two decode steps of one sequence, s: its own step through every stage (latency), or the
    bottleneck stage serving all ``micro_batches`` in flight, whichever is longer (the pipeline rule)."""
    return np.maximum(np.asarray(latency_s, dtype=float),
                      np.asarray(micro_batches, dtype=float) * np.asarray(stage_s, dtype=float))


def predict_core(model: ModelSpec, hw: HardwareSpec, engine: EngineProfile, precision: Precision, *,
                 phase: str, batch: npt.ArrayLike, length: npt.ArrayLike, tp: int = 1, pp: int = 1,
                 ep: int = 1, micro_batches: npt.ArrayLike | None = None, queries: int = 1,
                 dp_attention: int = 1) -> Prediction:
    """Pure: specs in, Prediction out (inputs already validated). ``queries`` > 1: a speculative verify
    step, q query tokens per sequence (core/phases.py; core/speculative.py turns it into tokens/s)."""
    precision = engine_kv(precision, engine.kv_cache_format)
    recipe = build_recipe(model, engine, precision, phase=phase, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention)
    st = step_time(recipe, hw, engine, precision, batch, length, tp=tp // dp_attention, queries=queries)
    peak, bw, _ = chip_rates(hw, precision)
    b, n = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(length, dtype=float))
    T = b * n if phase == "prefill" else b * queries
    limit = hw.power_limit_w if hw.power_limit_w else np.nan
    pw = chip_power(st.flop, st.bytes, st.latency_s, st.compute_bound_s, st.active_s, peak_flop_per_s=peak,
                    mem_bytes_per_s=bw, power_limit_w=limit, idle_w=hw.idle_power_w, params=engine.power)
    stage = np.where(np.isfinite(pw.latency_s), pw.latency_s, st.latency_s)
    tables = sram_tables(model, hw, tp // dp_attention, pp, engine.memory.reserve_frac,
                         stage_weight_bytes=recipe.weight_bytes)
    layer_stage, head_s, handoffs = stage, st.once_s, pp - 1
    if tables is not None:                # embedding and LM head on chips of their own (module docstring)
        recipe = replace(recipe, weight_bytes=recipe.weight_bytes - tables.moved_bytes)
        head_s = st.once_s * (tp // dp_attention) / tables.chips
        stage, handoffs = np.maximum(stage - st.once_s, head_s), pp + 1
    cache = n if phase == "prefill" else n + queries
    m = np.asarray(pp if micro_batches is None else micro_batches, dtype=float)
    def held(tokens: npt.ArrayLike) -> MemoryUse:
        return memory_use(recipe, batch=b, tokens_in_cache=cache, tokens_in_step=tokens,
                          capacity_bytes=hw.weight_memory_bytes, vocab_size=model.vocab_size, params=engine.memory,
                          a_bytes=BYTES_PER_ELEMENT["bf16"], sequences_in_flight=b * m, dp_attention=dp_attention)
    mem = held(T)
    if weights_in_sram(hw):               # chunked prefill: SRAM holds one chunk's activations
        one = held(b).memory_bytes
        mem = held(sram_chunk_tokens(recipe, hw, T, b, one, engine.memory.reserve_frac))
    spill = spill_time_s(mem.memory_bytes, hw)
    stage, layer_stage = np.maximum(stage, spill), np.maximum(layer_stage, spill)
    latency = stage if pp == 1 else _pipeline_latency(layer_stage, st, engine, model.n_layers, pp, T, recipe, hw,
                                                      head_s, handoffs)
    chips = tp * pp
    weight_bytes, need, fits = mem.weight_bytes, mem.memory_bytes, mem.fits
    if tables is not None:                # the table chips: their weights and the step's fp32 logits
        table_need = tables.weight_bytes + b * model.vocab_size * 4.0 / tables.chips
        chips += tables.chips
        weight_bytes, need = max(weight_bytes, tables.weight_bytes), np.maximum(need, table_need)
        fits = fits & (table_need + mem.reserve_bytes <= mem.capacity_bytes)
    if phase == "prefill":
        tokens_per_s = np.minimum(m, pp) / pp * T / stage
        per_user = n / latency
    else:
        cycle = decode_cycle_s(latency, stage, m)
        tokens_per_s = m * T / cycle
        per_user = 1.0 / cycle
    power_total = chips * pw.power_w
    overhead = st.fixed_s
    parts = np.stack([st.gemm_s + st.attention_s + st.elementwise_s - overhead, overhead, st.comm_s])
    compute_share = np.where(st.latency_s > 0, st.compute_bound_s / st.latency_s, 0)
    kind = np.where(compute_share > 0.5, "compute", "memory")
    bound = np.where(np.argmax(parts, axis=0) == 1, "overhead", np.where(np.argmax(parts, axis=0) == 2, "comm", kind))
    source = engine.source_for(hw.id)
    streamed = streamed_text(hw, mem.weight_bytes)
    return Prediction(
        phase=phase, model=model.name, hardware=hw.id, engine=engine.name, precision=precision.label,
        kv_cache=f"{precision.kv_cache} ({precision.kv_source})", tp=tp, pp=pp, ep=ep, chips=chips,
        dp_attention=dp_attention,
        micro_batches=m, batch=b, seq=n if phase == "prefill" else None,
        context=n if phase == "decode" else None, latency_s=latency, stage_s=stage, tokens_per_s=tokens_per_s,
        tokens_per_s_per_user=per_user, energy_j_per_token=power_total / tokens_per_s, power_w=power_total,
        power_w_per_chip=pw.power_w, clock_frac=pw.clock_frac, memory_bytes=need,
        weight_bytes=weight_bytes, kv_cache_bytes=mem.kv_bytes,
        memory_capacity_bytes=mem.capacity_bytes - mem.reserve_bytes, fits=fits,
        gemm_s=st.gemm_s, attention_s=st.attention_s, elementwise_s=st.elementwise_s, comm_s=st.comm_s,
        overhead_s=overhead, flop_per_step=st.flop * chips, bytes_per_step=st.bytes * chips, bound=bound,
        source=source, weights_streamed=streamed,
        deployment=deployment_text(hw, model.n_layers, tp, pp, ep, weight_bytes, streamed,
                                   table_chips=tables.chips if tables else 0),
    )


def _pipeline_latency(stage, st, engine: EngineProfile, n_layers: int, pp: int, T, recipe, hw: HardwareSpec,
                      head_s, handoffs: int):
    """One step through all pp stages (module docstring): the bottleneck layer stage's per-layer time
    scaled to all L layers, the LM head (``head_s``) and the host once, and ``handoffs`` hand-offs."""
    host = st.host_s
    # async: host-bound stages (stage == host) run the GPU for gpu_s only
    gpu = np.where(stage > host, stage, np.minimum(st.gpu_s, stage)) if engine.async_scheduling else stage - host
    layers_s = np.maximum(gpu - st.once_s, 0.0)
    link = hw.scaleup_bytes_per_s_unidir or 1.0
    p2p = p2p_time_s(T * recipe.p2p_bytes_per_token, link, hop_comm(engine.comm, hw, "p2p", 2))
    pipe = head_s + layers_s * n_layers / stage_layers(n_layers, pp) + handoffs * p2p
    return np.maximum(pipe, host) if engine.async_scheduling else pipe + host

"""Memory per chip: weights, KV cache, activations and reserve against capacity.

    KV  = N * (C_full * kv_full + min(C, window) * kv_window)       bytes, C = cached + new tokens
          N = sequences in flight: b per micro-batch x micro-batches (pp in steady state); each
          pipeline stage holds the KV of its own layers (kv_* are per chip) for every one of them;
          under attention data-parallel D a chip holds its group's ceil(N / D) (MLA latent KV sharded
          by sequence, not replicated on every chip)
    act = T * act_elements_per_token * a_bytes  (+ b * V * 4 for fp32 logits)
    need = weights + KV + act + reserve_frac * capacity <= capacity
Pipelined SRAM-first deployments (``sram_tables``) put the embedding and LM head on chips of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..spec.engine import MemoryParams
from ..spec.hardware import HardwareSpec
from .graph import StepRecipe, table_bytes
from .sram import weights_in_sram


@dataclass(frozen=True)
class MemoryUse:
    weight_bytes: float
    kv_bytes: np.ndarray
    activation_bytes: np.ndarray
    reserve_bytes: float
    memory_bytes: np.ndarray      # weights + KV + activations (what the step needs resident)
    capacity_bytes: float
    fits: np.ndarray


def memory_use(recipe: StepRecipe, *, batch: npt.ArrayLike, tokens_in_cache: npt.ArrayLike,
               tokens_in_step: npt.ArrayLike, capacity_bytes: float, vocab_size: int, params: MemoryParams,
               a_bytes: float = 2.0, sequences_in_flight: npt.ArrayLike | None = None,
               dp_attention: int = 1) -> MemoryUse:
    """Bytes one chip holds for a step (module docstring) and whether they fit ``capacity_bytes``.
    ``sequences_in_flight`` (default ``batch``) sets the KV cache; ``batch`` the step's own buffers.
    ``dp_attention`` D: a chip holds the KV and buffers of the busiest of D groups, ceil(N / D), ceil(b / D)."""
    b = np.asarray(batch, dtype=float)
    nseq = b if sequences_in_flight is None else np.asarray(sequences_in_flight, dtype=float)
    if dp_attention > 1:
        b, nseq = np.ceil(b / dp_attention), np.ceil(nseq / dp_attention)
        tokens_in_step = np.asarray(tokens_in_step, dtype=float) * b / np.maximum(np.asarray(batch, float), 1.0)
    c = np.asarray(tokens_in_cache, dtype=float)
    T = np.asarray(tokens_in_step, dtype=float)
    win = recipe.window or 0
    cw = np.minimum(c, win) if win else c
    kv = nseq * (c * recipe.kv_bytes_per_token + cw * recipe.kv_bytes_per_token_windowed)
    act = T * recipe.act_elements_per_token * a_bytes + b * vocab_size * 4.0
    reserve = params.reserve_frac * capacity_bytes
    need = recipe.weight_bytes + kv + act
    return MemoryUse(weight_bytes=recipe.weight_bytes, kv_bytes=kv, activation_bytes=act, reserve_bytes=reserve,
                     memory_bytes=need, capacity_bytes=capacity_bytes, fits=need + reserve <= capacity_bytes)


# A table up to this share of its stage's weights stays on the stage (assumption: it then adds at most about a
# tenth to the stage's size and time; a larger one gets chips of its own, TableStages).
TABLE_SHARE_MAX = 0.1


@dataclass(frozen=True)
class TableStages:
    """The embedding and LM head of a pipelined weights-in-SRAM deployment on chips of their own: one
    extra pipeline stage between the last layer stage and the first (the token loops through it: LM head,
    sampling, then the next token's embedding row) of tp x k chips, both tables split vocab-parallel over
    them, k the fewest groups of tp chips whose SRAM (after the reserve) holds both. Only where a table
    would be more than ``TABLE_SHARE_MAX`` of the weights of the stage that holds it: the 16-bit tables
    (2.1 GB each for Llama-3.1's 128,256 x 8,192) weigh more than a decoder layer, so on Groq (a few layers
    per stage) a stage holding one would set the chip count and the stage time; on a wafer holding 20
    layers (35 GB) a table is 6% and stays on its stage (Llama-3.1-70B at 16-bit on 4 CS-3, sram-systems.md)."""

    chips: int                    # extra chips in the replica: tp x k
    weight_bytes: float           # table weights on one table chip
    moved_bytes: float            # what the busiest layer stage no longer holds, per chip


def sram_tables(model, hw: HardwareSpec, tp: int, pp: int, reserve_frac: float, *,
                stage_weight_bytes: float) -> TableStages | None:
    """Where the tables go on ``hw`` at (tp, pp): chips of their own (``TableStages``) when the weights live
    in SRAM, the model is pipelined (pp > 1) and the table is more than TABLE_SHARE_MAX of the busiest stage's
    weights (``stage_weight_bytes``: per chip with the table, core/graph.py build_recipe); None elsewhere
    (HBM chips, one-stage deployments and stages of many layers keep them on the stage)."""
    if pp <= 1 or not weights_in_sram(hw):
        return None
    emb, head = table_bytes(model, tp)                  # per chip of a tp-way stage
    if max(emb, head) <= TABLE_SHARE_MAX * stage_weight_bytes:     # a small share of its stage: it stays there
        return None
    k = max(math.ceil((emb + head) / (hw.sram_bytes * (1.0 - reserve_frac))), 1)
    return TableStages(chips=tp * k, weight_bytes=(emb + head) / k, moved_bytes=max(emb, head or emb))


def sram_chunk_tokens(recipe: StepRecipe, hw: HardwareSpec, tokens: npt.ArrayLike, batch: npt.ArrayLike,
                      held_bytes: npt.ArrayLike, reserve_frac: float, a_bytes: float = 2.0) -> np.ndarray:
    """Tokens whose activations one chip of an SRAM-first system holds at once (chunked prefill).

    The compiled pipeline streams a prompt through in chunks, so SRAM holds one chunk's activations:
    the largest chunk that fits beside what the chip holds with one token per sequence
    (``held_bytes``: weights, KV cache, logits and that token's activations), at least one token per
    sequence, at most the whole step. Elsewhere (HBM chips) the step's ``tokens`` as given."""
    T = np.asarray(tokens, dtype=float)
    if not weights_in_sram(hw):
        return T
    free = hw.sram_bytes * (1.0 - reserve_frac) - np.asarray(held_bytes, dtype=float)
    per_token = max(recipe.act_elements_per_token * a_bytes, 1.0)
    b = np.asarray(batch, dtype=float)
    return np.clip(b + np.floor(np.maximum(free, 0.0) / per_token), b, np.maximum(T, b))


def streamed_text(hw: HardwareSpec, weight_bytes: float) -> str:
    """Words for a deployment whose weights do not fit the fast tier, so the rest streams from the slow
    tier (DDR) every step; empty when they fit. (KV beyond the fast tier at large batches is costed the
    same way, spill_time_s, as KV offload, not a property of the deployment.)"""
    over = weight_bytes - fast_tier_bytes(hw)
    if over <= 0 or hw.ddr_bytes_per_s <= 0:
        return ""
    return (f"streams {over / 1e9:.3g} GB of weights per chip from DDR every step at "
            f"{hw.ddr_bytes_per_s / 1e9:.3g} GB/s (the fast tier holds {fast_tier_bytes(hw) / 1e9:.3g} GB)")


def fast_tier_bytes(hw: HardwareSpec) -> float:
    """Capacity of the tier the core streams at full speed: HBM, or SRAM on SRAM-first chips."""
    if hw.hbm_bytes > 0:
        return hw.hbm_bytes
    return 0.0 if hw.sram_is_cache else hw.sram_bytes


def spill_time_s(memory_bytes: npt.ArrayLike, hw: HardwareSpec) -> np.ndarray:
    """Seconds per step to stream what does not fit in the fast tier from the slow (DDR) tier."""
    over = np.maximum(np.asarray(memory_bytes, dtype=float) - fast_tier_bytes(hw), 0.0)
    if hw.ddr_bytes_per_s <= 0:
        return np.zeros_like(over)
    return over / hw.ddr_bytes_per_s

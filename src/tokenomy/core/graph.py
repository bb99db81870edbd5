"""The kernels of one forward step, per chip: the "recipe" the phase model times.

A recipe depends on the model, the engine's kernel style, the precision, the parallelism and the
phase, never on batch or sequence length: sizes are coefficients per token (T = tokens in the
step) or per sequence (b), so one recipe times a whole vectorized sweep.

Kernel styles:
- ``eager``: plain PyTorch as in shared/data/h100/measure.py. Per layer: RMSNorm in fp32 as 8
  kernels (cast, pow, mean, add, rsqrt, mul, cast, mul), QKV GEMM, rotary embedding as 5 kernels
  for q and 5 for k (mul, neg, cat, mul, add), KV-cache write (decode: 2 copies), attention,
  O GEMM, residual add, RMSNorm, gate+up GEMM, SiLU, multiply, down GEMM, residual add. fp8
  adds a cast of the activations before every linear layer but the LM head; torch._scaled_mm
  needs a multiple of 16 rows, so the activations are kept in a buffer padded once to 16 rows
  (``gemm_row_multiple``). measure.py instead pads per linear (zeros + cat, 2 kernels each, when
  T % 16 != 0), which made a 17-token step slower than a 32-token one; padding once costs no
  kernel and keeps step time non-decreasing in T (the measured rows all have T % 16 == 0).
- ``fused``: a serving engine (vLLM / TensorRT-LLM class). Per layer: fused add+RMSNorm, QKV
  GEMM, fused rotary+KV-cache write, one attention kernel, O GEMM, fused add+RMSNorm, gate+up
  GEMM, fused SiLU-and-multiply, down GEMM; fp8 quantization is fused into the norms.

Expert-parallel all-to-all (ep > 1), per MoE layer: two collectives, each paying its own latency. Dispatch
sends each token's activations to its top-k experts' chips (k D elements in the experts' activation format:
fp8 under fp8 recipes); combine returns the k expert outputs (k D elements in bf16) to be weighted and summed.
Source: DeepEP (github.com/deepseek-ai/DeepEP, README: "FP8 dispatching and BF16 combining", separate dispatch
and combine kernels), as in SGLang's and TensorRT-LLM's wide-EP. Before this, one latency per layer and both legs
in the dispatch format were charged. On dataflow chips (core/sram.py) each leg is one all-to-all of
ceil(log2 ep) hops, so a layer pays 2 ceil(log2 ep), like an all-reduce's reduce then broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SpecError
from ..spec.engine import EngineProfile
from ..spec.model import ModelSpec
from .precision import BYTES_PER_ELEMENT, Precision

F32 = 4.0   # bytes of an fp32 element
B16 = 2.0   # bytes of a bf16 element
FP8_ROW_MULTIPLE = 16   # torch._scaled_mm: rows of an fp8 operand in multiples of 16
A2A_LEGS = 2            # expert-parallel all-to-alls per MoE layer: dispatch and combine (module docstring)


@dataclass(frozen=True)
class GemmOp:
    """``count`` GEMMs y[m,n] = x[m,k] @ w[n,k]^T per step on one chip.

    rows: 'tokens' (m = T), 'seqs' (m = b, the LM head on last positions), 'expert' (routed
    experts: ``experts`` weight matrices of which the touched ones each see T*top_k/touched rows).
    """

    name: str
    n: int
    k: int
    count: float
    rows: str = "tokens"
    w_bytes: float = 2.0
    a_bytes: float = 2.0
    out_bytes: float = 2.0
    experts: int = 0                 # routed experts stored on this chip ('expert' rows)
    batch: int = 1                   # independent GEMMs in one kernel (MLA absorption per head)

    @property
    def weight_bytes(self) -> float:
        """Bytes of weights this op keeps on the chip (all experts, all layers)."""
        return self.count * self.n * self.k * self.w_bytes * max(self.experts, 1) * self.batch


@dataclass(frozen=True)
class AttnOp:
    """``count`` attention layers of one kind on this chip."""

    count: float
    n_heads: int                      # query heads on this chip
    n_kv_heads: int                   # KV heads on this chip (latent: 1)
    d_qk: int                         # score dimension per head (prefill)
    d_v: int                          # value dimension per head (prefill)
    decode_d_qk: int                  # score dimension in decode (MLA: latent + rope)
    decode_d_v: int                   # value dimension in decode (MLA: latent)
    kv_elements_per_token: int        # cached elements per token per layer on this chip
    window: int | None = None


@dataclass(frozen=True)
class StepRecipe:
    """Everything one step of one chip does, as coefficients of T (tokens) and b (sequences)."""

    phase: str
    gemms: tuple[GemmOp, ...]
    attns: tuple[AttnOp, ...]
    attention_impl: str               # 'flash' | 'sdpa' | 'bmm' | 'best'
    ew_kernels: float                 # non-GEMM, non-attention kernels per step
    ew_bytes_per_token: float         # their bytes moved per token
    ew_bytes_per_seq: float           # ... per sequence (final norm and argmax on last positions)
    gemm_row_multiple: int            # token rows of the linear layers are padded to a multiple of this
    allreduce_count: float            # tensor-parallel all-reduces per step
    allreduce_bytes_per_token: float
    alltoall_count: float             # expert-parallel all-to-alls per step: 2 per MoE layer (dispatch, combine)
    alltoall_bytes_per_token: float   # per token of the step, per chip, per all-to-all: the mean of the two legs,
    # k D (dispatch format + bf16) / 2 (build_recipe, "expert-parallel all-to-all"); under attention DP (D > 1) per
    # token of the group, / (tp/D): each chip dispatches its share (comms.py: (ep-1)/ep of it leaves the chip).
    # D = 1 keeps every chip charged for all T tokens, as the shipped fits assume.
    p2p_bytes_per_token: float        # pipeline hand-off per stage boundary
    weight_bytes: float               # weights stored on this chip
    kv_bytes_per_token: float         # KV cache per cached token per sequence on this chip (full-attention layers)
    kv_bytes_per_token_windowed: float  # ... of sliding-window layers (capped at the window)
    window: int | None
    layers: float                     # layers on this chip
    n_experts: int = 0
    top_k: int = 0
    ep: int = 1
    dp_attention: int = 1             # attention data-parallel groups D: all but routed experts run 1/D of the batch
    act_elements_per_token: float = 0.0  # live activation elements per token (memory model)
    notes: tuple[str, ...] = field(default_factory=tuple)


def parallel_error(model: ModelSpec, tp: int, pp: int = 1, ep: int = 1, dp_attention: int = 1) -> str:
    """Why (tp, pp, ep, dp_attention) cannot split ``model``, or "" when it can. The one place these rules
    live. With attention data-parallel D the attention (and every part but the routed experts) is split
    tp / D ways, in D groups of their own sequences."""
    for name, v in (("tp", tp), ("pp", pp), ("ep", ep), ("dp_attention", dp_attention)):
        if int(v) != v or v < 1:
            return f"{name} must be a positive integer, got {v!r}."
    if tp % dp_attention:
        return (f"dp_attention={dp_attention} does not divide tp={tp}: the tp chips of a stage form D attention "
                "groups of tp / D chips each.")
    if dp_attention > 1 and model.is_moe and ep == 1:
        return (f"dp_attention={dp_attention} on the mixture-of-experts {model.name} needs ep > 1 (experts "
                "expert-parallel across the groups); tensor-parallel experts under DP attention are not modelled.")
    tp //= dp_attention
    if model.n_heads % tp:
        return (f"tp={tp} does not divide the {model.n_heads} attention heads of {model.name}; "
                f"use a divisor of {model.n_heads}.")
    if model.attention == "gqa" and model.n_kv_heads % tp and tp % model.n_kv_heads:
        return (f"tp={tp} and the {model.n_kv_heads} KV heads of {model.name} do not split evenly; "
                "use a tp that divides the KV heads or a multiple of them.")
    if pp > model.n_layers:
        return f"pp={pp} exceeds the {model.n_layers} layers of {model.name}."
    if ep > 1:
        tp *= dp_attention
        if not model.is_moe:
            return f"ep={ep} needs a mixture-of-experts model; {model.name} is dense (use ep=1)."
        if model.n_experts % ep:
            return f"ep={ep} does not divide the {model.n_experts} experts of {model.name}."
        if ep > tp:
            return f"ep={ep} must not exceed tp={tp}: experts are spread over the tensor-parallel chips."
    return ""


def stage_layers(n_layers: int, pp: int) -> int:
    """Layers on the bottleneck pipeline stage: ceil(L / pp) (e.g. 80 layers over 3 stages: 27, 27, 26).
    Every kind of layer (dense/MoE, full/sliding attention) is charged in proportion on it."""
    return -(-n_layers // pp)


def table_bytes(model: ModelSpec, tp: int) -> tuple[float, float]:
    """Bytes per chip of the embedding and the LM head split vocab-parallel ``tp`` ways, kept in 16-bit
    (core/precision.py); the head is 0 when tied (it is the embedding)."""
    V, D = model.vocab_size, model.d_model
    return V * D / tp * B16, 0.0 if model.tie_embeddings else -(-V // tp) * D * B16


def gemm_rows(op: GemmOp, tokens: np.ndarray, seqs: np.ndarray, *, top_k: int, n_experts: int,
              ep: int = 1) -> tuple[np.ndarray, np.ndarray | float]:
    """(m, batch) of one GemmOp in a step of ``tokens`` tokens from ``seqs`` sequences.

    Routed experts: with T*k uniform assignments over E experts, E (1 - (1 - k/E)^T) distinct
    experts are hit; each sees T*k / touched rows, and a chip holds 1/ep of the touched ones.
    """
    if op.rows == "expert":
        touched = n_experts * (1.0 - (1.0 - top_k / n_experts) ** tokens)
        return tokens * top_k / touched, np.maximum(touched / ep, 1.0)
    if op.rows == "seqs":
        return seqs, float(op.batch)
    return tokens, float(op.batch)


def gemm_compute_format(op: GemmOp, precision: Precision) -> str:
    """Matrix rate a GEMM runs at: bf16 with 16-bit activations (the LM head, weight-only
    quantization), else the precision's compute format."""
    return "bf16" if op.a_bytes >= 2 else precision.compute


def build_recipe(model: ModelSpec, engine: EngineProfile, precision: Precision, *, phase: str,
                 tp: int = 1, pp: int = 1, ep: int = 1, dp_attention: int = 1) -> StepRecipe:
    """The kernels of one ``phase`` ('prefill' or 'decode') step on one chip. ``dp_attention`` D > 1: all
    but the routed experts are a tp / D-way tensor-parallel model serving 1/D of the sequences (MLA latent
    KV then sharded by sequence across the groups, not replicated); routed experts stay expert-parallel."""
    if phase not in ("prefill", "decode"):
        raise SpecError(f"phase must be 'prefill' or 'decode', got {phase!r}.")
    why = parallel_error(model, tp, pp, ep, dp_attention)
    if why:
        raise SpecError(why)
    tp_all, tp = tp, tp // dp_attention           # tp: chips of one attention group from here on
    eager = engine.graph == "eager"
    kvb = BYTES_PER_ELEMENT[precision.kv_cache]
    D, H, N, K, V = model.d_model, model.d_head, model.n_heads, model.n_kv_heads, model.vocab_size
    share = stage_layers(model.n_layers, pp) / model.n_layers   # of every kind of layer, on the bottleneck stage
    L = model.n_layers * share                    # layers on this chip (bottleneck stage: ceil(L/pp))
    Nc = N // tp                                  # query heads per chip
    Kc = max(1, K // tp)                          # KV heads per chip (replicated when tp > K)
    gemms: list[GemmOp] = []
    ew_k = 0.0                                    # elementwise kernels per step
    ew_t = 0.0                                    # elementwise bytes per token per step

    def lin(name: str, n: int, k: int, per_layer: float = 1.0, layers: float = L, **kw: Any) -> None:
        wf, af = precision.formats(name)            # bf16 for parts a checkpoint keeps in 16-bit
        gemms.append(GemmOp(name, int(n), int(k), per_layer * layers, w_bytes=BYTES_PER_ELEMENT[wf],
                            a_bytes=BYTES_PER_ELEMENT[af], **kw))

    norm_kernels, norm_bytes = (8.0, 36.0 / 2 * B16) if eager else (1.0, 3 * B16)  # per norm, per element of D
    # ---- attention block
    if model.attention == "mla":
        r = model.qk_rope_head_dim
        dn, dv = model.qk_nope_head_dim, model.v_head_dim
        if model.q_lora_rank:
            lin("q_a", model.q_lora_rank, D)
            lin("q_b", Nc * (dn + r), model.q_lora_rank)
        else:
            lin("q", Nc * (dn + r), D)
        lin("kv_a", model.kv_lora_rank + r, D)
        if phase == "prefill":
            lin("kv_b", Nc * (dn + dv), model.kv_lora_rank)
        else:  # weight absorption: per-head GEMMs against the latent
            lin("uk_absorb", model.kv_lora_rank, dn, batch=Nc)
            lin("uv_absorb", dv, model.kv_lora_rank, batch=Nc)
        lin("o", D, Nc * dv)
        ew_k += L * 2 * norm_kernels                  # q_a and kv_a norms
        ew_t += L * norm_bytes * (model.q_lora_rank + model.kv_lora_rank)
        attn_kinds: list[tuple[int, int | None]] = [(model.n_layers, None)]
        kv_el = model.kv_lora_rank + r
        attn_shape = (Nc, 1, dn + r, dv, model.kv_lora_rank + r, model.kv_lora_rank, kv_el)
        rope_el = Nc * r + r
    else:
        lin("qkv", (Nc + 2 * Kc) * H, D)
        lin("o", D, Nc * H)
        if model.qkv_bias:
            ew_k += L if eager else 0
            ew_t += L * (Nc + 2 * Kc) * H * 3 * B16 if eager else 0
        if model.qk_norm:
            ew_k += L * 2 * norm_kernels
            ew_t += L * norm_bytes * (Nc + Kc) * H
        kv_el = 2 * Kc * H
        attn_shape = (Nc, Kc, H, H, H, H, kv_el)
        rope_el = (Nc + Kc) * H
        n_sw = model.n_sliding_layers
        attn_kinds = [(model.n_layers - n_sw, None)] + ([(n_sw, model.sliding_window)] if n_sw else [])
    attns = tuple(AttnOp(cnt * share, *attn_shape, window=win) for cnt, win in attn_kinds if cnt)
    # rotary embedding and KV-cache write
    if eager:
        ew_k += L * 10
        ew_t += L * 20 * rope_el            # 20 bytes per element of q and k over the 5 kernels (bf16)
        if phase == "decode":
            ew_k += L * 2
            ew_t += L * 2 * kv_el / 2 * 2 * kvb   # read + write of the new K and V rows
    else:
        ew_k += L
        ew_t += L * (2 * rope_el * B16 + kv_el * kvb)
    # norms and residual adds around attention and MLP
    if eager:
        ew_k += L * (2 * norm_kernels + 2)
        ew_t += L * (2 * norm_bytes * D + 2 * 3 * B16 * D)
    else:
        ew_k += L * 2
        ew_t += L * 2 * (4 * B16 * D)       # fused add+norm: read x and residual, write both
    # ---- MLP block
    tp_moe = 1 if ep > 1 else tp_all
    n_in = 2 if model.gated_mlp else 1            # gate and up matrices, or up alone (GPT-2)
    act_el = 3 * D + (Nc + 2 * Kc) * H
    if model.is_moe:
        Lm = model.n_moe_layers * share
        Ld = model.n_dense_layers * share
        if Ld:
            lin("gate_up_dense", n_in * model.d_ff // tp, D, layers=Ld)
            lin("down_dense", D, model.d_ff // tp, layers=Ld)
        lin("router", model.n_experts, D, layers=Lm)
        e_chip = model.n_experts // ep if ep > 1 else model.n_experts
        fe = model.d_ff_expert // tp_moe
        lin("gate_up_expert", n_in * fe, D, layers=Lm, rows="expert", experts=e_chip)
        lin("down_expert", D, fe, layers=Lm, rows="expert", experts=e_chip)
        if model.n_shared_experts:
            fs = model.n_shared_experts * model.d_ff_shared // tp
            lin("gate_up_shared", n_in * fs, D, layers=Lm)
            lin("down_shared", D, fs, layers=Lm)
        # routing: softmax/top-k, sort/permute, gather and weighted combine
        ew_k += Lm * (6 if eager else 3)
        ew_t += Lm * (model.n_experts * F32 * 2 + model.n_experts_active * D * B16 * 4)
        f_act = model.n_experts_active * fe + (model.n_shared_experts * model.d_ff_shared // tp)
        ew_k += (Lm + Ld) * (2 if eager else 1)
        ew_t += Lm * f_act * (10 if eager else 6) * B16 / 2 + Ld * (model.d_ff // tp) * (10 if eager else 6) * B16 / 2
        act_el += 3 * f_act
    else:
        F = model.d_ff // tp
        lin("gate_up", n_in * F, D)
        lin("down", D, F)
        ew_k += L * (2 if eager else 1)
        ew_t += L * F * (10 if eager else 6)       # silu (r+w) and mul (2r+w) in bf16, or fused silu*mul
        act_el += 3 * F
    # ---- fp8 activation casts (eager: one kernel per linear input; fused: inside the norms)
    row_multiple = 1
    if eager and precision.activations != "bf16":
        cast = [g for g in gemms if g.name != "router" and g.a_bytes < B16]
        casts = sum(g.count for g in cast)
        ew_k += casts
        ew_t += sum(g.count * g.k * (B16 + g.a_bytes) for g in cast)
        row_multiple = FP8_ROW_MULTIPLE
    # ---- once per step: embedding gather, final norm, LM head on last positions, argmax/sampling
    ew_k += 1 + (10 if eager else 0) + norm_kernels + 1
    ew_t += 2 * B16 * D
    ew_s = norm_bytes * D + V / tp * B16
    Vc = -(-V // tp)
    gemms.append(GemmOp("lm_head", Vc, D, 1.0, rows="seqs", w_bytes=B16, a_bytes=B16, out_bytes=B16))
    # ---- communication
    ar_count = 0.0 if tp == 1 else 2.0 * L
    a2a_count = 0.0
    if ep > 1:
        a2a_count = A2A_LEGS * model.n_moe_layers * share
        ar_count = (1.0 * L + model.n_dense_layers * share) if tp > 1 else 0.0
    weight_bytes = sum(g.weight_bytes for g in gemms if g.name not in ("uk_absorb", "uv_absorb"))
    if model.attention == "mla" and phase == "decode":   # absorbed GEMMs use the stored kv_b weights
        weight_bytes += (L * model.kv_lora_rank * Nc * (model.qk_nope_head_dim + model.v_head_dim)
                         * BYTES_PER_ELEMENT[precision.formats("kv_b")[0]])
    emb, head = table_bytes(model, tp)
    weight_bytes -= Vc * D * B16                          # the lm_head op above, counted here instead
    # one stage holds both tables; with pp > 1 the first stage holds the embedding and the last the head
    weight_bytes += emb + head if pp == 1 else max(emb, head or emb)
    kv_full = sum(a.count * a.kv_elements_per_token * kvb for a in attns if a.window is None)
    kv_win = sum(a.count * a.kv_elements_per_token * kvb for a in attns if a.window is not None)
    impl = engine.attention.decode_impl if (eager and phase == "decode") else ("flash" if not eager else "sdpa")
    # expert-parallel all-to-all (module docstring): k D elements per token each way; dispatch in the experts'
    # activation format, combine in bf16. Charged as A2A_LEGS collectives of the mean bytes: same total bytes.
    a2a_bytes = (BYTES_PER_ELEMENT[precision.formats("down_expert")[1]] + B16) / A2A_LEGS   # per element, per leg
    a2a_split = tp if dp_attention > 1 else 1     # chips of a group sharing its tokens' dispatch (StepRecipe)
    return StepRecipe(
        phase=phase, gemms=tuple(gemms), attns=attns, attention_impl=impl,
        ew_kernels=ew_k, ew_bytes_per_token=ew_t, ew_bytes_per_seq=ew_s, gemm_row_multiple=row_multiple,
        allreduce_count=ar_count, allreduce_bytes_per_token=D * B16,
        alltoall_count=a2a_count, alltoall_bytes_per_token=model.n_experts_active * D * a2a_bytes / a2a_split,
        p2p_bytes_per_token=D * B16 if pp > 1 else 0.0,
        weight_bytes=weight_bytes, kv_bytes_per_token=kv_full, kv_bytes_per_token_windowed=kv_win,
        window=model.sliding_window if model.n_sliding_layers else None, layers=L,
        n_experts=model.n_experts, top_k=model.n_experts_active, ep=ep, dp_attention=dp_attention,
        act_elements_per_token=act_el,
    )

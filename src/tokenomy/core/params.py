"""Parameter counts of a ModelSpec (pure: no I/O).

Letters (scaling-book, see spec/model.py): L layers, D d_model, N heads, K kv heads, H d_head,
F d_ff, V vocab, E routed experts, k active experts, F_e expert width, S shared experts.
All counts are numbers of elements (multiply by bytes per element for memory).

A gated MLP (gate, up, down) has 3*D*F weights, a plain one (GPT-2) 2*D*F plus F + D biases when
``mlp_bias``. Norm weights are counted (D each, ``norms_per_layer`` per layer plus the final one;
twice that for LayerNorm with a bias), and a learned position table adds n_positions*D.
DeepSeek-V3's multi-token-prediction module (14B, used only for speculative decoding) is not part
of the spec and is not counted: its published 671B excludes it.
DeepSeek's router correction bias (E per MoE layer, 15k in all) is also left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenomy.spec.model import ModelSpec


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts in elements. `*_per_layer` fields are for one layer of that kind."""

    embedding: int                    # input embedding table V*D, plus the learned position table (GPT-2)
    lm_head: int                      # output projection, V*D; 0 if tied to the embedding
    attention_per_layer: int          # projections, biases, q/k norms, sinks (or MLA's matrices)
    dense_mlp_per_layer: int          # 3*D*F in a dense layer, 2*D*F (+ biases) if not gated; 0 if all MoE
    moe_per_layer: int                # router + all routed experts + shared experts
    moe_active_per_layer: int         # router + k routed experts + shared experts
    norms: int                        # norm weights outside attention: (2L + 1)*D for RMSNorm
    total: int                        # every weight stored
    active: int                       # weights used per token: total minus the E-k idle experts
    active_matmul: int                # active minus the embedding lookup (kept if tied); 2x = FLOPs/token
                                      # outside the attention scores
    kv_cache_elements_per_token: int  # KV-cache elements one token adds, summed over all layers


def attention_params(spec: ModelSpec) -> int:
    """Attention parameters of one layer (elements).

    GQA: q D*N*H + k D*K*H + v D*K*H + o N*H*D, plus biases (N*H + 2*K*H on q,k,v; D on o),
    qk-norm (2*H) and sinks (N).
    MLA (DeepSeek-V3, R = qk_nope + qk_rope): q_a D*q_lora + q_a_norm q_lora + q_b q_lora*N*R
    (or q D*N*R without q_lora), kv_a D*(kv_lora + rope) + kv_a_norm kv_lora,
    kv_b kv_lora*N*(nope + v), o N*v*D.
    """
    D, N, K, H = spec.d_model, spec.n_heads, spec.n_kv_heads, spec.d_head
    if spec.attention == "mla":
        q_dim = N * (spec.qk_nope_head_dim + spec.qk_rope_head_dim)
        lora = spec.q_lora_rank
        q = D * lora + lora + lora * q_dim if lora else D * q_dim
        kv_a = D * (spec.kv_lora_rank + spec.qk_rope_head_dim) + spec.kv_lora_rank
        kv_b = spec.kv_lora_rank * N * (spec.qk_nope_head_dim + spec.v_head_dim)
        o = N * spec.v_head_dim * D
        return q + kv_a + kv_b + o
    n = 2 * D * N * H + 2 * D * K * H
    n += (N * H + 2 * K * H) if spec.qkv_bias else 0
    n += D if spec.o_bias else 0
    n += 2 * H if spec.qk_norm else 0
    n += N if spec.attention_sinks else 0
    return n


def expert_params(d_model: int, d_ff: int, bias: bool = False, gated: bool = True) -> int:
    """One MLP (elements): gated 3*D*F plus 2*F + D biases (gpt-oss experts); plain 2*D*F plus F + D."""
    n_in = 2 if gated else 1
    return (n_in + 1) * d_model * d_ff + ((n_in * d_ff + d_model) if bias else 0)


def param_counts(spec: ModelSpec) -> ParamCounts:
    """Count the parameters of `spec` (elements), in total and per token.

    total  = V*D (embedding) + V*D (lm_head, unless tied) + L*attention
             + L_dense*3*D*F + L_moe*(router + E*expert + S*shared) + (2L + 1)*D
    active = the same with k instead of E routed experts. Router: D*E (+ E bias for gpt-oss).
    KV cache per token: GQA 2*K*H per layer; MLA kv_lora + qk_rope per layer (the compressed
    latent and the shared rope key). Sliding-window layers are counted in full here.
    """
    D, L, V = spec.d_model, spec.n_layers, spec.vocab_size
    positions = spec.n_positions * D
    embedding = V * D + positions
    lm_head = 0 if spec.tie_embeddings else V * D
    attention = attention_params(spec)
    dense_mlp = expert_params(D, spec.d_ff, spec.mlp_bias, spec.gated_mlp) if spec.d_ff else 0
    moe = moe_active = 0
    if spec.is_moe:
        router = D * spec.n_experts + (spec.n_experts if spec.expert_bias else 0)
        expert = expert_params(D, spec.d_ff_expert, spec.expert_bias)
        shared = spec.n_shared_experts * expert_params(D, spec.d_ff_shared)
        moe = router + spec.n_experts * expert + shared
        moe_active = router + spec.n_experts_active * expert + shared
    n_moe = spec.n_moe_layers
    norms = (spec.norms_per_layer * L + 1) * D * (2 if spec.norm_bias else 1)
    common = embedding + lm_head + L * attention + (L - n_moe) * dense_mlp + norms
    total = common + n_moe * moe
    active = common + n_moe * moe_active
    if spec.attention == "mla":
        kv_per_layer = spec.kv_lora_rank + spec.qk_rope_head_dim
    else:
        kv_per_layer = 2 * spec.n_kv_heads * spec.d_head
    return ParamCounts(
        embedding=embedding,
        lm_head=lm_head,
        attention_per_layer=attention,
        dense_mlp_per_layer=dense_mlp,
        moe_per_layer=moe,
        moe_active_per_layer=moe_active,
        norms=norms,
        total=total,
        active=active,
        active_matmul=active - positions - (0 if spec.tie_embeddings else V * D),
        kv_cache_elements_per_token=L * kv_per_layer,
    )

"""A transformer's shape, as the core consumes it.

Letters used in formulas (scaling-book): L = n_layers, D = d_model, N = n_heads, K = n_kv_heads,
H = d_head, F = d_ff, V = vocab_size, E = n_experts, k = n_experts_active.

Families: dense Llama-style (llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gemma3),
GPT-2 (learned positions, LayerNorm, biases, a plain GELU MLP), mixture-of-experts (mixtral,
qwen2_moe and deepseek_v3 with shared experts, qwen3_moe, gpt_oss with sliding-window layers) and
DeepSeek-V3 (MLA attention, MoE with shared experts and leading dense layers). MLPs are gated
(SwiGLU/GeGLU: gate, up and down matrices) unless ``gated_mlp`` is false (GPT-2: up and down).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .limits import MAX_DIM

AttentionKind = Literal["gqa", "mla"]
Dim = Annotated[int, Field(ge=1, le=MAX_DIM)]       # a size that must exist: 1..MAX_DIM
Dim0 = Annotated[int, Field(ge=0, le=MAX_DIM)]      # 0 where the part is absent


class ModelSpec(BaseModel):
    """One decoder-only transformer. All sizes are element counts (not bytes)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    family: str                       # loaders/architectures.py FAMILIES: llama, gemma3, qwen3_moe, gpt2, ...
    n_layers: Dim
    d_model: Dim
    n_heads: Dim
    n_kv_heads: Dim
    d_head: Dim
    d_ff: Dim0                        # MLP width of dense layers (0 if every layer is MoE)
    vocab_size: Dim
    tie_embeddings: bool = False
    attention: AttentionKind = "gqa"
    qkv_bias: bool = False            # qwen2, gpt-oss
    o_bias: bool = False              # gpt-oss
    qk_norm: bool = False             # qwen3: RMSNorm on q and k per head
    attention_sinks: bool = False     # gpt-oss: one learned sink logit per head
    gated_mlp: bool = True            # gate, up and down matrices (SwiGLU/GeGLU); False: up and down (GPT-2)
    mlp_bias: bool = False            # GPT-2: biases on the dense MLP matrices
    norm_bias: bool = False           # LayerNorm with a bias (GPT-2); RMSNorm has a weight only
    norms_per_layer: Annotated[int, Field(ge=2, le=4)] = 2   # 4 in gemma2/3 (pre and post norms)
    n_positions: Dim0 = 0             # rows of a learned position table (GPT-2); 0 with rotary positions
    # sliding-window attention: n_sliding_layers of the n_layers attend to the last `sliding_window` tokens
    sliding_window: Dim | None = None
    n_sliding_layers: Dim0 = 0
    # mixture of experts (0 = dense model)
    n_experts: Dim0 = 0               # routed experts per MoE layer
    n_experts_active: Dim0 = 0        # routed experts per token (top-k)
    d_ff_expert: Dim0 = 0             # MLP width of one routed expert
    n_shared_experts: Dim0 = 0        # always-on experts (DeepSeek)
    d_ff_shared: Dim0 = 0             # MLP width of ONE shared expert
    n_dense_layers: Dim0 = 0          # leading layers with a dense MLP of width d_ff (DeepSeek first_k_dense_replace)
    expert_bias: bool = False         # gpt-oss: biases on expert matrices and router
    # multi-head latent attention (DeepSeek-V3)
    q_lora_rank: Dim0 = 0
    kv_lora_rank: Dim0 = 0
    qk_nope_head_dim: Dim0 = 0
    qk_rope_head_dim: Dim0 = 0
    v_head_dim: Dim0 = 0
    # provenance
    source: str = ""
    published_params: Annotated[float, Field(gt=0)] | None = None        # total parameters the authors publish
    published_active_params: Annotated[float, Field(gt=0)] | None = None  # per token, for MoE
    # as shipped (config.json): longest context, and the checkpoint's weight quantization
    max_position_embeddings: int | None = None    # tokens; None when the config does not say
    quant_method: str | None = None   # quantization_config.quant_method, e.g. 'mxfp4', 'fp8' (None: 16-bit)
    quant_weights: str = "bf16"       # tokenomy weight format of the quantized parts ('bf16': not modelled)
    quant_activations: str = "bf16"   # activation format the checkpoint expects ('fp8' for dynamic fp8)
    quant_bf16_parts: tuple[str, ...] = ()  # parts left in 16-bit: attention, mlp, router, experts, shared_experts

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.n_experts and not (0 < self.n_experts_active <= self.n_experts):
            raise ValueError(f"n_experts_active ({self.n_experts_active}) must be in 1..n_experts "
                             f"({self.n_experts}) for an MoE model")
        if self.n_experts and not self.d_ff_expert:
            raise ValueError("d_ff_expert must be at least 1 for an MoE model")
        if self.n_shared_experts and not self.d_ff_shared:
            raise ValueError("d_ff_shared must be at least 1 when there are shared experts")
        if (not self.n_experts or self.n_dense_layers) and not self.d_ff:
            raise ValueError("d_ff must be at least 1: the model has dense MLP layers")
        if self.n_dense_layers > self.n_layers or self.n_sliding_layers > self.n_layers:
            raise ValueError(f"n_dense_layers ({self.n_dense_layers}) and n_sliding_layers ({self.n_sliding_layers}) "
                             f"must not exceed n_layers ({self.n_layers})")
        if self.n_sliding_layers and not self.sliding_window:
            raise ValueError("n_sliding_layers > 0 needs sliding_window")
        if self.attention == "mla" and not (self.kv_lora_rank and self.qk_nope_head_dim + self.qk_rope_head_dim
                                            and self.v_head_dim):
            raise ValueError("MLA attention needs kv_lora_rank, qk_nope_head_dim + qk_rope_head_dim and v_head_dim "
                             "of at least 1")
        return self

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

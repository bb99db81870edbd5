"""A transformer's shape, as the core consumes it.

Letters used in formulas (scaling-book): L = n_layers, D = d_model, N = n_heads, K = n_kv_heads,
H = d_head, F = d_ff, V = vocab_size, E = n_experts, k = n_experts_active.

Families: dense Llama-style (llama, mistral, qwen2, qwen3), mixture-of-experts (mixtral,
qwen3_moe, gpt_oss with sliding-window layers) and DeepSeek-V3 (MLA attention, MoE with shared
experts and leading dense layers). Every MLP is gated (SwiGLU: gate, up and down matrices).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

AttentionKind = Literal["gqa", "mla"]


class ModelSpec(BaseModel):
    """One decoder-only transformer. All sizes are element counts (not bytes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    family: str                       # llama | mistral | qwen2 | qwen3 | mixtral | qwen3_moe | gpt_oss | deepseek_v3
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_head: int
    d_ff: int                         # MLP width of dense layers (0 if every layer is MoE)
    vocab_size: int
    tie_embeddings: bool = False
    attention: AttentionKind = "gqa"
    qkv_bias: bool = False            # qwen2, gpt-oss
    o_bias: bool = False              # gpt-oss
    qk_norm: bool = False             # qwen3: RMSNorm on q and k per head
    attention_sinks: bool = False     # gpt-oss: one learned sink logit per head
    # sliding-window attention: n_sliding_layers of the n_layers attend to the last `sliding_window` tokens
    sliding_window: int | None = None
    n_sliding_layers: int = 0
    # mixture of experts (0 = dense model)
    n_experts: int = 0                # routed experts per MoE layer
    n_experts_active: int = 0         # routed experts per token (top-k)
    d_ff_expert: int = 0              # MLP width of one routed expert
    n_shared_experts: int = 0         # always-on experts (DeepSeek)
    d_ff_shared: int = 0              # MLP width of ONE shared expert
    n_dense_layers: int = 0           # leading layers with a dense MLP of width d_ff (DeepSeek first_k_dense_replace)
    expert_bias: bool = False         # gpt-oss: biases on expert matrices and router
    # multi-head latent attention (DeepSeek-V3)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # provenance
    source: str = ""
    published_params: float | None = None         # total parameters the authors publish
    published_active_params: float | None = None  # per token, for MoE
    # as shipped (config.json): longest context, and the checkpoint's weight quantization
    max_position_embeddings: int | None = None    # tokens; None when the config does not say
    quant_method: str | None = None   # quantization_config.quant_method, e.g. 'mxfp4', 'fp8' (None: 16-bit)
    quant_weights: str = "bf16"       # tokenomy weight format of the quantized parts ('bf16': not modelled)
    quant_activations: str = "bf16"   # activation format the checkpoint expects ('fp8' for dynamic fp8)
    quant_bf16_parts: tuple[str, ...] = ()  # parts left in 16-bit: attention, mlp, router, experts, shared_experts

    @model_validator(mode="after")
    def _check(self) -> "ModelSpec":
        for f in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_head", "vocab_size"):
            if getattr(self, f) <= 0:
                raise ValueError(f"{f} must be positive, got {getattr(self, f)}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.n_experts and not (0 < self.n_experts_active <= self.n_experts):
            raise ValueError("n_experts_active must be in 1..n_experts for an MoE model")
        if self.n_sliding_layers and not self.sliding_window:
            raise ValueError("n_sliding_layers > 0 needs sliding_window")
        return self

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

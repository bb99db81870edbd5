"""Hugging Face config.json -> ModelSpec: one mapping per architecture (``model_type``).

Families and what each adds to the Llama shape (RMSNorm, rotary positions, gated MLP, no biases):
    llama, mistral, phi3      as is (mistral/phi3: every layer slides when ``sliding_window`` is set)
    qwen2, qwen2_moe          q, k, v biases; qwen2_moe: routed experts of ``moe_intermediate_size``
                              plus one always-on shared expert of ``shared_expert_intermediate_size``
                              (its sigmoid gate, D weights a layer, is not counted)
    qwen3, qwen3_moe          q/k RMSNorm per head
    gemma, gemma2, gemma3     ``head_dim`` apart from d_model/heads, tied embeddings, GeGLU; gemma2/3:
                              a norm before and after attention and MLP (4 per layer); gemma2: even
                              layers slide; gemma3: q/k norm, every ``sliding_window_pattern``-th
                              layer (default 6) is global, the others slide. A multimodal config
                              (``text_config``) is read for its language model; the vision tower is
                              not modelled.
    gpt2                      learned positions (``n_positions``), LayerNorm with bias, biases on
                              every matrix, plain GELU MLP of ``n_inner`` (default 4 x n_embd), tied
    mixtral, gpt_oss          routed experts (gpt_oss: sinks, expert biases, alternate sliding layers)
    deepseek_v3               MLA attention, shared experts, leading dense layers
``architectures`` is the fallback when model_type is absent or unknown.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from tokenomy.errors import SpecError, UnsupportedError
from tokenomy.loaders.quantization import shipped_fields
from tokenomy.spec.limits import MAX_DIM
from tokenomy.spec.model import ModelSpec

from .files import validation_text

FAMILIES = ("llama", "mistral", "phi3", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gpt2", "mixtral",
            "qwen2_moe", "qwen3_moe", "gpt_oss", "deepseek_v3")
DENSE_FAMILIES = ("llama", "mistral", "phi3", "qwen2", "qwen3", "gemma", "gemma2", "gemma3")
TYPE_ALIASES = {"gemma3_text": "gemma3"}      # model_type of gemma3's text_config
ARCHITECTURES = {
    "LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Phi3ForCausalLM": "phi3",
    "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3", "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma2", "Gemma3ForCausalLM": "gemma3", "Gemma3ForConditionalGeneration": "gemma3",
    "GPT2LMHeadModel": "gpt2", "MixtralForCausalLM": "mixtral", "Qwen2MoeForCausalLM": "qwen2_moe",
    "Qwen3MoeForCausalLM": "qwen3_moe", "GptOssForCausalLM": "gpt_oss", "DeepseekV3ForCausalLM": "deepseek_v3",
}
TIED_BY_DEFAULT = ("gemma", "gemma2", "gemma3", "gpt2")   # transformers' default tie_word_embeddings
GPT2_KEYS = {"n_embd": "hidden_size", "n_layer": "num_hidden_layers", "n_head": "num_attention_heads",
             "n_inner": "intermediate_size", "n_positions": "max_position_embeddings"}

# ModelSpec field -> the config.json key it comes from (to name the key when a check fails)
CONFIG_KEY = {"n_layers": "num_hidden_layers", "d_model": "hidden_size", "n_heads": "num_attention_heads",
              "n_kv_heads": "num_key_value_heads", "d_head": "head_dim", "d_ff": "intermediate_size",
              "vocab_size": "vocab_size", "n_experts_active": "num_experts_per_tok",
              "d_ff_expert": "intermediate_size / moe_intermediate_size", "n_dense_layers": "first_k_dense_replace",
              "sliding_window": "sliding_window", "n_sliding_layers": "layer_types / max_window_layers"}
_MISSING = object()


def _int(config: dict[str, Any], key: str, where: str, lo: int = 1, default: Any = _MISSING) -> Any:
    """config[key] as an int in lo..MAX_DIM; ``default`` when absent or null (SpecError when no default)."""
    v = config.get(key)
    if v is None:
        if default is _MISSING:
            raise SpecError(f"{where} lacks required key {key!r}. Add it to the config.json.")
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not lo <= v <= MAX_DIM:
        raise SpecError(f"{where}: {key!r} must be a whole number in {lo}..{MAX_DIM}, got {v!r}. "
                        "Fix it in the config.json.")
    return int(v)


def _typed(config: dict[str, Any], key: str, where: str, kind: type, default: Any) -> Any:
    """config[key] checked to be a ``kind`` (bool, str, list), or ``default`` when absent or null."""
    v: Any = config.get(key)
    if v is None:
        return default
    if not isinstance(v, kind) or (isinstance(v, list) and not all(isinstance(x, (str, int))
                                                                   and not isinstance(x, bool) for x in v)):
        what = {bool: "true or false", str: "text", list: "a list of names or layer indices"}[kind]
        raise SpecError(f"{where}: {key!r} must be {what}, got {v!r}. Fix it in the config.json.")
    return v


def _family(config: dict[str, Any], where: str) -> str:
    model_type = _typed(config, "model_type", where, str, None)
    model_type = TYPE_ALIASES.get(model_type, model_type)
    if model_type in FAMILIES:
        return str(model_type)
    for arch in _typed(config, "architectures", where, list, []):
        if arch in ARCHITECTURES:
            return ARCHITECTURES[arch]
    got = f"model_type {model_type!r}" if model_type else f"architectures {config.get('architectures')!r}"
    raise UnsupportedError(f"Unsupported {got} in {where}. Supported model_type values: {', '.join(FAMILIES)}.")


def _language_config(config: dict[str, Any], where: str) -> dict[str, Any]:
    """The language model's config: ``text_config`` of a multimodal config (gemma3), with the outer
    model_type, architectures, quantization_config and tie_word_embeddings as fallbacks."""
    text = config.get("text_config")
    if text is not None:
        if not isinstance(text, dict):
            raise SpecError(f"{where}: 'text_config' must be an object, got {text!r}.")
        outer: dict[str, Any] = {k: config[k] for k in ("model_type", "architectures", "quantization_config",
                                                                  "tie_word_embeddings")
                                 if k in config}
        config = {**outer, **text}
    return config


def _sliding(config: dict[str, Any], family: str, n_layers: int, where: str) -> tuple[int | None, int]:
    """(window in tokens, number of sliding-window layers) from layer_types or the family's rule."""
    window = _int(config, "sliding_window", where, default=None)
    layer_types = _typed(config, "layer_types", where, list, [])
    if layer_types:
        if len(layer_types) != n_layers:
            raise SpecError(f"{where}: 'layer_types' lists {len(layer_types)} layers but num_hidden_layers is "
                            f"{n_layers}; give one type per layer.")
        n = sum(t == "sliding_attention" for t in layer_types)
    elif family in ("gpt_oss", "gemma2"):  # transformers' default: even layers slide
        n = (n_layers + 1) // 2 if window else 0
    elif family == "gemma3":  # layer i is global when (i + 1) % pattern == 0
        n = n_layers - n_layers // _int(config, "sliding_window_pattern", where, default=6) if window else 0
    elif family in ("mistral", "mixtral", "phi3"):  # every layer slides when a window is set
        n = n_layers if window else 0
    elif family.startswith("qwen") and _typed(config, "use_sliding_window", where, bool, False):
        n = max(0, n_layers - _int(config, "max_window_layers", where, lo=0, default=n_layers))  # layers >= it slide
    else:
        n = 0
    return (window if n else None), n


def _moe_fields(config: dict[str, Any], family: str, n_layers: int, where: str) -> dict[str, Any]:
    """Expert fields of the MoE families (empty for dense ones)."""
    def need(key: str) -> int:
        return _int(config, key, where)

    if family == "mixtral":
        return dict(d_ff=0, n_experts=need("num_local_experts"), n_experts_active=need("num_experts_per_tok"),
                    d_ff_expert=need("intermediate_size"))
    if family == "gpt_oss":
        k = _int(config, "num_experts_per_tok", where, default=None) or need("experts_per_token")
        return dict(d_ff=0, n_experts=need("num_local_experts"), n_experts_active=k,
                    d_ff_expert=need("intermediate_size"), attention_sinks=True, expert_bias=True)
    if family in ("qwen2_moe", "qwen3_moe"):
        step = _int(config, "decoder_sparse_step", where, default=1)
        dense_only = set(_typed(config, "mlp_only_layers", where, list, []))
        n_dense = sum(i in dense_only or (i + 1) % step != 0 for i in range(n_layers))  # transformers' rule
        out = dict(d_ff=need("intermediate_size") if n_dense else 0, n_dense_layers=n_dense,
                   n_experts=need("num_experts"), n_experts_active=need("num_experts_per_tok"),
                   d_ff_expert=need("moe_intermediate_size"))
        if family == "qwen2_moe" and (shared := _int(config, "shared_expert_intermediate_size", where, lo=0,
                                                     default=0)):
            out.update(n_shared_experts=1, d_ff_shared=shared)
        return out
    if family == "deepseek_v3":
        if _typed(config, "attention_bias", where, bool, False):
            raise UnsupportedError(f"{where}: attention_bias with MLA is not supported.")
        first = _int(config, "first_k_dense_replace", where, lo=0, default=0)
        freq = _int(config, "moe_layer_freq", where, default=1)
        n_dense = sum(i < first or i % freq != 0 for i in range(n_layers))  # transformers' rule
        nope, rope = need("qk_nope_head_dim"), need("qk_rope_head_dim")
        return dict(
            attention="mla", d_head=nope + rope, q_lora_rank=_int(config, "q_lora_rank", where, lo=0, default=0),
            kv_lora_rank=need("kv_lora_rank"), qk_nope_head_dim=nope, qk_rope_head_dim=rope,
            v_head_dim=need("v_head_dim"), d_ff=need("intermediate_size") if n_dense else 0,
            n_dense_layers=n_dense, n_experts=need("n_routed_experts"),
            n_experts_active=need("num_experts_per_tok"), d_ff_expert=need("moe_intermediate_size"),
            n_shared_experts=_int(config, "n_shared_experts", where, lo=0, default=0),
            d_ff_shared=need("moe_intermediate_size"),
        )
    return {}


def _family_fields(config: dict[str, Any], family: str, where: str) -> dict[str, Any]:
    """Biases, norms and MLP form that differ from the Llama shape."""
    bias = _typed(config, "attention_bias", where, bool, False)
    out: dict[str, Any] = {}
    if family in ("llama", "qwen3", "qwen3_moe", "gpt_oss"):
        out.update(qkv_bias=bias, o_bias=bias)
    if family in ("qwen2", "qwen2_moe"):
        out.update(qkv_bias=True)
    if family in ("qwen3", "qwen3_moe", "gemma3"):
        out.update(qk_norm=True)
    if family in ("gemma2", "gemma3"):
        out.update(norms_per_layer=4)
    if family == "gpt2":
        out.update(qkv_bias=True, o_bias=True, mlp_bias=True, norm_bias=True, gated_mlp=False,
                   n_positions=_int(config, "max_position_embeddings", where))
    return out


def model_from_config(config: dict[str, Any], name: str, source: str = "") -> ModelSpec:
    """Build a ModelSpec from a Hugging Face config.json dict (sizes in elements).

    Every key used is checked for its type and range (sizes whole numbers in 1..MAX_DIM, flags true or
    false, no NaN); a problem raises SpecError naming the key, the value and ``source``."""
    where = source or f"the config of {name!r}"
    if not isinstance(config, dict):
        raise SpecError(f"{where} is not a JSON object (got {type(config).__name__}).")
    config = _language_config(config, where)
    family = _family(config, where)
    if family == "gpt2":
        config = {**config, **{new: config[old] for old, new in GPT2_KEYS.items() if old in config}}

    def need(key: str) -> int:
        return _int(config, key, where)

    D, L, N = need("hidden_size"), need("num_hidden_layers"), need("num_attention_heads")
    d_head = _int(config, "head_dim", where, default=None)
    if d_head is None:
        if D % N:
            raise SpecError(f"{where}: hidden_size ({D}) is not a multiple of num_attention_heads ({N}) and there "
                            "is no head_dim; fix one of them or add head_dim.")
        d_head = D // N
    if family == "gpt2":
        d_ff = _int(config, "intermediate_size", where, default=4 * D)     # n_inner: null means 4 x n_embd
    elif family in DENSE_FAMILIES:
        d_ff = need("intermediate_size")
    else:
        d_ff = _int(config, "intermediate_size", where, default=0)
    fields: dict[str, Any] = dict(
        name=name, family=family, n_layers=L, d_model=D, n_heads=N,
        n_kv_heads=_int(config, "num_key_value_heads", where, default=N), d_head=d_head,
        d_ff=d_ff,
        vocab_size=need("vocab_size"),
        tie_embeddings=_typed(config, "tie_word_embeddings", where, bool, family in TIED_BY_DEFAULT),
        source=source,
    )
    fields.update(shipped_fields(config, where))     # context limit and shipped quantization
    fields.update(_family_fields(config, family, where))
    fields["sliding_window"], fields["n_sliding_layers"] = _sliding(config, family, L, where)
    fields.update(_moe_fields(config, family, L, where))
    try:
        return ModelSpec(**fields)
    except ValidationError as e:
        text = validation_text(e)
        for field, key in CONFIG_KEY.items():
            text = re.sub(rf"\b{field}\b", f"{field} ({key})", text, count=1)
        raise SpecError(f"Invalid model config {where}: {text}. Fix the config.json.") from None

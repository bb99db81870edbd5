"""Model shapes: the built-in catalog, local config.json files and Hugging Face hub ids.

A catalog file (`catalog/models/<name>.yaml`) keeps the model's Hugging Face config.json fields
verbatim under `config:`, so one parser (`model_from_config`) reads catalog and user files alike.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tokenomy.errors import CatalogError, SpecError, UnsupportedError, unknown_name_error
from tokenomy.loaders.quantization import shipped_fields
from tokenomy.spec.model import ModelSpec

CATALOG_PACKAGE = "tokenomy.catalog.models"
LIST_HINT = "Run 'tokenomy models list' or pass a path to a config.json."
CATALOG_KEYS = {"config", "source", "published_params", "published_active_params", "params_source", "params_note"}

# HF model_type -> tokenomy family; `architectures` is the fallback when model_type is absent or unknown
SUPPORTED_TYPES = ("llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen3_moe", "gpt_oss", "deepseek_v3")
ARCHITECTURES = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "MixtralForCausalLM": "mixtral",
    "Qwen3MoeForCausalLM": "qwen3_moe",
    "GptOssForCausalLM": "gpt_oss",
    "DeepseekV3ForCausalLM": "deepseek_v3",
}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # org/name, as on huggingface.co


def _family(config: dict[str, Any], where: str) -> str:
    model_type = config.get("model_type")
    if model_type in SUPPORTED_TYPES:
        return model_type
    for arch in config.get("architectures") or []:
        if arch in ARCHITECTURES:
            return ARCHITECTURES[arch]
    got = f"model_type {model_type!r}" if model_type else f"architectures {config.get('architectures')!r}"
    raise UnsupportedError(
        f"Unsupported {got} in {where}. Supported model_type values: {', '.join(SUPPORTED_TYPES)}."
    )


def _sliding(config: dict[str, Any], family: str, n_layers: int) -> tuple[int | None, int]:
    """(window in tokens, number of sliding-window layers) from layer_types or the family's rule."""
    window = config.get("sliding_window")
    if config.get("layer_types"):
        n = sum(t == "sliding_attention" for t in config["layer_types"])
    elif family == "gpt_oss":  # transformers' default: even layers slide
        n = (n_layers + 1) // 2
    elif family in ("mistral", "mixtral"):  # every layer slides when a window is set
        n = n_layers if window else 0
    elif family in ("qwen2", "qwen3", "qwen3_moe") and config.get("use_sliding_window"):
        n = max(0, n_layers - config.get("max_window_layers", n_layers))  # layers >= max_window_layers slide
    else:
        n = 0
    return (window if n else None), n


def model_from_config(config: dict[str, Any], name: str, source: str = "") -> ModelSpec:
    """Build a ModelSpec from a Hugging Face config.json dict (sizes in elements)."""
    where = source or f"the config of {name!r}"
    if not isinstance(config, dict):
        raise SpecError(f"{where} is not a JSON object (got {type(config).__name__}).")
    family = _family(config, where)

    def need(key: str) -> Any:
        if config.get(key) is None:
            raise SpecError(f"{where} lacks required key {key!r} (model_type {family}). Add it to the config.json.")
        return config[key]

    D, L, N = need("hidden_size"), need("num_hidden_layers"), need("num_attention_heads")
    fields: dict[str, Any] = dict(
        name=name,
        family=family,
        n_layers=L,
        d_model=D,
        n_heads=N,
        n_kv_heads=config.get("num_key_value_heads") or N,
        d_head=config.get("head_dim") or D // N,
        d_ff=config.get("intermediate_size") or 0,
        vocab_size=need("vocab_size"),
        tie_embeddings=bool(config.get("tie_word_embeddings", False)),
        source=source,
    )
    fields.update(shipped_fields(config, where))     # context limit and shipped quantization
    bias = bool(config.get("attention_bias", False))
    if family in ("llama", "qwen3", "qwen3_moe", "gpt_oss"):
        fields.update(qkv_bias=bias, o_bias=bias)
    if family == "qwen2":
        fields.update(qkv_bias=True)
    if family in ("qwen3", "qwen3_moe"):
        fields.update(qk_norm=True)
    if family in ("llama", "mistral", "qwen2", "qwen3"):
        fields.update(d_ff=need("intermediate_size"))
    fields["sliding_window"], fields["n_sliding_layers"] = _sliding(config, family, L)

    if family == "mixtral":
        fields.update(d_ff=0, n_experts=need("num_local_experts"), n_experts_active=need("num_experts_per_tok"),
                      d_ff_expert=need("intermediate_size"))
    elif family == "gpt_oss":
        k = config.get("num_experts_per_tok") or need("experts_per_token")
        fields.update(d_ff=0, n_experts=need("num_local_experts"), n_experts_active=k,
                      d_ff_expert=need("intermediate_size"), attention_sinks=True, expert_bias=True)
    elif family == "qwen3_moe":
        step, dense_only = config.get("decoder_sparse_step", 1), set(config.get("mlp_only_layers") or [])
        n_dense = sum(i in dense_only or (i + 1) % step != 0 for i in range(L))  # transformers' rule
        fields.update(d_ff=need("intermediate_size") if n_dense else 0, n_dense_layers=n_dense,
                      n_experts=need("num_experts"), n_experts_active=need("num_experts_per_tok"),
                      d_ff_expert=need("moe_intermediate_size"))
    elif family == "deepseek_v3":
        if bias:
            raise UnsupportedError(f"{where}: attention_bias with MLA is not supported.")
        first, freq = config.get("first_k_dense_replace", 0), config.get("moe_layer_freq", 1)
        n_dense = sum(i < first or i % freq != 0 for i in range(L))  # transformers' rule
        nope, rope = need("qk_nope_head_dim"), need("qk_rope_head_dim")
        fields.update(
            attention="mla", d_head=nope + rope, q_lora_rank=config.get("q_lora_rank") or 0,
            kv_lora_rank=need("kv_lora_rank"), qk_nope_head_dim=nope, qk_rope_head_dim=rope,
            v_head_dim=need("v_head_dim"), d_ff=need("intermediate_size") if n_dense else 0,
            n_dense_layers=n_dense, n_experts=need("n_routed_experts"),
            n_experts_active=need("num_experts_per_tok"), d_ff_expert=need("moe_intermediate_size"),
            n_shared_experts=config.get("n_shared_experts") or 0, d_ff_shared=need("moe_intermediate_size"),
        )
    try:
        return ModelSpec(**fields)
    except ValidationError as e:
        raise SpecError(f"Invalid model config {where}: {e.errors()[0]['msg']}") from None


@lru_cache(maxsize=None)
def _catalog_files() -> dict[str, Any]:
    root = resources.files(CATALOG_PACKAGE)
    return {p.name[: -len(".yaml")]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def model_names() -> list[str]:
    """Names of the built-in catalog models, sorted."""
    return sorted(_catalog_files())


@lru_cache(maxsize=None)
def _load_catalog_model(name: str) -> ModelSpec:
    path = _catalog_files()[name]
    where = f"catalog/models/{path.name}"
    try:
        entry = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise CatalogError(f"Malformed {where}: {e}") from None
    if not isinstance(entry, dict) or "config" not in entry:
        raise CatalogError(f"Malformed {where}: it needs a 'config:' mapping (the config.json fields).")
    if extra := set(entry) - CATALOG_KEYS:
        raise CatalogError(f"Unknown keys {sorted(extra)} in {where}; allowed: {sorted(CATALOG_KEYS)}.")
    if "published_params" in entry and not entry.get("params_source"):
        raise CatalogError(f"{where} gives published_params without params_source.")
    spec = model_from_config(entry["config"], name, entry.get("source", ""))
    published = {k: float(entry[k]) for k in ("published_params", "published_active_params") if k in entry}
    return ModelSpec(**{**spec.model_dump(), **published})


def _load_config_file(path: Path, name: str) -> ModelSpec:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SpecError(f"Cannot read {path}: {e}") from None
    return model_from_config(config, name, str(path))


def _load_hub(repo_id: str) -> ModelSpec:
    """Fetch config.json from the Hugging Face hub (cached by huggingface_hub)."""
    def fail(reason: str) -> CatalogError:
        return unknown_name_error("model", repo_id, model_names(),
                                  f"It is not a local path and {reason}. {LIST_HINT}")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise fail("huggingface_hub is not installed (pip install 'tokenomy[hub]')") from None
    try:
        path = hf_hub_download(repo_id, "config.json")
    except Exception as e:  # offline, unknown or gated repo: all mean "pass a local file instead"
        raise fail(f"the Hugging Face hub could not serve its config.json ({type(e).__name__})") from None
    return _load_config_file(Path(path), repo_id)


def load_model(name_or_path: str) -> ModelSpec:
    """A ModelSpec from a catalog name, a config.json path (or its directory), or a hub id `org/name`.

    The hub is asked only for `org/name` strings that are neither catalog names nor existing paths.
    """
    if name_or_path in _catalog_files():
        return _load_catalog_model(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CatalogError(f"Directory {path} has no config.json. Pass a config.json or its directory.")
        return _load_config_file(path / "config.json", path.resolve().name)
    if path.is_file():
        name = path.resolve().parent.name if path.name == "config.json" else path.stem
        return _load_config_file(path, name)
    if HUB_ID.match(name_or_path) and not name_or_path.endswith(".json"):
        return _load_hub(name_or_path)
    if "/" in name_or_path or name_or_path.endswith(".json"):
        raise CatalogError(f"No such file or directory: {name_or_path!r}. {LIST_HINT}")
    raise unknown_name_error("model", name_or_path, model_names(), LIST_HINT)

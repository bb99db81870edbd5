"""Model shapes: the built-in catalog, local config.json files and Hugging Face hub ids.

A catalog file (`catalog/models/<name>.yaml`) keeps the model's Hugging Face config.json fields
verbatim under `config:`, so one parser (`model_from_config`) reads catalog and user files alike.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tokenomy.errors import CatalogError, SpecError, UnsupportedError, unknown_name_error
from tokenomy.loaders.quantization import shipped_fields
from tokenomy.spec.limits import MAX_DIM
from tokenomy.spec.model import ModelSpec

from .files import check_name, parse_text, read_data, require_mapping, validation_text

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
    if model_type in SUPPORTED_TYPES:
        return model_type
    for arch in _typed(config, "architectures", where, list, []):
        if arch in ARCHITECTURES:
            return ARCHITECTURES[arch]
    got = f"model_type {model_type!r}" if model_type else f"architectures {config.get('architectures')!r}"
    raise UnsupportedError(
        f"Unsupported {got} in {where}. Supported model_type values: {', '.join(SUPPORTED_TYPES)}."
    )


def _sliding(config: dict[str, Any], family: str, n_layers: int, where: str) -> tuple[int | None, int]:
    """(window in tokens, number of sliding-window layers) from layer_types or the family's rule."""
    window = _int(config, "sliding_window", where, default=None)
    layer_types = _typed(config, "layer_types", where, list, [])
    if layer_types:
        if len(layer_types) != n_layers:
            raise SpecError(f"{where}: 'layer_types' lists {len(layer_types)} layers but num_hidden_layers is "
                            f"{n_layers}; give one type per layer.")
        n = sum(t == "sliding_attention" for t in layer_types)
    elif family == "gpt_oss":  # transformers' default: even layers slide
        n = (n_layers + 1) // 2
    elif family in ("mistral", "mixtral"):  # every layer slides when a window is set
        n = n_layers if window else 0
    elif family in ("qwen2", "qwen3", "qwen3_moe") and _typed(config, "use_sliding_window", where, bool, False):
        n = max(0, n_layers - _int(config, "max_window_layers", where, lo=0, default=n_layers))  # layers >= it slide
    else:
        n = 0
    return (window if n else None), n


def model_from_config(config: dict[str, Any], name: str, source: str = "") -> ModelSpec:
    """Build a ModelSpec from a Hugging Face config.json dict (sizes in elements).

    Every key used is checked for its type and range (sizes whole numbers in 1..MAX_DIM, flags true or
    false, no NaN); a problem raises SpecError naming the key, the value and ``source``."""
    where = source or f"the config of {name!r}"
    if not isinstance(config, dict):
        raise SpecError(f"{where} is not a JSON object (got {type(config).__name__}).")
    family = _family(config, where)

    def need(key: str) -> int:
        return _int(config, key, where)

    D, L, N = need("hidden_size"), need("num_hidden_layers"), need("num_attention_heads")
    d_head = _int(config, "head_dim", where, default=None)
    if d_head is None:
        if D % N:
            raise SpecError(f"{where}: hidden_size ({D}) is not a multiple of num_attention_heads ({N}) and there "
                            "is no head_dim; fix one of them or add head_dim.")
        d_head = D // N
    fields: dict[str, Any] = dict(
        name=name,
        family=family,
        n_layers=L,
        d_model=D,
        n_heads=N,
        n_kv_heads=_int(config, "num_key_value_heads", where, default=N),
        d_head=d_head,
        d_ff=_int(config, "intermediate_size", where, default=0),
        vocab_size=need("vocab_size"),
        tie_embeddings=_typed(config, "tie_word_embeddings", where, bool, False),
        source=source,
    )
    fields.update(shipped_fields(config, where))     # context limit and shipped quantization
    bias = _typed(config, "attention_bias", where, bool, False)
    if family in ("llama", "qwen3", "qwen3_moe", "gpt_oss"):
        fields.update(qkv_bias=bias, o_bias=bias)
    if family == "qwen2":
        fields.update(qkv_bias=True)
    if family in ("qwen3", "qwen3_moe"):
        fields.update(qk_norm=True)
    if family in ("llama", "mistral", "qwen2", "qwen3"):
        fields.update(d_ff=need("intermediate_size"))
    fields["sliding_window"], fields["n_sliding_layers"] = _sliding(config, family, L, where)

    if family == "mixtral":
        fields.update(d_ff=0, n_experts=need("num_local_experts"), n_experts_active=need("num_experts_per_tok"),
                      d_ff_expert=need("intermediate_size"))
    elif family == "gpt_oss":
        k = _int(config, "num_experts_per_tok", where, default=None) or need("experts_per_token")
        fields.update(d_ff=0, n_experts=need("num_local_experts"), n_experts_active=k,
                      d_ff_expert=need("intermediate_size"), attention_sinks=True, expert_bias=True)
    elif family == "qwen3_moe":
        step = _int(config, "decoder_sparse_step", where, default=1)
        dense_only = set(_typed(config, "mlp_only_layers", where, list, []))
        n_dense = sum(i in dense_only or (i + 1) % step != 0 for i in range(L))  # transformers' rule
        fields.update(d_ff=need("intermediate_size") if n_dense else 0, n_dense_layers=n_dense,
                      n_experts=need("num_experts"), n_experts_active=need("num_experts_per_tok"),
                      d_ff_expert=need("moe_intermediate_size"))
    elif family == "deepseek_v3":
        if bias:
            raise UnsupportedError(f"{where}: attention_bias with MLA is not supported.")
        first = _int(config, "first_k_dense_replace", where, lo=0, default=0)
        freq = _int(config, "moe_layer_freq", where, default=1)
        n_dense = sum(i < first or i % freq != 0 for i in range(L))  # transformers' rule
        nope, rope = need("qk_nope_head_dim"), need("qk_rope_head_dim")
        fields.update(
            attention="mla", d_head=nope + rope, q_lora_rank=_int(config, "q_lora_rank", where, lo=0, default=0),
            kv_lora_rank=need("kv_lora_rank"), qk_nope_head_dim=nope, qk_rope_head_dim=rope,
            v_head_dim=need("v_head_dim"), d_ff=need("intermediate_size") if n_dense else 0,
            n_dense_layers=n_dense, n_experts=need("n_routed_experts"),
            n_experts_active=need("num_experts_per_tok"), d_ff_expert=need("moe_intermediate_size"),
            n_shared_experts=_int(config, "n_shared_experts", where, lo=0, default=0),
            d_ff_shared=need("moe_intermediate_size"),
        )
    try:
        return ModelSpec(**fields)
    except ValidationError as e:
        text = validation_text(e)
        for field, key in CONFIG_KEY.items():
            text = re.sub(rf"\b{field}\b", f"{field} ({key})", text, count=1)
        raise SpecError(f"Invalid model config {where}: {text}. Fix the config.json.") from None


@cache
def _catalog_files() -> dict[str, Any]:
    root = resources.files(CATALOG_PACKAGE)
    return {p.name[: -len(".yaml")]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def model_names() -> list[str]:
    """Names of the built-in catalog models, sorted."""
    return sorted(_catalog_files())


@cache
def _load_catalog_model(name: str) -> ModelSpec:
    path = _catalog_files()[name]
    where = f"catalog/models/{path.name}"
    entry = require_mapping(parse_text(path.read_text(encoding="utf-8"), where, "yaml", CatalogError), where,
                            CatalogError, "a mapping with a 'config:' mapping (the config.json fields)")
    if "config" not in entry:
        raise CatalogError(f"Malformed {where}: it needs a 'config:' mapping (the config.json fields).")
    if extra := set(entry) - CATALOG_KEYS:
        raise CatalogError(f"Unknown keys {sorted(extra)} in {where}; allowed: {sorted(CATALOG_KEYS)}.")
    if "published_params" in entry and not entry.get("params_source"):
        raise CatalogError(f"{where} gives published_params without params_source.")
    spec = model_from_config(entry["config"], name, entry.get("source", ""))
    published = {}
    for k in ("published_params", "published_active_params"):
        if k in entry:
            v = entry[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1e16:
                raise CatalogError(f"{where}: {k} must be a parameter count in (0, 1e16), got {v!r}.")
            published[k] = float(v)
    return ModelSpec(**{**spec.model_dump(), **published})


def _load_config_file(path: Path, name: str) -> ModelSpec:
    config = require_mapping(read_data(path, SpecError, "config.json", fmt="json"), str(path), SpecError,
                             "a JSON object (a Hugging Face config.json)")
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
    if not isinstance(name_or_path, str):
        raise SpecError(f"model must be a catalog name, a config.json path or a hub id, got {name_or_path!r}.")
    check_name(name_or_path, "model", SpecError)
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

"""How a checkpoint ships: its context limit and weight quantization, read from config.json.

``quantization_config.quant_method`` maps to a tokenomy weight format:
    mxfp4       -> weights mxfp4 (4.25 bits), activations bf16 (gpt-oss)
    fp8         -> weights fp8, activations fp8 (DeepSeek-V3: e4m3, 128 x 128 blocks, dynamic activations)
    fbgemm_fp8  -> weights fp8, activations fp8 (per-row dynamic)
Other methods (gptq, awq, bitsandbytes, compressed-tensors, ...) are recorded but not modelled:
the default precision stays bf16 and says so. ``modules_to_not_convert`` (or ``ignored_layers``)
names the parts kept in 16-bit. Routers are always 16-bit: gpt-oss lists them, and DeepSeek's
router is not a linear layer, so the fp8 method does not convert it.

Catalog aliases (loaders/models.py) reuse this: an alias may carry the checkpoint's quantization_config,
and a name ending in -FP8 / -FP8-dynamic with none is read as ``{"quant_method": "fp8"}`` (W8A8, router
16-bit), the convention of NVIDIA ModelOpt, Qwen and RedHat FP8 checkpoints.
"""

from __future__ import annotations

from typing import Any

from tokenomy.errors import SpecError

METHOD_FORMATS = {"mxfp4": ("mxfp4", "bf16"), "fp8": ("fp8", "fp8"), "fbgemm_fp8": ("fp8", "fp8")}
# substring of a module pattern -> parts of core/precision.PARTS it keeps in 16-bit (first match wins)
MODULE_PARTS = (("shared_expert", ("shared_experts",)), ("experts", ("experts",)), ("router", ("router",)),
                ("attn", ("attention",)), ("mlp", ("mlp", "router", "experts", "shared_experts")))


def _positive_int(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{where}: {key} must be a positive whole number of tokens, got {value!r}. "
                        "Fix it in the config.json.")
    return value


def shipped_fields(config: dict[str, Any], where: str) -> dict[str, Any]:
    """ModelSpec fields for the context limit and the shipped quantization of ``config``."""
    out: dict[str, Any] = {}
    if config.get("max_position_embeddings") is not None:
        out["max_position_embeddings"] = _positive_int(config["max_position_embeddings"], "max_position_embeddings",
                                                       where)
    q = config.get("quantization_config")
    if q is None:
        return out
    if not isinstance(q, dict) or not isinstance(q.get("quant_method"), str) or not q["quant_method"].strip():
        raise SpecError(f"{where}: quantization_config must be an object with a quant_method string "
                        f"(e.g. {{\"quant_method\": \"fp8\"}}), got {q!r}.")
    method = q["quant_method"].strip().lower()
    out["quant_method"] = method
    if method not in METHOD_FORMATS:
        return out
    out["quant_weights"], out["quant_activations"] = METHOD_FORMATS[method]
    skip = q.get("modules_to_not_convert", q.get("ignored_layers")) or []
    if not isinstance(skip, list) or not all(isinstance(s, str) for s in skip):
        raise SpecError(f"{where}: quantization_config.modules_to_not_convert must be a list of module "
                        f"names, got {skip!r}.")
    parts = {"router"}
    for pattern in skip:
        if not pattern.endswith(".gate"):     # 'mlp.gate' is a router; 'mlp.gate_proj' is not
            parts.update(next((p for key, p in MODULE_PARTS if key in pattern), ()))
    out["quant_bf16_parts"] = tuple(sorted(parts))
    return out

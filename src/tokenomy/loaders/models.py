"""Model shapes: the built-in catalog, local config.json files and Hugging Face hub ids.

A catalog file (`catalog/models/<name>.yaml`) keeps the model's Hugging Face config.json fields
verbatim under `config:`, so one parser (`model_from_config`, loaders/architectures.py) reads catalog
and user files alike.

Names. Every catalog entry lists its ``aliases:``: Hugging Face ids of checkpoints that share the shape
(base, -Instruct, quantized), display names as the serving data writes them ("Llama 3.3 70B") and
short names ("dsr1"). `load_model` resolves a name case-insensitively: catalog names first, then
aliases; an alias claimed by two entries is an error naming both. An alias is a string or a mapping
``{name: ..., quantization_config: {...}}`` giving the checkpoint's quantization_config as its
config.json does (loaders/quantization.py reads it). A string alias, or any name not in the catalog,
ending in ``-FP8``, `` FP8`` or ``-FP8-dynamic`` is read as that shape shipped in fp8 (weights and dynamic
activations, router in 16-bit: the convention of NVIDIA ModelOpt, Qwen and RedHat FP8 checkpoints).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from tokenomy.errors import CatalogError, SpecError, unknown_name_error
from tokenomy.loaders.quantization import shipped_fields
from tokenomy.spec.model import ModelSpec

from .architectures import model_from_config
from .files import check_name, parse_text, read_data, require_mapping
from .hub import hub_config_path

__all__ = ["load_model", "model_aliases", "model_from_config", "model_names", "resolve_model_name"]

CATALOG_PACKAGE = "tokenomy.catalog.models"
LIST_HINT = "Run 'tokenomy models list' or pass a path to a config.json."
CATALOG_KEYS = {"config", "source", "published_params", "published_active_params", "params_source", "params_note",
                "aliases"}
FP8_SUFFIX = re.compile(r"[-_ ]fp8(-dynamic)?$", re.IGNORECASE)
FP8_QUANT = {"quant_method": "fp8"}   # what an -FP8 name means when the catalog does not say more

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # org/name, as on huggingface.co


@cache
def _catalog_files() -> dict[str, Any]:
    root = resources.files(CATALOG_PACKAGE)
    return {p.name[: -len(".yaml")]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def model_names() -> list[str]:
    """Names of the built-in catalog models, sorted."""
    return sorted(_catalog_files())


@cache
def _catalog_entry(name: str) -> dict[str, Any]:
    """The parsed and checked YAML mapping of catalog model ``name``."""
    path = _catalog_files()[name]
    where = f"the built-in model {path.name[:-len('.yaml')]!r}"
    entry = require_mapping(parse_text(path.read_text(encoding="utf-8"), where, "yaml", CatalogError), where,
                            CatalogError, "a mapping with a 'config:' mapping (the config.json fields)")
    if "config" not in entry:
        raise CatalogError(f"Malformed {where}: it needs a 'config:' mapping (the config.json fields).")
    if extra := set(entry) - CATALOG_KEYS:
        raise CatalogError(f"Unknown keys {sorted(extra)} in {where}; allowed: {sorted(CATALOG_KEYS)}.")
    if "published_params" in entry and not entry.get("params_source"):
        raise CatalogError(f"{where} gives published_params without params_source.")
    return entry


def _aliases(name: str) -> list[tuple[str, dict[str, Any] | None]]:
    """(alias, quantization_config or None) for each alias of catalog model ``name``."""
    where = f"the built-in model {name!r}"
    raw = _catalog_entry(name).get("aliases") or []
    if not isinstance(raw, list):
        raise CatalogError(f"{where}: 'aliases' must be a list of names, got {raw!r}.")
    out: list[tuple[str, dict[str, Any] | None]] = []
    for item in raw:
        if isinstance(item, dict) and set(item) == {"name", "quantization_config"}:
            alias, quant = item["name"], item["quantization_config"]
        else:
            alias, quant = item, None
        if not isinstance(alias, str) or not alias.strip() or (quant is not None and not isinstance(quant, dict)):
            raise CatalogError(f"{where}: each alias must be a name or {{name: ..., quantization_config: {{...}}}}, "
                               f"got {item!r}.")
        out.append((alias, FP8_QUANT if quant is None and FP8_SUFFIX.search(alias) else quant))
    return out


def model_aliases(name: str) -> list[str]:
    """The aliases of catalog model ``name``, as written in its YAML."""
    return [alias for alias, _ in _aliases(name)]


@cache
def _alias_index() -> dict[str, list[tuple[str, dict[str, Any] | None]]]:
    """casefolded alias -> [(catalog name, quantization_config or None)], one item per entry claiming it."""
    index: dict[str, list[tuple[str, dict[str, Any] | None]]] = {}
    for name in model_names():
        for alias, quant in _aliases(name):
            index.setdefault(alias.strip().casefold(), []).append((name, quant))
    return index


def resolve_model_name(text: str) -> tuple[str, dict[str, Any] | None] | None:
    """(catalog name, quantization_config or None) that ``text`` names, or None if no entry does.

    Order: exact catalog name, catalog name ignoring case, alias ignoring case, then (for a name ending
    in -FP8 / -FP8-dynamic) the same steps on the name without the suffix, read as an fp8 checkpoint.
    An alias claimed by two or more entries raises CatalogError naming them."""
    if text in _catalog_files():
        return text, None
    key = text.strip().casefold()
    by_case = {n.casefold(): n for n in model_names()}
    if key in by_case:
        return by_case[key], None
    hits = _alias_index().get(key, [])
    if len(owners := sorted({n for n, _ in hits})) > 1:
        raise CatalogError(f"Model name {text!r} is ambiguous: it is an alias of {', '.join(owners)}. "
                           "Pass the catalog name instead.")
    if hits:
        return hits[0]
    base = FP8_SUFFIX.sub("", text.strip())
    if base != text.strip() and (found := resolve_model_name(base)) is not None:
        return found[0], found[1] or FP8_QUANT
    return None


@cache
def _load_catalog_model(name: str) -> ModelSpec:
    entry = _catalog_entry(name)
    where = f"the built-in model {name!r}"
    spec = model_from_config(entry["config"], name, entry.get("source", ""))
    published: dict[str, float] = {}
    for k in ("published_params", "published_active_params"):
        if k in entry:
            v = entry[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1e16:
                raise CatalogError(f"{where}: {k} must be a parameter count in (0, 1e16), got {v!r}.")
            published[k] = float(v)
    return ModelSpec(**{**spec.model_dump(), **published})


def _quantized(spec: ModelSpec, quant: dict[str, Any] | None, alias: str) -> ModelSpec:
    """``spec`` as the checkpoint ``alias`` ships it; a shape that already ships quantized keeps its own."""
    if quant is None or spec.quant_method is not None:
        return spec
    fields = shipped_fields({"quantization_config": quant}, f"the quantization_config of alias {alias!r}")
    return ModelSpec(**{**spec.model_dump(), **fields})


def _load_config_file(path: Path, name: str) -> ModelSpec:
    config = require_mapping(read_data(path, SpecError, "config.json", fmt="json"), str(path), SpecError,
                             "a JSON object (a Hugging Face config.json)")
    return model_from_config(config, name, str(path))


def _load_hub(repo_id: str) -> ModelSpec:
    """config.json from the Hugging Face hub (cached by huggingface_hub; fails fast offline: loaders/hub.py)."""
    return _load_config_file(Path(hub_config_path(repo_id, _known_names())), repo_id)


def _known_names() -> list[str]:
    """Catalog names and every alias, for "did you mean" suggestions."""
    return model_names() + [alias for name in model_names() for alias in model_aliases(name)]


def load_model(name_or_path: str) -> ModelSpec:
    """A ModelSpec from a catalog name or alias, a config.json path (or its directory), or a hub id `org/name`.

    Catalog names and aliases (case-insensitive, see the module docstring) come first, so a known hub id
    never touches the network; the hub is asked only for `org/name` strings that are neither catalog
    names, aliases nor existing paths.
    """
    if not isinstance(name_or_path, str):
        raise SpecError(f"model must be a catalog name, a config.json path or a hub id, got {name_or_path!r}.")
    check_name(name_or_path, "model", SpecError)
    if (found := resolve_model_name(name_or_path)) is not None:
        return _quantized(_load_catalog_model(found[0]), found[1], name_or_path)
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
    raise unknown_name_error("model", name_or_path, _known_names(), LIST_HINT)

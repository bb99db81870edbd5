"""Engine profiles: ``catalog/engines/<name>.yaml`` or a user's YAML/JSON file.

A profile may start with ``extends: <name>`` and override only some fields (nested sections
are merged key by key).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..errors import CatalogError, SpecError, unknown_name_error
from ..spec.engine import EngineProfile

DEFAULT_ENGINE = "serving"


def engine_names() -> list[str]:
    root = resources.files("tokenomy.catalog.engines")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read(path_or_text: str, origin: str) -> dict:
    try:
        data = json.loads(path_or_text) if origin.endswith(".json") else yaml.safe_load(path_or_text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise CatalogError(f"Engine profile {origin} is not valid YAML/JSON: {e}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"Engine profile {origin} must be a mapping of fields.")
    return data


@functools.lru_cache(maxsize=None)
def _builtin_raw(name: str) -> dict:
    f = resources.files("tokenomy.catalog.engines") / f"{name}.yaml"
    return _read(f.read_text(), f"{name}.yaml")


def _resolve(data: dict, origin: str, depth: int = 0) -> dict:
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    if depth > 5:
        raise CatalogError(f"Engine profile {origin}: 'extends' chain is too deep.")
    if base_name not in engine_names():
        raise unknown_name_error("engine", base_name, engine_names(), f"(named by 'extends' in {origin}).")
    return _merge(_resolve(dict(_builtin_raw(base_name)), base_name, depth + 1), data)


def engine_from_dict(data: dict, origin: str = "<dict>") -> EngineProfile:
    data = _resolve(dict(data), origin)
    data.pop("measurements", None)   # calibrate output keeps raw rows beside the profile
    data.pop("device", None)
    try:
        return EngineProfile(**data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise SpecError(f"Engine profile {origin}: field {loc!r}: {err['msg']}.") from None


@functools.lru_cache(maxsize=None)
def _load_builtin(name: str) -> EngineProfile:
    return engine_from_dict(dict(_builtin_raw(name)), f"{name}.yaml")


def load_engine(name_or_path: str | None = None) -> EngineProfile:
    """A built-in profile by name (default ``serving``) or a profile file (YAML or JSON)."""
    name = name_or_path or DEFAULT_ENGINE
    if name in engine_names():
        return _load_builtin(name)
    p = Path(name)
    if p.suffix in (".yaml", ".yml", ".json") or p.exists():
        if not p.is_file():
            raise CatalogError(f"No such engine profile file: {name}.")
        return engine_from_dict(_read(p.read_text(), p.name), str(p))
    raise unknown_name_error("engine", name, engine_names(),
                             "Run 'tokenomy engines list' or pass a profile file (tokenomy calibrate writes one).")

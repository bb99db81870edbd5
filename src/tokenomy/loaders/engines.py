"""Engine profiles: ``catalog/engines/<name>.yaml`` or a user's YAML/JSON file.

A profile may start with ``extends: <name>`` and override only some fields (nested sections
are merged key by key).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ..errors import CatalogError, SpecError, unknown_name_error
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from .files import check_name, parse_text, read_data, require_mapping, validation_text
from .hardware import load_hardware

DEFAULT_ENGINE = "serving"


def engine_names() -> list[str]:
    root = resources.files("tokenomy.catalog.engines")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_file(path: Path) -> dict:
    """An engine profile file (YAML, or JSON by suffix) as a checked mapping."""
    data = read_data(path, CatalogError, "engine profile file", fmt="json" if path.suffix == ".json" else "yaml")
    return require_mapping(data, str(path), CatalogError, "a mapping of engine profile fields")


@functools.cache
def _builtin_raw(name: str) -> dict:
    f = resources.files("tokenomy.catalog.engines") / f"{name}.yaml"
    data = parse_text(f.read_text(encoding="utf-8"), f"{name}.yaml", "yaml", CatalogError)
    return require_mapping(data, f"{name}.yaml", CatalogError, "a mapping of engine profile fields")


def _resolve(data: dict, origin: str, depth: int = 0) -> dict:
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    if depth > 5:
        raise CatalogError(f"Engine profile {origin}: 'extends' chain is too deep.")
    if not isinstance(base_name, str):
        raise SpecError(f"Engine profile {origin}: field 'extends' must be an engine name such as 'serving', "
                        f"got {base_name!r}.")
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
        raise SpecError(f"Engine profile {origin}: {validation_text(e)}. Fix the value or drop the field "
                        "to keep the default.") from None


@functools.cache
def _load_builtin(name: str) -> EngineProfile:
    return engine_from_dict(dict(_builtin_raw(name)), f"{name}.yaml")


def load_engine(name_or_path: str | None = None) -> EngineProfile:
    """A built-in profile by name (default ``serving``) or a profile file (YAML or JSON)."""
    name = name_or_path or DEFAULT_ENGINE
    if not isinstance(name, str):
        raise SpecError(f"engine must be a name such as 'serving' or a profile file path, got {name!r}.")
    check_name(name, "engine", SpecError)
    if name in engine_names():
        return _load_builtin(name)
    p = Path(name)
    if p.suffix in (".yaml", ".yml", ".json") or p.exists():
        if not p.is_file():
            raise CatalogError(f"No such engine profile file: {name}.")
        return engine_from_dict(_read_file(p), str(p))
    raise unknown_name_error("engine", name, engine_names(),
                             "Run 'tokenomy engines list' or pass a profile file (tokenomy calibrate writes one).")


def engine_for_chip(engine: EngineProfile, hw: HardwareSpec) -> EngineProfile:
    """The profile that runs on ``hw``: an alias profile (``serving``: ``vendor_engine``) resolves to the
    engine named for the chip's vendor, and the vendor's backend terms (``backends``) are written in."""
    target = engine.vendor_engine.get(hw.vendor)
    if target is not None:
        engine = load_engine(target)
    return engine.for_vendor(hw.vendor)


def profile_hardware(path: str | Path) -> HardwareSpec | None:
    """The chip a ``tokenomy calibrate`` profile (JSON) was fitted on, from its ``device`` section; None
    for other files or a profile without one."""
    p = Path(path)
    if p.suffix != ".json" or not p.is_file():
        return None
    dev = _read_file(p).get("device") or {}
    if not isinstance(dev, dict):
        raise SpecError(f"{p}: field 'device' must be a mapping (as tokenomy calibrate writes it), got {dev!r}.")
    spec = dev.get("hardware_spec")
    if spec is not None:
        if not isinstance(spec, dict):
            raise SpecError(f"{p}: field 'device.hardware_spec' must be a mapping of HardwareSpec fields.")
        try:
            return HardwareSpec(**spec)
        except ValidationError as e:
            raise SpecError(f"{p}: device.hardware_spec: {validation_text(e)}. Re-run tokenomy calibrate or "
                            "pass --hardware.") from None
    hw = dev.get("hardware")
    if hw is None:
        return None
    if not isinstance(hw, str):
        raise SpecError(f"{p}: field 'device.hardware' must be a chip id such as 'h100-sxm', got {hw!r}.")
    return load_hardware(hw)

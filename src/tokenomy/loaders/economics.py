"""Read economics scenarios: the built-in defaults (``catalog/economics/defaults.yaml``) and user
scenario files (YAML, or TOML via tomllib). A user file holds any subset of Scenario fields, each a
plain value or ``{value, source, note}``; missing fields keep the defaults, unknown fields are errors.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CatalogError, SpecError
from ..spec.economics import FIELDS, Scenario, make_scenario, renamed_error
from .files import parse_text, read_data, require_mapping

_PACKAGE = "tokenomy.catalog.economics"
_PARTS = {"value", "source", "note"}


def _split(label: str, raw: dict[str, Any], *, need_source: bool) -> tuple[dict[str, Any], dict[str, str]]:
    values, sources = {}, {}
    for key, fig in raw.items():
        if isinstance(fig, dict):
            extra = sorted(map(str, set(fig) - _PARTS))
            if extra or "value" not in fig:
                raise SpecError(f"{label}: field {key!r} must be a value or {{value, source, note}}, got {fig!r}.")
            values[key] = fig["value"]
            if fig.get("source"):
                sources[key] = str(fig["source"])
        else:
            values[key] = fig
        if need_source and key not in sources:
            raise CatalogError(f"{label}: field {key!r} has no source.")
    return values, sources


@functools.lru_cache(maxsize=1)
def _defaults() -> tuple[Scenario, dict[str, str]]:
    text = resources.files(_PACKAGE).joinpath("defaults.yaml").read_text(encoding="utf-8")
    raw = require_mapping(parse_text(text, "defaults.yaml", "yaml", CatalogError), "defaults.yaml", CatalogError)
    values, sources = _split("defaults.yaml", raw, need_source=True)
    return make_scenario(values, "defaults.yaml"), sources


def default_scenario() -> Scenario:
    """The built-in default Scenario (values from catalog/economics/defaults.yaml)."""
    return _defaults()[0]


def default_sources() -> dict[str, str]:
    """Field -> source of each built-in default."""
    return dict(_defaults()[1])


def load_scenario(path: str | Path) -> Scenario:
    """A YAML (.yaml/.yml) or TOML (.toml) scenario file over the defaults."""
    p = Path(path)
    raw = read_data(p, SpecError, "scenario file", fmt="toml" if p.suffix == ".toml" else "yaml")
    raw = require_mapping({} if raw is None else raw, str(p), SpecError, "a mapping of scenario fields")
    renamed_error(raw, str(p))
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise SpecError(f"{p}: unknown field(s) {', '.join(map(repr, unknown))}; allowed fields: {', '.join(FIELDS)}.")
    values, _ = _split(str(p), raw, need_source=False)
    return make_scenario({**default_scenario().model_dump(), **values}, str(p))

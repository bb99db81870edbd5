"""Shared pieces of the economics API: scenario resolution, chip lookup, bounds, JSON-ready results."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..loaders.economics import default_scenario, load_scenario
from ..loaders.hardware import load_hardware
from ..spec import args
from ..spec.economics import Scenario, with_overrides
from ..spec.hardware import HardwareSpec

ScenarioLike = Scenario | str | Path | None

MAX_POWER_MW = args.MAX_POWER_MW
MAX_BATCH = 65_536          # operating points sweep batch 1..max_batch in one vectorized call
MAX_TOKENS = args.MAX_TOKENS   # per request or per answer
MAX_CHIPS_COMPARED = 64     # chips in one factory comparison
NAN = float("nan")          # a figure an infeasible point does not have (null in JSON)


def _plain(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.item() if x.ndim == 0 else x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    return x


class _Dict:
    def to_dict(self) -> dict:
        """JSON-ready dict (NumPy values as Python numbers or lists)."""
        return _plain(self)

    def records(self) -> list[dict]:
        """The rows of the command's ``--json`` (flat dicts, glossary keys): here, this one result."""
        return [self.to_dict()]

    def summary(self) -> dict:
        """The ``summary`` of the command's ``--json`` (command-level results; empty here)."""
        return {}

    def to_pandas(self):
        """``records()`` as a pandas DataFrame (the columns of ``--csv``)."""
        from ..report.frames import rows_frame

        return rows_frame(self.records())


def get_scenario(scenario: ScenarioLike = None, **overrides: Any) -> Scenario:
    """A Scenario from an object, a YAML/TOML file, or the defaults; ``overrides`` replace fields."""
    args.optional_text("scenario", scenario, "Pass a Scenario or a scenario YAML/TOML path.",
                       spec_type=(Scenario, Path))
    if scenario is None:
        base = default_scenario()
    elif isinstance(scenario, Scenario):
        base = scenario
    else:
        base = load_scenario(scenario)
    return with_overrides(base, overrides, "scenario")


def hw_spec(hardware: str | HardwareSpec) -> HardwareSpec:
    """``hardware`` as a HardwareSpec (a catalog id or a YAML path is loaded)."""
    args.name_or_spec("hardware", hardware, HardwareSpec, args.HARDWARE_HINT)
    return hardware if isinstance(hardware, HardwareSpec) else load_hardware(str(hardware))


def check_number(name: str, value: Any, low: float, high: float, *, low_inclusive: bool = False,
                 flag: str | None = None) -> float:
    """``value`` as a float in (low, high] (or [low, high]); SpecError naming the field otherwise."""
    return args.number(f"{name} (--{flag})" if flag else name, value, minimum=low, maximum=high,
                       allow_minimum=low_inclusive)


def check_request(isl: Any, osl: Any, tokens_per_s_per_user: Any) -> None:
    """Request sizes are whole numbers >= 1 and the speed a finite number >= 0."""
    for name, v in (("isl", isl), ("osl", osl)):
        args.positive_int(name, v, maximum=MAX_TOKENS)
    check_number("tokens_per_s_per_user", tokens_per_s_per_user, 0, 1e7, low_inclusive=True,
                 flag="tokens-per-s-per-user")

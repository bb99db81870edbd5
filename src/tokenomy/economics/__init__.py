"""Token economics, public API: chip-hour cost, $/Mtok and J/token of an operating point, the
power-limited AI factory, the free-chip break-even price, and fleet NPV under token deflation.

Every function takes ``scenario`` (a Scenario, a path to a YAML/TOML scenario file, or None for the
defaults in catalog/economics/defaults.yaml) and keyword ``**overrides`` of Scenario fields.
Formulas: tokenomy/core/economics.py. Results are frozen dataclasses with ``to_dict()``, ``records()``
(exactly the rows of the command's ``--json``, glossary keys), ``summary()`` (its summary) and
``to_pandas()`` (the rows as a DataFrame). An operating point is frontier's point at the same deployment
and batch: every key they share has the same value.

One module per concept: chip_hour (a chip-hour, and per-token figures of any prediction),
operating_point (one concurrency at a per-user speed), factory (a power budget), break_even (the
free chip), invest (NPV under token deflation).
"""

from __future__ import annotations

from .base import get_scenario
from .break_even import BreakEven, break_even_price
from .chip_hour import (
           ChipCost,
           TokenEconomics,
           chip_hour_cost,
           economics_fields,
           effective_usd_per_chip_hour,
           token_economics,
)
from .factory import FactoryResult, FactoryRow, factory
from .invest import Investment, invest
from .operating_point import OperatingPoint, operating_point

__all__ = [
           "BreakEven",
           "ChipCost",
           "FactoryResult",
           "FactoryRow",
           "Investment",
           "OperatingPoint",
           "TokenEconomics",
           "break_even_price",
           "chip_hour_cost",
           "economics_fields",
           "effective_usd_per_chip_hour",
           "factory",
           "get_scenario",
           "invest",
           "operating_point",
           "token_economics",
]

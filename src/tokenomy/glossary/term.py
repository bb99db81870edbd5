"""One glossary entry (``Term``) and the units and scopes an entry may carry."""

from __future__ import annotations

from typing import NamedTuple

UNITS = frozenset({"1", "s", "years", "tokens", "tokens/s", "tokens/s/user", "tokens/s/MW", "tokens/year",
                   "requests", "requests/s", "chips", "J/token", "W", "MW", "bytes", "bytes/s", "FLOP",
                   "FLOP/s", "$", "$/h", "$/year", "$/Mtok", "$/MW", "$/kWh", "$/answer",
                   "mm2", "FLOP/J", "FLOP/s/mm2", "FLOP/s/$", "bytes/J"})
SCOPES = frozenset({"", "step", "replica", "fleet", "request", "chip"})


class Term(NamedTuple):
    meaning: str        # one line
    unit: str           # one of UNITS; "1" for ratios, flags, counts of things without a unit, text and objects
    scope: str = ""     # one of SCOPES


# Keys whose value maps data (chip ids, reason texts, cost labels) to values: their own keys are not names.
DATA_MAPS = frozenset({"dropped", "infeasible", "non_chip_usd_per_mtok"})

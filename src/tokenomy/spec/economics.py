"""An economics scenario: how a chip-hour is paid for, and the token market it sells into.

Owned: chip price x server and network multipliers (capex, annualized with the capital recovery
factor over ``depreciation_years``), facility capex per MW of IT load (over ``facility_life_years``),
electricity x PUE for chip plus host power, an operations share, and utilization.
Rented: a price per chip-hour, and utilization.

The defaults here mirror ``catalog/economics/defaults.yaml`` (a test checks they agree); the YAML
keeps the source of each. ``None`` for ``chip_price_usd`` / ``rent_usd_per_hour`` / ``chip_power_w`` /
``host_power_w_per_chip`` means "take it from the hardware catalog" (price_usd, rent_usd_per_hour,
power_limit_w, host_power_w). Every number is finite and within RANGES (SpecError otherwise).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..errors import SpecError

# field -> (low, low_inclusive, high, high_inclusive). Every field is finite and bounded by a physical
# or economic limit far beyond any real input, so no loop, power or product can run away.
RANGES: dict[str, tuple[float, bool, float, bool]] = {
    "chip_price_usd": (0, True, 1e9, True),               # a whole CS-3 system is ~$2.5M
    "rent_usd_per_hour": (0, True, 1e5, True),
    "chip_power_w": (1, True, 1e6, True),                 # >= 1 W: no accelerator draws less; a CS-3 ~23 kW
    "server_multiplier": (1, True, 10, True),
    "network_multiplier": (1, True, 10, True),
    "facility_usd_per_mw": (0, True, 1e9, True),          # AI builds ~$20M per MW
    "depreciation_years": (0.1, True, 50, True),
    "facility_life_years": (0.1, True, 100, True),
    "cost_of_capital_frac": (0, True, 1, True),
    "electricity_usd_per_kwh": (0, True, 10, True),
    "pue": (1, True, 3, True),
    "host_power_w_per_chip": (0, True, 1e5, True),
    "ops_frac": (0, True, 0.9, True),
    "utilization_frac": (0.01, True, 1, True),            # >= 1% busy: below that no token price is meaningful
    "token_price_usd_per_mtok": (0, False, 1e6, True),
    "token_price_decline_frac_per_year": (0, True, 0.999, True),   # 0.999: the price falls 1000x a year
}

def range_text(field: str) -> str:
    """The allowed range of ``field`` in interval notation, e.g. ``(0, 1]``."""
    lo, lo_in, hi, hi_in = RANGES[field]
    left = ("[" if lo_in else "(") + f"{lo:g}"
    right = f"{hi:g}" + ("]" if hi_in else ")")
    return f"{left}, {right}"


class Scenario(BaseModel):
    """Every economics input; units in the names. Sources: catalog/economics/defaults.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["owned", "rented"] = "owned"           # estimate: the TCO question
    chip_price_usd: float | None = None                  # None: hardware catalog price_usd
    rent_usd_per_hour: float | None = None               # None: hardware catalog rent_usd_per_hour
    chip_power_w: float | None = None                    # None: catalog power_limit_w (or predicted power)
    server_multiplier: float = 1.4                       # Epoch AI: x1.3-2.1; DGX H100 BOM ~1.4
    network_multiplier: float = 1.07                     # Epoch AI: interconnect x1.07-1.32 (inference: low end)
    facility_usd_per_mw: float = 19.5e6                  # AI builds: Bernstein $2.5M per ~130 kW rack
    depreciation_years: float = 5.0                      # Amazon AI servers 5 y (2025); Meta 5-5.5
    facility_life_years: float = 20.0                    # estimate: buildings 15-25 y
    cost_of_capital_frac: float = 0.08                   # estimate: no citable WACC for AI data centres
    electricity_usd_per_kwh: float = 0.0806              # EIA US industrial 2023
    pue: float = 1.3                                     # Uptime: new large builds ~1.3 (avg 1.58)
    host_power_w_per_chip: float | None = None           # None: catalog host_power_w of the chip's platform
    ops_frac: float = 0.10                               # SemiAnalysis: 5-15% of TCO
    utilization_frac: float = 0.7                        # aidatacenterguide: ~70% break-even utilisation
    token_price_usd_per_mtok: float = 5.0                # NVIDIA $1B-DC table: ~$5 per M tokens
    token_price_decline_frac_per_year: float = 0.9       # a16z LLMflation: 10x cheaper per year (falls 90%)

    @field_validator(*RANGES, mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"must be a number, got {v!r}")  # pydantic wants ValueError, not TypeError
        return v

    @field_validator(*RANGES, mode="after")
    @classmethod
    def _in_range(cls, v: float | None, info) -> float | None:
        if v is None:
            return v
        lo, lo_in, hi, hi_in = RANGES[info.field_name]
        ok = math.isfinite(v) and (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
        if not ok:
            raise ValueError(f"must be in {range_text(info.field_name)}, got {v!r}")
        return v


FIELDS: tuple[str, ...] = tuple(Scenario.model_fields)

# old field -> the line that says what replaced it (a scenario file or flag with the old name gets this error)
RENAMED: dict[str, str] = {
    "token_price_decline_per_year": ("token_price_decline_per_year was renamed token_price_decline_frac_per_year "
                                     "(--token-price-decline-frac-per-year), the share the price falls a year: "
                                     "a fall of N x a year is 1 - 1/N (10x -> 0.9, 1x -> 0)"),
    "input_per_output_tokens": ("input_per_output_tokens was removed: blended prices (usd_per_mtok_blended) use "
                                "each request's own mix of input and output tokens, --isl / --osl"),
}


def renamed_error(keys: Any, where: str = "scenario") -> None:
    """SpecError naming the new field for the first old (renamed) field in ``keys``."""
    old = next((k for k in keys if k in RENAMED), None)
    if old is not None:
        raise SpecError(f"{where}: {RENAMED[old]}.")


def make_scenario(data: dict[str, Any], where: str = "scenario") -> Scenario:
    """Build a Scenario, turning pydantic errors into one SpecError naming the field and its range."""
    renamed_error(data, where)
    try:
        return Scenario(**data)
    except ValidationError as exc:
        msgs = []
        for e in exc.errors():
            field = ".".join(str(x) for x in e["loc"]) or "?"
            if e["type"] == "extra_forbidden":
                msgs.append(f"unknown field {field!r}; allowed fields: {', '.join(FIELDS)}")
            elif field in RANGES:
                got = e.get("input")
                msgs.append(f"{field} must be a number in {range_text(field)}, got {got!r}")
            elif field == "mode":
                msgs.append(f"mode must be 'owned' or 'rented', got {e.get('input')!r}")
            else:
                msgs.append(f"{field}: {e['msg']}")
        raise SpecError(f"{where}: " + "; ".join(msgs) + ".") from None


def with_overrides(base: Scenario, overrides: dict[str, Any], where: str = "scenario") -> Scenario:
    """``base`` with ``overrides`` applied (None values ignored), validated again."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return base
    return make_scenario({**base.model_dump(), **given}, where)

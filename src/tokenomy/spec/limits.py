"""Physical ranges of the figures tokenomy accepts, in SI units, shared by the schemas and the loaders.

The bounds are wide (a factor of 100-1000 beyond any chip or model built so far) and exist to catch
typos, unit slips and nonsense (a rate of 1e-300 FLOP/s, a zero-width MLP), not to judge designs.
"""

from __future__ import annotations

from typing import Any

MAX_DIM = 2**24        # any model dimension: layers, d_model, heads, MLP width, vocabulary, experts
MAX_COUNT = 2**31 - 1  # any count of sequences, tokens or chips in one request

# HardwareSpec field -> (lowest, highest) physical value in SI
HARDWARE_LIMITS: dict[str, tuple[float, float]] = {
    "peak_flop_per_s": (1e9, 1e20),            # FLOP/s (int8: OP/s), each precision
    "hbm_bytes": (1e6, 1e15),
    "hbm_bytes_per_s": (1e6, 1e18),
    "sram_bytes": (1e3, 1e14),
    "sram_bytes_per_s": (1e6, 1e18),
    "ddr_bytes": (1e6, 1e17),
    "ddr_bytes_per_s": (1e6, 1e18),
    "capacity_tier_bytes": (1e6, 1e19),       # MemoryX and other off-path capacity tiers
    "capacity_tier_bytes_per_s": (1e6, 1e18),
    "scaleup_bytes_per_s_unidir": (1e6, 1e16),
    "scaleup_domain": (1, 1e7),
    "scaleout_gbps": (1e-3, 1e6),             # Gb/s (not SI bytes: the NIC's own unit), one direction
    "power_limit_w": (1, 1e7),
    "idle_power_w": (0, 1e7),
    "host_power_w": (0, 1e5),                 # the chip's share of its host: CPUs, NICs, fans
    "price_usd": (1, 1e10),
    "rent_usd_per_hour": (1e-3, 1e6),
    "compute_units": (1, 1e8),
    "clock_hz": (1e6, 1e11),
    "matmul_rows": (1, 1e6),
    "layer_fixed_s": (0, 1.0),
    "hop_latency_s": (0, 1.0),
    "year": (1950, 2100),                      # first available
    "die_area_m2": (1e-7, 1.0),                # 0.1 mm^2 to 1e6 mm^2 (a 300 mm wafer is ~7e4 mm^2)
    "compute_dies": (1, 1e4),
    "transistors": (1e6, 1e15),                # per package
}
PROCESS_NODE_MAX_CHARS = 60                    # a process name ("TSMC N5 (XCD) + N6 (IOD)"), not a paragraph
ZERO_MEANS_ABSENT = frozenset({"hbm_bytes", "hbm_bytes_per_s", "sram_bytes", "sram_bytes_per_s", "ddr_bytes",
                               "ddr_bytes_per_s", "capacity_tier_bytes", "capacity_tier_bytes_per_s",
                               "scaleup_bytes_per_s_unidir", "scaleout_gbps"})
_TIERS = (("hbm_bytes", "hbm_bytes_per_s"), ("ddr_bytes", "ddr_bytes_per_s"),
          ("capacity_tier_bytes", "capacity_tier_bytes_per_s"))


def limit_text(field: str, factor: float = 1.0, unit: str = "") -> str:
    """'in [lo, hi] unit' (or '0 or in [...]') for a HardwareSpec field, in units of ``factor``."""
    lo, hi = HARDWARE_LIMITS[field]
    rng = f"in [{lo / factor:g}, {hi / factor:g}]{' ' + unit if unit else ''}"
    return f"0 (none) or {rng}" if field in ZERO_MEANS_ABSENT else rng


def in_limits(field: str, value: float) -> bool:
    """True when ``value`` (SI) is physical for HardwareSpec ``field``."""
    lo, hi = HARDWARE_LIMITS[field]
    return (value == 0 and field in ZERO_MEANS_ABSENT) or lo <= value <= hi


def hardware_problem(hw: Any) -> str | None:
    """The first non-physical figure or inconsistent pair of a HardwareSpec, as a sentence; None if fine."""
    for prec, rate in hw.peak_flop_per_s.items():
        if not in_limits("peak_flop_per_s", rate):
            return f"peak_flop_per_s[{prec}] = {rate:g} must be {limit_text('peak_flop_per_s')} FLOP/s"
    for field in HARDWARE_LIMITS:
        value = getattr(hw, field) if field != "peak_flop_per_s" else None
        if value is not None and not in_limits(field, value):
            return f"{field} = {value:g} must be {limit_text(field)} (SI units)"
    node = getattr(hw, "process_node", None)
    if node is not None and not 0 < len(node.strip()) <= PROCESS_NODE_MAX_CHARS:
        return f"process_node must be a name of 1 to {PROCESS_NODE_MAX_CHARS} characters (e.g. 'TSMC 4N'), got {node!r}"
    for size, rate in _TIERS:
        if getattr(hw, size) > 0 and getattr(hw, rate) <= 0:
            return f"{size} is {getattr(hw, size):g} but {rate} is 0: a memory that holds weights needs a bandwidth"
    if hw.main_memory_bytes_per_s <= 0:
        return ("no memory tier with a bandwidth holds the weights: give hbm_bytes_per_s, or sram_bytes_per_s with "
                "sram_is_cache false, or ddr_bytes_per_s")
    if hw.scaleup_domain > 1 and hw.scaleup_bytes_per_s_unidir <= 0:
        return (f"scaleup_domain is {hw.scaleup_domain} chips but scaleup_bytes_per_s_unidir is 0: give the link "
                "bandwidth, or a domain of 1")
    if hw.power_limit_w is not None and hw.idle_power_w is not None and hw.idle_power_w >= hw.power_limit_w:
        return f"idle_power_w ({hw.idle_power_w:g}) must be below power_limit_w ({hw.power_limit_w:g})"
    return None

"""The rates a chip runs work at: the one place a precision becomes FLOP/s and bytes/s."""

from __future__ import annotations

from ..errors import CatalogError, UnsupportedError
from ..spec.hardware import HardwareSpec
from .precision import Precision

DEFAULT_COMPUTE_UNITS = 128   # wave size when the catalog gives no SM / core count


def matrix_rate(hw: HardwareSpec, fmt: str) -> float:
    """Peak dense FLOP/s of the ``fmt`` matrix units ('bf16', 'fp8', ...); UnsupportedError if absent."""
    peak = hw.peak(fmt)
    if peak is None:
        have = ", ".join(sorted(hw.peak_flop_per_s)) or "none"
        raise UnsupportedError(f"{hw.id} has no {fmt} matrix rate (it supports {have}); "
                               f"choose one of those precisions.")
    return peak


def attention_rate(hw: HardwareSpec, fallback_flop_per_s: float) -> float:
    """FLOP/s of attention kernels, which run in bf16; chips without a bf16 rate use the fallback."""
    return hw.peak("bf16") or fallback_flop_per_s


def chip_rates(hw: HardwareSpec, precision: Precision | str) -> tuple[float, float, int]:
    """(peak FLOP/s of the compute format, main-memory bytes/s, compute units).

    ``precision`` is a Precision (its compute format is used) or a format name such as 'fp8'."""
    fmt = precision if isinstance(precision, str) else precision.compute
    peak = matrix_rate(hw, fmt)
    bw = hw.main_memory_bytes_per_s
    if bw <= 0:
        raise CatalogError(f"{hw.id} has no memory bandwidth figure; add hbm_tb_per_s or sram_tb_per_s.")
    return peak, bw, int(hw.compute_units or DEFAULT_COMPUTE_UNITS)

"""Collective times over the scale-up link (NVLink, Infinity Fabric, ICI), vectorized.

Ring all-reduce of B bytes over p chips moves 2(p-1)/p * B per chip each way:
    T = latency + 2 (p-1)/p * B / (link_unidir * link_frac)
All-to-all (expert dispatch or combine) of B bytes per chip: (p-1)/p * B leaves each chip.
Point-to-point (pipeline hand-off): B over one link.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..spec.engine import CommParams


def allreduce_time_s(nbytes: npt.ArrayLike, chips: int, link_bytes_per_s: float, params: CommParams) -> np.ndarray:
    """Seconds of one ring all-reduce of ``nbytes`` over ``chips`` (0 on one chip)."""
    if chips <= 1:
        return np.zeros_like(np.asarray(nbytes, dtype=float))
    per_chip = 2.0 * (chips - 1) / chips * np.asarray(nbytes, float)
    return params.latency_s + per_chip / (link_bytes_per_s * params.link_frac)


def alltoall_time_s(nbytes: npt.ArrayLike, chips: int, link_bytes_per_s: float, params: CommParams) -> np.ndarray:
    """Seconds of one all-to-all of ``nbytes`` per chip over ``chips`` (0 on one chip)."""
    if chips <= 1:
        return np.zeros_like(np.asarray(nbytes, dtype=float))
    return params.latency_s + (chips - 1) / chips * np.asarray(nbytes, float) / (link_bytes_per_s * params.link_frac)


def p2p_time_s(nbytes: npt.ArrayLike, link_bytes_per_s: float, params: CommParams) -> np.ndarray:
    """Seconds of one point-to-point transfer of ``nbytes`` over one link."""
    return params.latency_s + np.asarray(nbytes, float) / (link_bytes_per_s * params.link_frac)

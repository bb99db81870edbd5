"""Collective times over the scale-up link (NVLink, Infinity Fabric, ICI), vectorized.

Ring all-reduce of B bytes over p chips moves 2(p-1)/p * B per chip each way:
    T = latency + 2 (p-1)/p * B / (link_unidir * link_frac)
All-to-all (expert dispatch or combine) of B bytes per chip: (p-1)/p * B leaves each chip.
Point-to-point (pipeline hand-off): B over one link.
"""

from __future__ import annotations

import numpy as np

from ..spec.engine import CommParams


def allreduce_time_s(nbytes, chips: int, link_bytes_per_s: float, params: CommParams):
    if chips <= 1:
        return np.zeros_like(np.asarray(nbytes, dtype=float))
    return params.latency_s + 2.0 * (chips - 1) / chips * np.asarray(nbytes, float) / (link_bytes_per_s * params.link_frac)


def alltoall_time_s(nbytes, chips: int, link_bytes_per_s: float, params: CommParams):
    if chips <= 1:
        return np.zeros_like(np.asarray(nbytes, dtype=float))
    return params.latency_s + (chips - 1) / chips * np.asarray(nbytes, float) / (link_bytes_per_s * params.link_frac)


def p2p_time_s(nbytes, link_bytes_per_s: float, params: CommParams):
    return params.latency_s + np.asarray(nbytes, float) / (link_bytes_per_s * params.link_frac)

"""Board power and energy of a step, with the power cap.

    u_flop = FLOP/s / peak,   u_byte = bytes/s / memory bytes/s          (utilizations, at full clock)
    occ    = SM-occupied time / step time (launch gaps and few-CTA kernels leave SMs idle)
    P_busy = P_idle + (P_limit - P_idle) * busy_frac                     (clocks up, a step running)
    P_dyn  = (P_limit - P_idle) * (occupancy_frac * occ + flop_frac * u_flop + byte_frac * u_byte)
    P      = P_busy + P_dyn

Above the limit the clock drops until P = P_limit. Dynamic energy E_dyn = P_dyn * t is work and
is kept; the step stretches to t' = E_dyn / (P_limit - P_busy), and only its compute-bound part
can stretch (at most 1/min_clock_frac). Where that floor binds, the lower voltage cuts the energy
per operation and the board sits at its limit: E = min(P_busy t' + E_dyn, P_limit t'), so the
average power never exceeds P_limit. Energy = P * t' (power times time, by construction).
Coefficients are shares of (P_limit - P_idle), so a profile fitted on one chip carries to chips
with other power limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec.engine import PowerParams

MIN_CLOCK_FRAC = 0.5   # the firmware does not drop the SM clock below about half under the cap


@dataclass(frozen=True)
class PowerResult:
    power_w: np.ndarray          # average board power of one chip over the step
    latency_s: np.ndarray        # step time after the clock drop (>= input time)
    energy_j: np.ndarray         # per chip per step
    clock_frac: np.ndarray       # compute clock relative to the maximum (1 = no throttling)


def idle_power_w(power_limit_w: float, idle_w: float | None, params: PowerParams) -> float:
    return idle_w if idle_w is not None else params.idle_frac * power_limit_w


def chip_power(flop, nbytes, latency_s, compute_bound_s, active_s, *, peak_flop_per_s: float, mem_bytes_per_s: float,
               power_limit_w: float, idle_w: float | None, params: PowerParams) -> PowerResult:
    t = np.asarray(latency_s, dtype=float)
    p_idle = idle_power_w(power_limit_w, idle_w, params)
    span = power_limit_w - p_idle
    u_flop = np.minimum(np.asarray(flop) / (t * peak_flop_per_s), 1.0)
    u_byte = np.minimum(np.asarray(nbytes) / (t * mem_bytes_per_s), 1.0)
    p_busy = np.minimum(p_idle + span * params.busy_frac, power_limit_w)
    occ = np.clip(np.asarray(active_s) / t, 0.0, 1.0)
    p_dyn = span * (params.occupancy_frac * occ + params.flop_frac * u_flop + params.byte_frac * u_byte)
    e_dyn = p_dyn * t
    headroom = max(power_limit_w - p_busy, 1e-9)
    t_capped = e_dyn / headroom
    cb = np.asarray(compute_bound_s, dtype=float)
    t_max = t + cb * (1.0 / MIN_CLOCK_FRAC - 1.0)
    t_new = np.clip(t_capped, t, t_max)
    # Where the clock floor stops the stretch, the firmware still holds the board at its limit: at the lower
    # clock and voltage each operation costs less energy (dynamic energy ~ V^2), so E_dyn shrinks to fit.
    energy = np.minimum(p_busy * t_new + e_dyn, power_limit_w * t_new)
    stretch = t_new - t
    clock = np.where(stretch > 0, cb / np.maximum(cb + stretch, 1e-30), 1.0)
    return PowerResult(power_w=energy / t_new, latency_s=t_new, energy_j=energy, clock_frac=clock)

"""Steady-state continuous batching on one replica (prefill and decode sharing the chips).

Per deployment, from one decode Prediction over concurrencies b and the prefill of one request:
    t_d      decode stage time at (b, ctx)        L_d: decode step latency through all pp stages
    t_p      prefill stage time of one request    L_p: its latency
    A stage serves each request once for prefill (t_p) and osl/b decode steps (osl * t_d / b):
    f_p                   = t_p / (t_p + osl * t_d / b)      share of time spent on prefill
    tokens_per_s          = (1 - f_p) * b / t_d              output tokens/s of the replica
    tokens_per_s_per_user = (1 - f_p) / L_d                  decode speed one user sees
    ttft_s                = L_p + t_d / 2                    prefill, after the running step ends
    power_w               = (1 - f_p) * P_decode + f_p * P_prefill      (whole replica)
    usd_per_mtok          = usd_per_chip_hour * chips / (3600 * tokens_per_s) * 1e6
                            (replica cost per million OUTPUT tokens; _output/_input split it by f_p)
Queueing is ignored: this is the saturated steady state. ``tokenomy.frontier`` sweeps it over
deployments; ``tokenomy.economics.operating_point`` picks one concurrency from it.
"""

from __future__ import annotations

import numpy as np

from . import economics as ce


def serving_estimate(dec, prefill_stage_s, prefill_latency_s, prefill_power_w, *, isl, osl, usd_per_hour: float,
                     pp: int, extra_decode_s=0.0) -> dict[str, np.ndarray]:
    """Steady-state continuous-batching figures (module docstring) from a decode Prediction and
    the prefill figures of one request (stage time, latency through all stages, replica power).

    Everything broadcasts: a sweep passes means over the workload; a grid of workloads passes
    per-workload arrays (``isl``, ``osl`` and the prefill figures shaped like the decode context).
    """
    b = np.asarray(dec.batch, dtype=float)
    t_d = dec.stage_s
    L_d = dec.latency_s + extra_decode_s
    t_p, L_p = prefill_stage_s, prefill_latency_s
    isl_mean, osl_mean = isl, osl
    dec_s = osl_mean * t_d / b
    f_p = t_p / (t_p + dec_s)
    tps = (1.0 - f_p) * b / t_d
    per_user = (1.0 - f_p) / L_d
    chips = dec.chips
    power = (1.0 - f_p) * dec.power_w + f_p * prefill_power_w
    usd_h = usd_per_hour * chips                        # replica, per busy hour
    in_tps = tps * isl_mean / osl_mean
    return {
        "batch": b * pp, "micro_batch": b, "tokens_per_s_per_user": per_user, "tokens_per_s": tps,
        "tokens_per_s_per_chip": tps / chips, "ttft_s": L_p + 0.5 * t_d, "tpot_s": 1.0 / per_user,
        "input_tokens_per_s": in_tps,
        "usd_per_mtok": ce.usd_per_mtok(usd_h, tps),
        "usd_per_mtok_output": ce.usd_per_mtok(usd_h * (1.0 - f_p), tps),
        "usd_per_mtok_input": ce.usd_per_mtok(usd_h * f_p, in_tps),
        "usd_per_mtok_blended": ce.usd_per_mtok(usd_h, tps + in_tps),
        "power_w": power, "j_per_token": ce.j_per_token(power, tps),
        "tokens_per_s_per_mw": ce.tokens_per_s_per_mw(tps, power),
        "prefill_time_frac": f_p,
    }

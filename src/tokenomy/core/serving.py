"""Steady-state continuous batching on one replica (prefill and decode sharing the chips).

Per deployment, from one decode Prediction (b sequences per micro-batch, m micro-batches in flight,
N = b * m sequences) and the prefill of one request (``chunked_prefill``):
    t_d      decode stage time at (b, ctx)        L_d: decode step latency through all pp stages
    cycle    = max(L_d, m * t_d)                  time between two tokens of one sequence (core/predict.py)
    t_p      replica time per request of prefill  L_p: its latency
    Per request the replica spends t_p on prefill and osl * cycle / N on decode:
    f_p                   = t_p / (t_p + osl * cycle / N)      share of time spent on prefill
    tokens_per_s          = (1 - f_p) * N / cycle              output tokens/s of the replica
    tokens_per_s_per_user = (1 - f_p) / cycle                  decode speed one user sees
    ttft_s                = L_k + t_d / 2 + o                  prefill, after the running step ends, plus the
                                                               engine's request_overhead_s o (front end, tokenizer,
                                                               streaming: outside the steps, holds no GPU)
    L_k: latency of the chunk carrying the prompts that arrive in one decode cycle, k = (1 - f_p) N / osl of them
    (at least 1, at most a full chunk), between one request's chunk and the full chunk's L_p (steady_ttft_s)
    power_w               = (1 - f_p) * P_decode + f_p * P_prefill      (whole replica)
    usd_per_mtok          = usd_per_chip_hour * chips / (3600 * tokens_per_s) * 1e6
                            (replica cost per million OUTPUT tokens; _output/_input split it by f_p)
Prefill is batched and chunked (``chunked_prefill``): one prefill step takes up to
max_num_batched_tokens (engine profile; vLLM V1 serves with 8192 on GPUs of 70 GiB or more) tokens
from several requests, so it reads the weights (all experts) once per chunk; a request of isl
tokens costs the chunk's time * isl / chunk tokens, its attention stays its own (causal over isl).
Longer prompts take one step of their own (chunking them would reread weights in steps that are
already compute-bound). Where a chunk does not fit, requests prefill one at a time. On chips whose SRAM
holds the weights (pipelines of many stages) each micro-batch carries one request: pp of them keep the
stages busy (each stage holds its own layers' KV and one request's activations), so a request costs the
busiest stage's time for its prompt; elsewhere, or where even that does not fit, one request goes
through with the pipeline otherwise empty (pp times that; conservative, as before).
Queueing is ignored: this is the saturated steady state. ``tokenomy.frontier`` sweeps it over
deployments; ``tokenomy.economics.operating_point`` picks one concurrency from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.model import ModelSpec
from . import economics as ce
from .precision import Precision
from .predict import Prediction, decode_cycle_s, predict_core
from .sram import weights_in_sram


@dataclass(frozen=True)
class PrefillCost:
    """The prefill of one request inside a batched chunk; arrays shaped like ``isl``."""

    pred: Prediction          # the prefill step of one chunk (fits, memory, power)
    requests: np.ndarray      # requests per chunk: max(max_num_batched_tokens / isl, 1)
    stage_s: np.ndarray       # replica time per request = isl / chunk tokens per second
    latency_s: np.ndarray     # the full chunk's latency through all stages
    power_w: np.ndarray       # replica power while prefilling
    latency_one_s: np.ndarray  # latency of a chunk holding one request (TTFT at low load)


def chunked_prefill(model: ModelSpec, hw: HardwareSpec, engine: EngineProfile, precision: Precision,
                    isl: npt.ArrayLike, *, tp: int = 1, pp: int = 1, ep: int = 1, dp_attention: int = 1) -> PrefillCost:
    """Prefill cost of one request of ``isl`` tokens in a chunk of max_num_batched_tokens (module docstring);
    under attention data-parallel D each of the D groups schedules its own chunk."""
    n = np.asarray(isl, dtype=float)
    r = np.maximum(engine.max_num_batched_tokens / n, 1.0)
    def run(batch: npt.ArrayLike, micro: float | None) -> Prediction:
        return predict_core(model, hw, engine, precision, phase="prefill", batch=np.asarray(batch) * dp_attention,
                            length=n, tp=tp, pp=pp, ep=ep, micro_batches=micro, dp_attention=dp_attention)
    pred = run(r, None)
    one = run(1.0, 1.0)
    stage, lat, power = n / pred.tokens_per_s, pred.latency_s, pred.power_w
    ok = np.asarray(pred.fits, dtype=bool)
    if not ok.all():      # memory-bound pipelines (SRAM chips): one request a micro-batch (module docstring)
        single = run(1.0, None)
        fit1 = np.asarray(single.fits, dtype=bool) & weights_in_sram(hw)
        alt = {k: np.where(fit1, getattr(single, k), getattr(one, k)) for k in ("tokens_per_s", "power_w")}
        stage, lat, power = (np.where(ok, a, b) for a, b in ((stage, n / alt["tokens_per_s"]),
                                                             (lat, one.latency_s), (power, alt["power_w"])))
        r, pred = np.where(ok, r, 1.0), (single if fit1.all() else one)
    return PrefillCost(pred=pred, requests=r, stage_s=stage, latency_s=lat, power_w=power,
                       latency_one_s=np.minimum(one.latency_s, lat))


def steady_ttft_s(latency_one_s, latency_full_s, requests, arrivals_per_step):
    """Prefill part of TTFT in the steady state: the chunk that carries a new request holds the prompts that
    arrived during one decode step, k = clip(arrivals_per_step, 1, r) of the r a full chunk takes; its latency
    is interpolated linearly between one request's chunk and the full chunk (both from the core)."""
    r = np.asarray(requests, dtype=float)
    k = np.clip(np.asarray(arrivals_per_step, dtype=float), 1.0, r)
    frac = np.where(r > 1.0, (k - 1.0) / np.maximum(r - 1.0, 1e-12), 1.0)
    return latency_one_s + frac * (np.asarray(latency_full_s) - latency_one_s)


def serving_estimate(dec: Prediction, prefill_stage_s, prefill_latency_s, prefill_power_w, *, isl, osl,
                     usd_per_hour: float, extra_decode_s=0.0, request_overhead_s: float = 0.0,
                     prefill_latency_one_s=None, prefill_requests=None) -> dict[str, np.ndarray]:
    """Steady-state continuous-batching figures (module docstring) from a decode Prediction and
    the prefill figures of one request (replica time, latency through all stages, replica power).

    Everything broadcasts: a sweep passes means over the workload; a grid of workloads passes
    per-workload arrays (``isl``, ``osl`` and the prefill figures shaped like the decode context).
    """
    b = np.asarray(dec.batch, dtype=float)
    m = np.asarray(dec.micro_batches, dtype=float)
    N = b * m
    t_d = dec.stage_s
    cycle = decode_cycle_s(dec.latency_s + extra_decode_s, t_d, m)
    t_p, L_p = prefill_stage_s, prefill_latency_s
    f_p = t_p / (t_p + osl * cycle / N)
    tps = (1.0 - f_p) * N / cycle
    per_user = (1.0 - f_p) / cycle
    chips = dec.chips
    power = (1.0 - f_p) * dec.power_w + f_p * prefill_power_w
    if prefill_latency_one_s is not None and prefill_requests is not None:
        # new requests per decode cycle: (1 - f_p) N / osl (module docstring, TTFT)
        L_p = steady_ttft_s(prefill_latency_one_s, L_p, prefill_requests, (1.0 - f_p) * N / osl)
    usd_h = usd_per_hour * chips                        # replica, per busy hour
    in_tps = tps * isl / osl
    return {
        "batch": N, "micro_batch": b, "tokens_per_s_per_user": per_user, "tokens_per_s": tps,
        "tokens_per_s_per_chip": tps / chips, "ttft_s": L_p + 0.5 * t_d + request_overhead_s, "tpot_s": 1.0 / per_user,
        "input_tokens_per_s": in_tps,
        "usd_per_mtok": ce.usd_per_mtok(usd_h, tps),
        "usd_per_mtok_output": ce.usd_per_mtok(usd_h * (1.0 - f_p), tps),
        "usd_per_mtok_input": ce.usd_per_mtok(usd_h * f_p, in_tps),
        "usd_per_mtok_blended": ce.usd_per_mtok(usd_h, tps + in_tps),
        "power_w": power, "j_per_token": ce.j_per_token(power, tps),
        "tokens_per_s_per_mw": ce.tokens_per_s_per_mw(tps, power),
        "prefill_time_frac": f_p,
    }

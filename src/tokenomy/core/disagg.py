"""The prefill -> decode hand-off of disaggregated serving: KV bytes, the link, its time, the pool sizes.

A prefill pool computes a prompt's KV cache and hands it to a decode pool (Dynamo/NIXL, Mooncake,
DistServe, Splitwise; shared/reference/shapes-and-disaggregation.md Part B.1, the formulas below).

    KV bytes per request   kv = isl * kv_full + min(isl, window) * kv_window        (whole model, all layers)
        kv_full / kv_window: KV bytes per token of the full-attention / sliding-window layers, in the KV
        format of the precision, from core/graph.py build_recipe (GQA: 2 * L * n_kv * d_head * e;
        MLA: L * (kv_lora_rank + qk_rope_head_dim) * e, the latent cache). Llama-3.1-70B in bf16:
        2 * 80 * 8 * 128 * 2 = 320 KiB per token (Mooncake's 40 GiB at 128k tokens).
    transfer               T_kv = kv / (B * paths) (+ alpha),  paths = kv_paths(...) = min(S_P, S_D)
        B: one chip-to-chip path, bytes/s one way (link_for). S: chips of a replica holding distinct
        shards of one request's KV, each sending (receiving) its shard over its own port (kv_paths).
    layer-wise streaming   exposed = max(T_kv - T_pre * (L - 1) / L, T_kv / L) + alpha
        a layer's KV is sent while the next layers prefill (Splitwise, Dynamo): only what the
        prefill time T_pre cannot cover, and at least the last layer's share, is added to TTFT.
        The per-layer messages pipeline, so one latency alpha is exposed (B.1 counts n_msg * alpha
        for unpipelined messages).
    required bandwidth     B_req = rate * kv                                   (DistServe: B_req = lambda P kv_tok)
    pool ratio             N_P / N_D = (rate * isl / theta_P) / (rate * osl / theta_D)
        theta_P, theta_D: tokens/s one prefill / one decode replica sustains (at the SLO); the rate
        cancels, so the ratio is the same at any load and at saturation.
    xPyD                   n_P = ceil(R / g_P),  n_D = ceil(R / g_D)       (DistServe; g: requests/s per replica)

The link (``link_for``): both pools in one scale-up domain use its fabric (NVLink, ICI, ...), the
slower chip's per-chip scale-up bandwidth. A scale-up domain holds one kind of chip (an HGX board, an
NVL72 rack, a TPU pod), so that is allowed only when both pools run the same chip; mixed pairs (H100
prefill + Groq decode, Rubin CPX + Rubin: CPX has no NVLink, chips-facts.md) use the scale-out NICs,
the slower of the two chips' ``scaleout_gbps`` per path. Datasheet bandwidth: pass ``link_frac`` for
an achieved share (Mooncake's Transfer Engine reached 190 GB/s on 8 x 400 Gb/s, 48%, and 87 GB/s on
4 x 200 Gb/s, 87%; shapes-and-disaggregation.md B.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import SpecError
from ..spec import args
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.limits import MAX_COUNT
from ..spec.model import ModelSpec
from .graph import build_recipe
from .precision import Precision, engine_kv, parse_precision

# Latency of one KV hand-off message (alpha), s. Assumptions, not fits:
SCALEUP_LATENCY_S = 8e-6     # the engine's default per-collective latency on the scale-up link (spec/engine.py
#                              CommParams.latency_s)
SCALEOUT_LATENCY_S = 20e-6   # one RDMA write over an InfiniBand/RoCE NIC and a switch hop (a few us) plus the
#                              transfer library's post and completion (NIXL, Mooncake Transfer Engine); assumption
_KV_ENGINE = EngineProfile(name="kv-layout")   # build_recipe needs an engine; the KV layout does not depend on it


@dataclass(frozen=True)
class Link:
    """The path KV takes from one prefill chip to one decode chip: ``bytes_per_s`` one way per path (the
    transfer multiplies it by the paths in parallel, kv_transfer_s), ``latency_s`` per message (alpha)."""

    bytes_per_s: float
    latency_s: float
    label: str
    scaleup: bool = False


def kv_bytes_per_request(model: ModelSpec, precision: Precision | str | None, isl: npt.ArrayLike, *,
                         engine: EngineProfile | None = None) -> np.ndarray:
    """KV bytes a prefill pool hands to decode for prompts of ``isl`` tokens: every layer of the whole model
    (not per chip), in the KV format of ``precision`` (``engine`` given: with its KV convention, engine_kv),
    sliding-window layers capped at their window. What crosses the wire is the SENDER's cache as it sits in
    the prefill pool's memory (NIXL / Mooncake copy KV blocks as they are, no conversion on the way): every
    caller passes the prefill pool's precision and engine (frontier/disagg.py, core/disagg_serving.py,
    sim/disagg_run.py); a decode pool keeping another KV format converts on arrival, outside the transfer.
    A decode replica that replicates KV heads (tp > n_kv_heads) or MLA's latent keeps copies of these bytes
    (copied among its own chips, not over the hand-off's paths: kv_paths)."""
    p = parse_precision(precision)
    if engine is not None:
        p = engine_kv(p, engine.kv_cache_format)
    tokens = args.sizes("isl", isl, minimum=0, maximum=MAX_COUNT)
    recipe = build_recipe(model, _KV_ENGINE, p, phase="prefill")
    window = recipe.window or 0
    capped = np.minimum(tokens, window) if window else tokens
    return tokens * recipe.kv_bytes_per_token + capped * recipe.kv_bytes_per_token_windowed


def kv_paths(model: ModelSpec, prefill_tp: int, decode_tp: int, *, prefill_pp: int = 1, decode_pp: int = 1,
             prefill_dp_attention: int = 1, decode_dp_attention: int = 1) -> int:
    """Chip-to-chip paths one request's KV crosses in parallel: min(S_P, S_D), S = pp * shards per stage.

    A replica holds a request's KV in S distinct shards, each on its own chip with its own port (NIC or
    scale-up link), and each shard's bytes leave one chip and enter one chip, so the hand-off of ``kv``
    bytes takes at least kv / (B S_P) to leave and kv / (B S_D) to arrive: kv / (B min(S_P, S_D)).
      tp        a tensor-parallel rank holds its KV heads' share: min(tp, n_kv_heads) distinct shards
                per stage (tp > n_kv_heads replicates heads: the copies hold no new bytes).
      MLA       the latent (kv_lora_rank + rope dims) is one vector per token, replicated on every tp rank
                of the stage: 1 shard per stage.
      dp-attention  a request lives in one attention group of tp / dp_attention ranks: min(tp / D,
                n_kv_heads) shards per stage (MLA: 1); D = tp: one rank holds the request's whole KV.
      pp        a stage holds only its own layers, disjoint from the other stages' and on its own chips,
                so the stages send (receive) at the same time: S = pp * shards per stage. Decided so,
                rather than one stage at a time, because layer-wise streaming (Splitwise, Dynamo/NIXL)
                pushes each layer's KV as soon as its stage has computed it, from the chips that hold it.
    Chips that hold no KV (an SRAM system's embedding or table chips) are no paths."""
    sides = []
    for side, tp, pp, dp in (("prefill", prefill_tp, prefill_pp, prefill_dp_attention),
                             ("decode", decode_tp, decode_pp, decode_dp_attention)):
        t = args.positive_int(f"{side}_tp", tp, maximum=MAX_COUNT)
        p = args.positive_int(f"{side}_pp", pp, maximum=MAX_COUNT)
        d = args.positive_int(f"{side}_dp_attention", dp, maximum=MAX_COUNT)
        if t % d:
            raise SpecError(f"{side}_dp_attention ({d}) must divide {side}_tp ({t}).")
        per_stage = 1 if model.attention == "mla" else min(t // d, model.n_kv_heads)
        sides.append(p * max(per_stage, 1))
    return min(sides)


def can_share_scaleup(prefill_hw: HardwareSpec, decode_hw: HardwareSpec, chips: int | None = None) -> bool:
    """True when both pools can sit in one scale-up domain: the same chip with a domain of more than one,
    and (``chips`` given: prefill + decode chips) the pools fit in it."""
    same = prefill_hw.id == decode_hw.id and prefill_hw.scaleup_domain > 1
    return same and (chips is None or chips <= prefill_hw.scaleup_domain)


def link_for(prefill_hw: HardwareSpec, decode_hw: HardwareSpec, *, same_scaleup_domain: bool,
             chips: int | None = None, link_frac: float = 1.0, latency_s: float | None = None) -> Link:
    """The link the KV crosses (module docstring): the scale-up fabric when ``same_scaleup_domain`` (the same
    chip on both sides, ``chips`` of both pools within one domain; SpecError otherwise), else the scale-out
    NICs. ``link_frac``: achieved share of the datasheet bandwidth; ``latency_s`` overrides alpha."""
    frac = args.number("link_frac", link_frac, minimum=0.0, maximum=1.0, allow_minimum=False)
    if same_scaleup_domain:
        if not can_share_scaleup(prefill_hw, decode_hw, chips):
            raise SpecError(f"prefill on {prefill_hw.id} and decode on {decode_hw.id} cannot share one scale-up "
                            "domain: "
                            f"a domain holds one kind of chip ({prefill_hw.id}: {prefill_hw.scaleup_domain} chips)"
                            f"{'' if chips is None else f' and both pools ({chips} chips) must fit in it'}; "
                            "use same_scaleup_domain=False (scale-out NICs).")
        bw = min(prefill_hw.scaleup_bytes_per_s_unidir, decode_hw.scaleup_bytes_per_s_unidir)
        alpha, label, up = SCALEUP_LATENCY_S, f"scale-up ({prefill_hw.id}, {bw * 8 / 1e9:g} Gb/s a chip)", True
    else:
        missing = [hw.id for hw in (prefill_hw, decode_hw) if hw.scaleout_bytes_per_s <= 0]
        if missing:
            raise SpecError(f"{', '.join(missing)} has no scale-out NIC bandwidth: add scaleout_gbps "
                            "(Gb/s per chip, one way) to its hardware YAML.")
        bw = min(prefill_hw.scaleout_bytes_per_s, decode_hw.scaleout_bytes_per_s)
        alpha, label, up = SCALEOUT_LATENCY_S, f"scale-out NIC ({bw * 8 / 1e9:g} Gb/s a chip)", False
    if latency_s is not None:
        alpha = args.number("latency_s", latency_s, maximum=1.0)
    return Link(bytes_per_s=bw * frac, latency_s=alpha, label=label, scaleup=up)


def kv_transfer_s(kv_bytes: npt.ArrayLike, link: Link, *, prefill_s: npt.ArrayLike | None = None,
                  layers: int | None = None, paths: npt.ArrayLike = 1) -> np.ndarray:
    """Seconds the hand-off adds to TTFT: kv_bytes / (B * paths) + alpha (``paths``: kv_paths), or with layer-wise
    streaming (``prefill_s`` and ``layers`` given) max(T_kv - prefill_s (L-1)/L, T_kv / L) + alpha."""
    kv = _non_negative("kv_bytes", kv_bytes)
    t = kv / (link.bytes_per_s * _positive("paths", paths))
    if (prefill_s is None) != (layers is None):
        raise SpecError("layer-wise streaming needs both prefill_s and layers; give both, or neither for a "
                        "transfer after the prefill.")
    if prefill_s is not None and layers is not None:
        n = args.positive_int("layers", layers, maximum=MAX_COUNT)
        pre = _non_negative("prefill_s", prefill_s)
        t = np.maximum(t - pre * (n - 1) / n, t / n)
    return t + link.latency_s


def required_link_bytes_per_s(rate_per_s: npt.ArrayLike, kv_bytes: npt.ArrayLike) -> np.ndarray:
    """Link bandwidth the hand-off needs at ``rate_per_s`` requests/s: B_req = rate * kv bytes per request."""
    return _non_negative("rate_per_s", rate_per_s) * _non_negative("kv_bytes", kv_bytes)


def link_utilization(rate_per_s: npt.ArrayLike, kv_bytes: npt.ArrayLike, link: Link,
                     paths: npt.ArrayLike = 1) -> np.ndarray:
    """Share of the hand-off's link busy at ``rate_per_s`` requests/s into one decode replica:
    B_req / (B * paths) (above 1 the link cannot keep up and the KV queue grows without bound)."""
    return required_link_bytes_per_s(rate_per_s, kv_bytes) / (link.bytes_per_s * _positive("paths", paths))


def pool_ratio(isl: npt.ArrayLike, osl: npt.ArrayLike, prefill_tokens_per_s: npt.ArrayLike,
               decode_tokens_per_s: npt.ArrayLike) -> np.ndarray:
    """Prefill:decode replicas that balance prefill supply with decode demand, N_P / N_D =
    (isl / theta_P) / (osl / theta_D), theta = tokens/s per replica; the request rate cancels."""
    i = _positive("isl", isl)
    o = _positive("osl", osl)
    return (i / _positive("prefill_tokens_per_s", prefill_tokens_per_s)) / \
        (o / _positive("decode_tokens_per_s", decode_tokens_per_s))


def xpyd(rate_per_s: npt.ArrayLike, prefill_requests_per_s: npt.ArrayLike,
         decode_requests_per_s: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Smallest whole pools (n_P, n_D) serving ``rate_per_s``: ceil(R / g_P), ceil(R / g_D), g = requests/s one
    replica sustains (prefill: theta_P / isl, decode: theta_D / osl). At least one replica each."""
    r = _non_negative("rate_per_s", rate_per_s)
    need_p = r / _positive("prefill_requests_per_s", prefill_requests_per_s)
    need_d = r / _positive("decode_requests_per_s", decode_requests_per_s)
    # round away float noise (3 / 0.1 = 30.000000000000004 is 30 replicas, not 31)
    return (np.maximum(np.ceil(np.round(need_p, 9)), 1.0), np.maximum(np.ceil(np.round(need_d, 9)), 1.0))


def balanced_rate_per_s(n_prefill: npt.ArrayLike, n_decode: npt.ArrayLike, prefill_requests_per_s: npt.ArrayLike,
                        decode_requests_per_s: npt.ArrayLike) -> np.ndarray:
    """Requests/s ``n_prefill`` prefill and ``n_decode`` decode replicas sustain together: the slower pool's
    n * g (the saturation rate of an xPyD deployment)."""
    prefill = _non_negative("n_prefill", n_prefill) * _positive("prefill_requests_per_s", prefill_requests_per_s)
    return np.minimum(prefill, _non_negative("n_decode", n_decode) * _positive("decode_requests_per_s",
                                                                                decode_requests_per_s))


def _real(arg: str, value: npt.ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SpecError(f"{arg} must be a number or an array of numbers, got {value!r}.") from None
    if isinstance(value, (str, bytes, bool)) or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise SpecError(f"{arg} must be finite numbers, got {value!r}.")
    return arr


def _non_negative(arg: str, value: npt.ArrayLike) -> np.ndarray:
    arr = _real(arg, value)
    if np.any(arr < 0):
        raise SpecError(f"{arg} must not be negative, got {arr.min():g}.")
    return arr


def _positive(arg: str, value: npt.ArrayLike) -> np.ndarray:
    arr = _real(arg, value)
    if np.any(arr <= 0):
        raise SpecError(f"{arg} must be positive, got {arr.min():g}.")
    return arr

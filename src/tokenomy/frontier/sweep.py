"""The deployment sweep: every deployment of a model on each chip, at every concurrency, in a few
vectorized calls.

``sweep(model, ["h100-sxm", "groq-lpu", ...], isl=1024, osl=1024)`` takes the deployments of
``deployments.py`` (chips per replica, tp, pp, ep) for each chip and precision, evaluates every
concurrency of each deployment in ONE vectorized decode call and ONE vectorized prefill call (a
Python loop over deployments, tens per chip, never over batch), drops what does not fit (counting
it, and saying why when nothing fits) and marks the Pareto frontiers.

Serving model: ``core/serving.py`` (continuous batching, prefill and decode on the same replica,
prefill batched in chunks of the engine's max_num_batched_tokens; N = b * pp concurrent sequences
reported as ``batch``, and with pp > 1 also N = 1, 2, 4, ... < pp sequences, one per micro-batch,
that leave stages idle: the pipeline bubble of core/predict.py), at the mean cached context
ctx = isl + osl/2. With a length distribution (``isl``/``osl`` arrays of paired samples) the means
enter the formulas and prefill times are averaged over the samples. $/chip-hour comes from the
economics model (``usd_per_chip_hour``: the default scenario, or ``scenario`` / ``**overrides`` as the
economics commands take them, e.g. mode="rented"). ``spec`` adds speculative decoding to every decode
point (core/speculative.py; serving_estimate sees the time per emitted token). ``tp``/``pp``/``ep`` fix
parts of the deployment (deployments.fixed_candidates). Pipeline hand-offs that cross a scale-up domain use a
scale-out link of SCALEOUT_BYTES_PER_S.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..api import default_precision, resolve, resolve_spec
from ..core import economics as ce
from ..core.pareto import pareto_mask, pareto_mask_grouped
from ..core.precision import Precision, parse_precision
from ..core.predict import predict_core
from ..core.serving import chunked_prefill, serving_estimate
from ..core.speculative import per_token, speculative_core
from ..core.sram import is_dataflow_system, weights_in_sram
from ..errors import NothingFitsError, SpecError
from ..loaders.engines import load_engine
from ..spec import args
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from . import disagg as _disagg
from .crossover import batch_limit_text
from .deployments import DeploymentContext, candidates, fixed_candidates, fixed_error, memory_reason
from .result import ESTIMATE_NAMES, FrontierResult, frontier_query

# Concurrency per micro-batch: 1, 2, 3, 4, 6, 8, 12, ... 4096 (powers of two and 1.5x steps).
BATCHES = np.unique(np.concatenate([2.0 ** np.arange(13), np.round(1.5 * 2.0 ** np.arange(1, 12))]))
SCALEOUT_BYTES_PER_S = 50e9      # 400 Gb/s NIC per accelerator (ConnectX-7 class), one direction
AUTO_PRECISIONS = ("bf16", "fp8", "fp4")   # what "sweep the precision" tries, where the chip has the rate
REASONS_SHOWN = 3                # distinct reasons per chip in a "nothing fits" message


def usd_per_chip_hour(hw, scenario=None, **overrides) -> float:
    """USD per busy chip-hour (tokenomy.economics: the default scenario, owned at the catalog price or the
    catalog rent, unless ``scenario`` / ``overrides`` say otherwise, e.g. mode="rented"; NaN when the
    chip has no price the scenario can use, and such points stay off the $ frontiers)."""
    from ..economics import effective_usd_per_chip_hour

    return effective_usd_per_chip_hour(hw, scenario, **overrides)


def crossdomain_p2p_s(model, hw, tp: int, pp: int, tokens) -> np.ndarray | float:
    """Extra seconds per step when pipeline hand-offs cross scale-up domains (scale-out link)."""
    domain = max(hw.scaleup_domain, 1)
    chips = tp * pp
    if pp <= 1 or chips <= domain:
        return 0.0
    crossings = math.ceil(chips / domain) - 1
    up = hw.scaleup_bytes_per_s_unidir or SCALEOUT_BYTES_PER_S
    out = SCALEOUT_BYTES_PER_S
    if out >= up:
        return 0.0
    nbytes = np.asarray(tokens, dtype=float) * model.d_model * 2.0      # bf16 activations per token
    return crossings * (nbytes / out - nbytes / up)


def _pow2_below(pp: int) -> np.ndarray:
    """Micro-batches 1, 2, 4, ... below pp: concurrencies that leave the pipeline part idle."""
    return 2.0 ** np.arange(max(math.ceil(math.log2(pp)), 0))


def _no_fit_reason(dec, pre, isl_u: np.ndarray) -> str:
    """Why a deployment fits at no concurrency: decode at its smallest batch, else the longest prompt's prefill."""
    if not bool(np.asarray(dec.fits).ravel()[0]):
        b0 = float(np.asarray(dec.batch, dtype=float).ravel()[0])
        return memory_reason(dec, 0, f"decode at batch {b0:.0f}")
    bad = np.flatnonzero(~np.broadcast_to(np.asarray(pre.fits, dtype=bool), isl_u.shape))
    j = int(bad[0]) if bad.size else 0
    return memory_reason(pre, j, f"prefill of {isl_u[j]:.0f} tokens")


def _batch_limit(dec, fits: np.ndarray, hw) -> str:
    """Why a deployment's batch stops growing: the first batch past the largest that fits ("" if none)."""
    ok, bad = np.flatnonzero(fits), np.flatnonzero(~fits)
    bad = bad[bad > ok[-1]] if ok.size else bad
    if not bad.size:
        return ""
    users = np.broadcast_to(np.asarray(dec.batch, dtype=float) * np.asarray(dec.micro_batches, dtype=float), fits.shape)
    return batch_limit_text(dec, int(bad[0]), float(users[bad[0]]), "SRAM" if weights_in_sram(hw) else "HBM")


def _join_reasons(reasons: list[str]) -> str:
    """Distinct reasons, the first REASONS_SHOWN of them, and how many more there were."""
    uniq = list(dict.fromkeys(reasons))
    more = len(uniq) - REASONS_SHOWN
    return "; ".join(uniq[:REASONS_SHOWN]) + (f"; and {more} more deployment(s) like these" if more > 0 else "")


def _as_lengths(name: str, v) -> np.ndarray:
    return np.atleast_1d(args.sizes(name, v, minimum=1, maximum=args.MAX_TOKENS)).ravel()


def _precisions(precision, hw, model) -> list:
    if precision is None:                         # the model's shipped format (api.default_precision)
        return [default_precision(model, hw)]
    if isinstance(precision, str) and precision.strip().lower() == "auto":
        return [p for p in AUTO_PRECISIONS if hw.peak(p) is not None]
    if isinstance(precision, str):
        if "=" in precision:                      # one explicit 'w=..,a=..,kv=..' format
            return [precision]
        return [s.strip() for s in precision.split(",") if s.strip()]
    return list(precision)


def exact_batches(grid: np.ndarray, meets: np.ndarray) -> np.ndarray:
    """The whole batches strictly between the largest grid batch that meets the speed target and the next grid
    batch (which does not): where the exact answer to "the most throughput at this speed" lies. Empty when no grid
    batch meets it or the largest does (then the grid point is the answer, or nothing is)."""
    ok = np.flatnonzero(meets)
    if ok.size == 0 or ok.max() + 1 >= grid.size:
        return np.zeros(0)
    lo, hi = int(grid[ok.max()]), int(grid[ok.max() + 1])
    return np.arange(lo + 1, hi, dtype=float)


def sweep(model, hardware_list: Sequence | str, isl, osl, chips: int | None = None, precision=None,
          engine=None, min_tokens_per_s_per_user: float | None = None, max_ttft_s: float | None = None,
          batches=None, force: bool = False, spec=None, tp: int | None = None, pp: int | None = None,
          ep: int | None = None, scenario=None, disagg: bool = False, prefill_hardware=None, decode_hardware=None,
          tokens_per_s_per_user: float | None = None, exact_speeds=None, **overrides) -> FrontierResult:
    """Evaluate every deployment of ``model`` on each chip of ``hardware_list`` for a workload of
    ``isl`` input and ``osl`` output tokens (ints, or arrays of paired samples).

    ``chips`` fixes chips per replica; ``precision`` is one format, a list, "auto" for bf16, fp8
    and fp4 wherever the chip has the matrix rate, or None for the model's shipped format. Points that do not fit
    are dropped and counted in ``.dropped``. Raises SpecError on bad input and NothingFitsError (exit 2)
    when the model fits on none of the chips. ``force`` allows isl + osl beyond the model's context.
    ``spec``: speculative decoding ('mtp:1,accept=0.85', ...; tokenomy.predict). ``tp``/``pp``/``ep`` fix
    those parts of every deployment. ``scenario`` and ``**overrides`` (Scenario fields) price the chip-hour.
    ``disagg``: add prefill-on-P, decode-on-D points for every ordered pair of the chips (frontier/disagg.py);
    ``prefill_hardware`` / ``decode_hardware`` pin P / D (implies ``disagg``; the chip joins the sweep).
    ``tokens_per_s_per_user``: the speed target (points below it get ``meets_slo`` False);
    ``min_tokens_per_s_per_user`` is its older name. The batches are a grid (BATCHES); at the target, and at each
    of ``exact_speeds`` (tokens/s/user), every deployment also gets the largest batch that meets that speed exactly.
    """
    if tokens_per_s_per_user is not None and min_tokens_per_s_per_user is not None:
        raise SpecError("give tokens_per_s_per_user or its older name min_tokens_per_s_per_user, not both.")
    if tokens_per_s_per_user is not None:
        min_tokens_per_s_per_user = tokens_per_s_per_user
    hardware_list = args.names("hardware", hardware_list, HardwareSpec,
                               "Give at least one chip, e.g. --hardware h100-sxm,b200.")
    pins = _disagg.pins(prefill_hardware, decode_hardware)
    hardware_list = [*hardware_list, *(pin for pin in pins.values() if pin is not None)]
    disagg = bool(disagg) or any(pin is not None for pin in pins.values())
    args.optional_text("engine", engine, args.ENGINE_HINT, spec_type=EngineProfile)
    args.precision_choice(precision, Precision)
    isl_a, osl_a = _as_lengths("isl", isl), _as_lengths("osl", osl)
    if isl_a.size != osl_a.size and min(isl_a.size, osl_a.size) != 1:
        raise SpecError(f"isl and osl samples differ in count ({isl_a.size} and {osl_a.size}); pair them.")
    chips, fixed = args.fixed_deployment(chips, tp, pp, ep)
    sd, draft = resolve_spec(spec)
    from ..economics import get_scenario
    from ..economics.chip_hour import host_power_w

    sc = get_scenario(scenario, **overrides)
    for name, v in (("tokens_per_s_per_user", min_tokens_per_s_per_user), ("max_ttft_s", max_ttft_s)):
        if v is not None:
            args.number(name, v, allow_minimum=False)
    isl_mean, osl_mean = float(isl_a.mean()), float(osl_a.mean())
    isl_u, isl_w = np.unique(isl_a, return_counts=True)     # distinct prompt lengths and how often each occurs
    ctx = isl_mean + osl_mean / 2.0
    bs = BATCHES if batches is None else args.sizes("batches", batches, minimum=1, maximum=args.MAX_BATCH).ravel()
    # speeds at which each deployment gets its exact largest batch (the target, and any others asked)
    targets = sorted({*([] if min_tokens_per_s_per_user is None else [float(min_tokens_per_s_per_user)]),
                      *(float(args.number("exact_speeds", v, allow_minimum=False)) for v in (exact_speeds or ()))})

    specs = []
    seen = set()
    default_engine = load_engine(engine)         # the given profile, or 'serving'
    sram_engine = load_engine("dataflow") if engine is None else default_engine
    for h in hardware_list:
        m, hw, _, _ = resolve(model, h, default_engine, "bf16")
        model = m                        # load the model once
        # SRAM dataflow systems run compiled graphs, not kernels launched by a serving engine (the rule
        # api.resolve applies)
        eng = sram_engine if is_dataflow_system(hw) else default_engine
        if hw.id in seen:
            continue
        seen.add(hw.id)
        specs.append((m, hw, eng))
    m = specs[0][0]
    args.request_in_context(float(isl_a.max()), float(osl_a.max()), m.max_position_embeddings, m.name, force)
    parts: list[dict[str, np.ndarray]] = []
    dropped: dict[str, dict[str, int]] = {}
    infeasible: dict[str, str] = {}
    evaluated = 0
    prefill_rows: list[dict] = []
    for m, hw, eng in specs:
        drop = dropped.setdefault(hw.id, {})
        price = usd_per_chip_hour(hw, sc)
        if any(fixed.values()):
            fixed_error(m, hw, chips, **fixed)
        precs = _precisions(precision, hw, m)
        reasons = []
        for ptxt in precs:
            prec = parse_precision(ptxt)
            if hw.peak(prec.compute) is None:
                have = ", ".join(sorted(hw.peak_flop_per_s))
                reasons.append(f"no {prec.compute} matrix rate (it has {have})")
                drop[f"no {prec.compute} rate"] = drop.get(f"no {prec.compute} rate", 0) + bs.size
                evaluated += bs.size
                continue
            cx = DeploymentContext(m, eng, prec, hw, eng.memory.reserve_frac)
            cands, why = (fixed_candidates(cx, chips, **fixed) if any(fixed.values())
                          else candidates(cx, None if chips is None else int(chips)))
            if not cands:
                reasons.append(f"{prec.label}: {why}")
                key = "weights do not fit"
                drop[key] = drop.get(key, 0) + bs.size
                evaluated += bs.size
                continue
            for tp, pp, ep in cands:
                pre = chunked_prefill(m, hw, eng, prec, isl_u, tp=tp, pp=pp, ep=ep)
                pmean = {k: float(np.average(np.broadcast_to(getattr(pre, k), isl_u.shape), weights=isl_w))
                         for k in ("stage_s", "latency_s", "power_w", "latency_one_s", "requests")}   # weighted by
                # how often each isl occurs
                handoff = float(np.mean(crossdomain_p2p_s(m, hw, tp, pp, isl_a)))
                pmean["latency_s"] += handoff
                pmean["latency_one_s"] += handoff
                overhead = eng.for_vendor(hw.vendor).request_overhead_s
                if disagg and bool(np.all(pre.pred.fits)):
                    prefill_rows.append(_disagg.prefill_row(hw, prec.label, (tp, pp, ep), pre.pred.chips, pmean,
                                                            isl_mean, price, _disagg.handoff_kv_bytes(m, eng, prec,
                                                                                                      isl_a)))
                # full pipeline (pp micro-batches of every b), and fewer sequences than stages (bubble)
                limit = ""
                # (sizes, micro-batches, exact speed): an exact pass holds the batches between the grid's last
                # point that meets one of the targets and the next; of them only the largest that meets it is kept
                ms: list[tuple[np.ndarray, np.ndarray | None, float | None]] = [(bs, None, None)] + (
                    [(np.ones(len(_pow2_below(pp))), _pow2_below(pp), None)] if pp > 1 else [])
                for b_i, m_i, exact in ms:
                    if sd is None:
                        dec = predict_core(m, hw, eng, prec, phase="decode", batch=b_i, length=ctx, tp=tp, pp=pp,
                                           ep=ep, micro_batches=m_i)
                    else:
                        dec = speculative_core(m, hw, eng, prec, sd, draft, batch=b_i, length=ctx, tp=tp, pp=pp,
                                               ep=ep, micro_batches=m_i)
                    evaluated += b_i.size
                    fits = np.asarray(dec.fits, dtype=bool) & bool(np.all(pre.pred.fits))
                    nbad = int(b_i.size - fits.sum())
                    if nbad and exact is None:
                        key = "KV cache does not fit at this batch" if fits.any() else "does not fit at batch 1"
                        drop[key] = drop.get(key, 0) + nbad
                    own = _batch_limit(dec, fits, hw)
                    limit = limit if m_i is not None or exact is not None else own   # full pipeline's, for the bubble
                    if not fits.any():
                        if m_i is None:
                            reasons.append(f"{prec.label} tp={tp} pp={pp}: {_no_fit_reason(dec, pre.pred, isl_u)}")
                        continue
                    est = serving_estimate(per_token(dec), pmean["stage_s"], pmean["latency_s"], pmean["power_w"],
                                           isl=isl_mean, osl=osl_mean, usd_per_hour=price,
                                           prefill_latency_one_s=pmean["latency_one_s"],
                                           prefill_requests=pmean["requests"],
                                           request_overhead_s=overhead,
                                           extra_decode_s=crossdomain_p2p_s(m, hw, tp, pp, b_i) / dec.tokens_per_step)
                    if targets and m_i is None:
                        speed = np.broadcast_to(est["tokens_per_s_per_user"], fits.shape)
                        if exact is not None:      # keep the one exact point, or nothing
                            meet = fits & (speed >= exact)
                            if not meet.any():
                                continue
                            fits = np.zeros_like(fits)
                            fits[np.flatnonzero(meet).max()] = True
                        elif batches is None:
                            ms += [(between, None, t) for t in targets
                                   if (between := exact_batches(b_i, fits & (speed >= t))).size]
                    n = int(fits.sum())
                    part = {ESTIMATE_NAMES.get(k, k): np.broadcast_to(np.asarray(v), fits.shape)[fits]
                            for k, v in est.items()}
                    part["memory_bytes_per_chip"] = np.asarray(dec.memory_bytes)[fits]
                    # the bandwidth a decode step implies: bytes each chip reads per second of its stage
                    bw = np.broadcast_to(np.asarray(dec.bytes_per_step) / dec.chips / np.asarray(dec.stage_s),
                                         fits.shape)[fits]
                    part["memory_bytes_per_s_per_chip"] = bw
                    part["memory_bandwidth_frac"] = bw / hw.main_memory_bytes_per_s
                    for k, txt in (("hardware", hw.id), ("kind", hw.kind), ("precision", dec.precision),
                                   ("kv_cache", dec.kv_cache), ("model", m.name), ("spec", dec.speculative),
                                   ("deployment", dec.deployment)):
                        part[k] = np.full(n, txt, dtype=object)
                    for k, v in (("chips", dec.chips), ("tp", tp), ("pp", pp), ("ep", ep)):
                        part[k] = np.full(n, v, dtype=np.int64)
                    part["usd_per_chip_hour"] = np.full(n, price)
                    part["dataflow"] = np.full(n, is_dataflow_system(hw))
                    part["limit"] = np.full(n, own or limit, dtype=object)
                    part["prefill_hardware"] = part["decode_hardware"] = np.full(n, hw.id, dtype=object)
                    part["prefill_chips"] = part["decode_chips"] = part["chips"].astype(float)
                    part["kv_transfer_s"] = part["kv_link_utilization"] = np.zeros(n)
                    if disagg:
                        part.update({k: np.broadcast_to(v, fits.shape)[fits] for k, v in
                                     _disagg.decode_extras(dec, overhead).items()})
                    parts.append(part)
        if not any(p["hardware"][0] == hw.id for p in parts):
            infeasible[hw.id] = _join_reasons(reasons)
    if not parts:
        detail = " | ".join(f"{k}: {v}" for k, v in infeasible.items())
        raise NothingFitsError(f"{m.name} fits on none of {', '.join(infeasible)}. {detail}", infeasible)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    cols["batch"] = cols["batch"].astype(np.int64)
    cols["micro_batch"] = cols["micro_batch"].astype(np.int64)
    pre_cols, pairs = None, []
    if disagg:
        pre_cols = _disagg.prefill_table(prefill_rows)
        ids = {k: None if pin is None else resolve(m, pin, default_engine, "bf16")[1].id for k, pin in pins.items()}
        hws = [s[1] for s in specs if s[1].id not in infeasible]
        pair_hw = _disagg.pair_list(hws, ids["prefill_hardware"], ids["decode_hardware"])
        extra = _disagg.pair_parts(m, cols, pre_cols, pair_hw, isl_mean, osl_mean, dropped)
        pairs = [f"{a.id}+{b.id}" for a, b in pair_hw]
        if extra:
            cols = {k: np.concatenate([cols[k], *(p[k] for p in extra)]) for k in extra[0]}
    cols = {k: v for k, v in cols.items() if not k.startswith("_")}
    slo = np.ones(cols["tokens_per_s"].size, dtype=bool)
    if min_tokens_per_s_per_user is not None:
        slo &= cols["tokens_per_s_per_user"] >= min_tokens_per_s_per_user
    if max_ttft_s is not None:
        slo &= cols["ttft_s"] <= max_ttft_s
    cols["meets_slo"] = slo
    _facility_columns(cols, {s[1].id: host_power_w(s[1], sc) for s in specs}, sc.pue)
    _mark_frontiers(cols)
    return FrontierResult(model=m.name, hardware=[s[1].id for s in specs], isl=isl_mean, osl=osl_mean,
                          columns=cols, dropped={k: v for k, v in dropped.items() if v}, infeasible=infeasible,
                          min_tokens_per_s_per_user=min_tokens_per_s_per_user, max_ttft_s=max_ttft_s,
                          evaluated=evaluated, pairs=pairs, prefill=pre_cols, scenario=sc,
                          query=frontier_query(
                              model=m.name, hardware=[s[1].id for s in specs], isl=isl_mean, osl=osl_mean,
                              speed=min_tokens_per_s_per_user, max_ttft_s=max_ttft_s, chips=chips, fixed=fixed,
                              precision=precision if isinstance(precision, str) else ",".join(
                                  dict.fromkeys(cols["precision"][cols["kind"] != "disagg"].tolist())),
                              engine=",".join(dict.fromkeys(s[2].name for s in specs)), spec=spec or "off",
                              disagg=disagg, pins={k: None if v is None else str(getattr(v, "id", v))
                                                   for k, v in pins.items()}, scenario=sc))


def _facility_columns(cols: dict[str, np.ndarray], host_w: dict[str, float], pue: float) -> None:
    """j_per_token_facility and tokens_per_s_per_mw_facility of every point: the replica's accelerator power plus
    the host power of each of its chips (a disagg point: both pools' chips, each at its own chip's host power),
    times PUE (core/economics.facility_power_w, as the economics commands compute it)."""
    def host(col: str) -> np.ndarray:
        return np.array([host_w[h] for h in cols[col].tolist()], dtype=float)

    split = cols["kind"] == "disagg"
    host_total = host("decode_hardware") * cols["decode_chips"] + np.where(split, host("prefill_hardware")
                                                                           * cols["prefill_chips"], 0.0)
    fac_w = ce.facility_power_w(cols["power_w"], 1.0, host_total, pue)
    cols["j_per_token_facility"] = ce.j_per_token(fac_w, cols["tokens_per_s"])
    cols["tokens_per_s_per_mw_facility"] = ce.tokens_per_s_per_mw(cols["tokens_per_s"], fac_w)


def _mark_frontiers(cols: dict[str, np.ndarray]) -> None:
    """Per-chip and global Pareto flags, among the points that meet the SLO."""
    slo = cols["meets_slo"]
    hw = cols["hardware"]
    x = np.where(slo, cols["tokens_per_s_per_user"], np.nan)
    cols["on_frontier"] = pareto_mask_grouped(hw, x, cols["tokens_per_s_per_chip"], (True, True))
    cols["on_frontier_cost"] = pareto_mask_grouped(hw, x, cols["usd_per_mtok_all_in"], (True, False))
    cols["on_frontier_energy"] = pareto_mask_grouped(hw, x, cols["j_per_token_chip"], (True, False))
    cols["on_global_frontier_cost"] = pareto_mask(x, cols["usd_per_mtok_all_in"], (True, False))
    cols["on_global_frontier_energy"] = pareto_mask(x, cols["j_per_token_chip"], (True, False))


__all__ = ["AUTO_PRECISIONS", "BATCHES", "SCALEOUT_BYTES_PER_S", "NothingFitsError", "sweep", "usd_per_chip_hour"]

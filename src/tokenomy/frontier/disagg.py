"""Disaggregated points of the frontier (``sweep(..., disagg=True)``, ``tokenomy frontier --disagg``): prefill on
one chip, decode on another (or the same), priced from the sweep's own per-chip results.

The sweep already evaluates, per chip and deployment, the prefill of one request (``prefill_rows``: replica
time per request t_p at full chunks, so theta_P = isl / t_p tokens/s per replica, the full chunk's latency, power)
and every decode point (N users, tokens/s per replica and per user with the prefill interleaved,
prefill_time_frac f_p). A decode replica that never prefills runs at its pure decode rate:
    theta_D = tokens_per_s / (1 - f_p),   per-user speed = tokens_per_s_per_user / (1 - f_p)
For every ordered pair (P, D) of chips, each decode point of D is paired with each prefill deployment of P on
the Pareto set of ($ per input token, J per input token, chunk latency) (a handful per chip; the cheapest is
always among them, and faster-but-dearer ones stay for TTFT limits), NumPy over all of them at once:
    ratio r      = (isl / theta_P) / (osl / theta_D)          prefill replicas per decode replica
                                                             (core/disagg.pool_ratio; fractional: a fleet average)
    chips        = c_D + r c_P         (prefill_chips = r c_P, decode_chips = c_D)
    $/h          = price_D c_D + r price_P c_P;   power = P_D + r P_P (both pools busy at balance)
    $/Mtok       = $/h / (3600 theta_D) 1e6   (all-in, per output token, as the aggregated points)
    _output / _input: the decode pool's cost per output token, the prefill pool's per input token
    TTFT         = L_k + exposed KV transfer + request overhead of D's engine
        L_k: core/serving.steady_ttft_s, the rule of the aggregated points: the prefill pool runs at its
        balanced load (each replica takes theta_P / isl requests/s, its full capacity), so the chunk that
        carries a new request holds the prompts that arrive while one request's chunk runs,
        k = clip(L_1 theta_P / isl, 1, r) of the r a full chunk takes, between one request's chunk L_1 and
        the full chunk. The transfer (core/disagg.kv_transfer_s) moves that chunk's k requests' KV (they end
        together and share the ports; a request waits for the chunk's last layer), in the prefill side's
        KV format (the sender's, kv_bytes_per_request), over link_for: the scale-up fabric when P and D are
        the same chip and one decode replica with the ceil(r) prefill replicas feeding it fits in one domain,
        else the scale-out NICs; core/disagg.kv_paths paths in parallel (tp shards by KV heads, pp stages,
        MLA one per stage), streamed layer by layer behind the chunk (max(T - L_k (L-1)/L, T/L) + alpha).
        The first token reaches the client with its KV through the decode server (as sim/disagg.py).
    kv_link_utilization = (theta_D / osl) kv / (B paths)   requests/s into one decode replica times KV bytes
        over the link (core/disagg.link_utilization); points above 1 are dropped (the KV queue would grow).
Aggregated points charge prefill through f_p on the same chips (core/serving.py); with the same deployment on
both sides r = f_p / (1 - f_p) and the disaggregated $/Mtok equals the aggregated one, while the per-user speed
rises by 1 / (1 - f_p): what splitting gains is that speed, plus a cheaper prefill chip where there is one.
Queueing, the decode side's wait for its next step and the link's price are not modelled.
"""

from __future__ import annotations

import numpy as np

from ..core import economics as ce
from ..core.disagg import kv_bytes_per_request, kv_paths, kv_transfer_s, link_for, link_utilization, pool_ratio
from ..core.serving import steady_ttft_s
from ..errors import SpecError
from ..spec import args
from ..spec.hardware import HardwareSpec

PREFILL_KEYS = ("hardware", "precision", "tp", "pp", "ep", "chips", "prefill_tokens_per_s", "prefill_latency_s",
                "prefill_latency_alone_s", "prefill_batch", "kv_bytes", "prefill_power_w", "usd_per_chip_hour",
                "usd_per_mtok_input", "prefill_j_per_token_chip")
# decode-point columns a disaggregated point takes from its decode side unchanged
_FROM_DECODE = ("tp", "pp", "ep", "kv_cache", "model", "spec", "micro_batch", "memory_bytes_per_chip",
                "memory_bytes_per_s_per_chip", "memory_bandwidth_frac", "dataflow", "limit")


def prefill_row(hw, prec_label: str, deployment: tuple[int, int, int], chips: int, pmean: dict, isl: float,
                price: float, kv_bytes: float) -> dict:
    """One prefill deployment (tp, pp, ep) of the sweep on ``chips`` chips as a row of the prefill table;
    ``kv_bytes``: a mean request's KV in this deployment's cache format (handoff_kv_bytes)."""
    tp, pp, ep = deployment
    theta = isl / pmean["stage_s"]                       # input tokens/s one replica prefills at full chunks
    return {"hardware": hw.id, "precision": prec_label, "tp": tp, "pp": pp, "ep": ep, "chips": chips,
            "prefill_tokens_per_s": theta, "prefill_latency_s": pmean["latency_s"],
            "prefill_latency_alone_s": pmean["latency_one_s"], "prefill_batch": pmean["requests"],
            "kv_bytes": kv_bytes, "prefill_power_w": pmean["power_w"],
            "usd_per_chip_hour": price,
            "usd_per_mtok_input": float(ce.usd_per_mtok(price * chips, theta)),
            "prefill_j_per_token_chip": float(ce.j_per_token(pmean["power_w"], theta))}


def handoff_kv_bytes(model, engine, prec, isl_samples: np.ndarray) -> float:
    """KV bytes of a mean request as a prefill deployment sends it: its own cache format (the sender's)."""
    return float(np.mean(kv_bytes_per_request(model, prec, isl_samples, engine=engine)))


def decode_extras(dec, overhead_s: float) -> dict:
    """Hidden columns a decode part carries for pairing (shaped like ``dec.fits``): its decode power and its
    engine's request overhead (the client's stream comes from the decode server)."""
    shape = np.shape(dec.fits)
    return {"_decode_power_w": np.broadcast_to(np.asarray(dec.power_w, dtype=float), shape),
            "_request_overhead_s": np.full(shape, float(overhead_s))}


def prefill_table(rows: list[dict]) -> dict[str, np.ndarray]:
    """The prefill rows as columns (PREFILL_KEYS)."""
    return {k: np.asarray([r[k] for r in rows], dtype=object if k in ("hardware", "precision") else None)
            for k in PREFILL_KEYS}


def _pareto_prefill(pre: dict[str, np.ndarray], sel: np.ndarray) -> np.ndarray:
    """Prefill rows of one chip not dominated on ($ per input token, J per input token, latency)."""
    cost = np.where(np.isnan(pre["usd_per_mtok_input"][sel].astype(float)), np.inf,
                    pre["usd_per_mtok_input"][sel].astype(float))
    obj = np.stack([cost, pre["prefill_j_per_token_chip"][sel].astype(float),
                    pre["prefill_latency_s"][sel].astype(float)], 1)
    a, b = obj[None, :, :], obj[:, None, :]            # [i, j]: does row j dominate row i
    keep = np.flatnonzero(~np.any(np.all(a <= b, 2) & np.any(a < b, 2), 1))
    _, first = np.unique(obj[keep], axis=0, return_index=True)       # identical rows: keep one
    return sel[keep[np.sort(first)]]


def _links(hw_p, hw_d):
    """(scale-up Link or None, scale-out Link or None) for the pair."""
    up = link_for(hw_p, hw_d, same_scaleup_domain=True) if hw_p.id == hw_d.id and hw_p.scaleup_domain > 1 else None
    try:
        out = link_for(hw_p, hw_d, same_scaleup_domain=False)
    except SpecError:
        out = None
    return up, out


def _paths(model, pre: dict[str, np.ndarray], p: np.ndarray, cols: dict[str, np.ndarray], d: np.ndarray) -> np.ndarray:
    """core/disagg.kv_paths for every (prefill row p, decode point d), shaped (p, d); one call per distinct pair."""
    memo: dict[tuple, int] = {}
    out = np.empty((p.size, d.size))
    for a, i in enumerate(p):
        for b, j in enumerate(d):
            key = (int(pre["tp"][i]), int(pre["pp"][i]), int(cols["tp"][j]), int(cols["pp"][j]))
            if key not in memo:
                memo[key] = kv_paths(model, key[0], key[2], prefill_pp=key[1], decode_pp=key[3])
            out[a, b] = memo[key]
    return out


def pair_parts(model, cols: dict[str, np.ndarray], pre: dict[str, np.ndarray], pairs: list[tuple], isl: float,
               osl: float, dropped: dict) -> list[dict[str, np.ndarray]]:
    """Disaggregated points (module docstring) of ``model`` for each (prefill HardwareSpec, decode HardwareSpec) in
    ``pairs``, from the aggregated columns ``cols`` (hidden columns included) and the prefill table ``pre``."""
    parts = []
    for hw_p, hw_d in pairs:
        d = np.flatnonzero(cols["hardware"] == hw_d.id)
        sel_p = np.flatnonzero(pre["hardware"] == hw_p.id)
        if not d.size or not sel_p.size:
            continue
        p = _pareto_prefill(pre, sel_p)
        name = f"{hw_p.id}+{hw_d.id}"
        f = cols["prefill_time_frac"][d]
        theta_d = (cols["tokens_per_s"][d] / (1.0 - f))[None, :]            # pure decode, tokens/s per replica
        speed = (cols["tokens_per_s_per_user"][d] / (1.0 - f))[None, :]
        c_d = cols["chips"][d].astype(float)[None, :]
        theta_p = pre["prefill_tokens_per_s"][p].astype(float)[:, None]
        c_p = pre["chips"][p].astype(float)[:, None]
        ratio = pool_ratio(isl, osl, theta_p, theta_d)                  # prefill replicas per decode replica
        usd_d = cols["usd_per_chip_hour"][d][None, :] * c_d
        usd_p = ratio * pre["usd_per_chip_hour"][p].astype(float)[:, None] * c_p
        power = cols["_decode_power_w"][d][None, :] + ratio * pre["prefill_power_w"][p].astype(float)[:, None]
        chips = c_d + ratio * c_p
        # the KV link: scale-up when one decode replica and the prefill replicas feeding it fit one domain
        up, out = _links(hw_p, hw_d)
        in_domain = (c_p * np.ceil(ratio) + c_d <= hw_p.scaleup_domain) if up is not None else np.zeros_like(chips,
                                                                                                          dtype=bool)
        ok = in_domain | (out is not None)
        col = {k: np.broadcast_to(pre[key][p].astype(float)[:, None], chips.shape)
               for k, key in (("latency_s", "prefill_latency_s"), ("latency_one_s", "prefill_latency_alone_s"),
                              ("requests", "prefill_batch"), ("kv_bytes", "kv_bytes"))}
        # steady-state TTFT at the balanced load: k prompts share the chunk (core/serving.steady_ttft_s)
        k_req = np.clip(col["latency_one_s"] * theta_p / isl, 1.0, col["requests"])
        lat_p = steady_ttft_s(col["latency_one_s"], col["latency_s"], col["requests"], k_req)
        paths = _paths(model, pre, p, cols, d)
        t_kv, util = np.zeros_like(chips), np.zeros_like(chips)
        rate = np.broadcast_to(theta_d / osl, chips.shape)             # requests/s into one decode replica
        for link, m in ((up, in_domain), (out, ~in_domain)):
            if link is not None and m.any():
                t_kv[m] = kv_transfer_s(k_req[m] * col["kv_bytes"][m], link, prefill_s=lat_p[m],
                                        layers=model.n_layers, paths=paths[m])
                util[m] = link_utilization(rate[m], col["kv_bytes"][m], link, paths[m])
        if not ok.all():
            dropped.setdefault(name, {})["no KV link (no scale-out NIC)"] = int((~ok).sum())
        over = ok & (util > 1.0)
        if over.any():
            dropped.setdefault(name, {})["KV link over capacity (kv_link_utilization > 1)"] = int(over.sum())
        ok &= ~over
        ok = ok.ravel()
        tps = np.broadcast_to(theta_d, chips.shape)
        in_tps = tps * isl / osl
        part = {
            "batch": cols["batch"][d], "tokens_per_s_per_user": speed, "tokens_per_s": tps,
            "tokens_per_s_per_chip": tps / chips, "ttft_s": lat_p + t_kv + cols["_request_overhead_s"][d][None, :],
            "tpot_s": 1.0 / speed, "input_tokens_per_s": in_tps,
            "usd_per_mtok_all_in": ce.usd_per_mtok(usd_d + usd_p, tps),
            "usd_per_mtok_output": ce.usd_per_mtok(usd_d, tps),
            "usd_per_mtok_input": ce.usd_per_mtok(usd_p, in_tps),
            "usd_per_mtok_blended": ce.usd_per_mtok(usd_d + usd_p, tps + in_tps),
            "power_w": power, "j_per_token_chip": ce.j_per_token(power, tps),
            "tokens_per_s_per_mw_chip": ce.tokens_per_s_per_mw(tps, power), "prefill_time_frac": 0.0,
            "usd_per_chip_hour": (usd_d + usd_p) / chips, "chips": chips, "prefill_chips": ratio * c_p,
            "decode_chips": c_d, "kv_transfer_s": t_kv, "kv_link_utilization": util,
        }
        part = {k: np.broadcast_to(np.asarray(v, dtype=float), chips.shape).ravel()[ok] for k, v in part.items()}
        n = int(ok.sum())
        k = p.size
        for key in _FROM_DECODE:
            part[key] = np.tile(cols[key][d], k)[ok]
        prec_p, prec_d = np.repeat(pre["precision"][p], d.size), np.tile(cols["precision"][d], k)
        part["precision"] = np.where(prec_p == prec_d, prec_d, prec_p.astype(object) + "+" + prec_d)[ok]
        part["batch"] = part["batch"].astype(np.int64)
        part["micro_batch"] = part["micro_batch"].astype(np.int64)
        link_txt = np.where(in_domain, up.label if up is not None else "", out.label if out is not None else "")
        dep = [f"prefill {pre['hardware'][i]} tp {pre['tp'][i]} x pp {pre['pp'][i]} ({pre['precision'][i]})"
               for i in p]
        dec_dep = np.asarray([f"; decode {hw_d.id} tp {cols['tp'][j]} x pp {cols['pp'][j]} ({cols['precision'][j]})"
                              for j in d], dtype=object)
        part["deployment"] = (np.repeat(np.asarray(dep, dtype=object), d.size) + np.tile(dec_dep, k) + ", KV over "
                              + link_txt.ravel().astype(object))[ok]
        for key, txt in (("hardware", name), ("kind", "disagg"), ("prefill_hardware", hw_p.id),
                         ("decode_hardware", hw_d.id)):
            part[key] = np.full(n, txt, dtype=object)
        parts.append(part)
    return parts


def pins(prefill_hardware, decode_hardware) -> dict:
    """The pinned prefill / decode chip (a name or HardwareSpec, or None), validated like --hardware."""
    out = {}
    for name, value in (("prefill_hardware", prefill_hardware), ("decode_hardware", decode_hardware)):
        chips = None if value is None else args.names(name, value, HardwareSpec, "Give one chip, e.g. h100-sxm.")
        if chips is not None and len(chips) != 1:
            raise SpecError(f"{name} pins one chip, got {len(chips)}; give one, e.g. h100-sxm.")
        out[name] = None if chips is None else chips[0]
    return out


def pair_list(hardware, prefill_pin, decode_pin) -> list[tuple]:
    """Ordered (prefill, decode) pairs of the swept chips (same chip included), restricted to the pinned ones."""
    return [(a, b) for a in hardware for b in hardware
            if (prefill_pin is None or a.id == prefill_pin) and (decode_pin is None or b.id == decode_pin)]


def _cheapest_at(res, group: str, key: str, speed: float) -> int | None:
    """Index of ``group``'s point lowest in ``key`` among those meeting the SLO at >= ``speed`` tok/s/user."""
    c = res.columns
    sel = np.flatnonzero((c["hardware"] == group) & c["meets_slo"] & np.isfinite(c[key]) &
                         (c["tokens_per_s_per_user"] >= speed * (1 - 1e-9)))
    return int(sel[np.argmin(c[key][sel])]) if sel.size else None


def _vs_single(grid, curves, hardware, pairs, tie: float) -> list[dict]:
    """Per pair that is the best split somewhere it beats the best single chip: its lowest ratio to that chip,
    where, and the speeds where it wins (or reaches what no single chip does)."""
    single = [h for h in hardware if h in curves]
    split = [p for p in pairs if p in curves]
    if not single or not split:
        return []
    s_cost = np.vstack([curves[h] for h in single])
    best_single, who = s_cost.min(0), np.asarray(single)[s_cost.argmin(0)]
    p_cost = np.vstack([curves[p] for p in split])
    leader = np.asarray(split)[p_cost.argmin(0)]
    out = []
    for name in dict.fromkeys(leader[np.isfinite(p_cost.min(0))].tolist()):
        cur = curves[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cur / best_single
        beats = np.isfinite(cur) & (leader == name) & (~np.isfinite(best_single) | (r < 1 - tie))
        if not beats.any():
            continue
        fin = beats & np.isfinite(best_single)
        j = int(np.flatnonzero(fin)[np.argmin(r[fin])]) if fin.any() else int(np.flatnonzero(beats)[0])
        k = int(np.flatnonzero(fin)[np.argmin(cur[fin])]) if fin.any() else j     # at its own cheapest
        out.append({"pair": name, "ratio": float(r[j]) if fin.any() else None, "speed": float(grid[j]),
                    "cheap_ratio": float(r[k]), "cheap_speed": float(grid[k]), "cheap_single": str(who[k]),
                    "single": str(who[j]), "lo": float(grid[beats].min()), "hi": float(grid[beats].max()),
                    "alone": bool((beats & ~np.isfinite(best_single)).any()), "value": float(cur[j])})
    return out


def _alone(res, chip: str, key: str, unit: str, speed: float) -> str:
    """What the single chip compared against runs to reach ``speed``: its cheapest such point's batch and cost."""
    i = _cheapest_at(res, chip, key, speed)
    if i is None:
        return ""
    c = res.columns
    return (f" (where {chip} alone runs {c['batch'][i]} user{'s' if c['batch'][i] != 1 else ''} a replica "
            f"at {c[key][i]:.3g} {unit})")


def summary_lines(res, tie: float = 0.05) -> list[str]:
    """Whether a split (which pair) beats the best single-chip deployment on $/Mtok and on J/token, by how much
    and at which speeds; where GPU-prefill + SRAM-decode sits against both homogeneous deployments; what the KV
    transfer costs in TTFT."""
    if not res.pairs:
        return []
    c, lines, shown = res.columns, [], set()
    for key, unit in (("usd_per_mtok_all_in", "$/Mtok"), ("j_per_token_chip", "J/token")):
        grid, curves = res.cost_curves(key=key, pairs=True)
        wins = _vs_single(grid, curves, res.hardware, res.pairs, tie)
        for w in wins:
            p, d = w["pair"].split("+")
            shown.add(w["pair"])
            head = f"{p} prefill + {d} decode ({'split' if p != d else 'same chip, split pools'}): "
            if w["ratio"] is not None:
                head += (f"{w['ratio']:.2f}x the {unit} of the best single chip ({w['single']}) at "
                         f"{w['speed']:.0f} tok/s/user{_alone(res, w['single'], key, unit, w['speed'])}, "
                         f"{w['cheap_ratio']:.2f}x ({w['cheap_single']}) at its "
                         f"cheapest (>= {w['cheap_speed']:.0f} tok/s/user); beats it at {w['lo']:.0f}-{w['hi']:.0f} "
                         "tok/s/user")
            else:
                head += f"reaches {w['lo']:.0f}-{w['hi']:.0f} tok/s/user, where no single chip runs"
            lines.append(head + (" (and beyond every single chip's top speed)" if w["alone"] and
                                 w["ratio"] is not None else ""))
        if not wins and curves:
            lines.append(f"no split beats the best single chip on {unit} at any speed")
    grid, curves = res.cost_curves(pairs=True)
    flow = set(c["hardware"][c["dataflow"] & (c["kind"] != "disagg")].tolist())
    gpu_sram = [f"{a}+{b}" for a in res.hardware for b in res.hardware if a not in flow and b in flow]
    for name in dict.fromkeys([*gpu_sram, *sorted(shown)]):
        p, d = name.split("+")
        if p == d or name not in curves:
            continue
        j = int(np.nanargmin(np.where(np.isfinite(curves[name]), curves[name], np.nan)))
        i = _cheapest_at(res, name, "usd_per_mtok_all_in", float(grid[j]))
        if i is None:
            continue
        s = c["tokens_per_s_per_user"][i]
        alone = []
        for h in (d, p):
            k = _cheapest_at(res, h, "usd_per_mtok_all_in", s)
            alone.append(f"{h} alone ${c['usd_per_mtok_all_in'][k]:.3g}, {c['j_per_token_chip'][k]:.3g} J, TTFT "
                         f"{c['ttft_s'][k]:.2f} s" if k is not None else f"{h} alone does not reach it")
        lines.append(f"{p} prefill + {d} decode at >= {s:.0f} tok/s/user: ${c['usd_per_mtok_all_in'][i]:.3g}/Mtok, "
                     f"{c['j_per_token_chip'][i]:.3g} J/token, {c['prefill_chips'][i]:.3g} prefill chips per "
                     f"{c['decode_chips'][i]:.0f} decode, TTFT {c['ttft_s'][i]:.2f} s of which KV transfer "
                     f"{c['kv_transfer_s'][i] * 1e3:.1f} ms; vs " + "; ".join(alone))
    if res.max_ttft_s is not None:
        d_mask = c["kind"] == "disagg"
        lost = d_mask & (c["ttft_s"] > res.max_ttft_s) & (c["ttft_s"] - c["kv_transfer_s"] <= res.max_ttft_s)
        if lost.any():
            lines.append(f"the KV transfer pushes {int(lost.sum())} split points past the {res.max_ttft_s:g} s TTFT "
                         "limit (" + ", ".join(dict.fromkeys(c["hardware"][lost].tolist())) + ")")
    return lines

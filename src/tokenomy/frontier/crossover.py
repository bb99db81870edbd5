"""SRAM-first systems against GPUs on a frontier: crossover speeds and how far each system's batch goes.

Crossover (per SRAM system S, other chip G and metric, $/Mtok or J/token): best_X(v) is X's lowest
metric over its points that reach v tokens/s/user (inf above X's fastest point), a step function
that changes only at the points' speeds. So comparing best_S and best_G at every point speed (the
interval (previous speed, this speed] takes the value at its right end) is exact. The crossover is
the lowest speed above which S stays strictly below G up to S's fastest point:
- ``above``: S wins above that speed, inside G's range;
- ``beyond``: S wins only past G's fastest point (where G has no point at all);
- ``always``: S wins at every speed; ``never``: S does not win at its own fastest point
  (``windows`` then lists any speed ranges where it still wins).

Saturation (per chip): the deployment of its fastest single-user point, from 1 user up to the
largest batch that fits; what stops it is memory (the sweep's ``limit`` column: the next batch's
bytes against the fast tier), the throughput flattening (compute-bound, MIN_GAIN) or the batch grid.
"""

from __future__ import annotations

import numpy as np

MIN_GAIN = 0.05      # a batch step that adds < 5% tokens/s per replica reads as compute-bound (reading rule)
# (column, the key of its crossover in sram_crossovers, the phrase, the unit)
METRICS = (("usd_per_mtok_all_in", "cost_crossover", "cheaper per token", "$/Mtok"),
           ("j_per_token_chip", "energy_crossover", "lower J/token", "J/token"))


def best_at(speeds: np.ndarray, values: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Lowest ``values`` over the points whose speed is >= each of ``v`` (inf where none reaches it)."""
    order = np.argsort(-speeds, kind="stable")
    s, c = speeds[order], np.minimum.accumulate(values[order])
    k = np.searchsorted(-s, -np.asarray(v, dtype=float), side="right") - 1     # last point with speed >= v
    return np.where(k >= 0, c[np.clip(k, 0, None)], np.inf)


def crossover(s_a: np.ndarray, y_a: np.ndarray, s_b: np.ndarray, y_b: np.ndarray) -> dict:
    """Where system a's best (lowest) y at >= speed beats system b's (module docstring), exact on the
    step functions: {direction, sram_max_tokens_per_s_per_user, gpu_max_tokens_per_s_per_user, windows} and,
    where a wins from some speed on, speed and the two
    values there (b_value only while b reaches that speed: no key rather than a null)."""
    top_a, top_b = float(s_a.max()), float(s_b.max())
    bp = np.unique(np.concatenate([s_a, s_b]))
    bp = bp[bp <= top_a]                             # interval i is (lo[i], bp[i]], lo[0] = 0
    lo = np.concatenate([[0.0], bp[:-1]])
    ya, yb = best_at(s_a, y_a, bp), best_at(s_b, y_b, bp)
    win = ya < yb
    edges = np.diff(np.concatenate([[0], win.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    windows = [[float(lo[i]), float(bp[j])] for i, j in zip(starts, ends, strict=True)]
    out: dict = {"direction": "never", "sram_max_tokens_per_s_per_user": top_a,
                 "gpu_max_tokens_per_s_per_user": top_b, "windows": windows}
    if win[-1]:
        i = int(starts[-1])
        speed = float(lo[i])
        direction = "always" if i == 0 else ("beyond" if speed >= top_b else "above")
        out.update(direction=direction, speed=speed, a_value=float(ya[i]))
        if np.isfinite(yb[i]):
            out["b_value"] = float(yb[i])
    return out


def _phrase(x: dict, good: str, unit: str, gpu: str) -> str:
    if x["direction"] == "always":
        return f"{good} at every speed"
    if x["direction"] == "beyond":
        return f"{good} only beyond {gpu}'s fastest point ({x['gpu_max_tokens_per_s_per_user']:,.0f} tok/s/user)"
    if x["direction"] == "above":
        return (f"{good} above ~{x['speed']:,.0f} tok/s/user ({x['a_value']:.3g} vs {x['b_value']:.3g} "
                f"{unit} just above)")
    tail = "; ".join(f"{a:,.0f}-{b:,.0f}" for a, b in x["windows"])
    return (f"{good} only between {tail} tok/s/user" if tail
            else f"never {good} up to its fastest point ({x['sram_max_tokens_per_s_per_user']:,.0f} tok/s/user)")


def sram_crossovers(res) -> list[dict]:
    """Every (SRAM system, other chip) pair of a FrontierResult: the crossover per metric (``cost_crossover``,
    ``energy_crossover``: ``crossover``'s dict with the two values named by system and metric, e.g.
    ``sram_usd_per_mtok_all_in`` / ``gpu_usd_per_mtok_all_in``) and a sentence under "line"."""
    c = res.columns
    hw = c["hardware"]
    flow = set(hw[c["dataflow"]].tolist()) if "dataflow" in c else set()
    out = []
    for a in (h for h in res.hardware if h in flow):
        for b in (h for h in res.hardware if h not in flow):
            row: dict = {"sram": a, "gpu": b}
            parts = []
            for key, name, good, unit in METRICS:
                ok = c["meets_slo"] & np.isfinite(c[key])
                sa, sb = ok & (hw == a), ok & (hw == b)
                if not (sa.any() and sb.any()):
                    continue
                x = crossover(c["tokens_per_s_per_user"][sa], c[key][sa], c["tokens_per_s_per_user"][sb], c[key][sb])
                parts.append(_phrase(x, good, unit, b))
                row[name] = _named(x, key)
            if parts:
                row["line"] = f"{a} vs {b}: " + "; ".join(parts)
                out.append(row)
    return out


def _named(x: dict, key: str) -> dict:
    """``crossover``'s a_value / b_value named by system and metric (sram_<key>, gpu_<key>)."""
    names = {"a_value": f"sram_{key}", "b_value": f"gpu_{key}"}
    return {names.get(k, k): v for k, v in x.items()}


def batch_limit_text(pred, j: int, users: float, tier: str) -> str:
    """Why a deployment's batch stops: decode point ``j`` of ``pred`` (``users`` sequences) needs more
    than the fast tier (``tier``: SRAM or HBM) holds."""
    need = float(np.ravel(pred.memory_bytes)[j])
    kv = float(np.broadcast_to(pred.kv_cache_bytes, np.shape(pred.memory_bytes)).ravel()[j])
    act = max(need - pred.weight_bytes - kv, 0.0)
    what = "the KV cache does not fit" if kv >= act else "the activations do not fit"
    return (f"{what} in {tier} at {users:,.0f} users ({_b(need)} per chip: weights {_b(pred.weight_bytes)}, "
            f"KV {_b(kv)}, activations {_b(act)}; {_b(pred.memory_capacity_bytes)} available, "
            f"{_b(need - pred.memory_capacity_bytes)} short)")


def _b(x: float) -> str:
    return f"{x / 1e9:.4g} GB" if x >= 1e9 else f"{x / 1e6:.4g} MB" if x >= 1e6 else f"{x / 1e3:.4g} kB"


def saturation(res) -> list[dict]:
    """Per chip: its fastest deployment from 1 user to saturation, and what stops it (module docstring)."""
    c = res.columns
    out = []
    for hw, sel in res.per_chip("on_frontier"):
        i0 = sel[np.lexsort((c["batch"][sel], -c["tokens_per_s_per_user"][sel]))[0]]
        same = c["meets_slo"] & (c["hardware"] == hw) & (c["precision"] == c["precision"][i0])
        for part in ("tp", "pp", "ep"):
            same &= c[part] == c[part][i0]
        d = np.flatnonzero(same)
        d = d[np.argsort(c["batch"][d], kind="stable")]
        thr = c["tokens_per_s"][d]
        flat = np.flatnonzero(thr[1:] < (1.0 + MIN_GAIN) * thr[:-1])
        if flat.size:
            k = int(flat[0])
            stop = (f"beyond that it is compute-bound: {c['batch'][d[k + 1]]:,} users add "
                    f"{thr[k + 1] / thr[k] - 1:.0%} tokens/s (the step time per token no longer falls)")
        else:
            k = d.size - 1
            lim = [t for t in c["limit"][d].tolist() if t] if "limit" in c else []
            stop = f"beyond that {lim[0]}" if lim else "the batch grid ends there"
        i1, top = d[0], d[k]
        pts = [_point(c, i) for i in (i1, top)]
        best = sel[np.argmax(c["tokens_per_s_per_chip"][sel])]
        line = (f"{hw} ({c['precision'][i1]}, {c['chips'][i1]:,.0f}-chip replica, tp {c['tp'][i1]} x pp "
                f"{c['pp'][i1]}): {_said(pts[0])} -> {_said(pts[1])}; {stop}")
        if best not in (i1, top):
            line += (f". Most per chip on its frontier: {_n(c['tokens_per_s_per_chip'][best])} tok/s/chip on "
                     f"{c['chips'][best]:,.0f} chips ({c['precision'][best]}) at {c['batch'][best]:,} users")
        out.append({"hardware": hw, "points": pts, "stop": stop, "most_per_chip": _point(c, best), "line": line})
    return out


def _point(c: dict, i: int) -> dict:
    keys = ("batch", "chips", "tokens_per_s", "tokens_per_s_per_chip", "tokens_per_s_per_user", "usd_per_mtok_all_in",
            "j_per_token_chip", "on_frontier")
    return {k: c[k][i].item() for k in keys}


def _said(p: dict) -> str:
    usd = "" if not np.isfinite(p["usd_per_mtok_all_in"]) else f"${_n(p['usd_per_mtok_all_in'])}/Mtok, "
    return (f"{p['tokens_per_s']:,.0f} tok/s ({_n(p['tokens_per_s_per_chip'])} per chip, "
            f"{p['tokens_per_s_per_user']:,.0f} tok/s/user, {usd}{p['j_per_token_chip']:.3g} J/token) at "
            f"{p['batch']:,} user{'s' if p['batch'] > 1 else ''}")


def _n(x: float) -> str:
    """Whole numbers from 100 up, else 3 significant digits."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"

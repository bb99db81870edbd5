"""Plain-language reading of a frontier: crossovers, the cheapest chip per speed band, where costs explode."""

from __future__ import annotations

import numpy as np

SPEED_BANDS = (10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)   # tokens/s/user, summary bands
TIE_FRAC = 0.05                  # costs within 5% count as even when finding crossovers
EXPLODE_FACTOR = 3.0             # "costs explode" where $/Mtok passes this multiple of the chip's cheapest


def crossovers(grid: np.ndarray, curves: dict[str, np.ndarray]) -> list[dict]:
    """Speeds where one chip becomes cheaper than another, pairwise over the $ curves (``cost_curves``)."""
    out = []
    names = list(curves)
    for i, a in enumerate(names):
        for b_ in names[i + 1:]:
            ca, cb = curves[a], curves[b_]
            both = np.isfinite(ca) & np.isfinite(cb)
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = (ca - cb) / np.minimum(ca, cb)
            # within TIE_FRAC the two are even: keep the last clear winner (no flip-flopping)
            sign = np.where(~both, 0, np.where(rel > TIE_FRAC, 1, np.where(rel < -TIE_FRAC, -1, 0)))
            last, last_j = 0, -1
            for j in np.flatnonzero(sign).tolist():
                if last and sign[j] != last:
                    below, above = (b_, a) if last > 0 else (a, b_)
                    s = float(np.sqrt(grid[j] * grid[last_j]))
                    out.append({"tokens_per_s_per_user": s, "cheaper_below": below, "cheaper_above": above,
                                "usd_per_mtok_all_in": float(min(ca[j], cb[j]))})
                last, last_j = sign[j], j
    return sorted(out, key=lambda d: d["tokens_per_s_per_user"])


def cheapest_changes(grid: np.ndarray, curves: dict[str, np.ndarray]) -> list[dict]:
    """Where the cheapest chip (the lower envelope of the $ curves) changes, ties within TIE_FRAC kept."""
    if not curves:
        return []
    names = list(curves)
    cost = np.vstack([curves[n] for n in names])
    out: list[dict] = []
    cur, clear_j = None, 0       # the cheapest chip, and the last speed where it led by more than TIE_FRAC
    for j in range(grid.size):
        col = cost[:, j]
        if not np.isfinite(col).any():
            continue
        best = int(np.argmin(col))
        if cur is None:
            cur, clear_j = best, j
        elif best != cur and (not np.isfinite(col[cur]) or col[cur] > (1 + TIE_FRAC) * col[best]):
            # the change lies between the last clear lead and this clear loss: the geometric midpoint,
            # as ``crossovers`` reports it
            out.append({"tokens_per_s_per_user": float(np.sqrt(grid[j] * grid[clear_j])),
                        "cheaper_below": names[cur], "cheaper_above": names[best],
                        "usd_per_mtok_all_in": float(col[best])})
            cur, clear_j = best, j
        elif best == cur and np.all(np.delete(col, cur) > (1 + TIE_FRAC) * col[cur]):
            clear_j = j
    return out


def summary_lines(res) -> list[str]:
    """Plain-language lines about a FrontierResult: cheapest chip per speed band, where costs explode,
    where the cheapest chip changes, SRAM systems against the other chips (crossover speeds), how far
    each chip's batch goes (saturation), top speeds and what was dropped."""
    lines = []
    grid, curves = res.cost_curves()
    if curves:
        for lo in (0.0, *SPEED_BANDS):
            costs = {hw: float(cur[np.searchsorted(grid, lo)]) if np.searchsorted(grid, lo) < grid.size
                     else np.inf for hw, cur in curves.items()}
            costs = {k: v for k, v in costs.items() if np.isfinite(v)}
            if not costs:
                continue
            best = min(costs, key=costs.__getitem__)
            others = sorted((v, k) for k, v in costs.items() if k != best)
            tail = f" (next: {others[0][1]} ${others[0][0]:.3g})" if others else ""
            at = "at any speed" if lo == 0 else f"at >= {lo:g} tok/s/user"
            lines.append(f"{at} the cheapest is {best} at ${costs[best]:.3g}/Mtok all-in{tail}")
        for hw, cur in curves.items():
            fin = np.isfinite(cur)
            if not fin.any():
                continue
            base = cur[fin].min()
            over = np.flatnonzero(fin & (cur > EXPLODE_FACTOR * base))
            if over.size:
                lines.append(f"{hw}: cost passes {EXPLODE_FACTOR:g}x its cheapest (${base:.3g}/Mtok) above "
                             f"~{grid[over[0]]:.0f} tok/s/user")
    for x in cheapest_changes(grid, curves):
        lines.append(f"near {x['tokens_per_s_per_user']:.0f} tok/s/user the cheapest chip changes from "
                     f"{x['cheaper_below']} to {x['cheaper_above']}")
    lines += [x["line"] for x in res.sram_crossovers]
    lines += [x["line"] for x in res.saturation]
    mx = res.max_tokens_per_s_per_user
    if mx:
        lines.append("fastest single user: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                      sorted(mx.items(), key=lambda kv: -kv[1])) + " tok/s")
    if res.dropped_total:
        lines.append(f"dropped {res.dropped_total} configurations that do not fit in memory or lack the precision")
    return lines

"""Non-dominated (Pareto) sets of two objectives, pure NumPy, O(n log n).

A point p is dominated when some q is at least as good on both objectives and strictly better on
one. Identical points do not dominate each other, so duplicates on the frontier are all kept.
Points with a NaN objective are never on the frontier (and never dominate anything).

    pareto_mask(x, y, maximize=(True, False))   # e.g. tokens/s/user up, $/Mtok down
    pareto_mask_grouped(group, x, y, ...)       # one frontier per group (per chip)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def pareto_mask(x: npt.ArrayLike, y: npt.ArrayLike, maximize: tuple[bool, bool] = (True, True)) -> np.ndarray:
    """Boolean mask of the non-dominated points of (x, y); ``maximize`` says which way is better.

    Method: flip signs so both objectives are maximized, sort by x descending (ties by y
    descending), and keep a point when its y beats every y of a strictly larger x and is the
    best y among points with the same x.
    """
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y differ in size: {xa.size} and {ya.size}.")
    out = np.zeros(xa.size, dtype=bool)
    ok = np.isfinite(xa) & np.isfinite(ya)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return out
    xs = xa[idx] if maximize[0] else -xa[idx]
    ys = ya[idx] if maximize[1] else -ya[idx]
    order = np.lexsort((-ys, -xs))
    xs, ys = xs[order], ys[order]
    new_run = np.empty(xs.size, dtype=bool)
    new_run[0] = True
    new_run[1:] = xs[1:] != xs[:-1]
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    cummax = np.maximum.accumulate(ys)
    best_before = np.empty(starts.size)            # best y over strictly larger x
    best_before[0] = -np.inf
    best_before[1:] = cummax[starts[1:] - 1]
    run_best = ys[starts]                          # best y within the same x (sorted first)
    keep = (ys > best_before[run_id]) & (ys == run_best[run_id])
    out[idx[order[keep]]] = True
    return out


def pareto_mask_grouped(group: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike,
                        maximize: tuple[bool, bool] = (True, True)) -> np.ndarray:
    """``pareto_mask`` computed separately within each value of ``group`` (e.g. one per chip)."""
    ga = np.asarray(group).ravel()
    out = np.zeros(ga.size, dtype=bool)
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    for g in np.unique(ga):
        sel = np.flatnonzero(ga == g)
        out[sel] = pareto_mask(xa[sel], ya[sel], maximize)
    return out


def dominates(a: tuple[float, float], b: tuple[float, float], maximize: tuple[bool, bool] = (True, True)) -> bool:
    """True when point ``a`` dominates point ``b`` (reference definition, used by tests)."""
    sa = [v if m else -v for v, m in zip(a, maximize, strict=True)]
    sb = [v if m else -v for v, m in zip(b, maximize, strict=True)]
    return all(p >= q for p, q in zip(sa, sb, strict=True)) and any(p > q for p, q in zip(sa, sb, strict=True))

"""Count the model x chip combinations that break the monotonicity invariants (issue 16).

For every catalog model x chip (smallest tp, then pp, at which the weights fit; the chip's first
supported precision of bf16/fp8/int8/fp4), per engine:
  batch:   decode tokens/s at context 1024 for b = 1..1024 (while it fits; also only where nothing
           spills to a slow tier, and only where the step is memory-bound): any b -> b+1 drop,
           drops > 10%, the worst one; decode step latency falling as b grows.
  context: decode latency at b = 1, 8, 64 over every context 0..8192: any drop, the worst.
  prefill: prefill latency at b = 1 over every seq 1..8192: any drop, the worst.
  huge:    finite positive sizes up to 1e300 give finite, positive outputs.

Run: PYTHONPATH=src python bench/invariants.py [--quick]
"""

from __future__ import annotations

import sys

import numpy as np

import tokenomy
from tokenomy.core.graph import parallel_error
from tokenomy.core.memory import spill_time_s
from tokenomy.core.predict import predict_core
from tokenomy.loaders.hardware import hardware_ids
from tokenomy.loaders.models import model_names

ENGINES = ("serving", "torch-eager", "torch-eager-bmm")
TOL = 1e-9


def deployment(model, hw):
    """(precision, tp, pp) at which ``model`` fits on ``hw`` at batch 1, or None."""
    prec = next((p for p in ("bf16", "fp8", "int8", "fp4") if hw.peak(p)), None)
    if prec is None:
        return None
    for pp in (1, 2, 4, 8, 16, 32, 64):
        for tp in (1, 2, 4, 8):
            if parallel_error(model, tp, pp, 1):
                continue
            p = tokenomy.predict(model, hw, phase="decode", batch=1, context=1024, tp=tp, pp=pp, precision=prec)
            if bool(p.fits):
                return prec, tp, pp
    return None


def precisions(hw, prec):
    """The deployment's precision, plus fp8 where the chip has it (eager fp8 pads rows to 16)."""
    return [prec] + (["fp8"] if prec != "fp8" and hw.peak("fp8") else [])


def combos():
    for m in model_names():
        model = tokenomy.load_model(m)
        for h in hardware_ids():
            hw = tokenomy.load_hardware(h)
            d = deployment(model, hw)
            if d:
                yield model, hw, d


def worst_drop(y, ok=None):
    """Largest relative fall of y[i+1] below y[i] (0 when none), over pairs where both fit."""
    y = np.asarray(y, dtype=float)
    r = y[1:] / y[:-1]
    if ok is not None:
        r = np.where(ok[1:] & ok[:-1], r, 1.0)
    return float(max(0.0, 1.0 - np.nanmin(r)))


def check(model, hw, eng, n_ctx, **kw) -> dict[str, float]:
    """Worst violation of each invariant for one deployment (0 = holds)."""
    out = {}
    d = tokenomy.predict(model, hw, phase="decode", batch=np.arange(1, 1025, dtype=float), context=1024,
                         engine=eng, **kw)
    ok = np.asarray(d.fits, bool)
    fast = ok & (spill_time_s(d.memory_bytes, hw) == 0)
    out["batch tokens/s"] = worst_drop(d.tokens_per_s, ok)
    out["batch tokens/s, fast tier"] = worst_drop(d.tokens_per_s, fast)
    mem = fast & (d.bound == "memory")
    out["batch tokens/s, memory-bound"] = worst_drop(d.tokens_per_s, mem)
    out["batch latency falls"] = worst_drop(d.latency_s, ok)
    ctx = np.arange(0, n_ctx + 1, dtype=float)
    out["context latency"] = max(worst_drop(tokenomy.predict(model, hw, phase="decode", batch=b, context=ctx,
                                                             engine=eng, force=True, **kw).latency_s)
                                 for b in (1, 8, 64))
    if eng != "torch-eager-bmm":
        p = tokenomy.predict(model, hw, phase="prefill", batch=1, seq=ctx[1:], engine=eng, force=True, **kw)
        out["prefill latency"] = worst_drop(p.latency_s)
    bad = nan = 0
    # the core itself, below the API's input bounds: it must stay numerically safe for any finite size
    m, h, e, prec = tokenomy.api.resolve(model, hw, eng, kw["precision"])
    for big in (1e30, 1e82, 1e150, 1e300):
        for phase, key in (("decode", "context"), ("prefill", "seq")):
            for args in ({"batch": big, key: 1024}, {"batch": 1, key: big}):
                with np.errstate(all="ignore"):
                    r = predict_core(m, h, e, prec, phase=phase, batch=np.asarray(float(args["batch"])),
                                     length=np.asarray(float(args[key])), tp=kw["tp"], pp=kw["pp"])
                vals = [r.latency_s, r.tokens_per_s, r.energy_j_per_token, r.power_w, r.memory_bytes]
                nan += any(np.any(np.isnan(v)) for v in vals)
                if big < 1e200:
                    bad += not all(np.all(np.isfinite(v)) and np.all(np.asarray(v) >= 0) for v in vals)
    out["sizes <= 1e150: non-finite"] = bad
    out["sizes <= 1e300: NaN"] = nan
    return out


def main(quick: bool) -> None:
    cs = list(combos())
    stats: dict[str, list] = {}
    n_ctx = 2048 if quick else 8192
    for model, hw, (prec0, tp, pp) in cs:
        for prec in precisions(hw, prec0):
            for eng in ENGINES:
                res = check(model, hw, eng, n_ctx, tp=tp, pp=pp, precision=prec)
                for k, v in res.items():
                    stats.setdefault(f"{eng:15s} {'fp8' if prec == 'fp8' else 'default':7s} {k}", []).append(
                        (v, f"{model.name}/{hw.id}"))
    print(f"{len(cs)} model x chip combinations (engine, precision, invariant: combinations breaking it)")
    for key in sorted(stats):
        vals = stats[key]
        ws = np.array([v for v, _ in vals])
        worst = max(vals)
        if "sizes" in key:
            print(f"{key:60s}: {int(np.sum(ws > 0)):4d} of {len(ws)}")
            continue
        print(f"{key:60s}: {int(np.sum(ws > TOL)):4d} of {len(ws)} break, {int(np.sum(ws > 0.02)):4d} > 2%, "
              f"{int(np.sum(ws > 0.10)):4d} > 10%; worst {worst[0]:.1%} ({worst[1]})")


if __name__ == "__main__":
    main("--quick" in sys.argv)

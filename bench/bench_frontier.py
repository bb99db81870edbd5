"""Speed and memory of the frontier sweep. Run: python bench/bench_frontier.py [--quick]

Prints three figures the issue asks for:
1. configuration evaluations per second, in-process, on one core (pinned; BLAS threads = 1):
   a) the core alone: one ``tokenomy.predict`` decode call over a 1024-batch x 1024-context grid;
   b) a full configuration: decode + prefill + steady-state serving + $ and J (``serving_estimate``),
      over the same grid (one workload per context value);
2. wall time of ``tokenomy frontier`` for one model on ten chips, in a fresh process (Python
   start-up included), median of several runs;
3. peak RSS of a 10-million-configuration sweep evaluated in 1M-point chunks (fresh process),
   keeping only a running Pareto frontier;
4. wall time of ``tokenomy frontier --disagg`` (issue 12: Llama-3.1-70B and DeepSeek-R1 over h100-sxm, b200,
   groq-lpu and rubin-cpx, every prefill/decode pair; target < 3 s). ``--disagg`` runs this case alone.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import json
import resource
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

DISAGG_CHIPS = "h100-sxm,b200,groq-lpu,rubin-cpx"
DISAGG_MODELS = ("llama-3.1-70b", "deepseek-r1")
TEN = "h100-sxm,h200-sxm,b200,gb200,mi300x,mi355x,tpu-v6e,groq-lpu,cerebras-wse3,sambanova-sn40l"
MODEL = "llama-3.1-70b"


def _pin():
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass


def _grid_eval(hw_id: str, tp: int, pp: int, nb: int, nc: int, full: bool):
    """One chunk of nb x nc configurations: (points, seconds, frontier arrays)."""
    import tokenomy
    from tokenomy.api import resolve
    from tokenomy.core.pareto import pareto_mask
    from tokenomy.core.serving import chunked_prefill, serving_estimate
    from tokenomy.frontier import usd_per_chip_hour

    batch = np.arange(1, nb + 1, dtype=float)[:, None]
    isl = np.linspace(128, 8192, nc).round()[None, :]
    osl = 512.0
    ctx = isl + osl / 2
    t0 = time.perf_counter()
    dec = tokenomy.predict(MODEL, hw_id, phase="decode", batch=batch, context=ctx, tp=tp, pp=pp)
    if not full:
        return dec.tokens_per_s.size, time.perf_counter() - t0, None
    m, h, e, p = resolve(MODEL, hw_id)
    pre = chunked_prefill(m, h, e, p, isl, tp=tp, pp=pp)          # batched, chunked prefill (core/serving.py)
    est = serving_estimate(dec, pre.stage_s, pre.latency_s, pre.power_w, isl=isl, osl=osl,
                           usd_per_hour=usd_per_chip_hour(h))
    ok = np.asarray(dec.fits, dtype=bool) & np.asarray(pre.pred.fits, dtype=bool)
    x = np.where(ok, est["tokens_per_s_per_user"], np.nan).ravel()
    y = np.broadcast_to(est["usd_per_mtok"], ok.shape).ravel()
    keep = pareto_mask(x, y, (True, False))
    dt = time.perf_counter() - t0
    return dec.tokens_per_s.size, dt, (x[keep], y[keep])


def evals_per_second(quick: bool) -> None:
    _pin()
    n = 512 if quick else 1024
    _grid_eval("h100-sxm", 4, 1, n, n, True)            # warm up: YAML caches, first-touch of big arrays
    for full, label in ((False, "core decode predict:     "), (True, "full serving evaluation: ")):
        runs = [_grid_eval("h100-sxm", 4, 1, n, n, full)[:2] for _ in range(3)]
        pts, dt = runs[0][0], min(r[1] for r in runs)
        tail = "  [decode + prefill + serving + $ + J + Pareto]" if full else ""
        print(f"{label} {pts:>10,} points in {dt:6.3f} s = {pts / dt:>12,.0f} evaluations/s (1 core, best of 3){tail}")


def _prefix() -> list[str]:
    exe = shutil.which("tokenomy")
    return [exe] if exe else [sys.executable, "-c", "from tokenomy.cli.main import main; main()"]


def disagg_wall(runs: int) -> None:
    for model in DISAGG_MODELS:
        cmd = [*_prefix(), "frontier", "--model", model, "--hardware", DISAGG_CHIPS, "--isl", "1024", "--osl", "1024",
               "--disagg", "--json"]
        times, data = [], {}
        for _ in range(runs):
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - t0)
            data = json.loads(out.stdout)
        split = sum(p["kind"] == "disagg" for p in data["points"])
        print(f"tokenomy frontier --disagg, {model}, 4 chips: median {statistics.median(times):.2f} s wall over "
              f"{runs} runs ({len(data['points'])} points, {split} disaggregated)")


def frontier_wall(runs: int) -> None:
    prefix = _prefix()
    cmd = prefix + ["frontier", "--model", MODEL, "--hardware", TEN, "--isl", "1024", "--osl", "1024", "--json"]
    times, npts = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t0)
        npts = len(json.loads(out.stdout)["points"])
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tokenomy.cli.main"], check=True)
    t_import = time.perf_counter() - t0
    print(f"tokenomy frontier, 10 chips: median {statistics.median(times):.2f} s wall over {runs} runs "
          f"(min {min(times):.2f}; {npts} points; Python start-up + imports alone {t_import:.2f} s)")


def big_sweep(total: int) -> None:
    """Child process: ``total`` configurations in 1M chunks over chips x (tp, pp); print RSS."""
    _pin()
    deployments = [(h, tp, pp) for h in ("h100-sxm", "b200", "mi300x", "h200-sxm", "gb200")
                   for tp, pp in ((4, 1), (8, 1), (4, 2))]
    done, t0, front = 0, time.perf_counter(), (np.array([]), np.array([]))
    from tokenomy.core.pareto import pareto_mask
    i = 0
    while done < total:
        h, tp, pp = deployments[i % len(deployments)]
        i += 1
        pts, _, (x, y) = _grid_eval(h, tp, pp, 1000, 1000, True)
        fx, fy = np.concatenate([front[0], x]), np.concatenate([front[1], y])
        k = pareto_mask(fx, fy, (True, False))
        front = (fx[k], fy[k])
        done += pts
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024    # KiB -> MiB on Linux
    print(f"10M-configuration sweep:  {done:>10,} points in {dt:6.1f} s = {done / dt:>12,.0f} evaluations/s, "
          f"peak RSS {rss:,.0f} MiB, {front[0].size} points on the $ frontier")


def main() -> None:
    quick = "--quick" in sys.argv
    if "--disagg" in sys.argv:
        disagg_wall(3)
        return
    if "--child-big" in sys.argv:
        big_sweep(int(sys.argv[sys.argv.index("--child-big") + 1]))
        return
    evals_per_second(quick)
    frontier_wall(2 if quick else 5)
    disagg_wall(2 if quick else 3)
    total = 2_000_000 if quick else 10_000_000
    subprocess.run([sys.executable, __file__, "--child-big", str(total)], check=True)


if __name__ == "__main__":
    main()

"""Fuzz the public API and the CLI with generated inputs; every failure must be zero (issue 16).

    python bench/fuzz.py [--n 10000] [--seed 0] [--json] [--workers 2] [--timeout 10]

Runs ``--n`` cases (bench/fuzz_cases.py: API calls, command lines of every command, files with
hostile contents) in-process over ``--workers`` processes and judges each (bench/fuzz_oracle.py).
Prints the counts per failure kind and the failures grouped by (entry point, kind, exception or
field, last frame in src/tokenomy), most frequent first, with one reproducer each. Exit code 1 if
anything failed. Case ``i`` depends only on (seed, i), so ``--n`` and ``--workers`` do not change it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if "PYTHONPATH" not in os.environ:            # default: this checkout's package
    sys.path.insert(0, str(HERE.parent / "src"))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from fuzz_cases import make_case
from fuzz_inputs import RandomDraw
from fuzz_oracle import install_guards, reproducer, run_case

MEMORY_LIMIT_BYTES = 6 * 2**30      # per worker: a runaway allocation becomes a MemoryError, not a dead machine
HEADLINE = {"tracebacks": ("traceback", "measuring"), "wrong exit codes": ("exit_code", "rejected_valid", "message"),
            "non-finite or negative outputs": ("nonfinite", "negative"), "timeouts": ("timeout",)}


def case_for(seed: int, i: int):
    return make_case(RandomDraw(seed * 1_000_003 + i))


def _init_worker() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    install_guards()
    warnings.simplefilter("ignore")         # NumPy RuntimeWarnings on hostile sizes; the oracle judges results


def _run_chunk(job: tuple[int, list[int], float]) -> list[dict]:
    seed, indices, timeout_s = job
    out = []
    for i in indices:
        case = case_for(seed, i)
        t0 = time.perf_counter()
        o = run_case(case, timeout_s)
        rec = {"i": i, "kind": case.kind, "entry": case.entry, "category": o.category,
               "seconds": time.perf_counter() - t0}
        if not o.ok:
            rec.update(detail=o.detail, where=o.where, message=o.message, reproducer=reproducer(case))
        out.append(rec)
    return out


def run(n: int, seed: int, workers: int, timeout_s: float) -> tuple[list[dict], float]:
    t0 = time.perf_counter()
    chunks = [(seed, list(range(s, min(n, s + 25))), timeout_s) for s in range(0, n, 25)]
    if workers <= 1:
        _init_worker()
        recs = [r for c in chunks for r in _run_chunk(c)]
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init_worker, maxtasksperchild=40) as pool:
            recs = [r for part in pool.imap_unordered(_run_chunk, chunks) for r in part]
    recs.sort(key=lambda r: r["i"])
    return recs, time.perf_counter() - t0


def group(recs: list[dict]) -> list[dict]:
    """Failures grouped by cause: (kind, exception or field, last frame in src/tokenomy without its line),
    with the count per entry point, most frequent first; one reproducer each (the first case)."""
    groups: dict[tuple, dict] = {}
    for r in recs:
        if r["category"] == "ok":
            continue
        where = r["where"].rsplit(":", 1)[0] if r["where"] else ""
        key = (r["category"], r["detail"], where)
        g = groups.setdefault(key, {"category": r["category"], "detail": r["detail"], "where": r["where"],
                                    "count": 0, "entries": Counter(), "message": r["message"],
                                    "reproducer": r["reproducer"], "case": r["i"], "entry": r["entry"]})
        g["count"] += 1
        g["entries"][r["entry"]] += 1
    for g in groups.values():
        g["entries"] = dict(g["entries"].most_common())
    return sorted(groups.values(), key=lambda g: (-g["count"], g["category"], g["detail"]))


def report(recs: list[dict], seconds: float, workers: int) -> dict:
    cats = Counter(r["category"] for r in recs)
    kinds = Counter(r["kind"] for r in recs)
    slow = sorted(recs, key=lambda r: -r["seconds"])[:5]
    return {"cases": len(recs), "api": kinds["api"], "cli": kinds["cli"], "seconds": round(seconds, 1),
            "workers": workers, "passed": cats["ok"], "failed": len(recs) - cats["ok"],
            "headline": {name: sum(cats[c] for c in cs) for name, cs in HEADLINE.items()},
            "by_category": {c: k for c, k in sorted(cats.items()) if c != "ok"},
            "by_entry": {e: {"cases": k, "seconds": round(sum(r["seconds"] for r in recs if r["entry"] == e), 1)}
                         for e, k in sorted(Counter(r["entry"] for r in recs).items())},
            "slowest": [{"case": r["i"], "entry": r["entry"], "seconds": round(r["seconds"], 2)} for r in slow],
            "groups": group(recs)}


def print_report(rep: dict) -> None:
    print(f"tokenomy fuzz: {rep['cases']} cases ({rep['api']} API, {rep['cli']} CLI) in {rep['seconds']} s "
          f"on {rep['workers']} worker(s); {rep['passed']} passed, {rep['failed']} failed")
    for name, count in rep["headline"].items():
        print(f"  {name:32s} {count}")
    print("  by kind: " + (", ".join(f"{c} {k}" for c, k in rep["by_category"].items()) or "none"))
    print("  slowest: " + ", ".join(f"#{s['case']} {s['entry']} {s['seconds']} s" for s in rep["slowest"]))
    for n, g in enumerate(rep["groups"], 1):
        print(f"\n[{n}] {g['count']} x {g['category']}: {g['detail']}" + (f" at {g['where']}" if g["where"] else ""))
        print("    entry points: " + ", ".join(f"{e} {k}" for e, k in g["entries"].items()))
        if g["message"]:
            print("    message: " + g["message"].replace("\n", "\n             ")[:400])
        print(f"    case #{g['case']} ({g['entry']}; full files: python bench/fuzz.py --case {g['case']} --out DIR):\n    " + g["reproducer"].replace("\n", "\n    "))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="cases to run (default 10,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--case", type=int, help="run only case number CASE and print it with its outcome")
    ap.add_argument("--out", help="with --case: also write the case's files to this folder")
    a = ap.parse_args(argv)
    if a.case is not None:
        _init_worker()
        case = case_for(a.seed, a.case)
        t0 = time.perf_counter()
        o = run_case(case, a.timeout)
        print(reproducer(case))
        if a.out:
            for name, data in case.files.items():
                (Path(a.out) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(a.out) / name).write_bytes(data)
            print(f"files written to {a.out} (the {{tmp}} above)")
        print(f"-> {o.category} {o.detail} {o.where} ({time.perf_counter() - t0:.2f} s)\n{o.message}")
        return 0 if o.ok else 1
    recs, seconds = run(a.n, a.seed, a.workers, a.timeout)
    rep = report(recs, seconds, a.workers)
    if a.json:
        print(json.dumps(rep, indent=1))
    else:
        print_report(rep)
    return 1 if rep["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

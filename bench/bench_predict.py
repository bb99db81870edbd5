"""Speed of `tokenomy predict` (issue 2 targets).

1. 10,000 cases through `tokenomy predict --cases FILE --json`, end to end (Python start-up,
   JSON in and out): target < 2 s.
2. Predictions per second through the vectorized Python API on one core: target >= 1,000,000/s.

Run: python bench/bench_predict.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tokenomy  # noqa: E402


def bench_cases(n: int = 10_000) -> float:
    rng = np.random.default_rng(0)
    models = ["llama-3.1-8b", "llama-3.1-70b", "qwen3-30b-a3b", "mistral-7b"]
    chips = ["h100-sxm", "h200-sxm", "b200", "mi300x"]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for i in range(n):
            phase = "prefill" if i % 3 == 0 else "decode"
            case = {"model": models[i % 4], "hardware": chips[(i // 4) % 4], "phase": phase,
                    "batch": int(rng.integers(1, 256)), "tp": 8 if i % 4 == 1 else 1}
            case["seq" if phase == "prefill" else "context"] = int(rng.integers(1, 8192))
            f.write(json.dumps(case) + "\n")
        path = f.name
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "tokenomy", "predict", "--cases", path, "--json"],
                         capture_output=True, text=True, check=True).stdout
    dt = time.perf_counter() - t
    assert len(json.loads(out)) == n
    os.unlink(path)
    return dt


def bench_api(n: int = 1_000_000, repeats: int = 3) -> float:
    rng = np.random.default_rng(1)
    batch = rng.integers(1, 512, n)
    context = rng.integers(0, 32768, n)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        p = tokenomy.predict("llama-3.1-70b", "h100-sxm", phase="decode", batch=batch, context=context, tp=8)
        best = min(best, time.perf_counter() - t)
    assert p.latency_s.shape == (n,)
    return n / best


if __name__ == "__main__":
    dt = bench_cases()
    print(f"predict --cases: 10,000 cases end to end in {dt:.2f} s (target < 2 s)")
    rate = bench_api()
    print(f"vectorized API: {rate:,.0f} decode predictions/s on one core (target >= 1,000,000/s)")

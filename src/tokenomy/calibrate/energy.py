"""Energy rows of ``tokenomy calibrate``: board energy per token from the NVML energy counter
(needs ``pynvml``, i.e. nvidia-ml-py, and a CUDA device)."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .measure import Session


def energy_rows(ses: Session, phase: str, b: int, n: int) -> list[dict]:
    """Board energy per token over ``energy_s`` seconds of graph replays, after 1 s of warm-up.
    Decode runs the 'bmm' attention (the profile's power fit predicts it with that path)."""
    t, c, nv, h = ses.torch, ses.sizes.model, ses.nv, ses.nv_handle
    if phase == "decode" and 2 * c.layers * b * c.kv_heads * (n + 1) * c.head_dim * 2 > ses.sizes.kv_budget_bytes:
        return [dict(kind="energy_skipped", phase=phase, b=b, n=n, reason="KV cache over budget")]
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):   # a missed sample only thins the mean
                samples.append((nv.nvmlDeviceGetPowerUsage(h) / 1e3,
                                nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)))
            time.sleep(0.05)
    model = ses.decoder
    fn: Callable[[], object]
    try:
        if phase == "decode":
            model.alloc_cache(b, n + 1)
            tok = t.randint(0, c.vocab, (b,), device=ses.device)
            fn, tokens_per_call = (lambda: model.decode(tok, n, "bmm")), b
        else:
            ids = t.randint(0, c.vocab, (b, n), device=ses.device)
            fn, tokens_per_call = (lambda: model.prefill(ids)), b * n
        side = t.cuda.Stream()
        side.wait_stream(t.cuda.current_stream())
        with t.cuda.stream(side):
            fn()
            fn()
        t.cuda.current_stream().wait_stream(side)
        t.cuda.synchronize()
        graph = t.cuda.CUDAGraph()
        with t.cuda.graph(graph):
            fn()
        end = time.time() + 1.0                       # warm to steady clocks
        while time.time() < end:
            graph.replay()
            t.cuda.synchronize()
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        e0 = nv.nvmlDeviceGetTotalEnergyConsumption(h)   # mJ
        t0, calls = time.time(), 0
        while time.time() - t0 < ses.sizes.energy_s:
            for _ in range(4):
                graph.replay()
            calls += 4
            t.cuda.synchronize()
        dt = time.time() - t0
        e1 = nv.nvmlDeviceGetTotalEnergyConsumption(h)
        stop.set()
        th.join()
        del graph
    except ses.oom:
        stop.set()
        return [dict(kind="energy_oom", phase=phase, b=b, n=n)]
    except Exception as e:   # an NVML query this GPU does not support: record it, keep calibrating
        stop.set()
        return [dict(kind="energy_error", phase=phase, b=b, n=n, err=repr(e)[:200])]
    finally:
        model.free_cache()
        ses.free()
    tokens = calls * tokens_per_call
    joules = (e1 - e0) / 1e3
    watts = [w for w, _ in samples]
    clocks = [k for _, k in samples]
    return [dict(kind="energy", model=c.name, phase=phase, b=b, n=n, impl="bmm" if phase == "decode" else None,
                 seconds=dt, tokens=tokens, joules=joules, j_per_token=joules / tokens, tok_per_s=tokens / dt,
                 mean_w=statistics.fmean(watts) if watts else None, max_w=max(watts) if watts else None,
                 median_sm_mhz=statistics.median(clocks) if clocks else None)]

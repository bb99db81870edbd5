"""How ``tokenomy calibrate`` takes a time, and the lazy torch import.

How a time is taken (``Timer``):
- CUDA: a few warm-up calls on a side stream, then ``inner`` calls captured in one CUDA graph;
  the graph is replayed ``reps`` times between CUDA events and the median replay, divided by
  ``inner``, is the time of one call. Host launch gaps are gone; the GPU-side gap between
  kernels stays, as in a served step.
- CPU: a warm-up call, then the median of ``reps`` wall-clock loops of ``inner`` calls.

torch is imported lazily (``import_torch``): the rest of tokenomy works without it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

TORCH_HINT = "calibrate needs PyTorch: pip install 'tokenomy[gpu]'"


def import_torch() -> Any:
    """The torch module, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


class Timer:
    """Median seconds of one call of a function on the CPU or, in CUDA graphs, on the GPU."""

    def __init__(self, torch: Any, device: str):
        self.torch, self.cuda = torch, device == "cuda"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def seconds(self, fn: Callable[[], object], *, inner: int = 1, reps: int = 5, warmup: int = 2) -> float:
        """Median seconds of one call of ``fn`` (see the module docstring)."""
        torch = self.torch
        if not self.cuda:
            for _ in range(warmup):
                fn()
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                ts.append((time.perf_counter() - t0) / inner)
            return statistics.median(ts)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):      # warm-up off the capture stream: cuBLAS workspaces, autotuning
            for _ in range(warmup):
                fn()
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        replay: Callable[[], object]
        try:
            with torch.cuda.graph(graph):
                for _ in range(inner):
                    fn()
            replay = graph.replay
        except RuntimeError:               # an op that cannot be captured: time eager launches instead
            torch.cuda.synchronize()

            def replay() -> None:
                for _ in range(inner):
                    fn()
        replay()
        torch.cuda.synchronize()
        ts = []
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            replay()
            b.record()
            b.synchronize()
            ts.append(a.elapsed_time(b) * 1e-3 / inner)
        del graph
        return statistics.median(ts)

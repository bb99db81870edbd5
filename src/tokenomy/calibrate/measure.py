"""Microbenchmarks for ``tokenomy calibrate``: PyTorch on the local device, rows in the JSONL format
of shared/data/h100 (kinds ``env``, ``copy_bw``, ``gemm_peak``, ``gemm``, ``attn_prefill``,
``attn_decode``, ``model``, ``prefill``, ``decode``, ``energy``; plus ``kernel_fixed``).

How a time is taken (``_Timer``):
- CUDA: a few warm-up calls on a side stream, then ``inner`` calls captured in one CUDA graph;
  the graph is replayed ``reps`` times between CUDA events and the median replay, divided by
  ``inner``, is the time of one call. Host launch gaps are gone; the GPU-side gap between
  kernels stays, as in a served step.
- CPU: a warm-up call, then the median of ``reps`` wall-clock loops of ``inner`` calls.

GEMMs rotate over enough weight copies to exceed 4x the L2 cache, so that small-m GEMMs stream
their weights from memory, not from cache. The end-to-end model is a Llama-architecture decoder
with random weights (never downloaded), written with the kernel list of the ``eager`` recipe
(core/graph.py). Energy comes from the NVML energy counter when ``pynvml`` (nvidia-ml-py) imports.

torch is imported lazily (``import_torch``): the rest of tokenomy works without it.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import CalibrationError, SpecError
from ..spec.model import ModelSpec
from .cases import SMALL, TINY, Sizes, default_sizes
from .decoder import Decoder

TORCH_HINT = "calibrate needs PyTorch: pip install 'tokenomy[gpu]'"


def import_torch():
    """The torch module, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


@dataclass
class Step:
    """One unit of the progress bar: ``run()`` returns the rows it measured."""

    label: str
    run: Callable[[], list[dict]]


# ------------------------------------------------------------------ timing


class _Timer:
    def __init__(self, torch, device: str):
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
        try:
            with torch.cuda.graph(graph):
                for _ in range(inner):
                    fn()
            replay = graph.replay
        except RuntimeError:               # an op that cannot be captured: time eager launches instead
            torch.cuda.synchronize()

            def replay():
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


# ------------------------------------------------------------------ the session


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _ram_bytes() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _nvml():
    """(pynvml module, handle of GPU 0) or (None, None)."""
    try:
        import pynvml as nv
        nv.nvmlInit()
        return nv, nv.nvmlDeviceGetHandleByIndex(0)
    except Exception:   # not installed, no driver, or no NVML on this GPU: energy rows are skipped
        return None, None


@dataclass
class Session:
    """State of one calibration run: the device, the sizes, the rows measured so far."""

    torch: object
    device: str
    sizes: Sizes
    rows: list[dict] = field(default_factory=list)

    def __post_init__(self):
        t = self.torch
        self.dtype = t.bfloat16
        self.timer = _Timer(t, self.device)
        self.cuda = self.device == "cuda"
        self.reps = 5
        self.model = None
        self.nv, self.nv_handle = _nvml() if self.cuda else (None, None)
        l2 = getattr(t.cuda.get_device_properties(0), "L2_cache_size", 50 << 20) if self.cuda else 0
        self.rotate_bytes = 4 * l2
        self.oom = (getattr(t, "OutOfMemoryError", None) or getattr(t.cuda, "OutOfMemoryError", RuntimeError))

    # -- small helpers
    def _randn(self, *shape):
        return self.torch.randn(*shape, device=self.device, dtype=self.dtype)

    def _free(self) -> None:
        if self.cuda:
            self.torch.cuda.empty_cache()

    def _inner(self, est_s: float, lo: int = 1, hi: int = 64) -> int:
        """Calls per graph so that one replay lasts about 1 ms (CUDA) or 2 ms (CPU)."""
        target = 1e-3 if self.cuda else 2e-3
        return int(min(hi, max(lo, math.ceil(target / max(est_s, 1e-7)))))

    # -- sections
    def env(self) -> list[dict]:
        t = self.torch
        row: dict = dict(kind="env", device=self.device, torch=t.__version__, small=self.sizes.model in (TINY, SMALL))
        if self.cuda:
            p = t.cuda.get_device_properties(0)
            row.update(name=p.name, sms=p.multi_processor_count, mem_bytes=p.total_memory,
                       l2_bytes=getattr(p, "L2_cache_size", None), cc=f"{p.major}.{p.minor}", cuda=t.version.cuda)
            nv, h = self.nv, self.nv_handle
            if nv is not None:
                try:
                    idle = []
                    for _ in range(10):   # before any heavy work: the board at idle clocks
                        idle.append(nv.nvmlDeviceGetPowerUsage(h) / 1e3)
                        time.sleep(0.03)
                    drv = nv.nvmlSystemGetDriverVersion()
                    row.update(driver=drv.decode() if isinstance(drv, bytes) else drv,
                               power_limit_w=nv.nvmlDeviceGetPowerManagementLimit(h) / 1e3,
                               sm_clock_max_mhz=nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_SM),
                               mem_clock_max_mhz=nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_MEM),
                               idle_power_w=statistics.median(idle))
                except Exception as e:   # NVML without some query: keep what we have
                    row["nvml_error"] = repr(e)[:200]
        else:
            row.update(name=_cpu_name(), cores=os.cpu_count(), mem_bytes=_ram_bytes(), threads=t.get_num_threads())
        return [row]

    def ceilings(self) -> list[dict]:
        return self._copy_bw() + self._gemm_peak()

    def _copy_bw(self) -> list[dict]:
        n = self.sizes.copy_bytes // 2
        src = self._randn(n)
        dst = self.torch.empty_like(src)
        s = self.timer.seconds(lambda: dst.copy_(src), inner=4 if self.cuda else 2, reps=self.reps)
        moved = 2 * n * 2                                   # read + write, bf16
        return [dict(kind="copy_bw", bytes_moved=moved, s=s, bytes_per_s=moved / s)]

    def _gemm_peak(self) -> list[dict]:
        m = self.sizes.peak_m
        x, y = self._randn(m, m), self._randn(m, m)
        s = self.timer.seconds(lambda: x @ y, inner=4 if self.cuda else 2, reps=self.reps)
        return [dict(kind="gemm_peak", dtype="bf16", m=m, n=m, k=m, s=s, flops=2 * m ** 3 / s)]

    def kernel_fixed(self) -> list[dict]:
        """GPU time of one tiny elementwise kernel inside a graph: the launch gap every kernel pays."""
        x = self._randn(16)
        n = 100
        s = self.timer.seconds(lambda: x.add_(0.0), inner=n, reps=self.reps)
        return [dict(kind="kernel_fixed", s=s, kernels=n)]

    def gemm(self, m: int, n: int, k: int, dtype: str, tag: str) -> list[dict]:
        """y[m,n] = x[m,k] @ w[n,k]^T, rotating weight copies (see module docstring)."""
        t = self.torch
        elem = 1 if dtype == "fp8" else 2
        copies = max(1, min(8, math.ceil(self.rotate_bytes / (n * k * elem)))) if self.rotate_bytes else 1
        try:
            x = self._randn(m, k)
            ws = [self._randn(n, k) * 0.02 for _ in range(copies)]
            if dtype == "fp8":
                f8 = t.float8_e4m3fn
                x = x.to(f8)
                ws = [w.to(f8) for w in ws]
                one = t.tensor(1.0, device=self.device)

                def mm(w):
                    return t._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=t.bfloat16)
            else:
                def mm(w):
                    return x @ w.t()
            turn = [0]

            def fn():
                turn[0] += 1
                return mm(ws[turn[0] % copies])
            flop = 2.0 * m * n * k
            est = max(flop / (4e14 if self.cuda else 2e11), (m * k + n * k + m * n) * elem / (2e12 if self.cuda else 2e10))
            inner = copies * math.ceil(self._inner(est, hi=32) / copies)
            s = self.timer.seconds(fn, inner=inner, reps=self.reps)
        except (RuntimeError, self.oom) as e:
            self._free()
            return [dict(kind="gemm_error", dtype=dtype, m=m, n=n, k=k, tag=tag, err=repr(e)[:200])]
        return [dict(kind="gemm", dtype=dtype, m=m, n=n, k=k, tag=tag, s=s, tflops=flop / s / 1e12,
                     gbps=(m * k + n * k + m * n) * elem / s / 1e9)]

    def attn_prefill(self, b: int, s: int) -> list[dict]:
        t, c = self.torch, self.sizes.model
        F = t.nn.functional
        H = c.head_dim
        try:
            q, k, v = self._randn(b, c.heads, s, H), self._randn(b, c.kv_heads, s, H), self._randn(b, c.kv_heads, s, H)
            flop = 2.0 * b * c.heads * s * s * H     # causal: half of 4*b*N*s^2*H
            sec = self.timer.seconds(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
                                     inner=self._inner(flop / (3e14 if self.cuda else 1e11), hi=8), reps=self.reps)
        except self.oom:
            self._free()
            return [dict(kind="attn_prefill_oom", b=b, s=s)]
        return [dict(kind="attn_prefill", b=b, s=s, heads=c.heads, kv_heads=c.kv_heads, head_dim=H, s_time=sec,
                     tflops=flop / sec / 1e12)]

    def attn_decode(self, b: int, ctx: int) -> list[dict]:
        t, c = self.torch, self.sizes.model
        F = t.nn.functional
        H, G = c.head_dim, c.heads // c.kv_heads
        try:
            q, k, v = self._randn(b, c.heads, 1, H), self._randn(b, c.kv_heads, ctx, H), self._randn(b, c.kv_heads, ctx, H)
            kv_bytes = 2 * b * c.kv_heads * ctx * H * 2
            inner = self._inner(kv_bytes / (2e12 if self.cuda else 2e10), hi=16)
            sdpa = self.timer.seconds(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), inner=inner,
                                      reps=self.reps)
            qg = q.view(b, c.kv_heads, G, H)
            bmm = self.timer.seconds(lambda: t.softmax((qg @ k.transpose(-1, -2)).float() / math.sqrt(H), -1)
                                     .to(self.dtype) @ v, inner=inner, reps=self.reps)
        except self.oom:
            self._free()
            return [dict(kind="attn_decode_oom", b=b, ctx=ctx)]
        return [dict(kind="attn_decode", b=b, ctx=ctx, heads=c.heads, kv_heads=c.kv_heads, head_dim=H, sdpa_s=sdpa,
                      bmm_s=bmm, kv_bytes=kv_bytes, best_gbps=kv_bytes / min(sdpa, bmm) / 1e9)]

    def build_model(self) -> list[dict]:
        self.torch.manual_seed(0)
        self.model = Decoder(self.torch, self.sizes.model, self.device, self.dtype)
        return [self.sizes.model.row()]

    def prefill(self, b: int, s: int) -> list[dict]:
        c = self.sizes.model
        ids = self.torch.randint(0, c.vocab, (b, s), device=self.device)
        try:
            sec = self.timer.seconds(lambda: self.model.prefill(ids), inner=1 if b * s >= 2048 or not self.cuda else 3,
                                     reps=self.reps, warmup=2 if self.cuda else 1)
        except self.oom:
            self._free()
            return [dict(kind="prefill_oom", model=c.name, b=b, s=s)]
        return [dict(kind="prefill", model=c.name, b=b, s=s, s_time=sec, tok_per_s=b * s / sec)]

    def decode(self, b: int, ctx: int) -> list[dict]:
        c = self.sizes.model
        if 2 * c.layers * b * c.kv_heads * (ctx + 1) * c.head_dim * 2 > self.sizes.kv_budget_bytes:
            return [dict(kind="decode_skipped", model=c.name, b=b, ctx=ctx, reason="KV cache over budget")]
        try:
            self.model.alloc_cache(b, ctx + 1)
            tok = self.torch.randint(0, c.vocab, (b,), device=self.device)
            alt = {impl: self.timer.seconds(lambda impl=impl: self.model.decode(tok, ctx, impl), inner=2,
                                            reps=self.reps, warmup=2 if self.cuda else 1) for impl in ("bmm", "sdpa")}
        except self.oom:
            return [dict(kind="decode_oom", model=c.name, b=b, ctx=ctx)]
        finally:
            self.model.free_cache()
            self._free()
        best = min(alt, key=alt.get)
        return [dict(kind="decode", model=c.name, b=b, ctx=ctx, step_s=alt[best], impl=best, alt=alt,
                     tok_per_s=b / alt[best], tok_per_s_per_user=1 / alt[best])]

    def energy(self, phase: str, b: int, n: int) -> list[dict]:
        """Board energy per token over ``energy_s`` seconds of graph replays, after 1 s of warm-up.
        Decode runs the 'bmm' attention (the profile's power fit predicts it with that path)."""
        t, c, nv, h = self.torch, self.sizes.model, self.nv, self.nv_handle
        if phase == "decode" and 2 * c.layers * b * c.kv_heads * (n + 1) * c.head_dim * 2 > self.sizes.kv_budget_bytes:
            return [dict(kind="energy_skipped", phase=phase, b=b, n=n, reason="KV cache over budget")]
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    samples.append((nv.nvmlDeviceGetPowerUsage(h) / 1e3, nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)))
                except Exception:   # a missed sample only thins the mean
                    pass
                time.sleep(0.05)
        try:
            if phase == "decode":
                self.model.alloc_cache(b, n + 1)
                tok = t.randint(0, c.vocab, (b,), device=self.device)
                fn, tokens_per_call = (lambda: self.model.decode(tok, n, "bmm")), b
            else:
                ids = t.randint(0, c.vocab, (b, n), device=self.device)
                fn, tokens_per_call = (lambda: self.model.prefill(ids)), b * n
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
            while time.time() - t0 < self.sizes.energy_s:
                for _ in range(4):
                    graph.replay()
                calls += 4
                t.cuda.synchronize()
            dt = time.time() - t0
            e1 = nv.nvmlDeviceGetTotalEnergyConsumption(h)
            stop.set()
            th.join()
            del graph
        except self.oom:
            stop.set()
            return [dict(kind="energy_oom", phase=phase, b=b, n=n)]
        except Exception as e:   # an NVML query this GPU does not support: record it, keep calibrating
            stop.set()
            return [dict(kind="energy_error", phase=phase, b=b, n=n, err=repr(e)[:200])]
        finally:
            self.model.free_cache()
            self._free()
        tokens = calls * tokens_per_call
        joules = (e1 - e0) / 1e3
        watts = [w for w, _ in samples]
        clocks = [k for _, k in samples]
        return [dict(kind="energy", model=c.name, phase=phase, b=b, n=n, impl="bmm" if phase == "decode" else None,
                     seconds=dt, tokens=tokens, joules=joules, j_per_token=joules / tokens, tok_per_s=tokens / dt,
                     mean_w=statistics.fmean(watts) if watts else None, max_w=max(watts) if watts else None,
                     median_sm_mhz=statistics.median(clocks) if clocks else None)]

    def free_model(self) -> list[dict]:
        self.model = None
        self._free()
        return []


def fp8_supported(torch) -> bool:
    """fp8 GEMMs need torch._scaled_mm and compute capability 8.9 or newer (Ada, Hopper, Blackwell)."""
    if not (torch.cuda.is_available() and hasattr(torch, "_scaled_mm") and hasattr(torch, "float8_e4m3fn")):
        return False
    return torch.cuda.get_device_capability(0) >= (8, 9)


def plan(device: str = "cuda", quick: bool = False, model: ModelSpec | None = None,
         sizes: Sizes | None = None) -> tuple[Session, list[Step]]:
    """A session and its steps, in order (each step is one tick of the progress bar)."""
    torch = import_torch()
    if torch is None:
        raise CalibrationError(TORCH_HINT)
    if device not in ("cuda", "cpu"):
        raise SpecError(f"--device must be 'cuda' or 'cpu', got {device!r}.")
    if device == "cuda" and not torch.cuda.is_available():
        raise SpecError("--device cuda: PyTorch sees no CUDA GPU here; use --device cpu, or install a CUDA build of torch.")
    mem = torch.cuda.get_device_properties(0).total_memory if device == "cuda" else None
    sizes = sizes or default_sizes(device, quick, model, mem)
    if device == "cuda" and sizes.model.row()["weight_bytes"] > 0.8 * mem:
        raise SpecError(f"{sizes.model.name} needs {sizes.model.row()['weight_bytes'] / 1e9:.1f} GB of weights but the "
                        f"GPU has {mem / 1e9:.1f} GB; pass a smaller --model.")
    ses = Session(torch, device, sizes)
    fp8 = sizes.fp8 and fp8_supported(torch)
    steps = [Step("device", ses.env), Step("copy bandwidth and GEMM peak", ses.ceilings),
             Step("fixed time per kernel", ses.kernel_fixed)]
    gemms = [(m, n, k, "bf16", f"{sizes.model.name}_{tag}") for n, k, tag in sizes.model.gemm_shapes()
             for m in sizes.gemm_ms]
    gemms += [(m, n, k, "bf16", tag) for m, n, k, tag in sizes.gemm_extra]
    if fp8:
        gemms += [(m, n, k, "fp8", f"{sizes.model.name}_{tag}") for n, k, tag in sizes.model.gemm_shapes()
                  if tag != "lm_head" for m in sizes.gemm_ms if m >= 16]
    steps += [Step(f"GEMM {dt} {m}x{n}x{k}", lambda a=(m, n, k, dt, tag): ses.gemm(*a)) for m, n, k, dt, tag in gemms]
    steps += [Step(f"attention prefill b={b} s={s}", lambda b=b, s=s: ses.attn_prefill(b, s))
              for b, s in sizes.attn_prefill]
    steps += [Step(f"attention decode b={b} ctx={c}", lambda b=b, c=c: ses.attn_decode(b, c))
              for b, c in sizes.attn_decode]
    steps.append(Step(f"build {sizes.model.name} (random weights)", ses.build_model))
    steps += [Step(f"prefill b={b} s={s}", lambda b=b, s=s: ses.prefill(b, s)) for b, s in sizes.prefill]
    steps += [Step(f"decode b={b} ctx={c}", lambda b=b, c=c: ses.decode(b, c)) for b, c in sizes.decode]
    if device == "cuda" and ses.nv is not None and sizes.energy:
        steps += [Step(f"energy {ph} b={b} n={n}", lambda a=(ph, b, n): ses.energy(*a)) for ph, b, n in sizes.energy]
    steps.append(Step("free model", ses.free_model))
    return ses, steps


def run(steps: list[Step], on_step: Callable[[Step], None] | None = None) -> list[dict]:
    """Run every step under no_grad and return all rows; ``on_step`` is called before each step."""
    torch = import_torch()
    rows: list[dict] = []
    t0 = time.time()
    with torch.inference_mode():
        for st in steps:
            if on_step:
                on_step(st)
            for r in st.run():
                r["t"] = round(time.time() - t0, 2)
                rows.append(r)
    return rows

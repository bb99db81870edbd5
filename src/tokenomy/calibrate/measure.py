"""Microbenchmarks for ``tokenomy calibrate``: PyTorch on the local device, rows in the JSONL format
of shared/data/h100 (kinds ``env``, ``copy_bw``, ``gemm_peak``, ``gemm``, ``attn_prefill``,
``attn_decode``, ``model``, ``prefill``, ``decode``, ``energy``; plus ``kernel_fixed``).

Times are taken as timing.py describes (CUDA graphs on a GPU, wall-clock loops on a CPU).
GEMMs rotate over enough weight copies to exceed 4x the L2 cache, so that small-m GEMMs stream
their weights from memory, not from cache. The end-to-end model is a Llama-architecture decoder
with random weights (never downloaded), written with the kernel list of the ``eager`` recipe
(core/graph.py). The ``env`` row and NVML access are in device.py; energy rows (NVML energy
counter, when ``pynvml`` imports) in energy.py.

torch is imported lazily (``import_torch``): the rest of tokenomy works without it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..errors import CalibrationError, SpecError
from ..spec.model import ModelSpec
from .cases import SMALL, TINY, Sizes, default_sizes
from .decoder import Decoder
from .device import env_row, fp8_supported, nvml
from .energy import energy_rows
from .timing import TORCH_HINT, Timer, import_torch

__all__ = ["TORCH_HINT", "Session", "Step", "fp8_supported", "import_torch", "plan", "run"]


@dataclass
class Step:
    """One unit of the progress bar: ``run()`` returns the rows it measured."""

    label: str
    run: Callable[[], list[dict]]


@dataclass
class Session:
    """State of one calibration run: the device, the sizes, the rows measured so far."""

    torch: Any
    device: str
    sizes: Sizes
    rows: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        t = self.torch
        self.dtype = t.bfloat16
        self.timer = Timer(t, self.device)
        self.cuda = self.device == "cuda"
        self.reps = 5
        self.model: Decoder | None = None
        self.nv: Any
        self.nv_handle: Any
        self.nv, self.nv_handle = nvml() if self.cuda else (None, None)
        l2 = getattr(t.cuda.get_device_properties(0), "L2_cache_size", 50 << 20) if self.cuda else 0
        self.rotate_bytes = 4 * l2
        self.oom: type[BaseException] = (getattr(t, "OutOfMemoryError", None)
                                         or getattr(t.cuda, "OutOfMemoryError", None) or RuntimeError)

    # -- small helpers
    @property
    def decoder(self) -> Decoder:
        """The decoder built by the ``build`` step (the prefill, decode and energy steps run after it)."""
        if self.model is None:
            raise CalibrationError("the model steps run after 'build': call build_model() first.")
        return self.model

    def _randn(self, *shape: int) -> Any:
        return self.torch.randn(*shape, device=self.device, dtype=self.dtype)

    def free(self) -> None:
        """Return cached GPU memory to the driver (after an OOM or a model step)."""
        if self.cuda:
            self.torch.cuda.empty_cache()

    def _inner(self, est_s: float, lo: int = 1, hi: int = 64) -> int:
        """Calls per graph so that one replay lasts about 1 ms (CUDA) or 2 ms (CPU)."""
        target = 1e-3 if self.cuda else 2e-3
        return int(min(hi, max(lo, math.ceil(target / max(est_s, 1e-7)))))

    # -- sections
    def env(self) -> list[dict]:
        small = self.sizes.model in (TINY, SMALL)
        return [env_row(self.torch, self.device, small, self.nv, self.nv_handle)]

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
            moved = (m * k + n * k + m * n) * elem
            est = max(flop / (4e14 if self.cuda else 2e11), moved / (2e12 if self.cuda else 2e10))
            inner = copies * math.ceil(self._inner(est, hi=32) / copies)
            s = self.timer.seconds(fn, inner=inner, reps=self.reps)
        except (RuntimeError, self.oom) as e:
            self.free()
            return [dict(kind="gemm_error", dtype=dtype, m=m, n=n, k=k, tag=tag, err=repr(e)[:200])]
        return [dict(kind="gemm", dtype=dtype, m=m, n=n, k=k, tag=tag, s=s, tflops=flop / s / 1e12,
                     gbps=moved / s / 1e9)]

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
            self.free()
            return [dict(kind="attn_prefill_oom", b=b, s=s)]
        return [dict(kind="attn_prefill", b=b, s=s, heads=c.heads, kv_heads=c.kv_heads, head_dim=H, s_time=sec,
                     tflops=flop / sec / 1e12)]

    def attn_decode(self, b: int, ctx: int) -> list[dict]:
        t, c = self.torch, self.sizes.model
        F = t.nn.functional
        H, G = c.head_dim, c.heads // c.kv_heads
        try:
            q = self._randn(b, c.heads, 1, H)
            k, v = self._randn(b, c.kv_heads, ctx, H), self._randn(b, c.kv_heads, ctx, H)
            kv_bytes = 2 * b * c.kv_heads * ctx * H * 2
            inner = self._inner(kv_bytes / (2e12 if self.cuda else 2e10), hi=16)
            sdpa = self.timer.seconds(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), inner=inner,
                                      reps=self.reps)
            qg = q.view(b, c.kv_heads, G, H)
            bmm = self.timer.seconds(lambda: t.softmax((qg @ k.transpose(-1, -2)).float() / math.sqrt(H), -1)
                                     .to(self.dtype) @ v, inner=inner, reps=self.reps)
        except self.oom:
            self.free()
            return [dict(kind="attn_decode_oom", b=b, ctx=ctx)]
        return [dict(kind="attn_decode", b=b, ctx=ctx, heads=c.heads, kv_heads=c.kv_heads, head_dim=H, sdpa_s=sdpa,
                      bmm_s=bmm, kv_bytes=kv_bytes, best_gbps=kv_bytes / min(sdpa, bmm) / 1e9)]

    def build_model(self) -> list[dict]:
        self.torch.manual_seed(0)
        self.model = Decoder(self.torch, self.sizes.model, self.device, self.dtype)
        return [self.sizes.model.row()]

    def prefill(self, b: int, s: int) -> list[dict]:
        c, model = self.sizes.model, self.decoder
        ids = self.torch.randint(0, c.vocab, (b, s), device=self.device)
        try:
            sec = self.timer.seconds(lambda: model.prefill(ids), inner=1 if b * s >= 2048 or not self.cuda else 3,
                                     reps=self.reps, warmup=2 if self.cuda else 1)
        except self.oom:
            self.free()
            return [dict(kind="prefill_oom", model=c.name, b=b, s=s)]
        return [dict(kind="prefill", model=c.name, b=b, s=s, s_time=sec, tok_per_s=b * s / sec)]

    def decode(self, b: int, ctx: int) -> list[dict]:
        c = self.sizes.model
        if 2 * c.layers * b * c.kv_heads * (ctx + 1) * c.head_dim * 2 > self.sizes.kv_budget_bytes:
            return [dict(kind="decode_skipped", model=c.name, b=b, ctx=ctx, reason="KV cache over budget")]
        model = self.decoder
        try:
            model.alloc_cache(b, ctx + 1)
            tok = self.torch.randint(0, c.vocab, (b,), device=self.device)
            alt = {impl: self.timer.seconds(partial(model.decode, tok, ctx, impl), inner=2,
                                            reps=self.reps, warmup=2 if self.cuda else 1) for impl in ("bmm", "sdpa")}
        except self.oom:
            return [dict(kind="decode_oom", model=c.name, b=b, ctx=ctx)]
        finally:
            model.free_cache()
            self.free()
        best = min(alt, key=alt.__getitem__)
        return [dict(kind="decode", model=c.name, b=b, ctx=ctx, step_s=alt[best], impl=best, alt=alt,
                     tok_per_s=b / alt[best], tok_per_s_per_user=1 / alt[best])]

    def energy(self, phase: str, b: int, n: int) -> list[dict]:
        """Board energy per token (energy.py)."""
        return energy_rows(self, phase, b, n)

    def free_model(self) -> list[dict]:
        self.model = None
        self.free()
        return []



def plan(device: str = "cuda", quick: bool = False, model: ModelSpec | None = None,
         sizes: Sizes | None = None) -> tuple[Session, list[Step]]:
    """A session and its steps, in order (each step is one tick of the progress bar)."""
    torch = import_torch()
    if torch is None:
        raise CalibrationError(TORCH_HINT)
    if device not in ("cuda", "cpu"):
        raise SpecError(f"--device must be 'cuda' or 'cpu', got {device!r}.")
    mem: float | None = None
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SpecError("--device cuda: PyTorch sees no CUDA GPU here; use --device cpu, "
                            "or install a CUDA build of torch.")
        mem = float(torch.cuda.get_device_properties(0).total_memory)
    sizes = sizes or default_sizes(device, quick, model, mem)
    weight_bytes = sizes.model.row()["weight_bytes"]
    if mem is not None and weight_bytes > 0.8 * mem:
        raise SpecError(f"{sizes.model.name} needs {weight_bytes / 1e9:.1f} GB of weights but the "
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
    steps += [Step(f"GEMM {dt} {m}x{n}x{k}", partial(ses.gemm, m, n, k, dt, tag)) for m, n, k, dt, tag in gemms]
    steps += [Step(f"attention prefill b={b} s={s}", partial(ses.attn_prefill, b, s)) for b, s in sizes.attn_prefill]
    steps += [Step(f"attention decode b={b} ctx={c}", partial(ses.attn_decode, b, c)) for b, c in sizes.attn_decode]
    steps.append(Step(f"build {sizes.model.name} (random weights)", ses.build_model))
    steps += [Step(f"prefill b={b} s={s}", partial(ses.prefill, b, s)) for b, s in sizes.prefill]
    steps += [Step(f"decode b={b} ctx={c}", partial(ses.decode, b, c)) for b, c in sizes.decode]
    if device == "cuda" and ses.nv is not None and sizes.energy:
        steps += [Step(f"energy {ph} b={b} n={n}", partial(ses.energy, ph, b, n)) for ph, b, n in sizes.energy]
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

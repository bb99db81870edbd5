"""An engine profile: everything about the software that turns FLOPs and bytes into seconds.

Fractions are of the chip's datasheet figures (peak FLOP/s, HBM bytes/s, link bytes/s), so one
profile carries over to every chip of a family; fixed times are seconds per kernel. Profiles
live in ``catalog/engines/<name>.yaml`` and are written by ``tokenomy calibrate``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_FIXED_S = 1.0       # a fixed time per kernel or collective above 1 s is a unit slip
MAX_STEP_FIXED_S = 60.0
MAX_SHARE = 10.0        # power shares of (limit - idle) and the prefill chain weight; fits stay below 3


class _Frozen(BaseModel):
    """Frozen, no unknown fields, every number finite, no bool where a number is expected."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data):
        if isinstance(data, dict):
            for k, v in data.items():
                field = cls.model_fields.get(k)
                if isinstance(v, bool) and field is not None and field.annotation in (float, int):
                    raise ValueError(f"{k} must be a number, got {v!r}")
        return data


class GemmParams(_Frozen):
    """GEMM efficiency: y[m,n] = x[m,k] @ w[n,k]^T (see core/gemm.py for the formula)."""

    compute_frac: float = Field(0.78, gt=0, le=1)      # of peak dense FLOP/s, large aligned GEMMs
    hbm_frac: float = Field(0.88, gt=0, le=1)          # of HBM bytes/s when streaming operands
    fixed_s: float = Field(4e-6, ge=0, le=MAX_FIXED_S)  # per GEMM kernel: launch, prologue, tail
    # compute rate (of peak) when a row stride is 8-byte aligned, not 16
    align8_frac: float = Field(0.24, gt=0, le=1)
    # ... when only 2-byte aligned (odd element counts); 4-byte: geometric mean of the two
    align2_frac: float = Field(0.10, gt=0, le=1)
    misaligned_hbm_frac: float = Field(0.33, gt=0, le=1)  # bandwidth share kept on the misaligned path
    wave_penalty_frac: float = Field(0.2, ge=0, le=1)  # share of data-parallel wave loss not hidden by stream-K


class AttentionParams(_Frozen):
    """Attention kernels: flash-style prefill and a memory-bound decode over the KV cache."""

    prefill_frac: float = Field(0.66, gt=0, le=1)      # of peak FLOP/s on long sequences
    prefill_critical_frac: float = Field(0.9, ge=0, le=MAX_SHARE)  # weight of the longest query tile's chain of blocks
    prefill_fixed_s: float = Field(6e-6, ge=0, le=MAX_FIXED_S)
    decode_hbm_frac: float = Field(0.9, gt=0, le=1)    # of HBM bytes/s reading K and V
    decode_fixed_s: float = Field(5e-6, ge=0, le=MAX_FIXED_S)
    decode_impl: Literal["sdpa", "bmm", "best"] = "sdpa"  # torch-eager only: which decode path runs


class PowerParams(_Frozen):
    """Board power: P = P_idle + (P_limit - P_idle) * (busy + a_occ*occ + a_flop*u_flop + a_byte*u_byte).

    u_flop = achieved FLOP/s / peak, u_byte = achieved bytes/s / HBM bytes/s. Above the limit the
    clock drops until P = P_limit, stretching the step (core/energy.py).
    """

    idle_frac: float = Field(0.10, ge=0, lt=1)         # idle power / power limit where no idle figure is given
    busy_frac: float = Field(0.35, ge=0, le=MAX_SHARE)  # clocks up, a step running, SMs idle
    occupancy_frac: float = Field(0.2, ge=0, le=MAX_SHARE)  # extra share when every SM is occupied
    flop_frac: float = Field(0.8, ge=0, le=MAX_SHARE)  # extra share of (limit - idle) at 100% of peak FLOP/s
    byte_frac: float = Field(0.3, ge=0, le=MAX_SHARE)  # extra share at 100% of HBM bytes/s


class CommParams(_Frozen):
    """Collectives over the scale-up link (ring all-reduce for TP, point-to-point for PP)."""

    link_frac: float = Field(0.75, gt=0, le=1)         # of unidirectional link bytes/s
    latency_s: float = Field(8e-6, ge=0, le=MAX_FIXED_S)  # per collective


class MemoryParams(_Frozen):
    reserve_frac: float = Field(0.08, ge=0, lt=1)      # of capacity kept free (allocator, CUDA context, graphs)
    # live activation bytes per token per d_model unit
    activation_bytes_per_token_per_d: float = Field(8.0, ge=0, le=1e4)


class BackendTerms(_Frozen):
    """Terms of one vendor's kernel backend (CUDA, ROCm) that replace the profile's own where the chip is of
    that vendor (``EngineProfile.for_vendor``); None keeps the profile's value. Fractions of datasheet rates."""

    kernel_fixed_s: float | None = Field(None, ge=0, le=MAX_FIXED_S)     # per non-GEMM kernel
    gemm_fixed_s: float | None = Field(None, ge=0, le=MAX_FIXED_S)       # per GEMM kernel
    gemm_compute_frac: float | None = Field(None, gt=0, le=1)
    gemm_hbm_frac: float | None = Field(None, gt=0, le=1)
    attention_prefill_frac: float | None = Field(None, gt=0, le=1)
    attention_decode_hbm_frac: float | None = Field(None, gt=0, le=1)
    comm_latency_s: float | None = Field(None, ge=0, le=MAX_FIXED_S)

    def apply(self, prof: EngineProfile) -> EngineProfile:
        """``prof`` with every term set here written in."""
        sections: dict[str, dict[str, float]] = {}
        top: dict[str, object] = {}
        for k, v in self.model_dump(exclude_none=True).items():
            sec, _, key = k.partition("_") if k.split("_")[0] in ("gemm", "attention", "comm") else ("", "", k)
            if sec:
                sections.setdefault(sec, {})[key] = v
            else:
                top[key] = v
        for sec, vals in sections.items():
            top[sec] = getattr(prof, sec).model_copy(update=vals)
        return prof.model_copy(update=top)


class EngineProfile(_Frozen):
    """One serving implementation. ``graph`` picks the kernel list (core/graph.py)."""

    name: str
    description: str = ""
    assumptions: list[str] = Field(default_factory=list)
    graph: Literal["eager", "fused"] = "fused"
    kernel_fixed_s: float = Field(2e-6, ge=0, le=MAX_FIXED_S)  # per non-GEMM kernel (launch gap inside a graph)
    elementwise_hbm_frac: float = Field(0.8, gt=0, le=1)
    # host (CPU) work per step: host_s = step_fixed_s + host_per_seq_s * sequences in the step (scheduler,
    # input preparation, sampling, detokenization). With async_scheduling the host prepares step n+1 while
    # the GPU runs step n, so a step takes max(gpu_s, host_s); without it, gpu_s + host_s (core/phases.py)
    step_fixed_s: float = Field(0.0, ge=0, le=MAX_STEP_FIXED_S)
    host_per_seq_s: float = Field(0.0, ge=0, le=MAX_FIXED_S)
    async_scheduling: bool = False
    # per-request latency outside the engine steps (HTTP, tokenizer/detokenizer processes, IPC to the scheduler,
    # streaming the first token): added to TTFT and E2E, not to TPOT/ITL; it does not hold a GPU slot or a
    # sequence of the batch (sim/kernel.py, core/serving.py)
    request_overhead_s: float = Field(0.0, ge=0, le=MAX_STEP_FIXED_S)
    # KV-cache format when the precision does not say kv=...: 'checkpoint' keeps the checkpoint's KV
    # format (bf16 unless it says otherwise: vLLM, SGLang); 'fp8-when-weights-fp8' runs an fp8 KV cache
    # with fp8/fp4 weights (TensorRT-LLM class). core/precision.py engine_kv.
    kv_cache_format: Literal["checkpoint", "fp8-when-weights-fp8"] = "checkpoint"
    # tokens one prefill step takes from several requests (chunked prefill): the chunk reads the weights
    # once (core/serving.py chunked_prefill)
    max_num_batched_tokens: int = Field(8192, ge=1, le=1 << 24)
    max_num_seqs: int = Field(1024, ge=1, le=1 << 20)   # most sequences the scheduler runs at once
    gemm: GemmParams = GemmParams()
    attention: AttentionParams = AttentionParams()
    power: PowerParams = PowerParams()
    comm: CommParams = CommParams()
    memory: MemoryParams = MemoryParams()
    # kernel-backend terms per vendor ('NVIDIA' = CUDA, 'AMD' = ROCm), written over the ones above on that
    # vendor's chips (for_vendor); a vendor not listed runs with the ones above
    backends: dict[str, BackendTerms] = Field(default_factory=dict)
    # an alias profile ('serving'): the engine to run on each vendor's chips (loaders/engines.engine_for_chip)
    vendor_engine: dict[str, str] = Field(default_factory=dict)
    fitted_on: str = ""                                 # provenance of the numbers above
    calibrated_hardware: list[str] = Field(default_factory=list)  # chips the fit used; others are "extrapolated"

    def for_vendor(self, vendor: str) -> EngineProfile:
        """This profile with the backend terms of ``vendor`` (a chip's ``vendor``) written in."""
        b = self.backends.get(vendor)
        return b.apply(self).model_copy(update={"backends": {}}) if b is not None else self

    def source_for(self, hardware_id: str) -> str:
        """'calibrated' when this profile was fitted on the chip, else 'extrapolated'."""
        return "calibrated" if hardware_id in self.calibrated_hardware else "extrapolated"

"""SRAM dataflow systems (Groq LPU, Cerebras WSE-3, SambaNova SN40L): the terms a GPU has not.

Two questions tell these chips apart, each answered here and nowhere else (the chip's ``kind`` is a
label, never tested):
- ``weights_in_sram``: the weights live in on-chip SRAM (no HBM; SRAM not a cache): Groq LPU,
  Cerebras WSE-3. Such a replica is sized on SRAM (frontier/deployments.sram_candidates: the chip
  count follows from the model size) and prefills in chunks whose activations fit
  (core/memory.sram_chunk_tokens). SambaNova SN40L streams its weights from HBM: sized like a GPU.
- ``is_dataflow_system``: the chip carries the dataflow timing terms below (all three systems): it
  runs compiled graphs (the 'dataflow' engine profile by default, api.resolve), costs prefill
  attention on its matmul fabric and explains its deployment in words (``deployment_text``).
Tensor parallelism stays within ``scaleup_domain`` on every chip (spec/args.tp_in_domain): an SRAM
system's domain is its statically scheduled fabric (576 Groq chips, 2048 wafers), wider than any
model's attention heads.

A chip opts in to the timing terms with catalog figures (spec/hardware.py); every other chip keeps
the GPU model.
- ``matmul_rows``: the matmul units take activation rows in passes of this many (Groq's MXM and the
  wafer's cores stream one vector per cycle against stationary weights: 1), so a batch-1 GEMV wastes
  no tile (core/gemm.py ``tile_rows``).
- ``layer_fixed_s``: fixed time per layer per step (the compiled schedule's synchronisation between
  layers), added to every layer of a stage (core/phases.py).
- ``hop_latency_s``: one chip-to-chip hop. A collective over p chips is a tree of hops: an all-reduce
  2 ceil(log2 p) (reduce, then broadcast), an all-to-all ceil(log2 p); a pipeline hand-off 1.
Both times are fitted per system to the single-user speeds of shared/reference/sram-systems.md
(calibrate/sram_fit.py, reported by scripts/sram_fit.py; the figures say so in their catalog source).
"""

from __future__ import annotations

import math

from ..spec.engine import CommParams
from ..spec.hardware import HardwareSpec


def weights_in_sram(hw: HardwareSpec) -> bool:
    """True when the weights live in on-chip SRAM: no HBM, and an SRAM that is memory, not a cache."""
    return hw.hbm_bytes <= 0 and not hw.sram_is_cache and hw.sram_bytes > 0


def is_dataflow_system(hw: HardwareSpec) -> bool:
    """True when ``hw`` carries any of the dataflow timing terms (module docstring)."""
    return hw.matmul_rows is not None or hw.layer_fixed_s > 0 or hw.hop_latency_s > 0


def collective_hops(kind: str, chips: int) -> int:
    """Hops on the critical path of one collective over ``chips`` (module docstring)."""
    if chips <= 1:
        return 0 if kind != "p2p" else 1
    depth = math.ceil(math.log2(chips))
    return {"allreduce": 2 * depth, "alltoall": depth, "p2p": 1}[kind]


def hop_comm(params: CommParams, hw: HardwareSpec, kind: str, chips: int) -> CommParams:
    """``params`` with the latency of ``kind`` over ``chips`` in hops of ``hw`` (unchanged off dataflow chips)."""
    if hw.hop_latency_s <= 0:
        return params
    return params.model_copy(update={"latency_s": collective_hops(kind, chips) * hw.hop_latency_s})


def _plural(n: int) -> str:
    return "s" if n > 1 else ""


def deployment_text(hw: HardwareSpec, n_layers: int, tp: int, pp: int, ep: int, weight_bytes: float,
                    streamed: str, speculative: str = "off", table_chips: int = 0) -> str:
    """One sentence on how a dataflow system runs a replica: chips, split, where the weights live,
    speculative decoding; empty on other chips. ``weight_bytes``: on the busiest chip; ``table_chips``:
    chips of their own holding the embedding and LM head (core/memory.sram_tables)."""
    if not is_dataflow_system(hw):
        return ""
    per_stage = -(-n_layers // pp)
    split = (f"{pp} pipeline stage{_plural(pp)} of {per_stage} layer{_plural(per_stage)}"
             f"{f', each split {tp} ways (tensor)' if tp > 1 else ''}{f', experts over {ep}' if ep > 1 else ''}"
             f"{f', and {table_chips} chip{_plural(table_chips)} of their own' if table_chips else ''}"
             f"{' holding the embedding and LM head' if table_chips else ''}")
    if streamed:
        where = f"weights beyond the fast tier: {streamed}"
    elif hw.hbm_bytes > 0:
        where = (f"weights in HBM ({weight_bytes / 1e9:.3g} of {hw.hbm_bytes / 1e9:.3g} GB per chip), streamed "
                 f"through the on-chip SRAM every step")
    else:
        unit, scale = ("GB", 1e9) if hw.sram_bytes >= 1e9 else ("MB", 1e6)
        where = f"weights in on-chip SRAM ({weight_bytes / scale:.4g} of {hw.sram_bytes / scale:.4g} {unit} per chip)"
        if weight_bytes > hw.sram_bytes:
            where = (f"weights do not fit in on-chip SRAM ({weight_bytes / scale:.4g} {unit} per chip needed, "
                     f"{hw.sram_bytes / scale:.4g} {unit} there): more chips needed")
    spec = "off" if speculative == "off" else f"on ({speculative})"
    return f"{tp * pp + table_chips} x {hw.id}: {split}; {where}; speculative decoding {spec}"

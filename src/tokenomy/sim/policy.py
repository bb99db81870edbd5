"""The scheduler settings of one engine profile (``Policy``) and the engine's defaults (``policy_for``); the
scheduler itself is ``sim/scheduler.py``, which re-exports these names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from tokenomy.errors import SpecError

if TYPE_CHECKING:
    from tokenomy.sim.kernel import StepCost
    from tokenomy.spec.engine import EngineProfile

# Paged-KV block size per engine (tokens): vLLM --block-size default 16; SGLang --page-size default 1;
# TensorRT-LLM tokens_per_block 32 (assumption: the common build setting).  Others: vLLM's 16.
BLOCK_TOKENS = {"vllm": 16, "sglang": 1, "trtllm": 32}


@dataclass(frozen=True)
class Policy:
    """The scheduler of one engine profile (decode-first continuous batching, vLLM V1 / SGLang default)."""

    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool = True
    preemption: Literal["recompute", "swap"] = "recompute"   # vLLM V1 recomputes
    block_tokens: int = 16                                    # paged KV block size

    def __post_init__(self) -> None:
        for name in ("max_num_seqs", "max_num_batched_tokens", "block_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise SpecError(f"Policy.{name} must be an integer >= 1, got {v!r}.")
        if self.preemption not in ("recompute", "swap"):
            raise SpecError(f"Policy.preemption must be 'recompute' or 'swap', got {self.preemption!r}.")


def policy_for(engine: EngineProfile, step: StepCost) -> Policy:
    """The engine's scheduler limits (the tighter of the profile and the step model), chunked prefill on,
    recompute preemption (vLLM V1, SGLang retract), the engine's KV block size (``BLOCK_TOKENS``)."""
    return Policy(max_num_seqs=int(min(engine.max_num_seqs, step.max_num_seqs)),
                  max_num_batched_tokens=int(min(engine.max_num_batched_tokens, step.max_num_batched_tokens)),
                  block_tokens=BLOCK_TOKENS.get(engine.name, 16))

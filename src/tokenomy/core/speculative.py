"""Speculative decoding: K draft tokens per step, checked by the target in one verify step.

Per decode step and sequence, with per-token acceptance a (each draft token is accepted with
probability a once the ones before it were; Leviathan et al. 2023, "Fast Inference from
Transformers via Speculative Decoding", ICML, eq. 1):

    E[tokens per step] = 1 + a + a^2 + ... + a^K = (1 - a^(K+1)) / (1 - a)     (K + 1 at a = 1)
        the accepted draft prefix plus the target's own token: a = 0.8, K = 1 -> 1.8; K = 3 -> 2.952

Time of one step (core/phases.py does the verify step):
    verify_s = a decode step of the target with q = K + 1 query tokens per sequence: K + 1 times the
               GEMM rows, LM-head rows and attention FLOPs; the weights and each sequence's KV read once
    draft_s  = K * device time of one decode step of the draft (the host work is the verify step's)
        mtp    one transformer layer of the target's shape + the shared LM head: DeepSeek-V3's MTP
               module is one block sharing embedding and head (arXiv:2412.19437, section 2.2)
        eagle  one decoder layer of the target's shape + the target's LM head (EAGLE, Li et al. 2024,
               arXiv:2401.15077); on a MoE target the layer is charged as a MoE layer (assumption: an
               EAGLE head for a MoE model may be dense, which costs less)
        draft  a decode step of another catalog model, at the target's tp where its heads allow, else tp 1; on
               chips whose SRAM holds the weights (Groq, Cerebras) its layers are spread over the target's pipeline
               stages too (pp = min(target pp, draft layers)), as its weights must sit in SRAM beside the target's
    latency_s = verify latency + draft_s;  stage_s = verify stage + draft_s (the draft runs on one stage)
    cycle = max(latency_s, m * stage_s);   tokens_per_s = m * b * E / cycle;  tokens_per_s_per_user = E / cycle
Memory: the draft's own weights (one layer for mtp/eagle: embedding and head are shared) and KV cache are
added to the target's, and ``fits`` is checked again. Power is the verify step's; J/token = power / tokens/s.

Defaults (``DEFAULTS``; what ``mtp``, ``eagle`` or ``draft:MODEL`` alone means):
    mtp    K = 1, a = 0.85   DeepSeek-V3 ships one MTP module (D = 1, section 2.2); section 5.4.3 reports
                             "the acceptance rate of the second token prediction ranges between 85% and
                             90%": the low end is taken
    eagle  K = 3, a = 0.78   assumption. K: SGLang's EAGLE example (--speculative-num-steps 3). a: set so
                             that K = 5 gives 3.5 tokens per step, inside the average acceptance length
                             tau = 3-4 EAGLE reports at depth 5 (Li et al. 2024, MT-bench, greedy; tau
                             counts the target's own token, so accepted = tau - 1)
    draft  K = 4, a = 0.70   assumption: the middle of the alpha = 0.5-0.9 Leviathan et al. 2023
                             (Table 3) measured over draft/target pairs
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import SpecError
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from ..spec.model import ModelSpec
from .graph import build_recipe, parallel_error
from .precision import Precision
from .predict import Prediction, decode_cycle_s, predict_core
from .sram import weights_in_sram

# method -> (draft tokens K, per-token acceptance a, source); module docstring
DEFAULTS: dict[str, tuple[int, float, str]] = {
    "mtp": (1, 0.85, "DeepSeek-V3 report, arXiv:2412.19437, 5.4.3: 85-90%"),
    "eagle": (3, 0.78, "assumption: 3.5 tokens per step at K=5 (EAGLE, arXiv:2401.15077: tau 3-4)"),
    "draft": (4, 0.70, "assumption: mid of alpha 0.5-0.9 (Leviathan et al. 2023, Table 3)"),
}


def expected_tokens(acceptance: npt.ArrayLike, k: int) -> np.ndarray:
    """Tokens emitted per step: (1 - a^(K+1)) / (1 - a), K + 1 at a = 1 (module docstring)."""
    a = np.asarray(acceptance, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (1.0 - a ** (k + 1)) / (1.0 - a)
    return np.where(a >= 1.0, k + 1.0, e)


def acceptance_for(accepted: float, k: int) -> float:
    """The per-token acceptance a whose mean accepted draft tokens per step is ``accepted`` (0 < it < K):
    E(a) - 1 = accepted, solved by bisection (E rises from 1 at a = 0 to K + 1 at a = 1)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if float(expected_tokens(mid, k)) - 1.0 < accepted:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class Speculative:
    """One speculative-decoding setting: method, K draft tokens, per-token acceptance a."""

    method: str                    # 'mtp' | 'eagle' | 'draft'
    k: int
    acceptance: float
    source: str                    # where a comes from: 'given', 'given as accepted=L', or DEFAULTS'
    draft_model: str | None = None

    @property
    def tokens_per_step(self) -> float:
        return float(expected_tokens(self.acceptance, self.k))

    @property
    def label(self) -> str:
        head = f"draft:{self.draft_model}" if self.method == "draft" else self.method
        return f"{head}:{self.k},accept={self.acceptance:.3g} ({self.source})"


def speculative(method: str, k: int | None = None, accept: float | None = None, accepted: float | None = None,
                draft_model: str | None = None) -> Speculative:
    """A Speculative from parsed parts (spec/args.py ``spec_arg``), defaults filled in (``DEFAULTS``)."""
    k0, a0, src = DEFAULTS[method]
    k = k0 if k is None else k
    if accepted is not None:
        if not 0.0 < accepted < k:
            raise SpecError(f"accepted={accepted:g} must be between 0 and K={k} (mean draft tokens accepted per "
                            "step, not counting the target's own token); e.g. eagle:5,accepted=2.5.")
        return Speculative(method, k, acceptance_for(accepted, k), f"given as accepted={accepted:g}", draft_model)
    if accept is not None:
        return Speculative(method, k, accept, "given", draft_model)
    return Speculative(method, k, a0, src, draft_model)


def _one_layer(model: ModelSpec, layers: int = 1) -> ModelSpec:
    """The target with ``layers`` layers of its repeated (MoE, full-attention) kind: the MTP / EAGLE draft."""
    return model.model_copy(update={"n_layers": layers, "n_dense_layers": 0, "n_sliding_layers": 0,
                                    "name": f"{model.name} draft layer"})


def speculative_core(model: ModelSpec, hw: HardwareSpec, engine: EngineProfile, precision: Precision,
                     sd: Speculative, draft: ModelSpec | None, *, batch: npt.ArrayLike, length: npt.ArrayLike,
                     tp: int = 1, pp: int = 1, ep: int = 1, micro_batches: npt.ArrayLike | None = None,
                     dp_attention: int = 1) -> Prediction:
    """A decode Prediction with speculative decoding (module docstring); ``draft`` for method 'draft'."""
    k = sd.k
    ver = predict_core(model, hw, engine, precision, phase="decode", batch=batch, length=length, tp=tp, pp=pp,
                       ep=ep, micro_batches=micro_batches, queries=k + 1, dp_attention=dp_attention)
    if sd.method == "draft":
        if draft is None:
            raise SpecError("speculative method 'draft' needs a draft model, e.g. draft:llama-3.2-1b:4.")
        dm, extra_w = draft, None
    else:
        dm = _one_layer(model)
        two = build_recipe(_one_layer(model, 2), engine, precision, phase="decode", tp=tp, ep=ep,
                           dp_attention=dp_attention)
        one = build_recipe(dm, engine, precision, phase="decode", tp=tp, ep=ep, dp_attention=dp_attention)
        extra_w = two.weight_bytes - one.weight_bytes          # one layer; embedding and head are shared
    dtp, dep, ddp = (tp, ep, dp_attention) if not parallel_error(dm, tp, 1, ep, dp_attention) else (1, 1, 1)
    dpp = min(pp, dm.n_layers) if sd.method == "draft" and weights_in_sram(hw) else 1
    d = predict_core(dm, hw, engine, precision, phase="decode", batch=batch, length=length, tp=dtp, pp=dpp,
                     ep=dep, micro_batches=ver.micro_batches, dp_attention=ddp)
    parts = {f: k * np.asarray(getattr(d, f)) for f in ("gemm_s", "attention_s", "elementwise_s", "comm_s")}
    draft_s = sum(parts.values())
    e = sd.tokens_per_step
    latency = ver.latency_s + draft_s
    stage = ver.stage_s + draft_s
    m = np.asarray(ver.micro_batches, dtype=float)
    b = np.asarray(ver.batch, dtype=float)
    cycle = decode_cycle_s(latency, stage, m)
    tps = m * b * e / cycle
    mem = ver.memory_bytes + (d.weight_bytes if extra_w is None else extra_w) + d.kv_cache_bytes
    return dataclasses.replace(
        ver, latency_s=latency, stage_s=stage, tokens_per_s=tps, tokens_per_s_per_user=e / cycle,
        energy_j_per_token=ver.power_w / tps, memory_bytes=mem, kv_cache_bytes=ver.kv_cache_bytes + d.kv_cache_bytes,
        fits=np.asarray(ver.fits) & (mem <= ver.memory_capacity_bytes),
        **{f: np.asarray(getattr(ver, f)) + v for f, v in parts.items()},
        flop_per_step=ver.flop_per_step + k * d.flop_per_step, bytes_per_step=ver.bytes_per_step + k * d.bytes_per_step,
        speculative=sd.label, tokens_per_step=e,
        deployment=ver.deployment.replace("speculative decoding off", f"speculative decoding on ({sd.label})"))


def per_token(pred: Prediction) -> Prediction:
    """``pred`` with step times per emitted token (latency_s and stage_s / tokens_per_step), the form
    core/serving.py's serving_estimate takes: its cycle is then the time between two tokens of a user."""
    e = pred.tokens_per_step
    if e == 1.0:
        return pred
    return dataclasses.replace(pred, latency_s=pred.latency_s / e, stage_s=pred.stage_s / e)

"""The public Python API: names or specs in, typed results out. Thin over ``core``.

Every argument is checked by the shared rules of ``spec/args.py`` (the CLI uses the same), and
every result is checked before it is returned: no value is NaN, infinite or negative.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from .core.precision import BYTES_PER_ELEMENT, Precision, parse_precision, shipped_precision
from .core.predict import Prediction, predict_core
from .core.speculative import Speculative, speculative, speculative_core
from .core.sram import is_dataflow_system
from .errors import CatalogError, SpecError, UnsupportedError
from .loaders.engines import load_engine
from .loaders.hardware import load_hardware
from .loaders.models import load_model
from .spec import args
from .spec.engine import EngineProfile
from .spec.hardware import HardwareSpec
from .spec.model import ModelSpec


def default_precision(model: ModelSpec, hw: HardwareSpec) -> Precision:
    """The precision ``model`` runs in when none is given (the one place every entry point defaults it): the
    checkpoint's shipped format on ``hw`` (core/precision.py), or the chip's served format (catalog
    ``served_precision``: Groq serves 8-bit weights) where that is narrower than the shipped weights, as
    weights and activations (the chip's matrix rate for it). A checkpoint is never widened; the KV format then
    follows the engine's convention (core/precision.engine_kv). An explicit precision always wins."""
    shipped = shipped_precision(model.quant_weights, model.quant_activations, model.quant_bf16_parts,
                                model.quant_method, hw.peak_flop_per_s)
    served = hw.served_precision
    if served is None or BYTES_PER_ELEMENT[served] >= BYTES_PER_ELEMENT[shipped.weights]:
        return shipped
    return Precision(served, served, "bf16", shipped.bf16_parts, f"served on {hw.id}")


def resolve(model, hardware, engine=None, precision=None) -> tuple[ModelSpec, HardwareSpec, EngineProfile, Precision]:
    """Specs from names (or specs); ``precision`` None means the model's shipped format on this chip, ``engine``
    None the 'serving' profile, or 'dataflow' on SRAM dataflow systems (core/sram.py), as the frontier does."""
    args.name_or_spec("model", model, ModelSpec, args.MODEL_HINT)
    args.name_or_spec("hardware", hardware, HardwareSpec, args.HARDWARE_HINT)
    args.optional_text("engine", engine, args.ENGINE_HINT, spec_type=EngineProfile)
    args.optional_text("precision", precision, args.PRECISION_HINT, spec_type=Precision)
    m = model if isinstance(model, ModelSpec) else load_model(model)
    h = hardware if isinstance(hardware, HardwareSpec) else load_hardware(hardware)
    if engine is None and is_dataflow_system(h):
        engine = "dataflow"
    e = engine if isinstance(engine, EngineProfile) else load_engine(engine)
    p = default_precision(m, h) if precision is None else parse_precision(precision)
    return m, h, e, p


def resolve_spec(spec: str | Speculative | None) -> tuple[Speculative | None, ModelSpec | None]:
    """``spec`` (spec/args.py syntax, or a Speculative) with its defaults filled in, and the draft model
    of method 'draft' (None otherwise); (None, None) for no speculative decoding."""
    if isinstance(spec, Speculative):
        sd = spec
    else:
        parsed = args.spec_arg(spec)
        if parsed is None:
            return None, None
        sd = speculative(*parsed)
    if sd.draft_model is None:
        return sd, None
    try:
        return sd, load_model(sd.draft_model)
    except CatalogError as e:
        raise SpecError(f"spec draft model {sd.draft_model!r} is unknown: {str(e).splitlines()[0]}") from None


def _inputs(m: ModelSpec, h: HardwareSpec, e: EngineProfile, p: Precision, **kw) -> str:
    return ", ".join([f"model={m.name}", f"hardware={h.id}", f"engine={e.name}", f"precision={p.label}"]
                     + [f"{k}={v!r}" for k, v in kw.items()])


# Fields that need the chip's power limit; a chip without one (e.g. a CPU calibrated without a power
# meter) gets NaN there, which the JSON prints as null and the tables as '-': unknown, not zero.
POWER_FIELDS = ("energy_j_per_token", "power_w", "power_w_per_chip", "clock_frac")


def check_outputs(pred: Prediction, inputs: str, *, power_known: bool = True) -> Prediction:
    """Raise UnsupportedError when any number of ``pred`` is NaN, infinite or negative (NaN allowed, as
    'unknown', in POWER_FIELDS when the chip has no power limit: ``power_known`` False)."""
    for f in fields(pred):
        v = getattr(pred, f.name)
        if f.name in ("tp", "pp", "ep", "chips", "dp_attention") or not isinstance(v, (float, np.ndarray, np.generic)):
            continue
        a = np.asarray(v)
        if a.dtype.kind != "f":
            continue
        if not power_known and f.name in POWER_FIELDS and np.all(np.isnan(a)):
            continue
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            bad = a[~np.isfinite(a) | (a < 0)].ravel()[0]
            raise UnsupportedError(f"The prediction for {inputs} gives {f.name} = {bad}: these inputs are outside "
                                   "what tokenomy models (a catalog or config figure is out of range); "
                                   "check the files given or report it.")
    return pred


def predict(model: str | ModelSpec, hardware: str | HardwareSpec, *, phase: str = "decode", batch=1,
            seq=None, context=None, engine: str | EngineProfile | None = None,
            precision: str | Precision | None = None, tp: int = 1, pp: int = 1, ep: int = 1,
            profile: str | None = None, force: bool = False, spec: str | Speculative | None = None,
            dp_attention: int = 1) -> Prediction:
    """Predict one prefill or decode step; ``batch``, ``seq`` and ``context`` may be NumPy arrays
    (they broadcast, so a whole sweep is one call).

    prefill: ``batch`` sequences of ``seq`` prompt tokens each.
    decode:  ``batch`` sequences, one new token each, ``context`` tokens already cached per sequence.
    ``precision`` None runs the model as its checkpoint ships (gpt-oss: MXFP4 experts, DeepSeek-V3:
    fp8); the result's ``precision`` says which format was used and why.
    ``profile`` is a calibrated engine profile file (``tokenomy calibrate``); it replaces ``engine``.
    ``force`` allows seq/context beyond the model's max_position_embeddings.
    ``spec`` (decode only): speculative decoding, 'mtp[:K]', 'eagle[:K]' or 'draft:MODEL[:K]' with
    ',accept=A' or ',accepted=L' (spec/args.py; defaults and cost model: core/speculative.py).
    ``dp_attention`` D (dividing tp): attention data-parallel over D groups of tp / D chips, each with its own
    sequences and KV cache; MoE experts expert-parallel (``ep``) across the tp chips (core/graph.py).
    ``batch`` stays the replica's: each group runs ceil(batch / D) sequences.
    """
    args.choice("phase", phase, ("prefill", "decode"))
    args.optional_text("profile", profile, "Pass the path of a file written by 'tokenomy calibrate'.")
    if not isinstance(force, bool):
        raise SpecError(f"force must be True or False, got {force!r}.")
    tp, pp, ep = (args.positive_int(k, v) for k, v in (("tp", tp), ("pp", pp), ("ep", ep)))
    dp = args.dp_attention(dp_attention, tp)
    sd, draft = resolve_spec(spec)
    if sd is not None and phase != "decode":
        raise SpecError(f"spec ({spec!r}) applies to decode steps; drop it for phase={phase!r}.")
    m, h, e, p = resolve(model, hardware, profile or engine, precision)
    b = args.sizes("batch", batch, minimum=1, maximum=args.MAX_BATCH)
    size, other, value = ("seq", "context", seq) if phase == "prefill" else ("context", "seq", context)
    if value is None:
        what = "prompt tokens per sequence" if phase == "prefill" else "tokens already cached per sequence"
        raise SpecError(f"{phase} needs {size} ({what}), e.g. --{size} 1024.")
    if (context if phase == "prefill" else seq) is not None:
        raise SpecError(f"{phase} takes {size}, not {other}; {other} is for "
                        f"{'decode' if phase == 'prefill' else 'prefill'}.")
    limit, hint = args.token_limit(size, m.max_position_embeddings, m.name, force)
    n = args.sizes(size, value, minimum=1 if phase == "prefill" else 0, maximum=limit - (phase == "decode"),
                   limit_hint=hint)
    args.broadcastable(("batch", b), (size, n))
    args.tp_in_domain(tp, h.scaleup_domain, h.id)
    with np.errstate(all="ignore"):      # overflow is caught by check_outputs, with the inputs named
        if sd is None:
            pred = predict_core(m, h, e, p, phase=phase, batch=b, length=n, tp=tp, pp=pp, ep=ep, dp_attention=dp)
        else:
            pred = speculative_core(m, h, e, p, sd, draft, batch=b, length=n, tp=tp, pp=pp, ep=ep, dp_attention=dp)
    extra: dict[str, object] = {} if sd is None else {"spec": sd.label}
    if dp > 1:
        extra["dp_attention"] = dp
    return check_outputs(pred, _inputs(m, h, e, p, phase=phase, batch=batch, **{size: value}, tp=tp, pp=pp, ep=ep,
                                       **extra),
                         power_known=bool(h.power_limit_w))

"""The public Python API: names or specs in, typed results out. Thin over ``core``.

Every argument is checked by the shared rules of ``spec/args.py`` (the CLI uses the same), and
every result is checked before it is returned: no value is NaN, infinite or negative.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .core import predict as _core
from .core.precision import BYTES_PER_ELEMENT, Precision, parse_precision, shipped_precision
from .core.predict import predict_core
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


def check_outputs(pred: _core.Prediction, inputs: str, *, power_known: bool = True) -> _core.Prediction:
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


# Prediction attribute -> glossary key of ``records()`` ({ph}: the phase, 'decode' or 'prefill'); attributes not
# named here keep their name; ``records()`` leaves out the internal ones (kv_cache, micro_batches, stage_s,
# power_w_per_chip) and ``tokens_per_s_per_user`` / ``tokens_per_step`` of prefill (decode figures).
RECORD_KEYS = {"speculative": "spec", "tokens_per_s": "{ph}_tokens_per_s",
               "tokens_per_s_per_user": "{ph}_tokens_per_s_per_user",
               "energy_j_per_token": "{ph}_j_per_token_chip", "power_w": "{ph}_power_w",
               "memory_bytes": "memory_bytes_per_chip", "usd_per_mtok": "{ph}_usd_per_mtok",
               "j_per_token_facility": "{ph}_j_per_token_facility"}
RECORD_ORDER = ("model", "hardware", "engine", "precision", "speculative", "phase", "tp", "pp", "ep", "dp_attention",
                "chips", "batch", "seq", "context", "tokens_per_step", "latency_s", "tokens_per_s",
                "tokens_per_s_per_user", "usd_per_mtok", "usd_per_hour", "energy_j_per_token", "j_per_token_facility",
                "power_w", "memory_bytes", "memory_capacity_bytes", "weight_bytes", "kv_cache_bytes", "fits",
                "fit_reason", "bound", "clock_frac", "gemm_s", "attention_s", "elementwise_s", "comm_s", "overhead_s",
                "flop_per_step", "bytes_per_step", "source", "deployment", "weights_streamed")
SHOWN_IF_ANY = ("deployment", "weights_streamed")     # text fields left out of records() when empty


def record_key(attribute: str, phase: str) -> str:
    """The glossary key ``records()`` prints an attribute of a ``phase`` Prediction as."""
    return RECORD_KEYS.get(attribute, attribute).format(ph=phase)


@dataclass(frozen=True)
class Prediction(_core.Prediction):
    """One prefill or decode step (``tokenomy.predict``): the step figures of core/predict.py plus what the step
    costs at a scenario. Arrays have the broadcast shape of (batch, seq or context).

    The attributes keep the names the core uses; ``records()`` (and ``to_pandas()``, and ``predict --json``)
    name them by the glossary (docs/metrics.md), with the phase as a prefix where the figure is the phase's:
    ``tokens_per_s`` -> ``decode_tokens_per_s`` / ``prefill_tokens_per_s`` (output tokens/s of the replica while
    decoding; input tokens/s while prefilling), ``energy_j_per_token`` -> ``decode_j_per_token_chip`` /
    ``prefill_j_per_token_chip`` (prefill: per input token), ``j_per_token_facility`` ->
    ``decode_j_per_token_facility`` / ``prefill_...``, ``power_w`` -> ``decode_power_w`` / ``prefill_power_w``
    (the replica's chips), ``usd_per_mtok`` -> ``decode_usd_per_mtok`` / ``prefill_usd_per_mtok`` (per 10^6
    output / input tokens), ``memory_bytes`` -> ``memory_bytes_per_chip``, ``speculative`` -> ``spec``;
    ``tokens_per_s_per_user`` -> ``decode_tokens_per_s_per_user`` (one step's speed, no prefill stalls: the steady
    state's ``tokens_per_s_per_user`` of frontier and the economics commands is lower), only for decode;
    ``usd_per_hour`` (the replica per busy hour), ``latency_s`` and
    the rest keep their names. Costs are NaN (null in records) when the chip has neither a price nor a rent.

    ``scenario``: the economics inputs the costs used (Scenario fields; ``mode`` as priced: a chip with a rent
    and no price is priced rented).
    """

    usd_per_hour: np.ndarray | None = None
    usd_per_mtok: np.ndarray | None = None
    j_per_token_facility: np.ndarray | None = None
    scenario: dict[str, Any] | None = None
    pricing_note: str = ""         # economics.chip_hour.pricing_warning: priced another way than asked, or not at all

    @property
    def priced_by(self) -> dict[str, Any]:
        """The scenario fields the costs used ({} when the Prediction was not priced)."""
        return dict(self.scenario or {})

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per point (row-major over the broadcast shape), keyed as ``predict --json`` rows."""
        raw = super().records()
        keep = [k for k in RECORD_ORDER        # per-user speed and tokens per step are decode's (prefill: none)
                if k in raw[0] and not (k in ("tokens_per_s_per_user", "tokens_per_step") and self.phase != "decode")]
        out = []
        for r in raw:
            out.append({record_key(k, self.phase): r[k] for k in keep if not (k in SHOWN_IF_ANY and r[k] == "")})
        return out

    def to_pandas(self):
        """``records()`` as a pandas DataFrame (the same column names)."""
        from .report.frames import rows_frame

        return rows_frame(self.records())


def priced(pred: _core.Prediction, hw: HardwareSpec, sc) -> Prediction:
    """``pred`` with its cost at the Scenario ``sc`` (tokenomy.economics.economics_fields)."""
    from .economics.chip_hour import economics_fields, payable, pricing_warning

    econ = economics_fields(pred, sc, hardware=hw)
    used = payable(hw, sc) or sc
    skip = ("token_price_usd_per_mtok", "token_price_decline_per_year", "token_price_decline_frac_per_year")
    return Prediction(**{f.name: getattr(pred, f.name) for f in fields(pred)}, usd_per_hour=econ["usd_per_hour"],
                      usd_per_mtok=econ["usd_per_mtok"], j_per_token_facility=econ["j_per_token_facility"],
                      scenario={k: v for k, v in used.model_dump().items() if k not in skip},
                      pricing_note=pricing_warning(hw, sc) or "")


def predict(model: str | ModelSpec, hardware: str | HardwareSpec, *, phase: str = "decode", batch=1,
            seq=None, context=None, engine: str | EngineProfile | None = None,
            precision: str | Precision | None = None, tp: int = 1, pp: int = 1, ep: int = 1,
            profile: str | None = None, force: bool = False, spec: str | Speculative | None = None,
            dp_attention: int = 1, scenario=None, **overrides: Any) -> Prediction:
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
    ``scenario`` (a Scenario, a YAML/TOML file or None: the defaults) and keyword ``overrides`` of its fields
    (``mode='rented'``, ``electricity_usd_per_kwh=0.12``, ``pue=1.2``, ...) price the step: ``usd_per_hour``,
    ``usd_per_mtok`` and ``j_per_token_facility`` (tokenomy.economics).
    """
    args.choice("phase", phase, ("prefill", "decode"))
    args.optional_text("profile", profile, "Pass the path of a file written by 'tokenomy calibrate'.")
    if not isinstance(force, bool):
        raise SpecError(f"force must be True or False, got {force!r}.")
    tp, pp, ep = (args.positive_int(k, v) for k, v in (("tp", tp), ("pp", pp), ("ep", ep)))
    dp = args.dp_attention(dp_attention, tp)
    from .economics.base import get_scenario

    sc = get_scenario(scenario, **overrides)
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
    check_outputs(pred, _inputs(m, h, e, p, phase=phase, batch=batch, **{size: value}, tp=tp, pp=pp, ep=ep, **extra),
                  power_known=bool(h.power_limit_w))
    return priced(pred, h, sc)

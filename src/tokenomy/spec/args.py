"""Argument rules shared by every public entry point (Python API and CLI).

Each check returns the cleaned value or raises SpecError in one line: the argument, the value
received and how to fix it. Sizes are bounded by physical limits so no result overflows:

    MAX_BATCH         1e7 sequences in one step (deployed engines run up to ~1e4 per replica)
    MAX_TOKENS        1e9 tokens per sequence even with force (100x the longest shipped context, 10M)
    MAX_PARALLEL      1e6 chips along one of tp, pp, ep (the largest pods hold ~1e4-1e5 chips)
    MAX_POWER_MW      1e5 MW of facility power (100 GW: ~5x the largest AI campus announced)
    MAX_SPEC_TOKENS   16 draft tokens per speculative step (deployed engines use 1-8; acceptance^K is
                      negligible beyond)
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np

from ..errors import SpecError

MAX_BATCH = 10_000_000
MAX_TOKENS = 1_000_000_000
MAX_PARALLEL = 1_000_000
MAX_POWER_MW = 100_000.0
MODEL_HINT = "Run 'tokenomy models list' or pass a path to a config.json."
HARDWARE_HINT = "Run 'tokenomy hardware list' or pass a path to a hardware YAML file."
ENGINE_HINT = "Run 'tokenomy engines list' or pass a profile file."
MAX_SPEC_TOKENS = 16
SPEC_HINT = ("Use 'mtp', 'eagle' or 'draft:MODEL', optionally ':K' draft tokens (1-16) and ',accept=A' "
             "(per-token acceptance, 0 < A < 1) or ',accepted=L' (mean draft tokens accepted per step, 0 < L < K), "
             "e.g. 'mtp:1,accept=0.8', 'eagle:3,accepted=2.5', 'draft:llama-3.2-1b:4'; 'off' for none.")
PRECISION_HINT = "Use None (the model's shipped format), 'bf16', 'fp8', 'fp4' or 'w=fp8,a=fp8,kv=bf16'."


def _got(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def name_or_spec(arg: str, value: Any, spec_type: type, hint: str) -> Any:
    """A catalog name / path (non-empty str) or an instance of ``spec_type``."""
    if isinstance(value, spec_type) or (isinstance(value, str) and value.strip()):
        return value
    raise SpecError(f"{arg} must be a name or path (a non-empty string) or a {spec_type.__name__}, "
                    f"got {_got(value)}. {hint}")


def optional_text(arg: str, value: Any, hint: str, *, spec_type: type | tuple[type, ...] | None = None) -> Any:
    """None, a non-empty string or (when given) an instance of ``spec_type``."""
    if value is None or (spec_type is not None and isinstance(value, spec_type)):
        return value
    if isinstance(value, str) and value.strip():
        return value
    raise SpecError(f"{arg} must be a string, got {_got(value)}. {hint}")


def choice(arg: str, value: Any, options: tuple[str, ...]) -> str:
    """One of ``options`` (exact strings)."""
    if isinstance(value, str) and value in options:
        return value
    raise SpecError(f"{arg} must be one of {', '.join(repr(o) for o in options)}, got {_got(value)}.")


def names(arg: str, value: Any, spec_type: type, hint: str) -> list:
    """A comma-separated string, or a list/tuple of names or ``spec_type`` instances; never empty."""
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise SpecError(f"{arg} must be a comma-separated string or a list of names, got {_got(value)}. {hint}")
    return [name_or_spec(arg, v, spec_type, hint) for v in items]


def precision_choice(value: Any, precision_type: type) -> Any:
    """None, a precision string or Precision, or a list/tuple of them (a sweep over formats)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    for v in items:
        optional_text("precision", v, PRECISION_HINT, spec_type=precision_type)
    if isinstance(value, (list, tuple)) and not value:
        raise SpecError(f"precision is an empty list. {PRECISION_HINT}")
    return value


def count(arg: str, value: Any, *, minimum: int = 1, maximum: float) -> int:
    """One whole number (an int or a whole float) in [minimum, maximum]."""
    if isinstance(value, (list, tuple, dict, set, np.ndarray)) or np.ndim(value) != 0:
        raise SpecError(f"{arg} must be one whole number, got {_got(value)}.")
    return int(sizes(arg, value, minimum=minimum, maximum=maximum).item())


def positive_int(arg: str, value: Any, *, maximum: int = MAX_PARALLEL) -> int:
    """A whole number in 1..maximum; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise SpecError(f"{arg} must be a positive integer, got {_got(value)}; e.g. {arg}=2.")
    v = int(value)
    if not 1 <= v <= maximum:
        raise SpecError(f"{arg} must be between 1 and {maximum:,}, got {v}.")
    return v


def fixed_deployment(chips: Any, tp: Any, pp: Any, ep: Any) -> tuple[int | None, dict[str, int | None]]:
    """The fixed parts of a deployment, None where the caller chooses: (chips, {"tp", "pp", "ep"})."""
    n = None if chips is None else count("chips", chips, maximum=MAX_PARALLEL)
    return n, {k: None if v is None else positive_int(k, v) for k, v in (("tp", tp), ("pp", pp), ("ep", ep))}


def dp_attention(value: Any, tp: int) -> int:
    """Attention data-parallel groups D: a whole number >= 1 dividing the tp chips of a stage (the chips
    attention is split over); the model-specific rules are core/graph.py's parallel_error."""
    d = positive_int("dp_attention", value)
    if tp % d:
        raise SpecError(f"dp_attention={d} must divide the {tp} chips of a stage (tp={tp}): the chips form D "
                        f"attention groups of tp / D each; e.g. dp_attention={tp}.")
    return d


def number(arg: str, value: Any, *, minimum: float = 0.0, maximum: float = math.inf,
           allow_minimum: bool = True) -> float:
    """A finite real number in [minimum, maximum] (or (minimum, maximum] without allow_minimum)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise SpecError(f"{arg} must be a finite number, got {_got(value)}.")
    v = float(value)
    low_ok = v >= minimum if allow_minimum else v > minimum
    if not low_ok or v > maximum:
        rng = f"{'[' if allow_minimum else '('}{minimum:g}, {maximum:g}]"
        raise SpecError(f"{arg} must be in {rng}, got {v:g}.")
    return v


def sizes(arg: str, value: Any, *, minimum: int, maximum: float, limit_hint: str = "") -> np.ndarray:
    """Whole numbers (a scalar or an array that broadcasts) in [minimum, maximum], as floats."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raw = np.asarray([], dtype=object)
    if raw.dtype.kind not in "iuf" or isinstance(value, (str, bytes)):
        raise SpecError(f"{arg} must be a whole number or an array of them, got {_got(value)}.")
    arr = raw.astype(float)
    if arr.size == 0:
        raise SpecError(f"{arg} is empty; give at least one value.")
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"{arg} must be finite, got {arr[~np.isfinite(arr)].ravel()[0]:g}.")
    if np.any(arr != np.round(arr)):
        bad = arr[arr != np.round(arr)].ravel()[0]
        raise SpecError(f"{arg} must be a whole number of tokens or sequences, got {bad:g}.")
    if np.any(arr < minimum):
        raise SpecError(f"{arg} must be >= {minimum}, got {arr.min():g}.")
    if np.any(arr > maximum):
        hint = f" {limit_hint}" if limit_hint else ""
        raise SpecError(f"{arg} must be <= {maximum:,.0f}, got {arr.max():g}.{hint}")
    return arr


def broadcastable(*named: tuple[str, np.ndarray]) -> tuple[int, ...]:
    """The common shape of arrays that must broadcast together (NumPy rules); SpecError naming them if not."""
    try:
        return np.broadcast_shapes(*(np.shape(a) for _, a in named))
    except ValueError:
        shapes = ", ".join(f"{name} {np.shape(a)}" for name, a in named)
        raise SpecError(f"array sizes do not broadcast together ({shapes}); give one of them as a single "
                        "number or both with the same length.") from None


def token_limit(arg: str, max_positions: int | None, model_name: str, force: bool) -> tuple[float, str]:
    """(largest allowed tokens per sequence, hint for the error) for ``arg`` ('seq' or 'context')."""
    if force or not max_positions:
        return float(MAX_TOKENS), "That is tokenomy's bound on tokens per sequence."
    return float(max_positions), (f"{model_name} has max_position_embeddings = {max_positions:,} (a decode "
                                  "step's new token included); pass force=True (CLI --force) to go beyond it.")


def request_in_context(isl: float, osl: float, max_positions: int | None, model_name: str, force: bool) -> None:
    """A request's prompt plus answer must fit the model's context (``max_position_embeddings``) unless forced."""
    if force or not max_positions or isl + osl <= max_positions:
        return
    raise SpecError(f"isl + osl = {isl:,.0f} + {osl:,.0f} tokens is more than {model_name}'s max_position_embeddings "
                    f"= {max_positions:,}; shorten the request, or pass force=True (CLI --force) to go beyond it.")


def tp_in_domain(tp: int, domain: int, chip: str) -> None:
    """Tensor parallelism must stay inside one scale-up domain (NVLink, ICI, ...)."""
    domain = max(int(domain), 1)
    if tp > domain:
        raise SpecError(f"tp={tp} exceeds the scale-up domain of {chip} ({domain} chips): tensor parallelism "
                        f"across scale-up domains is not modelled. Use tp <= {domain} and pp for more chips "
                        f"(e.g. --tp {domain} --pp {max(tp // domain, 2)}).")


class SpecArg(NamedTuple):
    """A parsed ``spec`` argument (core/speculative.py fills the defaults)."""

    method: str                  # 'mtp' | 'eagle' | 'draft'
    k: int | None                # draft tokens per step; None: the method's default
    accept: float | None         # per-token acceptance
    accepted: float | None       # mean draft tokens accepted per step
    draft_model: str | None      # method 'draft': the draft model's name


def spec_arg(value: Any) -> SpecArg | None:
    """``METHOD[:K][,accept=A|,accepted=L]`` with METHOD mtp, eagle or draft:MODEL; None or 'off' -> None."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"spec must be a string, got {_got(value)}. {SPEC_HINT}")
    text = value.strip()
    if text.lower() in ("off", "none"):
        return None
    head, *opts = [p.strip() for p in text.split(",")]
    parts = [p.strip() for p in head.split(":")]
    method = parts[0].lower()
    if method not in ("mtp", "eagle", "draft"):
        raise SpecError(f"spec method must be mtp, eagle or draft, got {parts[0]!r} in {value!r}. {SPEC_HINT}")
    draft = None
    if method == "draft":
        if len(parts) < 2 or not parts[1]:
            raise SpecError(f"spec {value!r}: draft needs a model, e.g. draft:llama-3.2-1b:4. {SPEC_HINT}")
        draft, parts = parts[1], parts[1:]
    if len(parts) > 2:
        raise SpecError(f"spec {value!r} has too many ':' parts. {SPEC_HINT}")
    k = None
    if len(parts) == 2:
        if not parts[1].isdigit() or not 1 <= int(parts[1]) <= MAX_SPEC_TOKENS:
            raise SpecError(f"spec {value!r}: K (draft tokens per step) must be a whole number in "
                            f"1..{MAX_SPEC_TOKENS}, got {parts[1]!r}.")
        k = int(parts[1])
    found: dict[str, float] = {}
    for o in opts:
        key, eq, num = (x.strip() for x in o.partition("="))
        if key not in ("accept", "accepted") or not eq or key in found:
            raise SpecError(f"spec {value!r}: expected one of ',accept=A' or ',accepted=L', got {o!r}. {SPEC_HINT}")
        try:
            found[key] = float(num)
        except ValueError:
            raise SpecError(f"spec {value!r}: {key} must be a number, got {num!r}.") from None
    if len(found) > 1:
        raise SpecError(f"spec {value!r}: give accept or accepted, not both.")
    a, acc = found.get("accept"), found.get("accepted")
    if a is not None and not (math.isfinite(a) and 0.0 < a < 1.0):
        raise SpecError(f"spec {value!r}: accept (per-token acceptance) must be in (0, 1), got {a:g}.")
    if acc is not None and not (math.isfinite(acc) and 0.0 < acc < (k or MAX_SPEC_TOKENS)):
        raise SpecError(f"spec {value!r}: accepted (mean draft tokens accepted per step) must be in "
                        f"(0, K={k or MAX_SPEC_TOKENS}), got {acc:g}.")
    return SpecArg(method, k, a, acc, draft)

"""JSONL case files for the batch modes (``predict --cases``, ``gemm --cases``).

Every line is a JSON object of the command's flags. Names (model, chip, engine, ...) must be text and
counts (tp, batch, m, ...) whole numbers in 1..MAX_COUNT; null means "the flag's default". Counts come
back as ints (a JSON 8.0 becomes 8).
"""

from __future__ import annotations

from ..errors import SpecError
from ..spec.limits import MAX_COUNT
from .files import read_jsonl

TEXT_KEYS = frozenset({"model", "hardware", "engine", "precision", "phase", "profile", "dtype", "spec"})
COUNT_KEYS = frozenset({"tp", "pp", "ep", "batch", "seq", "context", "m", "n", "k"})
_EXAMPLE = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "engine": "serving", "precision": "fp8",
            "phase": "decode", "profile": "my-profile.json", "dtype": "bf16", "spec": "mtp:1,accept=0.85"}


def _checked(c: dict, where: str) -> dict:
    out = dict(c)
    for key, v in c.items():
        if v is None:
            continue
        if key in TEXT_KEYS and not isinstance(v, str):
            raise SpecError(f"{where}: {key!r} must be text such as {_EXAMPLE[key]!r}, got {v!r}.")
        if key in COUNT_KEYS:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not 1 <= v <= MAX_COUNT:
                raise SpecError(f"{where}: {key!r} must be a whole number in 1..{MAX_COUNT}, got {v!r}.")
            out[key] = int(v)
    return out


def read_cases(path: str, allowed: set[str]) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; unknown keys, bad JSON and values of the wrong
    type or range raise SpecError naming the file, the line and the key."""
    out = []
    for i, c in read_jsonl(path, SpecError, "--cases file"):
        extra = set(c) - allowed
        if extra:
            raise SpecError(f"{path} line {i}: unknown key(s) {sorted(extra)}; allowed: {sorted(allowed)}.")
        out.append((i, _checked(c, f"{path} line {i}")))
    return out

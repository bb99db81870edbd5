"""JSONL case files for the batch modes (``predict --cases``, ``gemm --cases``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import SpecError


def read_cases(path: str, allowed: set[str]) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; unknown keys and bad JSON raise SpecError
    naming the file and the line."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"--cases file not found: {path}.")
    out = []
    for i, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            c = json.loads(line)
        except json.JSONDecodeError as e:
            raise SpecError(f"{path} line {i}: not valid JSON ({e.msg}).") from None
        if not isinstance(c, dict):
            raise SpecError(f"{path} line {i}: expected a JSON object.")
        extra = set(c) - allowed
        if extra:
            raise SpecError(f"{path} line {i}: unknown key(s) {sorted(extra)}; allowed: {sorted(allowed)}.")
        out.append((i, c))
    return out

"""How a number is written for a reader: significant figures, thousands separators, units that keep it short
(ms, GB). Shared by the terminal tables (cli/tables.py) and the generated texts (report/brief*), so a brief's
sentence prints a number exactly as the command that reproduces it does. No I/O here."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def _finite(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def num(x, digits: int = 3) -> str:
    """A number to ``digits`` significant figures, thousands separated; '-' for None/NaN."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if not _finite(x):
        return "-" if x is None or isinstance(x, float) else str(x)
    if x != 0 and abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:,.{digits}g}"


def whole(x) -> str:
    return f"{x:,.0f}" if _finite(x) else num(x)


def scaled(factor: float, digits: int = 3) -> Callable[[Any], str]:
    """Formatter of ``x * factor`` (e.g. seconds shown in ms: ``scaled(1e3)``)."""
    return lambda x: num(x * factor, digits) if _finite(x) else num(x)


def pct(x) -> str:
    return f"{x * 100:.3g}%" if _finite(x) else num(x)


def text(x) -> str:
    return "-" if x is None or x == "" else str(x)


ms, us, gb, tb = scaled(1e3), scaled(1e6), scaled(1e-9), scaled(1e-12)
mega, kilo = scaled(1e-6), scaled(1e-3)


def seconds(x) -> str:
    """A duration with the unit that keeps it readable: '812 us', '9.53 ms', '2.41 s'."""
    if not _finite(x):
        return num(x)
    a = abs(x)
    return (f"{num(x * 1e6)} us" if 0 < a < 1e-3 else f"{num(x * 1e3)} ms" if 0 < a < 1 else f"{num(x)} s")


def nbytes(x) -> str:
    """Bytes with a decimal prefix: '24.7 GB'."""
    if not _finite(x):
        return num(x)
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(x) >= f:
            return f"{num(x / f)} {unit}"
    return f"{num(x)} B"

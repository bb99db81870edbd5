"""The exception tree of tokenomy.

    TokenomyError                 root: everything tokenomy raises on purpose
    ├── SpecError                 invalid input (zero batch, negative sizes, tp not dividing heads)
    ├── CatalogError              unknown or malformed catalog entry, figure without source
    ├── UnsupportedError          asked for something the chip or model cannot do (fp4 on H100)
    ├── InfeasibleError           does not fit, or no configuration meets the SLO
    │   └── NothingFitsError      the model fits on none of the chips asked for (exit 2)
    └── CalibrationError          measurements missing or unusable for a fit

The CLI prints the message and exits 2 (or 1 for InfeasibleError, 2 for NothingFitsError). Any other exception is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TokenomyError(Exception):
    """Root of every error tokenomy raises on purpose."""

    exit_code = 2


class SpecError(TokenomyError, ValueError):
    """Invalid input: says which value was wrong, what was received and how to fix it."""


class CatalogError(TokenomyError, KeyError):
    """Unknown or malformed catalog entry."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else ""


class UnsupportedError(TokenomyError):
    """The chip or the model cannot do what was asked (e.g. fp4 on a chip without fp4)."""


class InfeasibleError(TokenomyError):
    """Nothing fits, or no configuration meets the requirement."""

    exit_code = 1


class NothingFitsError(InfeasibleError):
    """The model fits on none of the chips asked for. Exit 2: the request itself cannot be served.

    ``reasons`` maps each chip to why nothing fits on it (memory needed against available, or the limit hit).
    """

    exit_code = 2

    def __init__(self, message: str, reasons: dict[str, str] | None = None):
        super().__init__(message)
        self.reasons = dict(reasons or {})


class CalibrationError(TokenomyError):
    """Measurements missing or unusable for a fit."""


def unknown_name_error(kind: str, name: str, known: Iterable[str], hint: str) -> CatalogError:
    """A CatalogError for an unknown name, with the closest known names suggested."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    did_you_mean = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return CatalogError(f"Unknown {kind} {name!r}.{did_you_mean} {hint}")

"""The glossary: every key that a command's ``--json`` prints, with one meaning, one unit and a scope.

``GLOSSARY`` is the one definition table, assembled from three parts by concept (``serving``: deployments,
speed, power, dollars, frontier and economics results; ``catalog``: predict extras, gemm, shape, hardware,
models, engines; ``checks``: simulate and validate) with no key defined twice; ``docs/metrics.md`` is generated
from it (``python scripts/glossary_doc.py``) and ``tests/test_glossary.py`` fails on any key a command prints
that is not here. One key has one meaning in every command and in the Python API: a key without a phase prefix is the
steady-state serving figure of one replica (continuous batching, prefill share included, as ``frontier``
computes it); phase-only figures carry ``decode_`` / ``prefill_``; figures of every replica carry ``fleet_``;
per-MW and per-token energy say whose watts: ``_chip`` (accelerators), ``_facility`` ((chips + host) x PUE)
or ``_provisioned`` (power limit + host, x PUE, what a power budget is sized by).

Scope says which object a number describes: ``step`` (one forward pass), ``replica`` (one copy of a
deployment: its tp x pp chips), ``fleet`` (every replica in a power budget or an investment),
``request``, ``chip``. Empty where it does not apply
(inputs, names, flags). No I/O here.
"""

from __future__ import annotations

from . import catalog, checks, serving
from .term import DATA_MAPS, SCOPES, UNITS, Term


def _merge(*parts: dict[str, Term]) -> dict[str, Term]:
    out: dict[str, Term] = {}
    for part in parts:
        twice = out.keys() & part.keys()
        if twice:
            raise ValueError(f"glossary keys defined twice: {sorted(twice)}")
        out.update(part)
    return out


GLOSSARY: dict[str, Term] = _merge(serving.TERMS, catalog.TERMS, checks.TERMS)


def units_of(keys) -> dict[str, str]:
    """The unit of each key in ``keys`` (KeyError names a key that is not defined)."""
    return {k: GLOSSARY[k].unit for k in keys}


__all__ = ["DATA_MAPS", "GLOSSARY", "SCOPES", "UNITS", "Term", "units_of"]

"""Held-out accuracy: predict each end-to-end row with a profile refitted without it.

The same fitter as ``tokenomy calibrate`` (calibrate/fit.py). The kernel stages (GEMM, attention)
never see end-to-end rows, so they are fitted once; for each held-out group the end-to-end stages
(step overheads, power shares) are refitted on the other rows, which is exactly ``fit_profile`` on
the rows without that group. Groups:

    prefill, decode   one batch size of one phase at a time (every length of it held out together)
    energy            one row at a time (leave-one-out)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from .fit import fit_end_to_end, fit_kernels
from .rows import MODEL_KINDS, RowCheck, predict_model_rows


def held_out_group(index: int, row: dict) -> tuple:
    """The group a row is held out with: (kind, batch) for latency rows, the row itself for energy."""
    if row["kind"] == "energy":
        return ("energy", index)
    return (row["kind"], row["b"])


def held_out_checks(rows: Sequence[dict], hw: HardwareSpec, base: EngineProfile,
                    group: Callable[[int, dict], tuple] = held_out_group) -> list[RowCheck]:
    """Every end-to-end row predicted by ``fit_profile(rows without its group, hw, base)``, in row order."""
    kernels, _ = fit_kernels(rows, hw, base)
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        if r.get("kind") in MODEL_KINDS:
            groups.setdefault(group(i, r), []).append(i)
    context = [r for r in rows if r.get("kind") == "model"]
    found: dict[int, RowCheck] = {}
    for members in groups.values():
        held = set(members)
        prof, _ = fit_end_to_end([r for i, r in enumerate(rows) if i not in held], hw, kernels)
        for i in members:       # one at a time: a row without its model row is skipped, not misaligned
            found.update(zip([i], predict_model_rows([*context, rows[i]], hw, prof)[0], strict=False))
    return [found[i] for i in sorted(found)]

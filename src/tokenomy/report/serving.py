"""Output of ``tokenomy validate --serving``: the summary table (per source x chip x metric) and the
predicted-versus-measured plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from ..serving_check import ServingValidation
from ..spec.serving import METRICS


def summary_table(res: ServingValidation) -> Table:
    """Median predicted/measured, MAPE and p90 |error| per source x chip x metric."""
    s = res.summary()
    t = Table(title=f"{res.engine} against {res.source} ({Path(res.path).name}): {s['rows_predicted']} of "
                    f"{res.data_rows} rows predicted")
    for h in ("source", "chip", "metric", "rows", "median pred/meas", "MAPE", "p90 |err|"):
        t.add_column(h, justify="left" if h in ("source", "chip", "metric") else "right", no_wrap=True)
    for g in s["groups"]:
        ratio = f"{g['median_ratio']:.3f}"
        t.add_row(g["source"], g["chip"], g["metric"], str(g["count"]),
                  ratio if 0.85 <= g["median_ratio"] <= 1.15 else f"[red]{ratio}[/red]", f"{g['mape']:.1%}",
                  f"{g['p90_abs_error']:.1%}")
    return t


def skipped_lines(res: ServingValidation) -> list[str]:
    """One line per skip reason: how many data rows it covers."""
    return [f"{n} rows skipped: {why}" for why, n in res.skipped_rows().items()]


def panel_grid(n: int) -> tuple[Any, Any, list[Any]]:
    """(pyplot, figure, n axes) for n panels, three per line, spare axes hidden (needs matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, n)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.8 * cols, 3.6 * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return plt, fig, list(axes.ravel()[:n])


def plot_serving(res: ServingValidation, path: str | Path) -> None:
    """Predicted against measured, log-log, one panel per metric, one colour per chip (needs matplotlib)."""
    done = [c for c in res.checks if c.predicted is not None]
    metrics = [m for m in METRICS if any(c.metric == m for c in done)] or ["(no rows predicted)"]
    plt, fig, axes = panel_grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        sel = [c for c in done if c.metric == metric]
        if not sel:
            ax.set_title(metric, fontsize=9)
            continue
        x = np.array([c.measured for c in sel])
        y = np.array([c.predicted or 0.0 for c in sel])
        lo, hi = min(x.min(), y.min()) / 1.3, max(x.max(), y.max()) * 1.3
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
        for chip in sorted({c.chip for c in sel}):
            mask = np.array([c.chip == chip for c in sel])
            ax.scatter(x[mask], y[mask], s=10, label=chip)
        ax.set_xscale("log")
        ax.set_yscale("log")
        mape = float(np.mean(np.abs(y / x - 1.0)))
        ax.set_title(f"{metric}: MAPE {mape:.1%}", fontsize=9)
        ax.set_xlabel(f"measured ({METRICS[metric]})", fontsize=8)
        ax.set_ylabel(f"predicted ({METRICS[metric]})", fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(f"{res.engine} against {res.source}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

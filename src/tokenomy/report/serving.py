"""Output of ``tokenomy validate --serving``: the JSON rows and summary (glossary names), the summary table
(per source x chip x metric) and the predicted-versus-measured plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..serving_check import ServingValidation
from ..spec.serving import METRICS
from ..validate import compared

# the serving files' metric names -> the glossary's (the rest are already glossary names)
METRIC_NAMES = {"output_tok_s_per_gpu": "tokens_per_s_per_chip", "tok_s_per_user": "tokens_per_s_per_user",
                "power_w_per_gpu": "power_w_per_chip", "j_per_token": "j_per_token_chip"}
UNITS = {"tokens/s": "tokens/s", "s": "s", "W": "W", "J": "J/token"}     # METRICS' units -> validate.VALUE_KEYS


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def serving_rows(res: ServingValidation) -> list[dict[str, Any]]:
    """One flat row per predicted (data row, metric): file_row, data_source, hardware, the comparison."""
    return [{"file_row": c.file_row, "data_source": c.source, "hardware": c.chip,
             **compared(metric_name(c.metric), UNITS[METRICS[c.metric]], c.measured, c.predicted)}
            for c in res.checks if c.predicted is not None]


def serving_summary(res: ServingValidation) -> dict[str, Any]:
    """Groups (per source x chip x metric: checks, median ratio, MAPE, p90 |error|) and the rows skipped."""
    s = res.summary()
    groups = [{"data_source": g["source"], "hardware": g["chip"], "metric": metric_name(g["metric"]),
               "checks": g["count"], "median_ratio": g["median_ratio"], "mape_frac": g["mape"],
               "p90_abs_error_frac": g["p90_abs_error"]} for g in s["groups"]]
    return {"file": s["file"], "data_source": s["source"], "engine": s["engine"], "data_rows": s["data_rows"],
            "rows_predicted": s["rows_predicted"], "rows_skipped": s["rows_skipped"],
            "skipped": [{"reason": why, "data_rows": n} for why, n in s["skipped_by_reason"].items()],
            "groups": groups, "wall_s": s["seconds"]}


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

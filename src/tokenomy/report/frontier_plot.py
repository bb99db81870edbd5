"""Frontier charts from a ``FrontierResult``: one curve per chip, no new math.

Three panels against tokens/s/user (log x): tokens/s per chip, $/Mtok (log) and J/token (log),
each drawn from that chip's own Pareto points (``on_frontier``, ``on_frontier_usd``,
``on_frontier_j``). PNG uses matplotlib (Agg), HTML a self-contained Plotly page; both are
imported only when a chart is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import render_plot

PANELS = (("tokens_per_s_per_chip", "on_frontier", "output tokens/s per chip", False),
          ("usd_per_mtok", "on_frontier_usd", "$ per million output tokens", True),
          ("j_per_token", "on_frontier_j", "J per output token", True))


def _curves(res):
    """{panel y key: [(chip, x, y, labels)]}, each curve sorted by tokens/s/user."""
    c = res.columns
    out = {}
    for ykey, flag, _, _ in PANELS:
        curves = []
        for hw, sel in res.per_chip(flag, order_by="tokens_per_s_per_user"):
            sel = sel[np.isfinite(c[ykey][sel])]
            if sel.size == 0:
                continue
            labels = [f"{hw} x{c['chips'][i]} tp{c['tp'][i]} pp{c['pp'][i]} ep{c['ep'][i]} {c['precision'][i]} "
                      f"batch {c['batch'][i]}" for i in sel]
            curves.append((hw, c["tokens_per_s_per_user"][sel], c[ykey][sel], labels))
        out[ykey] = curves
    return out


def write_frontier_plot(res, path: str | Path) -> Path:
    """Render the chart to ``path`` (.png or .html) and return it. This writes in place: callers that
    must not overwrite go through ``report.files.write_files`` (the CLI does)."""
    return render_plot(path, lambda p: _plotly(res, p), lambda p: _matplotlib(res, p))


def _title(res) -> str:
    return f"{res.model}: isl {res.isl:g}, osl {res.osl:g}"


def _matplotlib(res, p: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _curves(res)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    colors = {hw: plt.cm.tab10(i % 10) for i, hw in enumerate(res.hardware)}
    for ax, (ykey, _, ylabel, logy) in zip(axes, PANELS, strict=True):
        for hw, x, y, _ in curves[ykey]:
            ax.plot(x, y, marker="o", ms=3, lw=1.5, label=hw, color=colors[hw])
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("tokens/s per user")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(_title(res))
    fig.tight_layout()
    fig.savefig(p, dpi=120)
    plt.close(fig)


def _plotly(res, p: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    curves = _curves(res)
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, _, t, _ in PANELS])
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    colors = {hw: palette[i % len(palette)] for i, hw in enumerate(res.hardware)}
    for col, (ykey, _, ylabel, logy) in enumerate(PANELS, 1):
        for hw, x, y, labels in curves[ykey]:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=hw, legendgroup=hw, showlegend=col == 1,
                                     line={"color": colors[hw]}, text=labels,
                                     hovertemplate="%{text}<br>%{x:.1f} tok/s/user<br>%{y:.4g}<extra></extra>"),
                          row=1, col=col)
        fig.update_xaxes(type="log", title_text="tokens/s per user", row=1, col=col)
        fig.update_yaxes(type="log" if logy else "linear", title_text=ylabel, row=1, col=col)
    fig.update_layout(title=_title(res), height=520, width=1600)
    fig.write_html(str(p), include_plotlyjs=True, full_html=True)

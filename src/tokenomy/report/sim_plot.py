"""Charts of one simulation (``tokenomy simulate --plot``): no new math, only the result's tables.

Top row: the empirical CDFs of TTFT, TPOT and E2E over the finished requests (log x). Bottom row:
queued requests, running batch and KV-cache occupancy over time, one line per replica (the first
``MAX_REPLICA_LINES``). PNG uses matplotlib (Agg), HTML a self-contained Plotly page; both are
imported only when a chart is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import render_plot

CDF_PANELS = (("ttft_s", "TTFT (s)"), ("tpot_s", "TPOT (s)"), ("e2e_s", "E2E latency (s)"))
TIME_PANELS = (("queued", "queued requests"), ("batch", "running batch (sequences)"), ("kv_frac", "KV cache used"))
MAX_REPLICA_LINES = 8      # more lines than this are unreadable; the rest are left out (named in the title)
MAX_POINTS = 4000          # points per line: a long run is thinned evenly so the HTML stays small


def _cdf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted finite positive samples and their cumulative fraction (thinned to MAX_POINTS)."""
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    y = np.arange(1, x.size + 1) / max(x.size, 1)
    keep = _thin(x.size)
    return x[keep], y[keep]


def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).astype(int)) if n > MAX_POINTS else np.arange(n)


def _series(sim):
    """{column: [(replica, t_s, values)]} for the time panels."""
    tl = sim.timeline
    out: dict[str, list] = {k: [] for k, _ in TIME_PANELS}
    for r in sorted(tl["replica"].unique())[:MAX_REPLICA_LINES] if len(tl) else []:
        part = tl[tl["replica"] == r]
        keep = _thin(len(part))
        t = part["t_s"].to_numpy()[keep]
        for k, _ in TIME_PANELS:
            out[k].append((r if isinstance(r, str) else int(r), t, part[k].to_numpy()[keep]))  # P0, D0: disagg pools
    return out


def _title(sim) -> str:
    more = f" (first {MAX_REPLICA_LINES} of {sim.replicas} replicas shown)" if sim.replicas > MAX_REPLICA_LINES else ""
    return f"{sim.deployment}<br>{sim.workload}{more}"


def write_sim_plot(sim, path: str | Path) -> Path:
    """Render the chart of ``sim`` (a ``Simulation``) to ``path`` (.png or .html). Writes in place: callers
    that must not overwrite go through ``report.files.write_files`` (the CLI does)."""
    return render_plot(path, lambda p: _plotly(sim, p), lambda p: _matplotlib(sim, p))


def _matplotlib(sim, p: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(17, 9))
    for ax, (k, label) in zip(axes[0], CDF_PANELS, strict=True):
        x, y = _cdf(sim.requests[k].to_numpy(dtype=float))
        ax.step(x, y, where="post")
        if x.size:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("fraction of requests")
        ax.grid(True, which="both", alpha=0.3)
    series = _series(sim)
    for ax, (k, label) in zip(axes[1], TIME_PANELS, strict=True):
        for r, t, v in series[k]:
            ax.plot(t, v, lw=1, label=f"replica {r}")
        ax.set_xlabel("time (s)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    if len(series["queued"]) > 1:
        axes[1][0].legend(fontsize=8)
    fig.suptitle(_title(sim).replace("<br>", "\n"), fontsize=10)
    fig.tight_layout()
    fig.savefig(p, dpi=110)
    plt.close(fig)


def _plotly(sim, p: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = [f"CDF of {label}" for _, label in CDF_PANELS] + [label for _, label in TIME_PANELS]
    fig = make_subplots(rows=2, cols=3, subplot_titles=titles)
    for col, (k, label) in enumerate(CDF_PANELS, 1):
        x, y = _cdf(sim.requests[k].to_numpy(dtype=float))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"shape": "hv"}, name=label, showlegend=False),
                      row=1, col=col)
        fig.update_xaxes(type="log", title_text=label, row=1, col=col)
        fig.update_yaxes(title_text="fraction of requests", range=[0, 1], row=1, col=col)
    series = _series(sim)
    for col, (k, label) in enumerate(TIME_PANELS, 1):
        for r, t, v in series[k]:
            fig.add_trace(go.Scatter(x=t, y=v, mode="lines", name=f"replica {r}", legendgroup=str(r),
                                     showlegend=col == 1), row=2, col=col)
        fig.update_xaxes(title_text="time (s)", row=2, col=col)
        fig.update_yaxes(title_text=label, row=2, col=col)
    fig.update_layout(title={"text": _title(sim), "font": {"size": 12}}, height=850, width=1600)
    fig.write_html(str(p), include_plotlyjs=True, full_html=True)

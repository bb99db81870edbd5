"""Frontier charts from a ``FrontierResult``: one curve per chip, no new math.

Three panels against tokens/s/user (log x): tokens/s per chip, $/Mtok (log) and J/token (log),
each drawn from that chip's own Pareto points (``on_frontier``, ``on_frontier_cost``,
``on_frontier_energy``). PNG uses matplotlib (Agg), HTML a self-contained Plotly page; both are
imported only when a chart is asked for.

Disaggregated pairs (``sweep(..., disagg=True)``, kind "disagg") are drawn dashed, in their decode chip's
colour with a marker per prefill chip, named "P prefill + D decode", from their own Pareto points in the same
panels. Four chips make 16 pairs, too many to read, so only these pairs are drawn (``pairs_shown``):
    - every pair with a point on a global frontier (all chips and pairs, SLO met) of any panel, and
    - per decode chip, its cheapest pair (lowest $/Mtok over the SLO points; lowest J/token when unpriced),
so each decode chip keeps its best split in view even where single chips win. The title says how many of the
pairs are drawn. In the HTML a pair point's hover shows both pools (chip, fleet-average chips), the pool ratio
(prefill chips per decode chip), TTFT and the KV transfer time. Without pairs the chart is the single-chip one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.pareto import pareto_mask
from .files import render_plot

PANELS = (("tokens_per_s_per_chip", "on_frontier", "output tokens/s per chip", False),
          ("usd_per_mtok_all_in", "on_frontier_cost", "$ per million output tokens", True),
          ("j_per_token_chip", "on_frontier_energy", "J per output token", True))
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
# one marker per prefill chip (index in res.hardware, cycled): Plotly symbol names, matplotlib marker codes
PLOTLY_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "pentagon")
MPL_MARKERS = ("o", "s", "D", "^", "x", "P", "*", "p")


def pairs_shown(res) -> list[str]:
    """The disaggregated pairs the chart draws (module docstring), in ``res.pairs`` order."""
    c = res.columns
    is_pair = c["kind"] == "disagg"
    if not res.pairs or not is_pair.any():
        return []
    x = np.where(c["meets_slo"], c["tokens_per_s_per_user"], np.nan)
    on_global = (c["on_global_frontier_cost"] | c["on_global_frontier_energy"] |
                 pareto_mask(x, c["tokens_per_s_per_chip"], (True, True)))
    keep = set(c["hardware"][is_pair & on_global].tolist())
    ok = is_pair & c["meets_slo"]
    for d in dict.fromkeys(c["decode_hardware"][ok].tolist()):
        sel = np.flatnonzero(ok & (c["decode_hardware"] == d))
        for key in ("usd_per_mtok_all_in", "j_per_token_chip"):
            v = c[key][sel].astype(float)
            if np.isfinite(v).any():
                keep.add(str(c["hardware"][sel[np.nanargmin(np.where(np.isfinite(v), v, np.nan))]]))
                break
    return [p for p in res.pairs if p in keep]


def _pair_name(c, i) -> str:
    return f"{c['prefill_hardware'][i]} prefill + {c['decode_hardware'][i]} decode"


def _pair_label(c, i) -> str:
    """Hover text of a disaggregated point: both pools, their ratio, the decode deployment, TTFT, KV transfer."""
    pc, dc = float(c["prefill_chips"][i]), float(c["decode_chips"][i])
    return (f"{_pair_name(c, i)}<br>pools: {pc:.3g} {c['prefill_hardware'][i]} prefill chips + {dc:.0f} "
            f"{c['decode_hardware'][i]} decode chips (pool ratio {pc / dc:.3g} prefill chips per decode chip)<br>"
            f"decode tp{c['tp'][i]} pp{c['pp'][i]} ep{c['ep'][i]} {c['precision'][i]} batch {c['batch'][i]}; "
            f"{c['deployment'][i]}<br>TTFT {c['ttft_s'][i]:.3g} s, KV transfer {c['kv_transfer_s'][i] * 1e3:.3g} ms")


def _curves(res):
    """{panel y key: [(group, x, y, labels)]}, each curve sorted by tokens/s/user: the chips, then the pairs
    drawn (``pairs_shown``)."""
    c = res.columns
    shown = set(pairs_shown(res))
    out = {}
    for ykey, flag, _, _ in PANELS:
        curves = []
        for hw, sel in res.per_chip(flag, order_by="tokens_per_s_per_user", pairs=bool(shown)):
            if hw in res.pairs and hw not in shown:
                continue
            sel = sel[np.isfinite(c[ykey][sel])]
            if sel.size == 0:
                continue
            if hw in shown:
                labels = [_pair_label(c, i) for i in sel]
            else:
                labels = [f"{hw} x{c['chips'][i]:g} tp{c['tp'][i]} pp{c['pp'][i]} ep{c['ep'][i]} {c['precision'][i]} "
                          f"batch {c['batch'][i]}" for i in sel]
            curves.append((hw, c["tokens_per_s_per_user"][sel], c[ykey][sel], labels))
        out[ykey] = curves
    return out


def _style(res, group: str, markers) -> dict:
    """Line colour, name, dash and marker of a curve: a chip solid; a pair dashed in its decode chip's colour,
    with its prefill chip's marker."""
    idx = {hw: i for i, hw in enumerate(res.hardware)}
    if group in idx:
        return {"color": PALETTE[idx[group] % len(PALETTE)], "name": group, "dashed": False, "marker": markers[0]}
    p, d = group.split("+")
    return {"color": PALETTE[idx[d] % len(PALETTE)], "name": f"{p} prefill + {d} decode", "dashed": True,
            "marker": markers[idx[p] % len(markers)]}


def write_frontier_plot(res, path: str | Path) -> Path:
    """Render the chart to ``path`` (.png or .html) and return it. This writes in place: callers that
    must not overwrite go through ``report.files.write_files`` (the CLI does)."""
    return render_plot(path, lambda p: _plotly(res, p), lambda p: _matplotlib(res, p))


def _title(res) -> str:
    title = f"{res.model}: isl {res.isl:g}, osl {res.osl:g}"
    shown = pairs_shown(res)
    if shown:
        title += (f"; dashed: {len(shown)} of {len(res.pairs)} disaggregated pairs (on a global frontier, "
                  "or the cheapest per decode chip)")
    return title


def _matplotlib(res, p: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _curves(res)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    for ax, (ykey, _, ylabel, logy) in zip(axes, PANELS, strict=True):
        for hw, x, y, _ in curves[ykey]:
            s = _style(res, hw, MPL_MARKERS)
            ax.plot(x, y, marker=s["marker"], ms=3, lw=1.5, label=s["name"], color=s["color"],
                    ls="--" if s["dashed"] else "-")
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
    for col, (ykey, _, ylabel, logy) in enumerate(PANELS, 1):
        for hw, x, y, labels in curves[ykey]:
            s = _style(res, hw, PLOTLY_SYMBOLS)
            extra = {"marker": {"symbol": s["marker"]}} if s["dashed"] else {}
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=s["name"], legendgroup=hw,
                                     showlegend=col == 1,
                                     line={"color": s["color"], **({"dash": "dash"} if s["dashed"] else {})},
                                     text=labels, **extra,
                                     hovertemplate="%{text}<br>%{x:.1f} tok/s/user<br>%{y:.4g}<extra></extra>"),
                          row=1, col=col)
        fig.update_xaxes(type="log", title_text="tokens/s per user", row=1, col=col)
        fig.update_yaxes(type="log" if logy else "linear", title_text=ylabel, row=1, col=col)
    fig.update_layout(title=_title(res), height=520, width=1600)
    fig.write_html(str(p), include_plotlyjs=True, full_html=True)

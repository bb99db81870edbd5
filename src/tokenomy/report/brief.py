"""``tokenomy brief``: run the analyses that apply to a model on a chip list, turn each into findings
(report/brief_findings.py), rank them by how much they change a decision, and render them as rows of the
envelope, Markdown or one self-contained HTML file.

``analyse(inputs)`` is the only function that computes (public API calls: one frontier sweep, the same at each
electricity price of the sensitivity range and with the chips free, one factory, three invest runs, one
break-even); the renderers only format what it returns.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from . import brief_findings as F

ROW_KEYS = ("rank", "finding_kind", "score", "headline", "why", "reproduce_command", "sensitivity")
NOTHING = "No finding applies to this chip list and these speeds: nothing to compare (give two chips or more)."


def analyse(inp: F.Inputs) -> list[F.Finding]:
    """Every finding that applies to ``inp`` (unranked)."""
    from .. import economics as E
    from ..frontier import sweep

    def run(**extra: Any):
        return sweep(inp.model, list(inp.hardware), inp.isl, inp.osl, scenario=inp.scenario,
                     exact_speeds=inp.speeds, **{**inp.overrides, **extra})   # each speed's exact batch, as
        # the reproduce command (frontier --tokens-per-s-per-user S) finds it

    base = run()
    sens = {e: run(electricity_usd_per_kwh=e) for e in F.ELECTRICITY_RANGE_USD_PER_KWH}
    found = [*F.cheapest_chip(inp, base, sens), *F.lowest_energy(inp, base), *F.speed_premium(inp, base, sens),
             *F.sram_crossover(inp, base, sens)]
    lo = min(inp.speeds)
    costs = F.best_at_speed(base, lo)
    if len(costs) < 2:
        return found
    sc = E.get_scenario(inp.scenario, **inp.overrides)
    # each chip on the deployment the frontier finds cheapest at this speed: the factory then skips its own
    # deployment search (0.5 s a chip), and the reproduce command carries the same --tp / --pp / --ep
    dep = F.best_deployment(base, lo)
    chips = list(dep)
    lists = {k: [dep[h][k] for h in chips] for k in ("tp", "pp", "ep")}
    fac = E.factory(inp.power_mw, inp.model, chips, lo, inp.isl, inp.osl, scenario=inp.scenario, tp=lists["tp"],
                    pp=lists["pp"], ep=lists["ep"], **inp.overrides)
    found += F.factory_ranking(inp, fac, lo, sc.token_price_usd_per_mtok,
                               {k: ",".join(map(str, v)) for k, v in lists.items()})
    best = fac.summary()["best_margin"] or min(costs, key=costs.__getitem__)
    row = next(r for r in fac.records() if r["hardware"] == best)
    found += _stranded(inp, E, best, lo, sc, row, dep[best])
    from ..economics.break_even import PER_CHIP_FIELDS

    # break_even_price refuses a per-chip scenario figure (it would price both chips): the finding then does not apply
    if sc.mode == "owned" and all(getattr(sc, k) is None for k in PER_CHIP_FIELDS):
        found += _free_chip(inp, E, run, costs, lo, sens)
    return found


def _stranded(inp: F.Inputs, E, chip: str, speed: float, sc, row: Mapping[str, Any],
              fixed: Mapping[str, int]) -> list[F.Finding]:
    """invest with the price falling at the scenario's rate, flat, and at half the rate, on the deployment the
    factory ran ``chip`` on (``fixed`` tp / pp / ep; ``row`` its factory row)."""
    if not row["feasible"]:
        return []

    def inv(**extra: Any):
        return E.invest(inp.model, chip, speed, inp.isl, inp.osl, power_mw=inp.power_mw, scenario=inp.scenario,
                        **fixed, **{**inp.overrides, **extra})

    rate = sc.token_price_decline_frac_per_year
    falling, flat, half = inv(), inv(token_price_decline_frac_per_year=0.0), inv(
        token_price_decline_frac_per_year=rate / 2)
    return F.stranded_capital(inp, chip, speed, falling, flat, half, fixed)


def _free_chip(inp: F.Inputs, E, run, costs: Mapping[str, float], speed: float,
               sens: Mapping[float, Any]) -> list[F.Finding]:
    """The chip whose free cost is furthest above the cheapest chip's priced cost, confirmed by break_even_price."""
    ref = min(costs, key=costs.__getitem__)
    free = F.best_at_speed(run(chip_price_usd=0.0), speed)
    over = {x: free[x] / costs[ref] for x in free if x != ref and free[x] > costs[ref]}
    if not over:
        return []
    x = max(over, key=over.__getitem__)
    ratios = {}
    for e, r in sens.items():
        priced = F.best_at_speed(r, speed)
        freed = F.best_at_speed(run(electricity_usd_per_kwh=e, chip_price_usd=0.0), speed)
        ratios[e] = freed[x] / priced[ref]
    from ..errors import InfeasibleError

    try:
        be = E.break_even_price(inp.model, x, ref, speed, inp.isl, inp.osl, scenario=inp.scenario,
                                **inp.overrides)
    except InfeasibleError:          # the economics operating point of X or the reference misses the speed
        return []
    return F.free_chip(inp, be, speed, ratios)


def rows(findings: Sequence[F.Finding]) -> list[dict[str, Any]]:
    """One flat envelope row per finding, ranked."""
    return [{"rank": i, "finding_kind": f.kind, "score": round(f.score, 4), "headline": f.headline, "why": f.why,
             "reproduce_command": f.command, "sensitivity": f.sensitivity} for i, f in enumerate(findings, 1)]


def _title(q: Mapping[str, Any]) -> str:
    return (f"tokenomy brief: {q['model']} on {q['hardware']}, isl {q['isl']}, osl {q['osl']}, speeds "
            f"{q['tokens_per_s_per_user_targets']} tok/s/user, {q['power_mw']:g} MW")


def _wrap(line: str, width: int = 70) -> str:
    """A shell line broken before flags with ``\\`` continuations, each piece within ``width`` where it can."""
    out, cur = [], ""
    for word in line.split(" "):
        if cur and word.startswith("--") and len(cur) + 1 + len(word) > width - 2:
            out.append(cur + " \\")
            cur = "  " + word
        else:
            cur = f"{cur} {word}" if cur else word
    return "\n".join([*out, cur])


def _md_chart(f: F.Finding) -> list[str]:
    if not f.chart:
        return []
    lines = [f"| | {f.chart_unit} |", "|---|---:|"]
    lines += [f"| {k} | {F.num(v)} |" for k, v in sorted(f.chart.items(), key=lambda kv: kv[1])]
    return ["", *lines]


def markdown(result: Mapping[str, Any], findings: Sequence[F.Finding]) -> str:
    """Numbered sections, one per finding: headline, why, sensitivity, the command, a small table."""
    out = [f"# {_title(result['query'])}", ""]
    if not findings:
        return "\n".join([*out, NOTHING, ""])
    for i, f in enumerate(findings, 1):
        out += [f"## {i}. {f.headline}", "", f"*Why:* {f.why}", "", f"*Sensitivity:* {f.sensitivity}", "",
                "*Reproduce:*", "", "```", *map(_wrap, f.command.split(" && ")), "```", *_md_chart(f), ""]
    return "\n".join(out)


def _svg(f: F.Finding) -> str:
    """A horizontal bar chart of ``f.chart`` (inline SVG, no external resources)."""
    if not f.chart:
        return ""
    items = sorted(f.chart.items(), key=lambda kv: kv[1])
    top = max(abs(v) for _, v in items) or 1.0
    bar_h, label_w, width = 22, 170, 560
    parts = [f'<svg width="{width}" height="{bar_h * len(items) + 8}" '
             f'role="img" aria-label="{html.escape(f.chart_unit)}">']
    for j, (k, v) in enumerate(items):
        w = (width - label_w - 90) * abs(v) / top
        y = 4 + j * bar_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{html.escape(k)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 8}" '
                     f'fill="{"#c0392b" if v < 0 else "#2e86c1"}"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="13">{html.escape(F.num(v))} '
                     f'{html.escape(f.chart_unit)}</text>')
    return "".join(parts) + "</svg>"


def html_page(result: Mapping[str, Any], findings: Sequence[F.Finding]) -> str:
    """One self-contained HTML file (inline style and SVG; nothing loaded from elsewhere)."""
    e = html.escape
    title = _title(result["query"])
    body = [f"<h1>{e(title)}</h1>"]
    if not findings:
        body.append(f"<p>{e(NOTHING)}</p>")
    for i, f in enumerate(findings, 1):
        body += [f"<section><h2>{i}. {e(f.headline)}</h2>", f"<p><b>Why:</b> {e(f.why)}</p>",
                 f"<p><b>Sensitivity:</b> {e(f.sensitivity)}</p>",
                 f"<pre>{e(chr(10).join(f.command.split(' && ')))}</pre>", _svg(f), "</section>"]
    for w in result.get("warnings", ()):
        body.append(f"<p><i>warning: {e(w)}</i></p>")
    style = ("body{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.4}"
             "pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap}h2{font-size:1.1em}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")

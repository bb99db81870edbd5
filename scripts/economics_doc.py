"""Write docs/economics.md: the economics formulas with worked examples computed by the code.

    python scripts/economics_doc.py             # rewrite docs/economics.md
tests/test_docs.py checks the file is current, so every number on the page is what the code says.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEAD = '''# Token economics

`tokenomy` turns a predicted operating point (tokens/s, watts, chips) into dollars and joules per token.
Formulas live in `src/tokenomy/core/economics.py`; the Python API in `tokenomy.economics`; the CLI
commands are `tokenomy cost | factory | breakeven | invest` (all take `--json`, `--csv FILE`, `--parquet FILE`;
the JSON is `{command, query, rows, summary, warnings}`, every key defined in docs/metrics.md). Every number on this
page is computed by `python scripts/economics_doc.py` (a test checks the page is current).

## Inputs: the scenario

Every input has a default with its source in `src/tokenomy/catalog/economics/defaults.yaml`
("estimate:" marks the three without a citable figure: cost of capital (8%, range 6-15%), facility
life and the 3:1 input:output blend). Per chip, the hardware catalog gives the price, the rent, what the price buys (`form_factor`)
and the host power of its platform (`host_power_w`). Override any of them:

- on the command line: one flag per field, e.g. `--pue 1.1 --electricity-usd-per-kwh 0.05 --mode rented`;
- in a file: `--scenario my.yaml` or `my.toml`, any subset of fields, plain values or `{value, source}`;
- in Python: `E.chip_hour_cost("h100-sxm", "my.toml", pue=1.1)`.

Bad input exits 2 naming the field and the allowed range, e.g.
`error: overrides: pue must be a number in [1, 3], got 0.9.`

## 1. A chip-hour

    capex $/h    = price x s x n x CRF(r, depreciation_years) / 8760,  CRF = r(1+r)^n / ((1+r)^n - 1)
                   hgx-server, pcie-server: s = server_multiplier (1.4), n = network_multiplier (1.07)
                   rack-share (GB200/GB300 NVL72 share: Grace, NVSwitch, rack included), wafer-system (CS-3): s = 1
    facility $/h = facility_usd_per_mw x (chip W + host W) / 1e6 x CRF(r, facility_life_years) / 8760
    energy $/h   = (chip W + host W) x PUE / 1000 x electricity_usd_per_kwh
    ops $/h      = ops_frac / (1 - ops_frac) x (capex + facility + energy)
    usd_per_chip_calendar_hour = capex + facility + energy + ops    per CALENDAR hour (what a TCO survey quotes)
    usd_per_chip_hour          = calendar / utilization_frac        per BUSY hour (what the tokens must pay)

Host W is the catalog's `host_power_w` of the chip's platform: all-in kW per GPU minus TDP for the
8-GPU servers and NVL72 racks (640-720 W, SemiAnalysis InferenceX TCO constants), far less per chip
on 4-12-chip TPU, Inferentia, Trainium and Groq hosts; `--host-power-w-per-chip` overrides it.
'''

OP_TEXT = '''
## 2. Per token, at an operating point

`E.operating_point(model, hardware, tokens_per_s_per_user, isl, osl, ...)` predicts decode at every batch
1..4096 in one vectorized call (context = isl + osl/2) and the prefill of one request, runs them through
the steady-state serving model of `core/serving.py` with the same inputs as `tokenomy frontier` (the
per-user speed includes the prefills interleaved with decode steps), keeps the batches that fit and reach
the per-user speed, and takes the one with the highest output throughput (speed 0 = the highest-throughput
point). The point is frontier's point at that deployment and batch: every key they share has the same value
(a test checks it). A replica's chips are priced at `usd_per_chip_hour` (per busy hour, at the chip's power
limit, as frontier prices them); f_p is the share of replica time spent prefilling:

    tokens_per_s         = output tokens/s of the replica, prefill time included = (1 - f_p) x decode_tokens_per_s
    usd_per_mtok_all_in  = chips x usd_per_chip_hour / (3600 x tokens_per_s) x 1e6      (per output token)
    usd_per_mtok_output  = all_in x (1 - f_p);   usd_per_mtok_input = chips x $/h x f_p / input tokens/s
    usd_per_mtok_blended = chips x $/h / (input + output tokens/s)                     (at the row's isl/osl)
    power_w              = (1 - f_p) x decode_power_w + f_p x prefill_power_w         (chips, time-weighted)
    j_per_token_chip     = power_w / tokens_per_s;   tokens_per_s_per_mw_chip = tokens_per_s / power_w x 1e6
    j_per_token_facility = (power_w + chips x host W) x PUE / tokens_per_s;   tokens_per_s_per_mw_facility = 1e6 / that

### Example: Llama-3.1-70B on H100, interactive vs bulk

Llama-3.1-70B at isl = osl = 1024 on H100 SXM, fp8, default scenario:

```python
from tokenomy import economics as E
fast = E.operating_point("llama-3.1-70b", "h100-sxm", 100, precision="fp8", tp=8)
bulk = E.operating_point("llama-3.1-70b", "h100-sxm", 0, precision="fp8", tp=4)
```
'''


SURVEY_TEXT = '''
### Against a published TCO survey

`tests/data/tco_survey_2026_07.csv` holds the SemiAnalysis InferenceX TCO constants of July 2026 (all-in
$/GPU-hour at hyperscaler, neocloud and retail tiers). The owned cost per calendar hour must stay within
25% of both the hyperscaler and neocloud tiers for every chip the survey covers (a test checks it), and the
catalog rent of those chips is the survey's retail tier. Hopper and the AMD parts without a published
price carry 2026 price estimates (marked in the catalog), so their rows are not an independent check;
GB200 ($3.4M per NVL72 rack, Bernstein), B200 ($30-40k, CNBC) and MI300X ($10-15k) are priced from
public figures.

'''


def _survey_table(E) -> list[str]:
    import csv

    path = ROOT / "tests/data/tco_survey_2026_07.csv"
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    ids = {"h100": "h100-sxm", "h200": "h200-sxm"}
    out = ["| chip | owned ($/h, calendar) | hyperscaler | neocloud | owned / hyperscaler | owned / neocloud | "
           "rent (retail tier) |", "|---" * 7 + "|"]
    for r in csv.DictReader(lines):
        hw = ids.get(r["gpu"], r["gpu"])
        if r["gpu"] == "rtx6000pro":
            continue
        c = E.chip_hour_cost(hw)
        hy, ne = float(r["usd_per_gpu_hr_hyperscaler"]), float(r["usd_per_gpu_hr_neocloud"])
        rent = E.chip_hour_cost(hw, mode="rented").usd_per_chip_calendar_hour
        cal = c.usd_per_chip_calendar_hour
        out.append(f"| {hw} | {cal:.2f} | {hy:.2f} | {ne:.2f} | {cal / hy:.2f} | {cal / ne:.2f} | {rent:.2f} |")
    return out


def _fmt(x, digits=4):
    return f"{x:,.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"


def render() -> str:
    from tokenomy import economics as E

    out = [HEAD]
    costs = [E.chip_hour_cost(h) for h in ("h100-sxm", "b200", "gb200", "mi300x")]
    h = costs[0]
    out.append(f"\nWorked example: an H100 at ${h.chip_price_usd:,.0f} costs "
               f"${h.capex_usd_per_chip_hour:.2f} + ${h.facility_usd_per_chip_hour:.2f} + "
               f"${h.energy_usd_per_chip_hour:.2f} + ${h.ops_usd_per_chip_hour:.2f} = "
               f"**${h.usd_per_chip_calendar_hour:.2f} per calendar hour** (per chip), **${h.usd_per_chip_hour:.2f} "
               f"per busy hour** at {E.get_scenario().utilization_frac:.0%} utilization "
               "(`tokenomy cost --hardware h100-sxm,b200,gb200,mi300x`):\n")
    keys = ("capex_usd_per_chip_hour", "facility_usd_per_chip_hour", "energy_usd_per_chip_hour",
            "ops_usd_per_chip_hour", "usd_per_chip_calendar_hour", "usd_per_chip_hour")
    out.append("| chip | capex ($/h) | facility ($/h) | energy ($/h) | ops ($/h) | calendar ($/h) | busy ($/h) |")
    out.append("|---" * (len(keys) + 1) + "|")
    for c in costs:
        out.append(f"| {c.hardware} | " + " | ".join(f"{getattr(c, k):.3f}" for k in keys) + " |")
    out.append(SURVEY_TEXT)
    out.extend(_survey_table(E))
    out.append(OP_TEXT)
    pts = [("100 tok/s/user", E.operating_point("llama-3.1-70b", "h100-sxm", 100, precision="fp8", tp=8)),
           ("highest throughput", E.operating_point("llama-3.1-70b", "h100-sxm", 0, precision="fp8", tp=8)),
           ("highest throughput", E.operating_point("llama-3.1-70b", "h100-sxm", 0, precision="fp8", tp=4))]
    out.append("| point | tp | batch | tok/s/user | tokens_per_s (replica) | $/Mtok output | $/Mtok input | "
               "$/Mtok all-in | J/token (chips) | J/token (facility) |")
    out.append("|---" * 10 + "|")
    for name, o in pts:
        out.append(f"| {name} | {o.tp} | {o.batch} | {o.tokens_per_s_per_user:.1f} | {o.tokens_per_s:,.0f} | "
                   f"{o.usd_per_mtok_output:.3f} | {o.usd_per_mtok_input:.3f} | {o.usd_per_mtok_all_in:.3f} | "
                   f"{o.j_per_token_chip:.3f} | {o.j_per_token_facility:.3f} |")
    fast, b8, b4 = (o for _, o in pts)
    bf16 = E.operating_point("llama-3.1-70b", "h100-sxm", 100, precision="bf16", tp=8)
    out.append(f"\nOutput tokens at 100 tokens/s/user cost **{fast.usd_per_mtok_output / b4.usd_per_mtok_output:.1f}x** "
               f"the highest-throughput point ({fast.usd_per_mtok_output / b8.usd_per_mtok_output:.1f}x at the same "
               f"tp=8; {fast.usd_per_mtok_all_in / b4.usd_per_mtok_all_in:.1f}x all-in): the throughput-interactivity "
               f"trade-off in money. In bf16, tp=8 cannot reach 100 tokens/s/user: `feasible={bf16.feasible}`, "
               f"reason: \"{bf16.reason}\".\n")

    out.append("## 3. The AI factory\n")
    out.append("`tokenomy factory --power-mw 100 --model llama-3.1-70b --hardware h100-sxm,b200 "
               "--tokens-per-s-per-user 100 --tp 8 --precision fp8`\n")
    out.append("The fleet is sized to the power budget at each chip's power limit plus host power, times PUE. "
               "Tokens are output tokens with prefill time included; revenue at the scenario's token price "
               "and utilization.\n")
    f = E.factory(100, "llama-3.1-70b", ["h100-sxm", "b200"], 100, precision="fp8", tp=8)
    out.append("| chip | fleet chips | batch | Mtok/s per MW provisioned | Ttok/yr | capex ($M) | cost ($M/yr) | "
               "revenue ($M/yr) | margin ($M/yr) | $/Mtok all-in | chip price ($) |")
    out.append("|---" * 11 + "|")
    for r in f.rows:
        out.append(f"| {r.hardware} | {r.fleet_chips:,} | {r.point.batch} | {r.tokens_per_s_per_mw_provisioned / 1e6:.2f} | "
                   f"{r.tokens_per_year / 1e12:,.0f} | {r.fleet_capex_usd / 1e6:,.0f} | {r.cost_usd_per_year / 1e6:,.0f} | "
                   f"{r.revenue_usd_per_year / 1e6:,.0f} | {r.margin_usd_per_year / 1e6:,.0f} | "
                   f"{r.point.usd_per_mtok_all_in:.3f} | {r.chip_price_usd:,.0f} |")
    h1, b2 = f.rows
    out.append(f"\nThe B200 costs ${b2.chip_price_usd - h1.chip_price_usd:,.0f} more per chip, makes "
               f"{b2.tokens_per_s_per_mw_provisioned / h1.tokens_per_s_per_mw_provisioned:.1f}x the tokens per megawatt, and in a "
               f"power-limited factory earns {b2.margin_usd_per_year / h1.margin_usd_per_year:.1f}x the margin "
               f"(largest margin: {f.best_margin}).\n")

    out.append("## 4. The free chip\n")
    out.append("The break-even price of chip X against chip Y at a required per-user speed is the price at which "
               "X's all-in $/Mtok equals Y's. X's replica cost per hour is linear in its price p, "
               "`slope x p + intercept`, so `p = (Y's $/Mtok x X tokens/s x 3600e-6 x utilization - intercept) / slope`.\n")
    out.append("`tokenomy breakeven --model llama-3.1-70b --hardware a100-sxm --versus b200 "
               "--tokens-per-s-per-user 50 --tp 8 --tp-versus 8 --precision-versus fp4`\n")
    be = [E.break_even_price("llama-3.1-70b", "a100-sxm", "b200", 50, tp_x=8, tp_y=8, precision_y="fp4"),
          E.break_even_price("llama-3.1-70b", "a100-sxm", "b200", 50, tp_x=8, tp_y=8, precision_y="fp8"),
          E.break_even_price("llama-3.1-70b", "h100-sxm", "b200", 100, tp_x=8, tp_y=8, precision="fp8")]
    out.append("| X | Y | Y precision | tok/s/user | Y $/Mtok | X $/Mtok (free) | X $/Mtok (list) | X list ($) | break-even ($) |")
    out.append("|---" * 9 + "|")
    for b, yp in zip(be, ("fp4", "fp8", "fp8")):
        lst = "-" if b.usd_per_mtok_all_in_x_list is None else f"{b.usd_per_mtok_all_in_x_list:.3f}"
        out.append(f"| {b.hardware_x} | {b.hardware_y} | {yp} | {b.tokens_per_s_per_user_required:g} | "
                   f"{b.usd_per_mtok_all_in_y:.3f} | {b.usd_per_mtok_all_in_x_free:.3f} | {lst} | {b.list_price_usd_x:,.0f} | **{b.break_even_price_usd:,.0f}** |")
    out.append("")
    for b in be:
        out.append(f"> {b.reason}\n")
    out.append("A negative price means even a free X costs more per token than Y; if X cannot reach the speed at "
               "all, there is no break-even price: the command exits 1 and says why.\n")

    out.append("## 5. Stranded capital and token inflation\n")
    out.append("`tokenomy invest --model llama-3.1-70b --hardware h100-sxm --tokens-per-s-per-user 100 --tp 8 "
               "--precision fp8 --power-mw 100 --tokens-multiplier 20`\n")
    out.append("Capex (IT only) is paid in year 0. Facility, energy and operations are paid each year. Revenue is "
               "the output tokens at the mean market price of each year; the price falls 90% a year "
               "(`token_price_decline_frac_per_year` 0.9, i.e. 10x cheaper a year), so the mean "
               "of year y is `p0 x 10^-(y-1) x 0.9 / ln 10`. Cash is discounted at `cost_of_capital_frac`.\n")
    inv = E.invest("llama-3.1-70b", "h100-sxm", 100, power_mw=100, tokens_multiplier=20, precision="fp8", tp=8)
    out.append("| year | price ($/Mtok) | cash flow ($M) | cumulative ($M) | price per answer ($) |")
    out.append("|---|---|---|---|---|")
    cum = 0.0
    for y, c in enumerate(inv.cash_flows_usd):
        cum += c
        p = "-" if y == 0 else f"{inv.price_usd_per_mtok_by_year[y - 1]:.4g}"
        pa = "-" if y == 0 else f"{inv.price_usd_per_answer_by_year[y - 1]:.4g}"
        out.append(f"| {y} | {p} | {c / 1e6:,.0f} | {cum / 1e6:,.0f} | {pa} |")
    flat = E.invest("llama-3.1-70b", "h100-sxm", 100, power_mw=100, tokens_multiplier=20, precision="fp8", tp=8,
                    token_price_decline_frac_per_year=0.0)
    pay = "never paid back" if inv.payback_years == float("inf") else f"paid back in {inv.payback_years:.2f} years"
    out.append(f"\nNPV ${inv.npv_usd / 1e6:,.0f}M; {pay}; ${inv.unrecovered_usd / 1e6:,.0f}M of capital unrecovered. "
               f"A 20x reasoning answer ({inv.tokens_per_answer:,.0f} tokens) costs ${inv.cost_usd_per_answer:.4f} "
               f"to serve. At a flat price (`--token-price-decline-frac-per-year 0`) the same fleet has an NPV of "
               f"${flat.npv_usd / 1e6:,.0f}M and pays back in {flat.payback_years:.2f} years.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    text = render()
    (ROOT / "docs/economics.md").write_text(text)
    sys.stdout.write(text)

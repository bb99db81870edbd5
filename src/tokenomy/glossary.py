"""The glossary: every key that a command's ``--json`` prints, with one meaning, one unit and a scope.

``GLOSSARY`` is the one definition table; ``docs/metrics.md`` is generated from it
(``python scripts/glossary_doc.py``) and ``tests/test_glossary.py`` fails on any output key of
``predict``, ``frontier``, ``simulate``, ``cost``, ``factory``, ``breakeven`` or ``invest`` that is
not here. Where a key means different things in different commands today, the entry says so and
carries a ``conflict`` note: those keys are what issue 13's rename will split (e.g.
``tokens_per_s_per_mw_chip`` / ``_facility``). Until then the table records what is, not what should be.

Scope says which object a number describes: ``step`` (one forward pass), ``replica`` (one copy of a
deployment: its tp x pp chips), ``fleet`` (every replica in a power budget or an investment),
``request``, ``chip``, ``pool`` (all replicas of a simulated run). Empty where it does not apply
(inputs, names, flags). No I/O here.
"""

from __future__ import annotations

from typing import NamedTuple

UNITS = frozenset({"1", "s", "years", "tokens", "tokens/s", "tokens/s/user", "tokens/s/MW", "tokens/year",
                   "requests", "requests/s", "chips", "J/token", "W", "MW", "bytes", "bytes/s", "FLOP",
                   "$", "$/h", "$/year", "$/Mtok", "$/MW", "$/kWh", "$/answer"})
SCOPES = frozenset({"", "step", "replica", "fleet", "request", "chip", "pool", "varies"})


class Term(NamedTuple):
    meaning: str        # one line
    unit: str           # one of UNITS; "1" for ratios, flags, counts of things without a unit, text and objects
    scope: str = ""     # one of SCOPES; "varies" only together with a conflict
    conflict: str = ""  # non-empty where the key means different things in different commands today


# Keys whose value maps data (chip ids, reason texts, cost labels) to values: their own keys are not names.
DATA_MAPS = frozenset({"dropped", "infeasible", "non_chip_usd_per_mtok"})

_T = Term
_CHIP_REPLICA = "per replica in predict/frontier/breakeven/invest.point; the whole fleet in factory rows and invest"
GLOSSARY: dict[str, Term] = {
    # what was asked: model, chip, deployment, inputs
    "model": _T("Model name as given (catalog name or config path).", "1"),
    "hardware": _T("Chip id from the hardware catalog (frontier disagg points: the decode chip's).", "1"),
    "hardware_x": _T("breakeven: chip X, whose price is solved for.", "1"),
    "hardware_y": _T("breakeven: reference chip Y.", "1"),
    "prefill_hardware": _T("Chip id of the prefill pool (the same chip when not disaggregated).", "1"),
    "decode_hardware": _T("Chip id of the decode pool (the same chip when not disaggregated).", "1"),
    "gpu": _T("frontier sram_crossovers: the GPU of the compared pair.", "1"),
    "sram": _T("frontier sram_crossovers: the SRAM-first system of the compared pair.", "1"),
    "engine": _T("Engine profile the step times come from.", "1"),
    "precision": _T("Precision of weights, activations and KV cache (e.g. bf16, fp8, w=..,a=..,kv=..).", "1"),
    "spec": _T("Speculative decoding method, or off.", "1"),
    "speculative": _T("predict: speculative decoding method, or off.", "1"),
    "phase": _T("prefill or decode.", "1"),
    "tp": _T("Tensor-parallel degree.", "1", "replica"),
    "pp": _T("Pipeline stages.", "1", "replica"),
    "ep": _T("Expert-parallel degree (MoE).", "1", "replica"),
    "dp_attention": _T("Attention data-parallel groups.", "1", "replica"),
    "chips": _T("Chips; " + _CHIP_REPLICA + ".", "chips", "varies",
                "chips per replica in most commands but fleet chips in factory rows and invest (top level)"),
    "chips_per_replica": _T("factory: chips of one replica (tp x pp).", "chips", "replica"),
    "prefill_chips": _T("frontier: chips of one prefill replica.", "chips", "replica"),
    "decode_chips": _T("frontier: chips of one decode replica.", "chips", "replica"),
    "replicas": _T("factory: replicas that fit in the power budget.", "1", "fleet"),
    "deployment": _T("Text describing the deployment (chips, stages, precision, disagg pools).", "1"),
    "weights_streamed": _T("predict: text saying which weights stream from off-chip memory (SRAM systems).", "1"),
    "kind": _T("Differs by place: frontier points: gpu, sram or disagg; sram_crossovers: above or below.", "1", "",
               "a point's system kind in frontier points, a crossover direction in frontier sram_crossovers"),
    "form_factor": _T("cost: what the chip price buys (e.g. hgx-server).", "1", "chip"),
    "mode": _T("Price mode: owned (capex) or rented ($/h).", "1"),
    "workload": _T("simulate: text describing the workload.", "1"),
    "source": _T("predict: where the step time comes from (measured, fitted, extrapolated).", "1"),
    "batch": _T("Sequences in flight at once (predict: in the step; frontier: batch x micro_batch).", "1", "replica"),
    "micro_batch": _T("frontier: sequences in one pipeline micro-batch.", "1", "replica"),
    "seq": _T("predict prefill: prompt tokens per sequence.", "tokens", "request"),
    "context": _T("predict decode: tokens already cached per sequence.", "tokens", "request"),
    "isl": _T("Input (prompt) tokens per request.", "tokens", "request"),
    "osl": _T("Output tokens per request.", "tokens", "request"),
    "input_per_output_tokens": _T("Input tokens per output token for the blended price (scenario).", "1"),
    "tokens_per_s_per_user_required": _T("Required decode speed of one user (the SLO asked).", "tokens/s/user",
                                         "request"),
    "power_mw": _T("Facility power budget (factory) or of the fleet (invest).", "MW", "fleet"),
    "tokens_per_answer": _T("invest: output tokens per answer, after token inflation.", "tokens", "request"),
    "years": _T("invest: years of the cash-flow horizon.", "years"),
    # per step (predict)
    "tokens_per_step": _T("predict: tokens each sequence gains per step (above 1 with speculative decoding).",
                          "tokens", "step"),
    "latency_s": _T("predict: time of one step; frontier prefill_deployments: prefill latency of a request "
                    "under load.", "s", "varies",
                    "one step's time in predict, a request's prefill latency in frontier prefill_deployments"),
    "latency_one_s": _T("frontier prefill_deployments: prefill latency of one request alone.", "s", "request"),
    "gemm_s": _T("predict: GEMM time of the step.", "s", "step"),
    "attention_s": _T("predict: attention time of the step.", "s", "step"),
    "elementwise_s": _T("predict: elementwise (norms, activations) time of the step.", "s", "step"),
    "comm_s": _T("predict: collective communication time of the step.", "s", "step"),
    "overhead_s": _T("predict: fixed per-step overhead (launch, scheduler).", "s", "step"),
    "flop_per_step": _T("predict: floating-point operations of the step, all chips.", "FLOP", "step"),
    "bytes_per_step": _T("predict: bytes moved from memory in the step, all chips.", "bytes", "step"),
    "bound": _T("predict: what limits the step (compute, memory, comm, overhead).", "1", "step"),
    "clock_frac": _T("predict: clock as a fraction of boost, from the power limit.", "1", "chip"),
    # memory
    "memory_bytes": _T("predict: memory used on each chip (weights + KV + activations).", "bytes", "chip",
                       "same quantity as frontier's memory_bytes_per_chip under another name"),
    "memory_bytes_per_chip": _T("frontier: memory used on each chip.", "bytes", "chip"),
    "memory_capacity_bytes": _T("predict: memory capacity of one chip.", "bytes", "chip"),
    "weight_bytes": _T("predict: weight bytes held by each chip.", "bytes", "chip"),
    "kv_cache_bytes": _T("predict: KV-cache bytes held by each chip.", "bytes", "chip"),
    "kv_bytes": _T("frontier prefill_deployments: KV-cache bytes of one request, handed to decode.", "bytes",
                   "request"),
    "memory_bytes_per_s_per_chip": _T("frontier: memory traffic of one chip during decode.", "bytes/s", "chip"),
    "memory_bandwidth_frac": _T("frontier: memory traffic as a fraction of the chip's bandwidth.", "1", "chip"),
    "fits": _T("predict: whether weights and KV fit in memory.", "1"),
    "fit_reason": _T("predict: why it does not fit (empty when it fits).", "1"),
    # speed
    "tokens_per_s": _T("Differs by command: predict: tokens of one step / its time (prefill: input tokens); "
                       "frontier points: replica output tokens/s incl. prefill share; prefill_deployments: input "
                       "tokens/s of a prefill replica; breakeven/invest point: decode-only replica; factory rows: "
                       "the fleet.", "tokens/s", "varies",
                       "step (predict), replica incl. prefill (frontier), decode-only replica (breakeven, invest), "
                       "fleet (factory)"),
    "tokens_per_s_per_chip": _T("frontier: replica output tokens/s divided by its chips.", "tokens/s", "chip"),
    "tokens_per_s_per_user": _T("Output speed one user sees (decode); breakeven/factory top level: the speed asked.",
                                "tokens/s/user", "request",
                                "predict prefill reports input tokens/s here (meaningless); at the top level of "
                                "breakeven and factory it is the required speed, elsewhere the achieved one"),
    "input_tokens_per_s": _T("Input (prompt) tokens/s processed.", "tokens/s", "varies",
                             "replica in frontier points, the whole simulated pool in simulate"),
    "output_tokens_per_s": _T("Output tokens/s: replica incl. prefill time (breakeven, invest), pool (simulate).",
                              "tokens/s", "varies", "replica in breakeven/invest points, the simulated pool in "
                              "simulate"),
    "prefill_tokens_per_s": _T("Input tokens/s of the replica while prefilling.", "tokens/s", "replica"),
    "tokens_per_year": _T("Output tokens a year at utilization.", "tokens/year", "fleet"),
    "ttft_s": _T("Time to first token (simulate: percentiles object).", "s", "request"),
    "tpot_s": _T("Time per output token after the first (simulate: percentiles object).", "s", "request"),
    "itl_s": _T("simulate: inter-token latency percentiles (token-weighted).", "s", "request"),
    "e2e_s": _T("simulate: end-to-end latency percentiles.", "s", "request"),
    "mean": _T("simulate: mean of a latency distribution.", "s", "request"),
    "p50": _T("simulate: median of a latency distribution.", "s", "request"),
    "p90": _T("simulate: 90th percentile of a latency distribution.", "s", "request"),
    "p99": _T("simulate: 99th percentile of a latency distribution.", "s", "request"),
    "prefill_time_frac": _T("frontier: share of replica time spent prefilling.", "1", "replica"),
    "kv_transfer_s": _T("frontier disagg: time to move one request's KV cache prefill -> decode.", "s", "request"),
    "kv_link_utilization": _T("frontier disagg: KV traffic over the link's capacity.", "1", "replica"),
    "requests": _T("frontier prefill_deployments: requests prefilled together; simulate: requests finished.",
                   "requests", "varies", "a prefill batch in frontier, the run's finished requests in simulate"),
    "requests_per_s": _T("simulate: finished requests per second.", "requests/s", "pool"),
    "goodput_requests_per_s": _T("simulate: finished requests per second that met the SLO.", "requests/s", "pool"),
    "slo_attainment": _T("simulate: share of requests that met the SLO.", "1", "pool"),
    "preemptions": _T("simulate: requests preempted (KV evicted) during the run.", "1", "pool"),
    "mean_batch": _T("simulate: time-averaged running batch of a replica.", "1", "replica"),
    "kv_peak_frac": _T("simulate: peak KV-cache use over capacity, largest replica.", "1", "replica"),
    "simulated_s": _T("simulate: simulated time span.", "s", "pool"),
    "wall_s": _T("simulate: wall-clock time the simulation took.", "s"),
    "meets_slo": _T("frontier: whether the point meets --min-tokens-per-s-per-user and --max-ttft-s.", "1"),
    "speed": _T("frontier sram_crossovers: per-user speed where the cheaper chip changes.", "tokens/s/user"),
    "a_fastest": _T("frontier sram_crossovers: fastest per-user speed the SRAM system reaches.", "tokens/s/user"),
    "b_fastest": _T("frontier sram_crossovers: fastest per-user speed the GPU reaches.", "tokens/s/user"),
    "windows": _T("frontier sram_crossovers: [from, to] per-user speed ranges where the SRAM system wins.",
                  "tokens/s/user"),
    "a_value": _T("frontier sram_crossovers: the SRAM system's metric just past the crossover "
                  "($/Mtok or J/token, per the parent key).", "1", "",
                  "unit is that of the parent key (usd_per_mtok or j_per_token)"),
    "b_value": _T("frontier sram_crossovers: the GPU's metric just past the crossover.", "1", "",
                  "unit is that of the parent key (usd_per_mtok or j_per_token)"),
    # power and energy
    "power_w": _T("Accelerator power: predict: the step's chips; frontier: replica, time-weighted; breakeven/"
                  "invest: decode replica; simulate: mean over the run, all replicas incl. idle.", "W", "varies",
                  "step, replica (time-weighted or decode-only) or simulated pool by command"),
    "power_w_per_chip": _T("predict: power of one chip in the step.", "W", "chip"),
    "prefill_power_w": _T("Accelerator power of the replica while prefilling.", "W", "replica"),
    "facility_power_w": _T("Facility power (chips + host, times PUE): predict per replica, cost per chip.", "W",
                           "varies", "replica in predict, one chip in cost.breakdown"),
    "it_power_w": _T("cost: chip + host power of one chip's share, before PUE.", "W", "chip"),
    "chip_power_w": _T("Chip power used for energy cost (scenario input; null = from the catalog).", "W", "chip"),
    "host_power_w": _T("cost: host (CPU, NIC, fans) power per chip from the catalog.", "W", "chip"),
    "host_power_w_per_chip": _T("Scenario: host power per chip override (null = from the catalog).", "W", "chip"),
    "provisioned_w_per_chip": _T("factory: chip power limit + host, times PUE (what the budget is sized by).",
                                 "W", "chip"),
    "energy_j_per_token": _T("predict: accelerator energy per token of the step.", "J/token", "step",
                             "same quantity as j_per_token elsewhere under another name"),
    "j_per_token": _T("Accelerator energy per output token: frontier incl. prefill share; breakeven/invest "
                      "decode only; simulate measured incl. idle.", "J/token", "varies",
                      "replica incl. prefill (frontier), decode step (breakeven, invest), pool incl. idle "
                      "(simulate)"),
    "j_per_token_facility": _T("Facility energy per token (host power and PUE included).", "J/token", "varies",
                               "one step in predict, the decode step in breakeven/invest"),
    "j_per_input_token": _T("frontier prefill_deployments: accelerator energy per input token.", "J/token",
                            "replica"),
    "tokens_per_s_per_mw": _T("Tokens/s per MW: the watts differ by command: frontier chip watts, predict and "
                              "breakeven/invest facility watts, factory provisioned watts of the budget.",
                              "tokens/s/MW", "varies",
                              "chip W (frontier), facility W (predict, breakeven, invest), provisioned W (factory)"),
    # dollars
    "usd_per_mtok": _T("$ per 10^6 tokens: predict: of the phase (input in prefill); frontier/factory/simulate: "
                       "all-in replica cost per output Mtok.", "$/Mtok", "varies",
                       "all-in cost per output token (frontier, factory, simulate) but phase tokens in predict; "
                       "labelled output while usd_per_mtok_output is the output share only"),
    "usd_per_mtok_output": _T("Cost per output Mtok of the decode share of replica time only.", "$/Mtok",
                              "replica"),
    "usd_per_mtok_input": _T("Cost per input Mtok of the prefill share of replica time.", "$/Mtok", "replica"),
    "usd_per_mtok_blended": _T("Replica cost per Mtok of input + output tokens.", "$/Mtok", "replica",
                               "frontier blends at isl/osl, breakeven/invest at input_per_output_tokens"),
    "usd_per_mtok_all_in": _T("breakeven/invest: replica cost per output Mtok (input paid by output).", "$/Mtok",
                              "replica", "same quantity as usd_per_mtok in frontier/factory under another name"),
    "usd_per_mtok_y": _T("breakeven: chip Y's all-in $/Mtok at the asked speed.", "$/Mtok", "replica"),
    "usd_per_mtok_x_free": _T("breakeven: chip X's $/Mtok if the chip were free (non-chip costs only).", "$/Mtok",
                              "replica"),
    "usd_per_mtok_x_list": _T("breakeven: chip X's $/Mtok at its list price.", "$/Mtok", "replica"),
    "non_chip_usd_per_mtok": _T("breakeven: chip X's non-chip $/Mtok by cost component (keys are labels with "
                                "spaces).", "$/Mtok", "replica", "keys are human labels with spaces, not names"),
    "usd_per_hour": _T("Replica cost per busy hour (total / utilization).", "$/h", "replica"),
    "usd_per_chip_hour": _T("frontier: one chip's cost per busy hour.", "$/h", "chip"),
    "usd_per_busy_hour": _T("cost: one chip's cost per busy hour (total / utilization).", "$/h", "chip"),
    "usd_per_calendar_hour": _T("cost: one chip's cost per calendar hour.", "$/h", "chip"),
    "total_usd_per_hour": _T("Cost per calendar hour: one chip in cost.breakdown, the replica in breakeven/invest.",
                             "$/h", "varies", "one chip in cost, a replica in breakeven/invest points"),
    "effective_usd_per_hour": _T("cost: one chip's cost per busy hour (same as usd_per_busy_hour).", "$/h", "chip"),
    "capex_usd_per_hour": _T("cost: chip + server + network capital, per calendar hour.", "$/h", "chip"),
    "facility_usd_per_hour": _T("cost: facility capital per calendar hour.", "$/h", "chip"),
    "energy_usd_per_hour": _T("cost: electricity per calendar hour.", "$/h", "chip"),
    "ops_usd_per_hour": _T("cost: operations per calendar hour.", "$/h", "chip"),
    "rent_usd_per_hour": _T("Rent per chip-hour (scenario input; 0 in breakdown when owned).", "$/h", "chip"),
    "rent_usd_per_hour_input": _T("cost: rent from the catalog or flags (null when none).", "$/h", "chip"),
    "chip_price_usd": _T("Price of one chip (scenario input; null = from the catalog).", "$", "chip"),
    "list_price_usd_x": _T("breakeven: chip X's catalog price.", "$", "chip"),
    "break_even_price_usd": _T("breakeven: chip X's price at which its $/Mtok equals Y's (negative: even free, no).",
                               "$", "chip"),
    "is_free_enough": _T("breakeven: whether X wins at least when free.", "1"),
    "capex_usd": _T("Upfront capital: one chip in cost.breakdown, the fleet in factory and invest.", "$", "varies",
                    "one chip (cost), fleet (factory, invest)"),
    "facility_capex_usd": _T("cost: facility capital of one chip's share.", "$", "chip"),
    "cost_usd_per_year": _T("Running cost a year (capital recovery + energy + ops).", "$/year", "fleet"),
    "revenue_usd_per_year": _T("factory: token revenue a year at the token price.", "$/year", "fleet"),
    "margin_usd_per_year": _T("factory: revenue minus cost a year.", "$/year", "fleet"),
    "margin_frac": _T("factory: margin over revenue.", "1", "fleet"),
    "cash_flows_usd": _T("invest: cash flow of each year, year 0 the capex.", "$", "fleet"),
    "npv_usd": _T("invest: net present value of the cash flows.", "$", "fleet"),
    "payback_years": _T("invest: years until cumulative cash flow turns positive.", "years", "fleet"),
    "unrecovered_usd": _T("invest: capital not recovered at the horizon.", "$", "fleet"),
    "price_usd_per_mtok_by_year": _T("invest: token price each year as it declines.", "$/Mtok"),
    "price_usd_per_answer_by_year": _T("invest: price of one answer each year.", "$/answer", "request"),
    "cost_usd_per_answer": _T("invest: cost of one answer at the fleet's $/Mtok.", "$/answer", "request"),
    # scenario inputs
    "server_multiplier": _T("Scenario: server cost over chip price.", "1"),
    "network_multiplier": _T("Scenario: network cost over server cost.", "1"),
    "facility_usd_per_mw": _T("Scenario: facility capital per MW.", "$/MW"),
    "depreciation_years": _T("Scenario: years the IT capex is recovered over.", "years"),
    "facility_life_years": _T("Scenario: years the facility capex is recovered over.", "years"),
    "cost_of_capital_frac": _T("Scenario: annual cost of capital.", "1"),
    "electricity_usd_per_kwh": _T("Scenario: electricity price.", "$/kWh"),
    "pue": _T("Scenario: power usage effectiveness (facility W / IT W).", "1"),
    "ops_frac": _T("Scenario: operations cost as a share of capital cost.", "1"),
    "utilization_frac": _T("Scenario: busy share of calendar hours.", "1"),
    "token_price_usd_per_mtok": _T("Scenario: token price in year 0.", "$/Mtok"),
    "token_price_decline_per_year": _T("Scenario: factor the token price falls by each year (10 means 10x).", "1"),
    # flags, reasons and lines
    "feasible": _T("Whether a deployment meets the asked speed and fits.", "1"),
    "reason": _T("Why not feasible, or the verdict in words (breakeven).", "1"),
    "on_frontier": _T("frontier: on its chip's Pareto front of $/Mtok versus tokens/s/user.", "1"),
    "on_frontier_usd": _T("frontier: on its chip's Pareto front of $/Mtok.", "1"),
    "on_frontier_j": _T("frontier: on its chip's Pareto front of J/token.", "1"),
    "on_global_frontier_usd": _T("frontier: on the Pareto front of $/Mtok over all chips.", "1"),
    "on_global_frontier_j": _T("frontier: on the Pareto front of J/token over all chips.", "1"),
    "best_margin": _T("factory: chip id with the largest margin (empty if none feasible).", "1"),
    "cheapest_chip": _T("factory: chip id with the lowest $/Mtok (empty if none feasible).", "1"),
    "line": _T("frontier: one sentence summing up a saturation or crossover.", "1"),
    "stop": _T("frontier saturation: why more batch stops helping.", "1"),
    "per_hour_note": _T("cost: which per-hour figures are calendar and which busy hours.", "1"),
    "infeasible": _T("frontier: chip id -> why no point of it is feasible.", "1"),
    "summary": _T("frontier: sentences naming the cheapest chip at each speed.", "1"),
    # containers
    "points": _T("frontier: every deployment point (rows); saturation: points along one chip's curve.", "1"),
    "rows": _T("factory: one row per chip.", "1"),
    "point": _T("invest: the operating point the fleet is built from.", "1"),
    "x": _T("breakeven: chip X's operating point.", "1"),
    "y": _T("breakeven: chip Y's operating point.", "1"),
    "breakdown": _T("cost: the chip-hour cost by component.", "1"),
    "scenario": _T("cost: the scenario inputs used.", "1"),
    "dropped": _T("frontier: chip id -> reason -> count of points dropped.", "1"),
    "prefill_deployments": _T("frontier disagg: candidate prefill replicas.", "1"),
    "saturation": _T("frontier: per chip, where more batch stops paying.", "1"),
    "most_per_chip": _T("frontier saturation: the point with the most tokens/s per chip.", "1"),
    "sram_crossovers": _T("frontier: speeds where an SRAM system and a GPU swap places.", "1"),
}


def conflicts() -> dict[str, str]:
    """Keys that mean different things in different places today, with the note saying how."""
    return {k: t.conflict for k, t in GLOSSARY.items() if t.conflict}

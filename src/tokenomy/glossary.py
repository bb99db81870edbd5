"""The glossary: every key that a command's ``--json`` prints, with one meaning, one unit and a scope.

``GLOSSARY`` is the one definition table; ``docs/metrics.md`` is generated from it
(``python scripts/glossary_doc.py``) and ``tests/test_glossary.py`` fails on any output key of
``predict``, ``frontier``, ``simulate``, ``cost``, ``factory``, ``breakeven`` or ``invest`` that is
not here. One key has one meaning in every command and in the Python API: a key without a phase prefix is the
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

from typing import NamedTuple

UNITS = frozenset({"1", "s", "years", "tokens", "tokens/s", "tokens/s/user", "tokens/s/MW", "tokens/year",
                   "requests", "requests/s", "chips", "J/token", "W", "MW", "bytes", "bytes/s", "FLOP",
                   "$", "$/h", "$/year", "$/Mtok", "$/MW", "$/kWh", "$/answer"})
SCOPES = frozenset({"", "step", "replica", "fleet", "request", "chip"})


class Term(NamedTuple):
    meaning: str        # one line
    unit: str           # one of UNITS; "1" for ratios, flags, counts of things without a unit, text and objects
    scope: str = ""     # one of SCOPES


# Keys whose value maps data (chip ids, reason texts, cost labels) to values: their own keys are not names.
DATA_MAPS = frozenset({"dropped", "infeasible", "non_chip_usd_per_mtok"})

_T = Term
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
    "phase": _T("prefill or decode.", "1"),
    "tp": _T("Tensor-parallel degree.", "1", "replica"),
    "pp": _T("Pipeline stages.", "1", "replica"),
    "ep": _T("Expert-parallel degree (MoE).", "1", "replica"),
    "dp_attention": _T("Attention data-parallel groups.", "1", "replica"),
    "chips": _T("Chips of one replica (tp x pp x dp-attention groups; a disagg point: both pools' replicas).",
                "chips", "replica"),
    "chips_per_replica": _T("factory: chips of one replica (tp x pp).", "chips", "replica"),
    "prefill_chips": _T("frontier: chips of one prefill replica.", "chips", "replica"),
    "decode_chips": _T("frontier: chips of one decode replica.", "chips", "replica"),
    "replicas": _T("factory: replicas that fit in the power budget.", "1", "fleet"),
    "deployment": _T("Text describing the deployment (chips, stages, precision, disagg pools).", "1"),
    "weights_streamed": _T("predict: text saying which weights stream from off-chip memory (SRAM systems).", "1"),
    "kind": _T("frontier point: gpu, sram or disagg.", "1"),
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
    "tokens_per_s_per_user_required": _T("The per-user decode speed asked for (--tokens-per-s-per-user).",
                                         "tokens/s/user", "request"),
    "power_mw": _T("Facility power budget (factory) or of the fleet (invest).", "MW", "fleet"),
    "tokens_per_answer": _T("invest: output tokens per answer, after token inflation.", "tokens", "request"),
    "years": _T("invest: years of the cash-flow horizon.", "years"),
    "fleet_chips": _T("Chips of every replica of the fleet (factory: in the power budget; invest: in the investment).",
                      "chips", "fleet"),
    "direction": _T("frontier sram_crossovers: above or below (the SRAM system wins above / below the speed).", "1"),
    # per step (predict)
    "tokens_per_step": _T("predict: tokens each sequence gains per step (above 1 with speculative decoding).",
                          "tokens", "step"),
    "latency_s": _T("Time of the operation the row predicts: one step (predict) or one GEMM (gemm).", "s", "step"),
    "gemm_s": _T("predict: GEMM time of the step.", "s", "step"),
    "attention_s": _T("predict: attention time of the step.", "s", "step"),
    "elementwise_s": _T("predict: elementwise (norms, activations) time of the step.", "s", "step"),
    "comm_s": _T("predict: collective communication time of the step.", "s", "step"),
    "overhead_s": _T("predict: fixed per-step overhead (launch, scheduler).", "s", "step"),
    "flop_per_step": _T("predict: floating-point operations of the step, all chips.", "FLOP", "step"),
    "bytes_per_step": _T("predict: bytes moved from memory in the step, all chips.", "bytes", "step"),
    "bound": _T("predict: what limits the step (compute, memory, comm, overhead).", "1", "step"),
    "clock_frac": _T("predict: clock as a fraction of boost, from the power limit.", "1", "chip"),
    "prefill_latency_s": _T("frontier prefill_deployments: prefill latency of a request under load.", "s", "request"),
    "prefill_latency_alone_s": _T("frontier prefill_deployments: prefill latency of one request alone.",
                                  "s", "request"),
    # memory
    "memory_bytes_per_chip": _T("Memory used on each chip (weights + KV cache + activations).", "bytes", "chip"),
    "memory_capacity_bytes": _T("predict: memory capacity of one chip.", "bytes", "chip"),
    "weight_bytes": _T("predict: weight bytes held by each chip.", "bytes", "chip"),
    "kv_cache_bytes": _T("predict: KV-cache bytes held by each chip.", "bytes", "chip"),
    "kv_bytes": _T("frontier prefill_deployments: KV-cache bytes of one request, handed to decode.",
                   "bytes", "request"),
    "memory_bytes_per_s_per_chip": _T("frontier: memory traffic of one chip during decode.", "bytes/s", "chip"),
    "memory_bandwidth_frac": _T("frontier: memory traffic as a fraction of the chip's bandwidth.", "1", "chip"),
    "fits": _T("predict: whether weights and KV fit in memory.", "1"),
    "fit_reason": _T("predict: why it does not fit (empty when it fits).", "1"),
    # speed
    "tokens_per_s": _T("Output tokens/s of one replica serving in steady state (continuous batching, prefill share "
                       "included).", "tokens/s", "replica"),
    "tokens_per_s_per_chip": _T("tokens_per_s of the replica divided by its chips.", "tokens/s", "chip"),
    "tokens_per_s_per_user": _T("Output speed one user sees while decoding (achieved; the target is "
                                "tokens_per_s_per_user_required).", "tokens/s/user", "request"),
    "input_tokens_per_s": _T("Input tokens/s one replica serves in steady state (tokens_per_s x isl / osl).",
                             "tokens/s", "replica"),
    "prefill_tokens_per_s": _T("Input (prompt) tokens/s of one replica while prefilling.", "tokens/s", "replica"),
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
    "requests": _T("simulate: requests finished in the run.", "requests", "fleet"),
    "requests_per_s": _T("simulate: finished requests per second.", "requests/s", "fleet"),
    "goodput_requests_per_s": _T("simulate: finished requests per second that met the SLO.", "requests/s", "fleet"),
    "slo_attainment": _T("simulate: share of requests that met the SLO.", "1", "fleet"),
    "preemptions": _T("simulate: requests preempted (KV evicted) during the run.", "1", "fleet"),
    "mean_batch": _T("simulate: time-averaged running batch of a replica.", "1", "replica"),
    "kv_peak_frac": _T("simulate: peak KV-cache use over capacity, largest replica.", "1", "replica"),
    "simulated_s": _T("simulate: simulated time span.", "s", "fleet"),
    "wall_s": _T("simulate: wall-clock time the simulation took.", "s"),
    "meets_slo": _T("frontier: whether the point meets --min-tokens-per-s-per-user and --max-ttft-s.", "1"),
    "speed": _T("frontier sram_crossovers: per-user speed where the cheaper chip changes.", "tokens/s/user"),
    "a_fastest": _T("frontier sram_crossovers: fastest per-user speed the SRAM system reaches.", "tokens/s/user"),
    "b_fastest": _T("frontier sram_crossovers: fastest per-user speed the GPU reaches.", "tokens/s/user"),
    "windows": _T("frontier sram_crossovers: [from, to] per-user speed ranges where the SRAM system wins.",
                  "tokens/s/user"),
    "decode_tokens_per_s": _T("Output tokens/s of one replica while decoding (one decode step's tokens / its time).",
                              "tokens/s", "replica"),
    "fleet_tokens_per_s": _T("Output tokens/s of every replica together (factory: the power budget; simulate: the "
                             "run).", "tokens/s", "fleet"),
    "fleet_input_tokens_per_s": _T("simulate: input tokens/s of every replica together over the run.",
                                   "tokens/s", "fleet"),
    "prefill_batch": _T("frontier prefill_deployments: requests prefilled together.", "requests", "replica"),
    "tokens_per_s_per_mw_chip": _T("tokens_per_s per MW of the replica's accelerator power (power_w).",
                                   "tokens/s/MW", "replica"),
    "tokens_per_s_per_mw_facility": _T("tokens_per_s per MW of facility power ((chips + host) x PUE).",
                                       "tokens/s/MW", "replica"),
    "tokens_per_s_per_mw_provisioned": _T("factory: fleet_tokens_per_s per MW of the budget (chip power limit + host, "
                                          "x PUE).", "tokens/s/MW", "fleet"),
    # power and energy
    "power_w": _T("Accelerator power of one replica serving in steady state (time-weighted over prefill and decode).",
                  "W", "replica"),
    "prefill_power_w": _T("Accelerator power of one replica while prefilling.", "W", "replica"),
    "chip_power_w": _T("Chip power used for energy cost (scenario input; null = from the catalog).", "W", "chip"),
    "host_power_w": _T("cost: host (CPU, NIC, fans) power per chip from the catalog.", "W", "chip"),
    "host_power_w_per_chip": _T("Scenario: host power per chip override (null = from the catalog).", "W", "chip"),
    "provisioned_w_per_chip": _T("factory: chip power limit + host, times PUE (what the budget is sized by).",
                                 "W", "chip"),
    "j_per_token_facility": _T("Facility energy ((chips + host) x PUE) per output token, prefill share included.",
                               "J/token", "replica"),
    "decode_power_w": _T("Accelerator power of one replica while decoding.", "W", "replica"),
    "fleet_power_w": _T("simulate: mean accelerator power over the run, every replica, idle time included.",
                        "W", "fleet"),
    "facility_power_w_per_chip": _T("cost: facility power of one chip's share ((chip + host) x PUE).", "W", "chip"),
    "it_power_w_per_chip": _T("cost: chip + host power of one chip's share, before PUE.", "W", "chip"),
    "decode_j_per_token_chip": _T("Accelerator energy per output token while decoding (one decode step).",
                                  "J/token", "replica"),
    "prefill_j_per_token_chip": _T("Accelerator energy per input token while prefilling.", "J/token", "replica"),
    "decode_j_per_token_facility": _T("Facility energy ((chips + host) x PUE) per output token while decoding.",
                                      "J/token", "replica"),
    "prefill_j_per_token_facility": _T("Facility energy ((chips + host) x PUE) per input token while prefilling.",
                                       "J/token", "replica"),
    "j_per_token_chip": _T("Accelerator energy per output token, prefill share included (simulate: measured over the "
                           "run, idle included).", "J/token", "replica"),
    # dollars
    "usd_per_mtok_output": _T("Decode share of the replica's cost per 10^6 output tokens.", "$/Mtok", "replica"),
    "usd_per_mtok_input": _T("Prefill share of the replica's cost per 10^6 input tokens.", "$/Mtok", "replica"),
    "usd_per_mtok_blended": _T("Replica cost per 10^6 tokens of input + output, at the row's isl/osl.",
                               "$/Mtok", "replica"),
    "usd_per_mtok_all_in": _T("Replica cost per 10^6 output tokens, prefill time paid by the output tokens.",
                              "$/Mtok", "replica"),
    "non_chip_usd_per_mtok": _T("breakeven: chip X's non-chip $/Mtok by component (energy, facility, operations).",
                                "$/Mtok", "replica"),
    "usd_per_hour": _T("Replica cost per busy hour (calendar-hour cost / utilization).", "$/h", "replica"),
    "usd_per_chip_hour": _T("One chip's cost per busy hour (calendar-hour cost / utilization).", "$/h", "chip"),
    "usd_per_calendar_hour": _T("Replica cost per calendar hour.", "$/h", "replica"),
    "chip_price_usd": _T("Price of one chip (scenario input; null = from the catalog).", "$", "chip"),
    "list_price_usd_x": _T("breakeven: chip X's catalog price.", "$", "chip"),
    "break_even_price_usd": _T("breakeven: chip X's price at which its $/Mtok equals Y's (negative: even free, no).",
                               "$", "chip"),
    "is_free_enough": _T("breakeven: whether X wins at least when free.", "1"),
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
    "decode_usd_per_mtok": _T("predict: replica cost per 10^6 output tokens while decoding.", "$/Mtok", "replica"),
    "prefill_usd_per_mtok": _T("predict: replica cost per 10^6 input tokens while prefilling.", "$/Mtok", "replica"),
    "usd_per_chip_calendar_hour": _T("One chip's cost per calendar hour.", "$/h", "chip"),
    "capex_usd_per_chip_hour": _T("cost: chip + server + network capital per calendar hour of one chip.",
                                  "$/h", "chip"),
    "facility_usd_per_chip_hour": _T("cost: facility capital per calendar hour of one chip.", "$/h", "chip"),
    "energy_usd_per_chip_hour": _T("cost: electricity per calendar hour of one chip.", "$/h", "chip"),
    "ops_usd_per_chip_hour": _T("cost: operations per calendar hour of one chip.", "$/h", "chip"),
    "rent_usd_per_chip_hour": _T("cost: rent (0 when owned) per calendar hour of one chip.", "$/h", "chip"),
    "capex_usd_per_chip": _T("cost: upfront chip + server + network capital of one chip.", "$", "chip"),
    "facility_capex_usd_per_chip": _T("cost: upfront facility capital of one chip's share.", "$", "chip"),
    "fleet_capex_usd": _T("Upfront capital of the fleet (factory: per chip row's fleet; invest).", "$", "fleet"),
    "usd_per_mtok_all_in_y": _T("breakeven: chip Y's usd_per_mtok_all_in at the asked speed.", "$/Mtok", "replica"),
    "usd_per_mtok_all_in_x_free": _T("breakeven: chip X's usd_per_mtok_all_in if the chip were free.",
                                     "$/Mtok", "replica"),
    "usd_per_mtok_all_in_x_list": _T("breakeven: chip X's usd_per_mtok_all_in at its list price.", "$/Mtok", "replica"),
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
    "token_price_decline_frac_per_year": _T("Scenario: share the token price falls each year (0.9: to a tenth).", "1"),
    # flags, reasons and lines
    "feasible": _T("Whether a deployment meets the asked speed and fits.", "1"),
    "reason": _T("Why not feasible, or the verdict in words (breakeven).", "1"),
    "on_frontier": _T("frontier: on its chip's Pareto front of $/Mtok versus tokens/s/user.", "1"),
    "on_frontier_cost": _T("frontier: on its chip's Pareto front of $/Mtok.", "1"),
    "on_frontier_energy": _T("frontier: on its chip's Pareto front of J/token.", "1"),
    "on_global_frontier_cost": _T("frontier: on the Pareto front of $/Mtok over all chips.", "1"),
    "on_global_frontier_energy": _T("frontier: on the Pareto front of J/token over all chips.", "1"),
    "best_margin": _T("factory: chip id with the largest margin (empty if none feasible).", "1"),
    "cheapest_chip": _T("factory: chip id with the lowest $/Mtok (empty if none feasible).", "1"),
    "line": _T("frontier: one sentence summing up a saturation or crossover.", "1"),
    "stop": _T("frontier saturation: why more batch stops helping.", "1"),
    "per_hour_note": _T("cost: which per-hour figures are calendar and which busy hours.", "1"),
    "infeasible": _T("frontier: chip id -> why no point of it is feasible.", "1"),
    "summary": _T("Command-level results of the JSON envelope (an object).", "1"),
    # containers
    "points": _T("frontier: every deployment point (rows); saturation: points along one chip's curve.", "1"),
    "rows": _T("The command's answer, one flat object per case, point, chip or year (what --csv writes).", "1"),
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
    "lines": _T("Sentences summing up the result (frontier: cheapest chip at each speed, crossovers).", "1"),
    "command": _T("The command that produced this JSON (predict, frontier, ...).", "1"),
    "query": _T("The inputs as used, defaults filled in (flag names with _).", "1"),
    "warnings": _T("Sentences the reader must see (assumptions that bind, rows skipped).", "1"),
    # --- added by helper: predict, gemm, shape, hardware/models/engines
    "rent_usd_per_hour": _T("Scenario: rent of one chip per hour (null = from the catalog).", "$/h", "chip"),
    "cases": _T("predict, gemm: the JSONL file of cases (one row each).", "1"),
    # --- added by helper: frontier
    # --- added by helper: economics (cost, factory, breakeven, invest)
    # --- added by helper: simulate, validate
    # --- added by helper: readme, errors
}


def units_of(keys) -> dict[str, str]:
    """The unit of each key in ``keys`` (KeyError names a key that is not defined)."""
    return {k: GLOSSARY[k].unit for k in keys}

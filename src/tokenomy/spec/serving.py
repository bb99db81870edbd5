"""One measured serving row (``shared/data/serving`` formats), typed: where it ran, how it was deployed,
what workload it served and what was measured. Read by ``loaders/serving.py``, checked against the
serving model by ``serving_check.py``.

Metrics (``METRICS``): every row carries only the ones its source measured.
    output_tok_s_per_gpu   output tokens/s of the deployment / GPUs counted by the source
    tok_s_per_user         decode speed one user sees (1 / TPOT)
    tpot_s                 time per output token after the first (median or mean, ``stat``)
    itl_s                  inter-token latency (median or mean, ``stat``)
    ttft_s                 time to first token
    ttft_p90_s, ttft_p99_s 90th / 99th percentile of TTFT over requests
    e2e_p90_s              90th percentile of E2E over requests
    e2e_s                  request latency, first byte in to last token out
    power_w_per_gpu        accelerator power (GPU only), per GPU
    j_per_token            GPU energy per output token
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

METRICS: dict[str, str] = {
    "output_tok_s_per_gpu": "tokens/s", "tok_s_per_user": "tokens/s", "tpot_s": "s", "itl_s": "s", "ttft_s": "s",
    "e2e_s": "s", "power_w_per_gpu": "W", "j_per_token": "J", "ttft_p90_s": "s", "ttft_p99_s": "s", "e2e_p90_s": "s",
}
SOURCES = ("trtllm", "inferencex", "mlenergy", "blis")
Engine = Literal["vllm", "sglang", "trtllm", "dynamo"]
# closed_loop: `concurrency` clients always in flight; max_throughput: every request queued, the engine runs
# its best batch; open_loop: requests arrive at `request_rate` per second (Poisson), queueing included.
Mode = Literal["closed_loop", "max_throughput", "open_loop"]


@dataclass(frozen=True)
class Pool:
    """One pool of a disaggregated deployment (prefill or decode workers)."""

    tp: int
    ep: int
    dp_attention: bool
    workers: int
    gpus: int


@dataclass(frozen=True)
class ServingRow:
    """One data row of a serving CSV (``file_row``: 0-based data row; header excluded)."""

    source: str                       # one of SOURCES: the format the file was read as
    file_row: int
    chip_name: str                    # as written ('H100', 'h200', 'mi300x')
    chip: str | None                  # catalog hardware id, None when the chip is not in CHIPS
    model: str                        # as written (hub id, display name or short name)
    engine: Engine
    chips: int                        # GPUs the source counts for this deployment
    tp: int
    pp: int
    ep: int
    dp_attention: int                 # attention data-parallel width (1: none)
    precision: str                    # tokenomy precision ('bf16', 'fp8'), '' for the model's shipped format
    spec_method: str                  # '' or the speculative method ('mtp')
    mode: Mode
    isl: int                          # mean input tokens per request as the source defines the workload
    osl: int                          # mean output tokens per request
    stat: Literal["median", "mean"]   # which statistic the latency metrics are
    metrics: dict[str, float]
    concurrency: int | None = None    # closed_loop: requests in flight
    max_batch: int | None = None      # engine's max running sequences (max_num_seqs), when known
    request_rate: float | None = None  # open_loop: requests/s
    stage_rates: tuple[float, ...] = ()   # open_loop: request rate of each load stage of the run, in order
    stage: int | None = None          # open_loop: the stage this row measured (-1: the whole run)
    max_batched_tokens: int | None = None   # engine's max_num_batched_tokens, when the source gives it
    prefill: Pool | None = None       # disaggregated rows only
    decode: Pool | None = None
    runtime: str = ""                 # the runtime above the engine ('dynamo'), '' when the engine serves alone
    output_gpus: int | None = None    # GPUs output_tok_s_per_gpu divides by, when not ``chips`` (decode pool)
    assumptions: tuple[str, ...] = field(default=())   # workload figures the file does not give

    @property
    def disaggregated(self) -> bool:
        return self.prefill is not None

"""Deployment sweep and throughput-interactivity frontiers (``sweep`` returns a ``FrontierResult``).

Modules: ``deployments`` (which tp x pp x ep each chip gets), ``sweep`` (the vectorized evaluation),
``result`` (the columns, tables and cost curves), ``summary`` (the plain-language reading),
``crossover`` (SRAM systems against the other chips: crossover speeds; each chip's batch up to saturation),
``disagg`` (``sweep(..., disagg=True)``: prefill on one chip, decode on another, and its summary lines).
"""

from .deployments import MAX_REPLICA_CHIPS, max_replica_chips
from .result import COLUMNS, FrontierResult
from .summary import EXPLODE_FACTOR, SPEED_BANDS, TIE_FRAC
from .sweep import (
           AUTO_PRECISIONS,
           BATCHES,
           SCALEOUT_BYTES_PER_S,
           NothingFitsError,
           sweep,
           usd_per_chip_hour,
)

__all__ = [
           "AUTO_PRECISIONS",
           "BATCHES",
           "COLUMNS",
           "EXPLODE_FACTOR",
           "MAX_REPLICA_CHIPS",
           "SCALEOUT_BYTES_PER_S",
           "SPEED_BANDS",
           "TIE_FRAC",
           "FrontierResult",
           "NothingFitsError",
           "max_replica_chips",
           "sweep",
           "usd_per_chip_hour",
]

"""tokenomy: what every token of LLM inference costs, in seconds, dollars and joules.

Public API (everything else is internal):
    predict(...)            phase latency, throughput, energy and memory, vectorized over sizes
    simulate(...)           serve a workload request by request: latency percentiles, throughput, $ and J
    load_model / load_hardware / load_engine
    errors: TokenomyError, SpecError, CatalogError, UnsupportedError, InfeasibleError, CalibrationError
"""

from .api import predict
from .errors import CalibrationError, CatalogError, InfeasibleError, SpecError, TokenomyError, UnsupportedError
from .loaders.engines import load_engine
from .loaders.hardware import load_hardware
from .loaders.models import load_model
from .sim.run import Simulation, simulate

__all__ = [
    "CalibrationError", "CatalogError", "InfeasibleError", "Simulation", "SpecError", "TokenomyError",
    "UnsupportedError", "load_engine", "load_hardware", "load_model", "predict", "simulate",
]
__version__ = "0.1.0"

"""Request-level serving simulator: workloads, the step-time adapter, the event kernel, schedulers and metrics."""

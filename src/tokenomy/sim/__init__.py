"""Request-level serving simulator: workloads, the step-time adapter to the core, the scheduler kernel, metrics."""

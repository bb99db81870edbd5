"""Request-level serving simulator (issue 11): workload, step costs, scheduler, KV cache, metrics."""

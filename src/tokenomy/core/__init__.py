"""Pure, vectorized performance model: shapes + chip + engine in, seconds/bytes/joules out. No I/O."""

"""Request-level serving simulator (issue 11)."""

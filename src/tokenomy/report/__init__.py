"""Reports: tables, JSON and charts built from results; no new math."""

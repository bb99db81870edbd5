"""Default economics inputs (``defaults.yaml``): every value with its source."""

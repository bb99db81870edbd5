"""Calibration: fit an engine profile from measurements (fit.py); measure a device (measure.py, needs torch)."""

"""Frozen pydantic schemas, one noun each: hardware, model, engine."""

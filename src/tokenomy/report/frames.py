"""Rows (flat dicts with glossary keys) as a pandas DataFrame: the one conversion behind every ``.to_pandas()`` and
every ``--csv`` / ``--parquet`` file, so the two always have the same columns and types. No I/O here."""

from __future__ import annotations

from typing import Any


def rows_frame(rows: list[dict[str, Any]]):
    """``rows`` as a pandas DataFrame, columns in first-seen order (rows may lack some keys)."""
    import pandas as pd

    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    df = pd.DataFrame.from_records(rows, columns=list(cols))
    for c in df.columns:    # whole numbers with gaps (a year, a count) stay whole: 2023, not 2023.0
        vals = [r[c] for r in rows if r.get(c) is not None]
        if vals and df[c].isna().any() and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            df[c] = df[c].astype("Int64")
    return df

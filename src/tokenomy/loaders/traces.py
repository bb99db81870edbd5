"""Request traces for the simulator: one CSV row per request, in one of two formats (detected by columns):

    azure    TIMESTAMP,ContextTokens,GeneratedTokens   the Azure LLM inference traces 2023 (Azure/AzurePublicDataset,
             CC-BY 4.0; Patel et al., Splitwise, ISCA 2024): wall-clock times like '2023-11-16 18:15:46.6805900'
             (ISO 8601, any number of fractional digits), converted to seconds after the first request
    seconds  arrival_s,input_tokens,output_tokens      arrival in seconds (>= 0) from any origin, kept as written

Other columns are ignored. Rows are sorted by arrival time (stable: equal times keep file order), because a
trace merged from several logs is still a valid arrival process. The text is read by ``files.read_text``
(size cap, UTF-8); every problem is one SpecError naming the file, the line and the column: an empty file,
missing columns, a bad timestamp, a token count that is not a whole number in [1, MAX_TOKENS], NaN.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..spec.args import MAX_TOKENS
from .files import read_text

COLUMNS = {"azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
           "seconds": ("arrival_s", "input_tokens", "output_tokens")}
FORMAT_HINT = ("A trace CSV needs the columns TIMESTAMP,ContextTokens,GeneratedTokens (Azure LLM traces) or "
               "arrival_s,input_tokens,output_tokens.")
MAX_ARRIVAL_S = 1e9     # ~32 years: catches timestamps written in ms or ns, not a physical bound


@dataclass(frozen=True)
class Trace:
    """A trace read from ``path``: arrival times (s, from the first request for 'azure'; ascending) and token
    counts (int64 in [1, MAX_TOKENS]) of each request."""

    path: str
    fmt: str
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_s)


def load_trace(path: str | Path) -> Trace:
    """The trace CSV at ``path`` (module docstring), validated and sorted by arrival."""
    p = Path(path)
    text = read_text(p, SpecError, "trace CSV")
    if not text.strip():
        raise SpecError(f"{p}: the trace is empty. {FORMAT_HINT}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)     # a row longer than the header
            df = pd.read_csv(io.StringIO(text), dtype=str, skip_blank_lines=False, keep_default_na=False,
                             index_col=False)
    except pd.errors.ParserWarning:
        raise SpecError(f"{p}: a row has more fields than the header. {FORMAT_HINT}") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise SpecError(f"{p}: not a readable CSV ({str(e).strip().splitlines()[0]}). {FORMAT_HINT}") from None
    df.columns = [str(c).strip() for c in df.columns]
    fmt = next((f for f, cols in COLUMNS.items() if set(cols) <= set(df.columns)), None)
    if fmt is None:
        raise SpecError(f"{p}: columns {', '.join(df.columns)} are not a trace. {FORMAT_HINT}")
    t_col, in_col, out_col = COLUMNS[fmt]
    df = df[list(COLUMNS[fmt])]
    df = df[~(df == "").all(axis=1)]                 # blank lines (line numbers stay index + 2)
    if df.empty:
        raise SpecError(f"{p}: the trace has a header but no data rows. {FORMAT_HINT}")
    tokens = [_tokens(df[c], p, c) for c in (in_col, out_col)]
    if fmt == "azure":
        when = pd.to_datetime(df[t_col].str.strip(), format="ISO8601", errors="coerce")
        _first_bad(when.isna().to_numpy(), df[t_col], p, t_col, "a timestamp like '2023-11-16 18:15:46.6805900'")
        ns = when.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        arrival = (ns - ns.min()) / 1e9
    else:
        arrival = pd.to_numeric(df[t_col].str.strip(), errors="coerce").to_numpy(dtype=float)
        _first_bad(~np.isfinite(arrival) | (arrival < 0) | (arrival > MAX_ARRIVAL_S), df[t_col], p, t_col,
                   f"a finite number of seconds in [0, {MAX_ARRIVAL_S:g}]")
    if arrival.max() > MAX_ARRIVAL_S:
        raise SpecError(f"{p}: the trace spans {arrival.max():.3g} s, more than {MAX_ARRIVAL_S:g} s; check the "
                        "timestamps.")
    order = np.argsort(arrival, kind="stable")
    return Trace(str(p), fmt, arrival[order], tokens[0][order], tokens[1][order])


def _tokens(col: pd.Series, path: Path, name: str) -> np.ndarray:
    """A column of whole token counts in [1, MAX_TOKENS] as int64."""
    x = pd.to_numeric(col.str.strip(), errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & (x >= 1) & (x <= MAX_TOKENS) & (x == np.round(x))
    _first_bad(~ok, col, path, name, f"a whole number of tokens in [1, {MAX_TOKENS:,}]")
    return x.astype(np.int64)


def _first_bad(bad: np.ndarray, col: pd.Series, path: Path, name: str, want: str) -> None:
    """SpecError naming the first row where ``bad`` holds (file line = index + 2: the header is line 1)."""
    if bad.any():
        i = int(np.argmax(bad))
        raise SpecError(f"{path} line {int(col.index[i]) + 2}, column {name!r}: must be {want}, got "
                        f"{col.iloc[i]!r}. Fix or remove the row.")

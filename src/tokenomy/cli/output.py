"""One result shape for every command: ``{command, query, rows, summary, warnings}``, printed as JSON,
written as CSV or Parquet, or shown as a table that fits the terminal.

- ``command``: the sub-command (``predict``, ``frontier``, ...).
- ``query``: what was asked, resolved: every input with the value used (defaults filled in), keyed by
  its glossary name: the flag name with ``_`` for ``-`` (``isl``, ``pue``), except where a flag's name would
  clash with an output (the speed target ``--tokens-per-s-per-user`` is ``tokens_per_s_per_user_required``).
- ``rows``: flat objects (scalar values only), one per thing the command answers for (a case, a point,
  a chip, a year); every key is in ``tokenomy.glossary``. ``--csv`` / ``--parquet`` write these rows.
- ``summary``: an object of command-level results (empty when there are none).
- ``warnings``: sentences the reader must see (assumptions that bind, rows skipped).

The JSON Schema of this shape is ``tokenomy.schema.ENVELOPE``; docs/json.md documents it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import SpecError
from ..report.frames import rows_frame

ROW_FILE_SUFFIXES = {"--csv": (".csv",), "--parquet": (".parquet",)}


def envelope(command: str, query: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
             summary: Mapping[str, Any] | None = None, warnings: Iterable[str] = ()) -> dict[str, Any]:
    """The result object of one command (see the module docstring)."""
    return {"command": command, "query": dict(query), "rows": [dict(r) for r in rows],
            "summary": dict(summary or {}), "warnings": [str(w) for w in warnings]}


def parquet_safe(df):
    """``df`` with every column that mixes text and numbers (a ``value`` column of ``hardware show``, a ``seq``
    of mixed phases) as text, which Parquet needs (one type per column); CSV takes the frame as it is."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kinds = {"number" if isinstance(v, int | float) and not isinstance(v, bool) else type(v)
                     for v in out[c] if v is not None}
            if len(kinds) > 1:
                out[c] = [None if v is None else str(v) for v in out[c]]
    return out


def check_row_files(csv: str | None, parquet: str | None, force: bool) -> None:
    """Refuse unwritable ``--csv`` / ``--parquet`` targets before any work starts."""
    from ..report.files import check_target

    for flag, path in (("--csv", csv), ("--parquet", parquet)):
        if path is not None:
            check_target(path, flag=flag, force=force, suffixes=ROW_FILE_SUFFIXES[flag])
    if csv is not None and parquet is not None and csv == parquet:
        raise SpecError(f"--csv and --parquet name the same file {csv!r}; give two names.")
    if parquet is not None and importlib.util.find_spec("pyarrow") is None:
        raise SpecError("--parquet needs pyarrow: pip install pyarrow (or write --csv FILE).")


def write_row_files(result: Mapping[str, Any], csv: str | None, parquet: str | None, force: bool) -> list[str]:
    """Write ``result['rows']`` to the ``--csv`` and ``--parquet`` files given (all or nothing); the paths written."""
    from ..report.files import write_files

    if csv is None and parquet is None:
        return []
    rows = result["rows"]
    if not rows:
        return []
    df = rows_frame(rows)
    contents: dict[str, Any] = {}
    if csv is not None:
        contents[csv] = df.to_csv(index=False)
    if parquet is not None:
        contents[parquet] = lambda p: parquet_safe(df).to_parquet(p, index=False)
    flag = "--csv" if parquet is None else "--parquet" if csv is None else "--csv/--parquet"
    write_files(contents, flag=flag, force=force)
    return [p for p in (csv, parquet) if p is not None]


def emit(result: Mapping[str, Any], *, json_out: bool, show: Callable[[Mapping[str, Any]], None],
         csv: str | None = None, parquet: str | None = None, force: bool = False) -> None:
    """Write the row files asked for (first: a file that cannot be written stops the command before anything is
    printed), then print ``result`` as one JSON line (``--json``) or through ``show`` (human tables), and say on
    stderr what was written. Warnings go to stderr in human mode (JSON carries them). No rows: no file, a line."""
    from .common import err_console, print_json

    written = write_row_files(result, csv, parquet, force)
    if json_out:
        print_json(dict(result))
    else:
        show(result)
        for w in result.get("warnings", ()):
            err_console.print(f"warning: {w}", markup=False, soft_wrap=True)
    n = len(result["rows"])
    for path in written:
        err_console.print(f"wrote {path} ({n:,} row{'s' if n != 1 else ''})", markup=False)
    for path in (p for p in (csv, parquet) if p is not None and not n):
        err_console.print(f"no rows: nothing written to {path}", markup=False)

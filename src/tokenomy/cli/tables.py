"""Tables that fit the terminal: columns chosen by priority until the width is used, never a cell cut
to "l…"; every number with its unit (in the column header, or beside the value in a one-row view).

``Col(key, header, unit, fmt)``: the row key shown, a short header, the unit the cells are in (shown
under the header) and the formatter of one value. ``show_rows`` prints a table of the columns that fit,
in the order given (the first ones are the most important), and names the columns left out;
``show_one`` prints one row as quantity / value lines, each value with its unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table

from ..report.formats import gb, kilo, mega, ms, nbytes, num, pct, scaled, seconds, tb, text, us, whole

__all__ = ["TABLE_ROWS", "Col", "fit_columns", "gb", "kilo", "mega", "ms", "nbytes", "num", "one_row_lines", "pct",
           "rows_table", "scaled", "seconds", "show_one", "show_rows", "tb", "text", "us", "whole"]

TABLE_ROWS = 200             # rows a table shows; the rest are counted and left to --json / --csv
_CELL_COST = 3               # Rich's default table: one space of padding each side + one border per column


class Col(NamedTuple):
    key: str
    header: str
    unit: str = ""
    fmt: Callable[[Any], str] = num
    left: bool = False           # left-aligned (names and text); numbers are right-aligned

    def cell(self, row: Mapping[str, Any]) -> str:
        return self.fmt(row.get(self.key)) if self.key in row else "-"


def _width(col: Col, cells: list[str]) -> int:
    return max([len(col.header), len(col.unit), *(len(c) for c in cells)])


def fit_columns(cols: Sequence[Col], rows: Sequence[Mapping[str, Any]], width: int) -> tuple[list[Col], list[Col]]:
    """The columns that fit in ``width`` characters (taken in the order given, always at least the first)
    and those left out."""
    shown, left_out, used = [], [], 1
    for i, c in enumerate(cols):
        w = _width(c, [c.cell(r) for r in rows]) + _CELL_COST
        if i == 0 or used + w <= width:
            shown.append(c)
            used += w
        else:
            left_out.append(c)
    return shown, left_out


def rows_table(title: str, rows: Sequence[Mapping[str, Any]], cols: Sequence[Col], width: int,
               caption: str | None = None) -> tuple[Table, list[Col]]:
    """A Rich table of the columns of ``cols`` that fit ``width``; the columns left out."""
    shown, left_out = fit_columns(cols, rows, width)
    notes = [caption] if caption else []
    if left_out:
        notes.append("not shown at this width: " + ", ".join(c.key for c in left_out) + " (--json or --csv has them)")
    t = Table(title=title, caption="; ".join(notes) or None, caption_justify="left")
    for c in shown:
        cells = [c.cell(r) for r in rows]
        t.add_column(c.header + (f"\n{c.unit}" if c.unit else ""), justify="left" if c.left else "right",
                     no_wrap=True, overflow="fold", min_width=_width(c, cells))
    for r in rows:
        t.add_row(*[c.cell(r) for c in shown])
    return t, left_out


def show_rows(title: str, rows: Sequence[Mapping[str, Any]], cols: Sequence[Col], *, caption: str | None = None,
              console: Console | None = None) -> None:
    """Print at most TABLE_ROWS rows of ``rows`` as a table that fits the console."""
    con = console or Console()
    t, _ = rows_table(title, rows[:TABLE_ROWS], cols, con.width, caption)
    con.print(t)
    if len(rows) > TABLE_ROWS:
        con.print(f"showing the first {TABLE_ROWS} of {len(rows):,} rows; --json or --csv has them all.",
                  markup=False, soft_wrap=True)


def one_row_lines(row: Mapping[str, Any], cols: Sequence[Col]) -> list[tuple[str, str]]:
    """(label, value with unit) for each column present in ``row``."""
    out = []
    for c in cols:
        if c.key in row:
            v = c.cell(row)
            out.append((c.header, v if not c.unit or v == "-" else f"{v} {c.unit}"))
    return out


def show_one(title: str, row: Mapping[str, Any], cols: Sequence[Col], console: Console | None = None) -> None:
    """Print one row as a two-column table (quantity, value with unit); long values wrap, never cut."""
    con = console or Console()
    t = Table(title=title)
    t.add_column("quantity", no_wrap=True)
    t.add_column("value", overflow="fold")
    for label, value in one_row_lines(row, cols):
        t.add_row(label, value)
    con.print(t)

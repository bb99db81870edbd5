"""Shared CLI plumbing: the one error path of every command, JSON output and long tables.

Every command runs inside ``TokenomyGroup.main``: a TokenomyError prints one line and exits with its
code (2 bad input, 1 infeasible), a usage error (unknown option, bad value) prints one line with
the fix, an unreadable or unwritable file prints one line naming it, and any other exception (a
bug) prints one line asking for a report (exit 3; TOKENOMY_TRACEBACK=1 shows the traceback).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

try:                                  # typer >= 0.20 ships its own copy of click
    from typer import _click as click
except ImportError:                   # pragma: no cover - older typer runs on click itself
    import click  # type: ignore[no-redef]

from ..errors import TokenomyError

err_console = Console(stderr=True, highlight=False)

BUG_EXIT = 3                 # an exception tokenomy did not raise on purpose
TABLE_ROWS = 200             # rows a Rich table shows; the rest are counted and left to --json


def fail_line(message: str, code: int) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit to raise."""
    click.echo(" ".join(str(message).split()), err=True)
    return typer.Exit(code)


def _usage_line(e) -> str:
    msg = e.format_message()
    ctx = getattr(e, "ctx", None)
    if isinstance(e, click.exceptions.UsageError) and ctx is not None:
        msg = f"{msg.rstrip('.')}. See '{ctx.command_path} --help'."
    return f"error: {msg}"


def _exit_line(e: BaseException) -> tuple[str, int] | None:
    """The one line and exit code for an exception, or None for exits and interrupts that pass through."""
    if isinstance(e, TokenomyError):
        return f"error: {e}", e.exit_code
    if type(e).__name__ == "NoArgsIsHelpError":       # the help text is already printed
        return "", getattr(e, "exit_code", 2)
    if isinstance(e, click.exceptions.ClickException):
        return _usage_line(e), e.exit_code
    if isinstance(e, typer.Abort | KeyboardInterrupt):
        return "aborted", 130
    if isinstance(e, BrokenPipeError):                 # `tokenomy ... | head`: the reader left; stop quietly
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return "", 1
    if isinstance(e, OSError):
        where = f" {e.filename}" if e.filename else ""
        return f"error: cannot use{where}: {e.strerror or e}; check the path and its permissions.", 2
    if isinstance(e, UnicodeError):
        return f"error: a file is not UTF-8 text ({e}); pass a text file.", 2
    if isinstance(e, MemoryError):
        return "error: out of memory; ask for fewer points (smaller lists, fewer cases).", 2
    return None


class TokenomyGroup(TyperGroup):
    """A Typer group whose ``main`` is the one error path for every sub-command (see the module doc)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        try:
            self._refuse_flag_values(list(sys.argv[1:] if args is None else args))
            rv = super().main(args, prog_name, complete_var, standalone_mode=False,
                              windows_expand_args=windows_expand_args, **extra)
        except typer.Exit as e:
            rv = e.exit_code
        except Exception as e:  # every exception ends in one line, never a traceback
            line = _exit_line(e)
            if line is None:
                if os.environ.get("TOKENOMY_TRACEBACK"):
                    raise
                line = (f"error: internal error ({type(e).__name__}: {e}); please report the command "
                        "(TOKENOMY_TRACEBACK=1 shows the traceback).", BUG_EXIT)
            if not standalone_mode:
                raise
            if line[0]:
                click.echo(" ".join(line[0].split()), err=True)
            sys.exit(line[1])
        if standalone_mode:
            sys.exit(rv or 0)
        return rv


    def _refuse_flag_values(self, argv: list[str]) -> None:
        """``--hardware --json`` would take '--json' as the chip: an option that needs a value followed by
        another flag is a usage error, before Click parses it."""
        cmd = next((self.commands[a] for a in argv if a in self.commands), None)
        if cmd is None:
            return
        takes_value = {o for p in cmd.params if p.param_type_name == "option" and not getattr(p, "is_flag", False)
                       for o in p.opts}
        for flag, nxt in itertools.pairwise(argv):
            if flag in takes_value and nxt.startswith("--"):
                raise click.exceptions.UsageError(
                    f"{flag} needs a value, got the flag {nxt!r}; see 'tokenomy {cmd.name} --help'.")


@contextmanager
def cli_errors():
    """Kept for callers outside the CLI package: errors now end in ``TokenomyGroup.main``."""
    yield


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(_clean(obj), indent=None, separators=(",", ":")) + "\n")


def print_records(recs: list[dict], json_out: bool, table) -> None:
    """Print ``recs`` as JSON, or as the Rich table ``table(recs)`` of at most TABLE_ROWS rows
    (a Rich table of 100k rows takes minutes and GBs; the rest are counted, and --json has them all)."""
    if json_out:
        print_json(recs)
        return
    con = Console()
    con.print(table(recs[:TABLE_ROWS]))
    if len(recs) > TABLE_ROWS:
        con.print(f"showing the first {TABLE_ROWS} of {len(recs):,} rows; --json prints them all.",
                  markup=False, soft_wrap=True)


def print_quantities(title: str, rows, headers=("quantity", "value")) -> None:
    """A two-column table (name, value) of one result."""
    from rich.table import Table

    t = Table(title=title)
    t.add_column(headers[0])
    t.add_column(headers[1], justify="right")
    for q, v in rows:
        t.add_row(q, v)
    Console().print(t)


def missing_flags(pairs, hint: str) -> None:
    """Raise one SpecError naming every flag in ``pairs`` ((flag, value), ...) whose value is None."""
    from ..errors import SpecError

    missing = [f for f, v in pairs if v is None]
    if missing:
        raise SpecError(f"missing {', '.join(missing)} {hint}")


def make_table(title: str, headers, rows, *, left=(), caption: str | None = None, **column):
    """A Rich table: ``headers`` right-aligned except those in ``left``; ``rows`` of strings."""
    from rich.table import Table

    t = Table(title=title, caption=caption)
    for h in headers:
        t.add_column(h, justify="left" if h in left else "right", **column)
    for r in rows:
        t.add_row(*r)
    return t


def print_json_or_table(obj, json_out: bool, table) -> None:
    """``obj`` as JSON, or the Rich renderable ``table()`` on stdout."""
    if json_out:
        print_json(obj)
    else:
        Console().print(table())

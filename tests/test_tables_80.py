"""At COLUMNS=80 every command's table is readable: no line wider than 80 and no cell cut to one character
("l…"); the columns that do not fit are named, never squeezed."""

import re

import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app

from test_json_schema import RUNS

ELLIPSIS_CELL = re.compile(r"[│┃|]\s*\S?…\s*[│┃|]")


@pytest.mark.parametrize("command", sorted(RUNS))
def test_tables_fit_80_columns(command):
    r = CliRunner().invoke(app, RUNS[command], env={"COLUMNS": "80", "NO_COLOR": "1"}, terminal_width=80)
    assert r.exit_code == 0, r.output[-800:]
    lines = r.stdout.splitlines()
    assert lines, f"{command}: nothing printed"
    too_wide = [ln for ln in lines if len(ln) > 80]
    assert not too_wide, f"{command}: {len(too_wide)} lines wider than 80, e.g. {too_wide[0]!r}"
    cut = [ln for ln in lines if ELLIPSIS_CELL.search(ln) or "…" in ln]
    assert not cut, f"{command}: cells cut short, e.g. {cut[0]!r}"


def test_the_demo_fits_and_shows_dollars():
    r = CliRunner().invoke(app, [], env={"COLUMNS": "80", "NO_COLOR": "1"}, terminal_width=80)
    assert r.exit_code == 0, r.output[-800:]
    assert all(len(ln) <= 80 for ln in r.stdout.splitlines())
    assert "$/Mtok" in r.stdout and "…" not in r.stdout


@pytest.mark.parametrize("command", sorted({args[0] for args in RUNS.values()}))
def test_help_fits_80_columns_and_names_every_flag_in_full(command):
    r = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"}, terminal_width=80)
    assert r.exit_code == 0, r.output[-400:]
    assert all(len(ln) <= 80 for ln in r.stdout.splitlines())
    assert "…" not in r.stdout
    if command in ("invest", "breakeven", "factory", "frontier"):
        assert "--tokens-per-s-per-user" in r.stdout

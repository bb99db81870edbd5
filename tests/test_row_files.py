"""--csv / --parquet write exactly the rows of --json: mixed text and numbers survive Parquet, an existing target
stops the command before any work (nothing written), and both files are written or neither."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app

SHOW = ["models", "show", "llama-3.1-8b"]      # values: numbers, text and true/false in one column


def _run(args, cwd):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        return CliRunner().invoke(app, args)


def test_mixed_value_column_round_trips_through_parquet_and_csv(tmp_path):
    r = _run([*SHOW, "--csv", "h.csv", "--parquet", "h.parquet"], tmp_path)
    assert r.exit_code == 0, r.output
    rows = json.loads(_run([*SHOW, "--json"], tmp_path).stdout)["rows"]
    pq, cs = pd.read_parquet(tmp_path / "h.parquet"), pd.read_csv(tmp_path / "h.csv")
    assert list(pq["field"]) == list(cs["field"]) == [r["field"] for r in rows]
    # the value column mixes numbers and text: Parquet keeps it as text, the same text as the JSON value
    assert {type(r["value"]) for r in rows} >= {int, str, bool}
    assert [None if pd.isna(v) else v for v in pq["value"]] == [None if r["value"] is None else str(r["value"])
                                                                 for r in rows]


def test_an_existing_target_writes_nothing(tmp_path):
    (tmp_path / "h.parquet").write_text("keep me")
    r = _run([*SHOW, "--csv", "h.csv", "--parquet", "h.parquet"], tmp_path)
    assert r.exit_code == 2 and "already exists" in r.output and "--force" in r.output
    assert (tmp_path / "h.parquet").read_text() == "keep me" and not (tmp_path / "h.csv").exists()


@pytest.mark.parametrize("flag, name", [("--csv", "rows.parquet"), ("--parquet", "rows.csv")])
def test_the_extension_must_match_the_flag(tmp_path, flag, name):
    r = _run(["models", "list", flag, name], tmp_path)
    assert r.exit_code == 2 and flag in r.output and not (tmp_path / name).exists()

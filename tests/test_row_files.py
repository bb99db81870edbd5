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


def test_two_outputs_naming_one_file_stop_before_the_run(tmp_path):
    r = _run(["simulate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--requests", "5",
              "--workload", "poisson:rate=4,isl=100,osl=10", "--csv", "k.csv", "--requests-out", "k.csv"], tmp_path)
    assert r.exit_code == 2 and "name the same file" in r.output and not (tmp_path / "k.csv").exists()


def test_no_rows_writes_no_file_and_says_so(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    r = _run(["predict", "--cases", "empty.jsonl", "--csv", "e.csv"], tmp_path)
    assert r.exit_code == 0 and "nothing written to e.csv" in r.output and not (tmp_path / "e.csv").exists()


def test_a_chip_priced_another_way_is_a_warning_everywhere(tmp_path):
    # tpu-v6e has a rent and no price: asked owned, it is priced rented, and frontier and simulate say so as
    # predict does (the $ figures would otherwise mix bought and rented chips without a word)
    line = "tpu-v6e has no price in the catalog: priced rented"
    fr = json.loads(_run(["frontier", "--model", "llama-3.1-8b", "--hardware", "h100-sxm,tpu-v6e", "--json"],
                         tmp_path).stdout)
    assert any(w.startswith(line) for w in fr["warnings"])
    sim = json.loads(_run(["simulate", "--model", "llama-3.1-8b", "--hardware", "tpu-v6e", "--requests", "5",
                           "--workload", "poisson:rate=4,isl=100,osl=10", "--json"], tmp_path).stdout)
    assert any(w.startswith(line) for w in sim["warnings"])
    rented = json.loads(_run(["frontier", "--model", "llama-3.1-8b", "--hardware", "h100-sxm,tpu-v6e", "--mode",
                              "rented", "--json"], tmp_path).stdout)
    assert rented["warnings"] == []


def test_simulate_takes_price_keywords_like_predict():
    import tokenomy
    kw = {"workload": "poisson:rate=4,isl=100,osl=10", "requests": 5}
    owned = tokenomy.simulate("llama-3.1-8b", "h100-sxm", **kw).summary["usd_per_mtok_all_in"]
    rented = tokenomy.simulate("llama-3.1-8b", "h100-sxm", mode="rented", **kw).summary["usd_per_mtok_all_in"]
    assert rented != owned and rented > 0


def test_whole_numbers_with_gaps_stay_whole_in_csv(tmp_path):
    # hardware trends: a chip without a known year is null; the others stay 2023, not 2023.0
    r = _run(["hardware", "trends", "--csv", "t.csv"], tmp_path)
    assert r.exit_code == 0, r.output
    years = pd.read_csv(tmp_path / "t.csv", dtype=str)["year"].dropna()
    assert len(years) and all(y.isdigit() for y in years)

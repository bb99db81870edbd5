"""Every key a command prints with --json is defined once in tokenomy.glossary, and docs/metrics.md is current.

A new output key without a definition fails here: add it to GLOSSARY (one line: meaning, unit, scope), then run
python scripts/glossary_doc.py.
"""

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.cli.predict import OUT_KEYS
from tokenomy.glossary import DATA_MAPS, GLOSSARY, SCOPES, UNITS, conflicts

ROOT = Path(__file__).resolve().parents[1]
M, H = "llama-3.1-8b", "h100-sxm"
SPEED = ["--tokens-per-s-per-user", "50"]
COMMANDS = {
    "predict decode": ["predict", "--model", M, "--hardware", H, "--phase", "decode", "--batch", "8",
                       "--context", "1024"],
    "predict prefill": ["predict", "--model", M, "--hardware", H, "--phase", "prefill", "--batch", "1",
                        "--seq", "1024"],
    "frontier": ["frontier", "--model", M, "--hardware", "h100-sxm,groq-lpu", "--disagg", "--isl", "1024",
                 "--osl", "256"],
    "simulate": ["simulate", "--model", M, "--hardware", H, "--requests", "20",
                 "--workload", "poisson:rate=4,isl=512,osl=64"],
    "cost": ["cost", "--hardware", H],
    "factory": ["factory", "--power-mw", "10", "--model", M, "--hardware", H, *SPEED],
    "breakeven": ["breakeven", "--model", M, "--hardware", H, "--versus", "groq-lpu", *SPEED],
    "invest": ["invest", "--model", M, "--hardware", H, *SPEED],
}


def keys_of(obj, out=None):
    """Every key name in a JSON value: nested objects and the rows of lists; not the keys of DATA_MAPS."""
    out = set() if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k)
            if k not in DATA_MAPS:
                keys_of(v, out)
    elif isinstance(obj, list):
        for v in obj:
            keys_of(v, out)
    return out


@pytest.fixture(scope="module")
def printed():
    runner, keys = CliRunner(), {}
    for name, args in COMMANDS.items():
        r = runner.invoke(app, [*args, "--json"])
        assert r.exit_code == 0, f"{name}: {r.output[-500:]}"
        keys[name] = keys_of(json.loads(r.stdout))
    return keys


def test_keys_of_walks_objects_and_rows_but_not_data_maps():
    obj = {"a": {"b": 1}, "rows": [{"c": 2}, {"d": [{"e": 3}]}], "dropped": {"h100-sxm": {"some reason": 4}}}
    assert keys_of(obj) == {"a", "b", "rows", "c", "d", "e", "dropped"}


def test_every_printed_key_is_in_the_glossary(printed):
    missing = {name: sorted(k - GLOSSARY.keys()) for name, k in printed.items() if k - GLOSSARY.keys()}
    assert not missing, f"output keys without a definition in tokenomy/glossary.py: {missing}"


def test_predict_keys_shown_only_sometimes_are_in_the_glossary():
    assert set(OUT_KEYS) <= GLOSSARY.keys()


def test_the_glossary_has_no_stale_entries(printed):
    seen = set().union(*printed.values()) | set(OUT_KEYS)
    assert sorted(GLOSSARY.keys() - seen) == []


def test_units_scopes_and_conflicts_are_well_formed():
    assert {t.unit for t in GLOSSARY.values()} <= UNITS
    assert {t.scope for t in GLOSSARY.values()} <= SCOPES
    for key, t in GLOSSARY.items():
        assert t.meaning and "\n" not in t.meaning, key
        assert t.scope != "varies" or t.conflict, f"{key}: scope varies without a conflict note"


def test_the_conflicts_the_issue_names_are_recorded():
    # issue 13: tokens_per_s, tokens_per_s_per_mw, chips and usd_per_mtok each mean different things by command
    assert {"tokens_per_s", "tokens_per_s_per_mw", "chips", "usd_per_mtok"} <= conflicts().keys()


def test_metrics_doc_is_current():
    spec = importlib.util.spec_from_file_location("glossary_doc", ROOT / "scripts" / "glossary_doc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "docs/metrics.md").read_text() == mod.render(), \
        "docs/metrics.md is stale: run python scripts/glossary_doc.py"

"""Every key a command prints with --json is defined once in tokenomy.glossary, and docs/metrics.md is current.

A new output key without a definition fails here: add it to GLOSSARY (one line: meaning, unit, scope), then run
python scripts/glossary_doc.py.
"""

import importlib.util
import json
from pathlib import Path

import pytest
from test_json_schema import RUNS
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.cli.predict import OUT_KEYS
from tokenomy.glossary import DATA_MAPS, GLOSSARY, SCOPES, UNITS

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
    "simulate two-pool": ["simulate", "--model", M, "--prefill-hardware", H, "--decode-hardware", H, "--requests", "20",
                          "--workload", "poisson:rate=4,isl=512,osl=64"],
    "validate": ["validate", "--measurements", "tests/data/llama-3.1-8b.jsonl", "--hardware", H],
    "validate serving": ["validate", "--serving", "tests/data/serving_trtllm.csv"],
    "cost": ["cost", "--hardware", H],
    "factory": ["factory", "--power-mw", "10", "--model", M, "--hardware", H, *SPEED],
    "breakeven": ["breakeven", "--model", M, "--hardware", H, "--versus", "groq-lpu", *SPEED],
    "invest": ["invest", "--model", M, "--hardware", H, *SPEED],
    "shape": ["shape", "--model", str(ROOT / "tests/data/configs/gpt2.json"), "--hardware", H],  # has proposals
    "shape design": ["shape", "--design", "--params", "1e9", "--hardware", H],
    **{k: RUNS[k] for k in ("gemm", "hardware list", "hardware show", "hardware trends", "models list", "models show",
                            "engines list", "engines show", "brief")},
}


# keys printed only in cases the commands above do not reach (each with where it appears)
ONLY_SOMETIMES: dict[str, str] = {
    **{f"{p}_step_error_{s}_frac": "simulate --check-steps" for p in ("decode", "prefill") for s in ("median", "max")},
    **dict.fromkeys(("sweep", "workers", "ray", "scenario_index", "force"), "simulate --sweep"),
    **{f"{p}_{k}": "simulate --prefill-tp/--decode-tp/..." for p in ("prefill", "decode") for k in ("tp", "pp", "ep")},
    **dict.fromkeys(("measured_w", "predicted_w"), "validate --serving on a file with power"),
    "cases": "predict --cases, gemm --cases",
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
    assert not missing, f"output keys without a definition in tokenomy/glossary/: {missing}"


def test_predict_keys_shown_only_sometimes_are_in_the_glossary():
    assert set(OUT_KEYS) <= GLOSSARY.keys()


def test_the_glossary_has_no_stale_entries(printed):
    seen = set().union(*printed.values()) | set(OUT_KEYS) | set(ONLY_SOMETIMES)
    assert sorted(GLOSSARY.keys() - seen) == []


def test_units_and_scopes_are_well_formed():
    assert {t.unit for t in GLOSSARY.values()} <= UNITS
    assert {t.scope for t in GLOSSARY.values()} <= SCOPES
    for key, t in GLOSSARY.items():
        assert t.meaning and "\n" not in t.meaning, key


# the unit is the last part of the name: a key ending like this has this unit
SUFFIX_UNITS = [("flop_per_s", "FLOP/s"), ("bytes_per_s", "bytes/s"), ("_usd_per_mtok", "$/Mtok"), ("requests_per_s", "requests/s"), ("tokens_per_s", "tokens/s"), ("_per_user", "tokens/s/user"),
                ("_bytes", "bytes"), ("_frac", "1"), ("_usd", "$"), ("_w", "W"), ("_s", "s"),
                ("_per_hour", "$/h")]
PREFIX_UNITS = [("usd_per_mtok", "$/Mtok"), ("tokens_per_s_per_mw", "tokens/s/MW"), ("j_per_token", "J/token")]


@pytest.mark.parametrize("key", sorted(GLOSSARY))
def test_the_unit_is_in_the_name(key):
    unit = GLOSSARY[key].unit
    for pre, u in PREFIX_UNITS:
        if key.startswith(pre) or f"_{pre}" in key:
            assert unit == u, f"{key}: unit {unit!r}, the name says {u!r}"
            return
    for suf, u in SUFFIX_UNITS:
        if key.endswith(suf) and key not in ("p50", "p90", "p99"):
            assert unit == u, f"{key}: unit {unit!r}, the name says {u!r}"
            return


def test_no_two_keys_name_one_quantity():
    # the old aliases issue 13 removed must not come back
    for old in ("memory_bytes", "energy_j_per_token", "j_per_token", "tokens_per_s_per_mw", "usd_per_mtok",
                "total_usd_per_hour", "effective_usd_per_hour", "usd_per_busy_hour", "output_tokens_per_s",
                "speculative", "token_price_decline_per_year"):
        assert old not in GLOSSARY, old


def test_metrics_doc_is_current():
    spec = importlib.util.spec_from_file_location("glossary_doc", ROOT / "scripts" / "glossary_doc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "docs/metrics.md").read_text() == mod.render(), \
        "docs/metrics.md is stale: run python scripts/glossary_doc.py"

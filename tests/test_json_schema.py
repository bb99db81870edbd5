"""Every command's --json is one envelope {command, query, rows, summary, warnings}, valid against its JSON Schema
(tokenomy.schema.command_schema): rows flat, every key a glossary name, the keys each command promises present."""

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.schema import QUERY_KEYS, ROW_KEYS, command_schema

M, H = "llama-3.1-8b", "h100-sxm"
SPEED = ["--tokens-per-s-per-user", "50"]
RUNS = {
    "predict": ["predict", "--model", M, "--hardware", H, "--phase", "decode", "--batch", "8", "--context", "1024"],
    "frontier": ["frontier", "--model", M, "--hardware", "h100-sxm,groq-lpu", "--isl", "1024", "--osl", "256"],
    "simulate": ["simulate", "--model", M, "--hardware", H, "--requests", "20",
                 "--workload", "poisson:rate=4,isl=512,osl=64"],
    "cost": ["cost", "--hardware", "h100-sxm,b200"],
    "factory": ["factory", "--power-mw", "10", "--model", M, "--hardware", "h100-sxm,b200", *SPEED],
    "breakeven": ["breakeven", "--model", M, "--hardware", H, "--versus", "b200", *SPEED],
    "invest": ["invest", "--model", M, "--hardware", H, *SPEED],
    "gemm": ["gemm", "--hardware", H, "--m", "4096", "--n", "4096", "--k", "4096"],
    "shape": ["shape", "--model", M, "--hardware", H],
    "validate": ["validate", "--serving", "tests/data/serving_trtllm.csv"],
    "hardware list": ["hardware", "list"],
    "hardware show": ["hardware", "show", H],
    "hardware trends": ["hardware", "trends"],
    "models list": ["models", "list"],
    "models show": ["models", "show", M],
    "engines list": ["engines", "list"],
    "engines show": ["engines", "show", "vllm"],
    "brief": ["brief", "--model", M, "--hardware", "h100-sxm,b200", "--speeds", "20,50"],
}


def test_every_command_with_a_schema_is_run_here():
    assert set(RUNS) == set(ROW_KEYS) == set(QUERY_KEYS)


@pytest.mark.parametrize("command", sorted(RUNS))
def test_json_matches_the_schema(command):
    r = CliRunner().invoke(app, [*RUNS[command], "--json"])
    assert r.exit_code == 0, r.output[-800:]
    out = json.loads(r.stdout)
    jsonschema.validate(out, command_schema(command))
    assert out["rows"], f"{command}: no rows"


def test_the_schema_refuses_nested_rows_and_unknown_keys():
    good = {"command": "predict", "query": {"model": M}, "rows": [{"latency_s": 0.01}], "summary": {}, "warnings": []}
    schema = {**command_schema("predict")}
    schema["properties"]["query"] = {"type": "object"}
    schema["properties"]["rows"]["items"]["required"] = []       # the row keys predict promises are not the point
    jsonschema.validate(good, schema)
    for bad_row in ({"latency_s": [0.01]}, {"latency_in_ms": 10}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "rows": [bad_row]}, schema)


def test_every_command_says_what_a_row_is():
    from tokenomy.schema import ROW_IS
    assert set(ROW_IS) == set(RUNS) and all(ROW_IS.values())

"""tokenomy brief: the ranking, the reproduce commands (each exits 0 and prints the headline's numbers), no
invented findings, one self-contained HTML file, and JSON valid against the schema."""

import json
import re
import shlex

import jsonschema
import pytest
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.report import brief as B
from tokenomy.report.brief_findings import Finding, rank, ratio_score
from tokenomy.schema import command_schema

M = "llama-3.1-8b"


def _finding(kind: str, score: float, subject: str = "") -> Finding:
    return Finding(kind, score, f"{kind} headline", "tokenomy models list", "holds.", subject=subject)


def test_a_5x_cost_gap_ranks_above_a_5_percent_one():
    big, small = ratio_score(5.0, 1.0), ratio_score(1.05, 1.0)
    assert big == pytest.approx(1.609, abs=1e-3) and small == pytest.approx(0.0488, abs=1e-3)
    assert ratio_score(1.0, 5.0) == big                      # the order of the two options does not matter
    ranked = rank([_finding("lowest_energy", small), _finding("cheapest_chip", big)], top=5)
    assert [f.kind for f in ranked] == ["cheapest_chip", "lowest_energy"]
    assert rank([_finding("cheapest_chip", big), _finding("lowest_energy", small)], top=1)[0].score == big


def test_rank_keeps_one_finding_per_kind_and_chip():
    same = [_finding("cheapest_chip", s, "b200") for s in (0.3, 0.9)] + [_finding("cheapest_chip", 0.5, "mi300x")]
    assert [f.score for f in rank(same, top=5)] == [0.9, 0.5]


@pytest.fixture(scope="module")
def brief_json():
    r = CliRunner().invoke(app, ["brief", "--model", M, "--hardware", "h100-sxm,groq-lpu", "--top", "10",
                                  "--token-price-usd-per-mtok", "0.5", "--json"])     # low: the fleet strands
    assert r.exit_code == 0, r.output[-800:]
    return json.loads(r.stdout)


def test_brief_json_matches_the_schema(brief_json):
    jsonschema.validate(brief_json, command_schema("brief"))
    kinds = {r["finding_kind"] for r in brief_json["rows"]}
    assert {"cheapest_chip", "lowest_energy", "speed_premium", "sram_crossover", "factory_ranking",
            "free_chip", "stranded_capital"} <= kinds
    assert [r["rank"] for r in brief_json["rows"]] == list(range(1, len(brief_json["rows"]) + 1))
    scores = [r["score"] for r in brief_json["rows"]]
    assert scores == sorted(scores, reverse=True)


def _key_numbers(headline: str) -> list[str]:
    """Dollar figures, J/token, Mtok/s/MW and crossover speeds of a headline (inputs and ratios left out)."""
    nums = re.findall(r"\$([\d,]+(?:\.\d+)?)", headline)
    nums += re.findall(r"([\d,]+(?:\.\d+)?) (?:J/token|Mtok/s/MW)", headline)
    nums += re.findall(r"~([\d,]+)", headline)
    return nums


def test_every_reproduce_command_exits_0_and_prints_the_headline_numbers(brief_json):
    runner = CliRunner()
    for row in brief_json["rows"]:
        out = ""
        for line in row["reproduce_command"].split(" && "):
            argv = shlex.split(line)
            assert argv[0] == "tokenomy"
            r = runner.invoke(app, argv[1:])
            assert r.exit_code == 0, (line, r.output[-800:])
            out += r.stdout
        nums = _key_numbers(row["headline"])
        assert nums, row["headline"]
        for n in nums:
            assert n in out, (n, row["headline"], row["reproduce_command"])


def test_nothing_applies_says_so_instead_of_inventing():
    r = CliRunner().invoke(app, ["brief", "--model", M, "--hardware", "h100-sxm", "--speeds", "50", "--json"])
    assert r.exit_code == 0, r.output[-800:]
    out = json.loads(r.stdout)
    assert out["rows"] == [] and out["summary"]["lines"] == [B.NOTHING]
    r = CliRunner().invoke(app, ["brief", "--model", M, "--hardware", "h100-sxm", "--speeds", "50"])
    assert r.exit_code == 0 and "No finding applies" in r.stdout


def test_html_is_one_self_contained_file(tmp_path):
    out = tmp_path / "brief.html"
    args = ["brief", "--model", M, "--hardware", "h100-sxm,b200", "--speeds", "20,50", "--format", "html",
            "--out", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output[-800:]
    assert [p.name for p in tmp_path.iterdir()] == ["brief.html"]
    page = out.read_text()
    assert "<svg" in page and "<h2>1. " in page
    assert not re.search(r"https?://", page)
    assert CliRunner().invoke(app, args).exit_code == 2                 # exists: --force to overwrite
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0


@pytest.mark.parametrize("args", [["--format", "pdf"], ["--format", "html"], ["--speeds", "20,x"],
                                  ["--format", "md", "--json"]])
def test_bad_input_is_one_line(args):
    r = CliRunner().invoke(app, ["brief", "--model", M, "--hardware", "h100-sxm", *args])
    assert r.exit_code == 2 and "Traceback" not in r.output

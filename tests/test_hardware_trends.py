"""The chip facts of the catalog (year, process, die area, dies, transistors, memory type) and
``tokenomy hardware trends``: per-generation ratios worked by hand, ordering, unknowns as null / '-'."""

from __future__ import annotations

import json
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from tokenomy.cli.main import app
from tokenomy.errors import CatalogError
from tokenomy.loaders.hardware import hardware_figures, hardware_ids, hardware_to_catalog, load_hardware
from tokenomy.report.trends import reference_keys, trend_row, trend_rows
from tokenomy.schema import command_schema

FACT_KEYS = ("year", "process_node", "die_area_mm2", "compute_dies", "transistors_billion", "memory_type")
RATIOS = ("bf16_flop_per_j", "fp8_flop_per_j", "bf16_flop_per_s_per_mm2", "fp8_flop_per_s_per_mm2",
          "bf16_flop_per_s_per_dollar", "fp8_flop_per_s_per_dollar", "memory_bytes_per_j")


def _trends_json(*args: str) -> dict:
    r = CliRunner().invoke(app, ["hardware", "trends", *args, "--json"])
    assert r.exit_code == 0, r.output[-500:]
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def trends() -> dict:
    return _trends_json()


# --- the catalog facts ---------------------------------------------------------------------------


@pytest.mark.parametrize("hw_id", hardware_ids())
def test_every_fact_has_a_findable_source(hw_id):
    """A die area (and every other fact) comes with a URL; never a repository path, never a bare guess."""
    figures = {f["key"]: f for f in hardware_figures(hw_id)}
    hw = load_hardware(hw_id)
    for key in FACT_KEYS:
        if key in figures:
            source = figures[key]["source"]
            assert source.startswith("http"), (hw_id, key, source)
            assert "shared/" not in source and "reference/" not in source, (hw_id, key, source)
    if hw.die_area_m2 is not None:
        assert hw.sources["die_area_m2"].startswith("http")
        assert hw.compute_dies is not None, f"{hw_id}: a die area needs the number of compute dies"


def test_h100_facts_in_si():
    h100 = load_hardware("h100-sxm")
    assert (h100.year, h100.process_node, h100.memory_type, h100.compute_dies) == (2022, "TSMC 4N", "HBM3", 1)
    assert h100.die_area_m2 == pytest.approx(814e-6)
    assert h100.silicon_area_m2 == pytest.approx(814e-6)
    assert h100.transistors == pytest.approx(80e9)


def test_unpublished_facts_stay_unknown():
    """Blackwell's die area is not published: the catalog leaves it out, so the silicon area is unknown."""
    b200 = load_hardware("b200")
    assert b200.compute_dies == 2 and b200.die_area_m2 is None and b200.silicon_area_m2 is None
    tpu = load_hardware("tpu-v5e")
    assert tpu.process_node is None and tpu.transistors is None and tpu.memory_type == "HBM2"


def test_facts_round_trip_through_the_catalog_format(tmp_path):
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(hardware_to_catalog(load_hardware("mi355x"))))
    back = load_hardware(str(path))
    for field in ("year", "process_node", "die_area_m2", "compute_dies", "transistors", "memory_type"):
        assert getattr(back, field) == pytest.approx(getattr(load_hardware("mi355x"), field)), field


MINIMAL = {"id": "c", "name": "C", "vendor": "V", "bf16_dense_tflops": {"value": 100, "source": "s"},
           "hbm_gb": {"value": 24, "source": "s"}, "hbm_tb_per_s": {"value": 1.0, "source": "s"}}


@pytest.mark.parametrize("key,fig,needle", [
    ("year", 2022, "has no source"),
    ("year", {"value": 1800, "source": "s"}, "not physical"),
    ("year", {"value": 2022.5, "source": "s"}, "whole number"),
    ("die_area_mm2", {"value": 0, "source": "s"}, "not physical"),
    ("die_area_mm2", {"value": 1e9, "source": "s"}, "not physical"),
    ("compute_dies", {"value": 1.5, "source": "s"}, "whole number"),
    ("transistors_billion", {"value": 1e9, "source": "s"}, "not physical"),
    ("memory_type", {"value": "HBM9", "source": "s"}, "must be one of"),
    ("process_node", {"value": "", "source": "s"}, "name of 1 to"),
    ("process_node", {"value": 5, "source": "s"}, "name of 1 to"),
])
def test_bad_facts_are_one_clear_line(tmp_path, key, fig, needle):
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, key: fig}))
    with pytest.raises(CatalogError) as e:
        load_hardware(str(path))
    assert needle in str(e.value) and key in str(e.value) and "\n" not in str(e.value)


# --- the trends ----------------------------------------------------------------------------------


def test_h100_worked_by_hand():
    row = trend_row(load_hardware("h100-sxm"))
    # catalog: 989 TFLOPS bf16, 1979 fp8, 700 W, 814 mm2 x 1 die, $18,000, 3.35 TB/s HBM
    assert row["bf16_flop_per_j"] == pytest.approx(989e12 / 700)            # 1.413e12 FLOP/s per W
    assert row["bf16_flop_per_j"] == pytest.approx(1.4129e12, rel=1e-4)
    assert row["fp8_flop_per_j"] == pytest.approx(1979e12 / 700)
    assert row["silicon_area_mm2"] == pytest.approx(814)
    assert row["bf16_flop_per_s_per_mm2"] == pytest.approx(989e12 / 814)    # 1.215e12 FLOP/s per mm2
    assert row["bf16_flop_per_s_per_dollar"] == pytest.approx(989e12 / 18000)
    assert row["memory_bytes_per_j"] == pytest.approx(3.35e12 / 700)
    assert row["estimated_inputs"] == "price"                            # the 2026 price is an estimate


def test_mi355x_silicon_is_its_compute_dies():
    row = trend_row(load_hardware("mi355x"))
    assert row["silicon_area_mm2"] == pytest.approx(8 * 110)
    assert row["bf16_flop_per_s_per_mm2"] == pytest.approx(2500e12 / 880)


def test_unknowns_are_null_never_zero(trends):
    b200 = next(r for r in trends["rows"] if r["hardware"] == "b200")
    assert b200["silicon_area_mm2"] is None and b200["bf16_flop_per_s_per_mm2"] is None
    tpu = next(r for r in trends["rows"] if r["hardware"] == "tpu-v5e")
    assert tpu["price_usd"] is None and tpu["bf16_flop_per_s_per_dollar"] is None and tpu["fp8_flop_per_j"] is None
    for row in trends["rows"]:
        for key in RATIOS:
            assert row[key] is None or row[key] > 0, (row["hardware"], key)


def test_rows_are_sorted_by_vendor_then_year(trends):
    rows = trends["rows"]
    assert {r["hardware"] for r in rows} == set(hardware_ids())
    keys = [(r["vendor"].lower(), r["year"] is None, r["year"] or 0) for r in rows]
    assert keys == sorted(keys)
    nvidia = [r["hardware"] for r in rows if r["vendor"] == "NVIDIA"]
    assert nvidia.index("a100-sxm") < nvidia.index("h100-sxm") < nvidia.index("b200") < nvidia.index("gb300")
    assert nvidia[-1] == "rubin-vr200"                                    # no sourced year: last of its vendor


def test_trends_json_validates_against_its_schema(trends):
    jsonschema.validate(trends, command_schema("hardware trends"))
    assert trends["command"] == "hardware trends" and trends["query"] == {} and trends["warnings"] == []


def test_table_prints_unknowns_as_dash():
    r = CliRunner().invoke(app, ["hardware", "trends"], terminal_width=80)
    assert r.exit_code == 0, r.output
    b200 = next(line for line in r.output.splitlines() if " b200 " in line)
    assert " - " in b200 and " 0 " not in b200
    assert max(len(line) for line in r.output.splitlines()) <= 80


def test_reference_point_keys():
    ok = SimpleNamespace(feasible=True, reason="", chips=4, usd_per_mtok_all_in=0.5, j_per_token_chip=0.3)
    assert reference_keys(ok) == {"feasible": True, "chips": 4, "usd_per_mtok_all_in": 0.5,
                                  "j_per_token_chip": 0.3, "reason": ""}
    bad = SimpleNamespace(feasible=False, reason="too slow", chips=8, usd_per_mtok_all_in=float("nan"),
                          j_per_token_chip=float("nan"))
    assert reference_keys(bad)["usd_per_mtok_all_in"] is None and reference_keys(bad)["reason"] == "too slow"
    rows = trend_rows([load_hardware("h100-sxm"), load_hardware("tpu-v5e")], {"h100-sxm": ok, "tpu-v5e": "rent only"})
    assert [r["reason"] for r in rows] == ["rent only", ""]               # Google sorts before NVIDIA


def test_reference_needs_model_and_speed_together():
    r = CliRunner().invoke(app, ["hardware", "trends", "--model", "llama-3.1-8b"])
    assert r.exit_code == 2 and "--tokens-per-s-per-user" in r.output


def test_reference_point_from_the_cli(monkeypatch):
    """The CLI's wiring of the reference point (the serving model itself is tested with economics)."""
    import tokenomy.economics as economics

    calls = []

    def fake(model, hw_id, speed, isl, osl):
        calls.append((model, hw_id, speed, isl, osl))
        if hw_id == "l40s":
            return SimpleNamespace(feasible=False, reason="too slow", chips=4, usd_per_mtok_all_in=float("nan"),
                                   j_per_token_chip=float("nan"))
        return SimpleNamespace(feasible=True, reason="", chips=8, usd_per_mtok_all_in=0.9, j_per_token_chip=0.7)

    monkeypatch.setattr(economics, "operating_point", fake)
    out = _trends_json("--model", "llama-3.1-70b", "--tokens-per-s-per-user", "50")
    jsonschema.validate(out, command_schema("hardware trends"))
    assert out["query"] == {"model": "llama-3.1-70b", "tokens_per_s_per_user_required": 50.0, "isl": 1024,
                            "osl": 1024}
    assert ("llama-3.1-70b", "h100-sxm", 50.0, 1024, 1024) in calls
    assert not any(c[1] == "tpu-v5e" for c in calls)                      # unpriced: not computed
    rows = {r["hardware"]: r for r in out["rows"]}
    assert rows["h100-sxm"]["usd_per_mtok_all_in"] == 0.9 and rows["h100-sxm"]["j_per_token_chip"] == 0.7
    assert rows["tpu-v5e"]["usd_per_mtok_all_in"] is None and "rent only" in rows["tpu-v5e"]["reason"]
    assert rows["l40s"]["j_per_token_chip"] is None and rows["l40s"]["reason"] == "too slow"
    assert "l40s: no reference point: too slow" in out["warnings"]

"""The built-in hardware catalog, the YAML loader (units, sources, validation) and its CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from tokenomy.cli.hardware import hardware_app
from tokenomy.errors import CatalogError
from tokenomy.loaders.hardware import (
    FIGURES,
    hardware_catalog_rows,
    hardware_figures,
    hardware_ids,
    load_hardware,
)

REQUIRED_IDS = [
    "a100-sxm", "h100-sxm", "h200-sxm", "b200", "gb200", "b300", "gb300", "l40s", "mi300x",
    "mi325x", "mi355x", "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu7x", "gaudi3", "trainium2",
    "inferentia2", "groq-lpu", "cerebras-wse3", "sambanova-sn40l", "rtx-pro-6000", "rubin-vr200", "rubin-cpx",
]
CATALOG_DIR = Path(__file__).resolve().parents[1] / "src" / "tokenomy" / "catalog" / "hardware"

MINIMAL = """\
id: my-chip
name: My Chip
vendor: Me
bf16_dense_tflops: {value: 100, source: "my datasheet"}
hbm_gb: {value: 24, source: "my datasheet"}
hbm_tb_per_s: {value: 1.0, source: "my datasheet"}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "chip.yaml"
    path.write_text(text)
    return str(path)


# --- the built-in catalog ----------------------------------------------------------------------


def test_catalog_has_exactly_the_required_ids():
    assert hardware_ids() == sorted(REQUIRED_IDS)


@pytest.mark.parametrize("hw_id", REQUIRED_IDS)
def test_every_chip_loads_with_a_source_for_every_figure(hw_id):
    hw = load_hardware(hw_id)
    assert hw.id == hw_id
    assert hw.peak("bf16") and hw.peak("bf16") > 0
    assert hw.weight_memory_bytes > 0 and hw.main_memory_bytes_per_s > 0
    figures = hardware_figures(hw_id)
    assert figures
    for fig in figures:
        assert fig["source"].startswith(("http", "estimate:", "measured:")), (hw_id, fig)
    # every SI figure that was set came with a source
    assert len(hw.sources) == len(figures)


@pytest.mark.parametrize("path", sorted(CATALOG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_catalog_figure_is_a_sourced_mapping(path):
    raw = yaml.safe_load(path.read_text())
    assert raw["id"] == path.stem
    for key, fig in raw.items():
        if key in FIGURES and fig is not None:
            assert set(fig) <= {"value", "source", "note"} and fig["source"], (path.name, key)


def test_h100_matches_the_datasheet():
    h100 = load_hardware("h100-sxm")
    assert h100.peak("bf16") == pytest.approx(989e12)
    assert h100.peak("fp8") == pytest.approx(1979e12)
    assert h100.hbm_bytes == pytest.approx(80e9)
    assert h100.hbm_bytes_per_s == pytest.approx(3.35e12)
    assert h100.power_limit_w == 700
    assert h100.idle_power_w == pytest.approx(71.778)
    assert h100.scaleup_bytes_per_s_unidir == pytest.approx(450e9)   # 900 GB/s bidirectional
    assert h100.compute_units == 132 and h100.clock_hz == pytest.approx(1.98e9)
    assert h100.sram_bytes == 50 * 2**20                               # L2, MiB
    assert h100.sram_is_cache


def test_h200_is_h100_compute_with_more_memory():
    h100, h200 = load_hardware("h100-sxm"), load_hardware("h200-sxm")
    assert h200.peak_flop_per_s == h100.peak_flop_per_s
    assert h200.hbm_bytes_per_s == pytest.approx(4.8e12)
    assert h200.hbm_bytes == pytest.approx(141e9)
    assert h200.clock_hz == h100.clock_hz and h200.compute_units == h100.compute_units


@pytest.mark.parametrize("hw_id", ["h100-sxm", "a100-sxm"])
def test_no_fp4_before_blackwell(hw_id):
    assert load_hardware(hw_id).peak("fp4") is None


def test_a100_has_no_fp8_and_blackwell_has_fp4():
    assert load_hardware("a100-sxm").peak("fp8") is None
    assert load_hardware("b200").peak("fp4") == pytest.approx(9000e12)


def test_sram_chips_hold_weights_in_sram():
    for hw_id in ("groq-lpu", "cerebras-wse3", "sambanova-sn40l"):
        assert not load_hardware(hw_id).sram_is_cache
    groq = load_hardware("groq-lpu")
    assert groq.hbm_bytes == 0 and groq.weight_memory_bytes == pytest.approx(230e6)
    assert groq.main_memory_bytes_per_s == pytest.approx(80e12)


def test_binary_units_convert_as_binary():
    assert load_hardware("tpu-v5p").hbm_bytes == 95 * 2**30


def test_cache_serves_builtins_only_and_specs_are_frozen(tmp_path):
    """Built-ins are cached by id; a user file is never served from that cache (even with a catalog id),
    a changed file is read again, and a cached spec cannot be altered by one caller for the next."""
    h100 = load_hardware("h100-sxm")
    text = MINIMAL.replace("id: my-chip", "id: h100-sxm")
    path = write(tmp_path, text)
    assert load_hardware(path).hbm_bytes_per_s == pytest.approx(1.0e12)         # the file, not the catalog
    assert load_hardware("h100-sxm").hbm_bytes_per_s == pytest.approx(3.35e12)  # the catalog, not the file
    Path(path).write_text(text.replace("hbm_tb_per_s: {value: 1.0", "hbm_tb_per_s: {value: 2.0"))
    assert load_hardware(path).hbm_bytes_per_s == pytest.approx(2.0e12)         # edited file read again
    with pytest.raises(ValidationError, match="frozen"):
        h100.hbm_bytes_per_s = 1.0
    assert load_hardware("h100-sxm").hbm_bytes_per_s == pytest.approx(3.35e12)


def test_catalog_rows_are_in_display_units():
    rows = {r["id"]: r for r in hardware_catalog_rows()}
    assert set(rows) == set(REQUIRED_IDS)
    assert rows["h100-sxm"]["bf16_tflops"] == 989 and rows["h100-sxm"]["hbm_tb_per_s"] == 3.35
    assert rows["h100-sxm"]["fp4_tflops"] is None and rows["h100-sxm"]["power_w"] == 700


# --- user files and validation -------------------------------------------------------------------


def test_user_yaml_loads(tmp_path):
    hw = load_hardware(write(tmp_path, MINIMAL))
    assert hw.id == "my-chip" and hw.peak("bf16") == pytest.approx(100e12)
    assert hw.hbm_bytes == pytest.approx(24e9) and hw.sources["hbm_bytes"] == "my datasheet"


def test_figure_without_source_names_file_and_key(tmp_path):
    path = write(tmp_path, MINIMAL + "power_limit_w: 300\n")
    with pytest.raises(CatalogError, match="power_limit_w") as err:
        load_hardware(path)
    assert "chip.yaml" in str(err.value) and "source" in str(err.value)


def test_figure_with_empty_source_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL + 'power_limit_w: {value: 300, source: ""}\n')
    with pytest.raises(CatalogError, match="power_limit_w"):
        load_hardware(path)


def test_unknown_key_lists_allowed_keys(tmp_path):
    path = write(tmp_path, MINIMAL + 'hbm_tb_s: {value: 1, source: "x"}\n')
    with pytest.raises(CatalogError, match="hbm_tb_s") as err:
        load_hardware(path)
    assert "Allowed keys" in str(err.value) and "hbm_tb_per_s" in str(err.value)


def test_negative_value_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL + 'power_limit_w: {value: -5, source: "x"}\n')
    with pytest.raises(CatalogError, match="power_limit_w.*negative"):
        load_hardware(path)


def test_same_figure_twice_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL + 'hbm_gib: {value: 24, source: "x"}\n')
    with pytest.raises(CatalogError, match="hbm_gib"):
        load_hardware(path)


def test_bad_kind_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="kind"):
        load_hardware(write(tmp_path, MINIMAL + "kind: fpga\n"))


def test_missing_file_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_hardware(str(tmp_path / "nope.yaml"))


def test_unknown_id_suggests_close_matches():
    with pytest.raises(CatalogError, match="'h100-sxm'") as err:
        load_hardware("h100-sxm5")
    assert "tokenomy hardware list" in str(err.value)


# --- CLI -----------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_list_table_and_json():
    result = runner.invoke(hardware_app, ["list"])
    assert result.exit_code == 0 and "h100-sxm" in result.stdout and "TFLOP/s" in result.stdout
    result = runner.invoke(hardware_app, ["list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["rows"]
    assert {r["hardware"] for r in rows} == set(REQUIRED_IDS)
    h100 = {r["hardware"]: r for r in rows}["h100-sxm"]        # base units: FLOP/s, bytes, bytes/s
    assert h100["bf16_flop_per_s"] == pytest.approx(989e12) and h100["hbm_bytes_per_s"] == pytest.approx(3.35e12)
    assert h100["fp4_flop_per_s"] is None and h100["power_limit_w"] == 700


def test_cli_show_table_and_json(tmp_path):
    result = runner.invoke(hardware_app, ["show", "h100-sxm"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "glennklockwood.com" in result.stdout
    result = runner.invoke(hardware_app, ["show", "h100-sxm", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    figures = {r["field"]: r for r in out["rows"]}
    assert figures["bf16_dense_tflops"]["value"] == 989 and figures["bf16_dense_tflops"]["unit"] == "TFLOPS"
    assert "glennklockwood.com" in figures["bf16_dense_tflops"]["reference"]
    result = runner.invoke(hardware_app, ["show", write(tmp_path, MINIMAL), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["query"]["hardware"] == "my-chip"


def test_cli_unknown_name_exits_2_with_one_line():
    result = runner.invoke(hardware_app, ["show", "h100-sxm5"], env={"COLUMNS": "80"})
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "h100-sxm" in message
    assert "Traceback" not in result.output


@pytest.mark.parametrize("hw_id", ["h100-sxm", "groq-lpu", "cerebras-wse3", "tpu-v5p"])
def test_catalog_format_round_trips(tmp_path, hw_id):
    """hardware_to_catalog (used by tokenomy calibrate) writes what load_hardware reads back."""
    import yaml

    from tokenomy.loaders.hardware import hardware_to_catalog
    hw = load_hardware(hw_id)
    p = tmp_path / "chip.yaml"
    p.write_text(yaml.safe_dump(hardware_to_catalog(hw)))
    back = load_hardware(str(p))
    for f in ("hbm_bytes", "hbm_bytes_per_s", "sram_bytes", "power_limit_w", "scaleup_bytes_per_s_unidir",
              "compute_units", "clock_hz", "price_usd"):
        a, b = getattr(hw, f), getattr(back, f)
        assert (a is None and b is None) or a == pytest.approx(b, rel=1e-5), f
    assert back.peak_flop_per_s == pytest.approx(hw.peak_flop_per_s, rel=1e-5)


# --- figures within physical ranges, corrected from their best public source ---------------------------

# SI field -> (low, high): generous physical limits; a unit slip (GB for MB, W for kW) lands outside
PHYSICAL = {
    "hbm_bytes": (0, 1e12), "hbm_bytes_per_s": (0, 3e13), "sram_bytes": (0, 1e11), "sram_bytes_per_s": (0, 1e17),
    "ddr_bytes": (0, 1e13), "ddr_bytes_per_s": (0, 1e12), "scaleup_bytes_per_s_unidir": (1e9, 5e12),
    "power_limit_w": (50, 30_000), "host_power_w": (0, 3_000), "price_usd": (1_000, 3e6),
    "rent_usd_per_hour": (0.1, 300), "clock_hz": (5e8, 3e9), "compute_units": (1, 1e6),
}


@pytest.mark.parametrize("hw_id", REQUIRED_IDS)
def test_figures_are_within_physical_ranges(hw_id):
    hw = load_hardware(hw_id)
    for field, (lo, hi) in PHYSICAL.items():
        v = getattr(hw, field)
        if v is not None:
            assert lo <= v <= hi, (hw_id, field, v)
    for prec, rate in hw.peak_flop_per_s.items():
        assert 1e13 <= rate <= 1e17, (hw_id, prec, rate)
        # FLOP per joule at the power limit stays below 50 TFLOPS/W (B300 FP4 is ~11)
        assert rate / hw.power_limit_w < 50e12, (hw_id, prec)
    # every chip can be costed: host power for its platform and a price or a rent
    assert hw.host_power_w is not None
    assert hw.price_usd is not None or hw.rent_usd_per_hour is not None


@pytest.mark.parametrize("hw_id", REQUIRED_IDS)
def test_no_recalled_figures_and_economic_estimates_give_a_range(hw_id):
    for fig in hardware_figures(hw_id):
        assert "as recalled" not in fig["source"], (hw_id, fig["key"])
        if fig["key"] in ("price_usd", "rent_usd_per_hour", "host_power_w") and fig["source"].startswith("estimate:"):
            text = fig["source"] + " " + (fig["note"] or "")
            assert "range" in text or "derived" in text, (hw_id, fig["key"])


def test_corrected_figures_match_the_best_public_source():
    # shared/reference/catalog-corrections.md
    assert load_hardware("mi355x").scaleup_bytes_per_s_unidir == pytest.approx(538e9)     # 7 x 153.6 / 2
    assert load_hardware("gaudi3").scaleup_bytes_per_s_unidir == pytest.approx(525e9)     # 21 of 24 x 25 GB/s
    b300 = load_hardware("b300")
    assert b300.peak("fp4") == pytest.approx(13_125e12) and b300.power_limit_w == 1200   # 105 PF / 8
    assert b300.compute_units == 160 and load_hardware("gb300").compute_units == 160
    assert load_hardware("inferentia2").hbm_bytes_per_s == pytest.approx(820e9)           # GB/s, not GiB/s
    assert load_hardware("cerebras-wse3").peak("bf16") < 62_500e12                        # not half a sparse rate


def test_memoryx_is_a_capacity_tier_not_weight_memory():
    cs3 = load_hardware("cerebras-wse3")
    assert cs3.capacity_tier_bytes == pytest.approx(1.2e15)
    assert cs3.weight_memory_bytes == pytest.approx(44e9)         # the wafer's SRAM only
    assert cs3.ddr_bytes == 0


def test_form_factor_says_what_the_price_buys():
    ff = {h: load_hardware(h).form_factor for h in REQUIRED_IDS}
    assert ff["gb200"] == ff["gb300"] == "rack-share" and ff["cerebras-wse3"] == "wafer-system"
    assert ff["h100-sxm"] == ff["b200"] == "hgx-server" and ff["l40s"] == "pcie-server"
    # a chip that is not sold has no price; only those are cloud instances
    for h, f in ff.items():
        assert (f == "cloud-instance") == (load_hardware(h).price_usd is None), h


def test_host_power_is_far_lower_per_chip_on_many_chip_hosts():
    gpu = min(load_hardware(h).host_power_w for h in ("h100-sxm", "b200", "mi300x"))
    for h in ("tpu-v5e", "tpu-v6e", "inferentia2", "groq-lpu", "trainium2"):
        assert load_hardware(h).host_power_w < gpu / 3, h


def test_bad_form_factor_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="form_factor"):
        load_hardware(write(tmp_path, MINIMAL + "form_factor: rackmount\n"))


def test_catalog_lists_write_csv_and_parquet(tmp_path):
    from tokenomy.cli.main import app

    for i, cmd in enumerate((["hardware", "list"], ["models", "list"], ["engines", "list"])):
        csv, pq = tmp_path / f"{i}.csv", tmp_path / f"{i}.parquet"
        result = runner.invoke(app, [*cmd, "--csv", str(csv), "--parquet", str(pq), "--json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)["rows"]
        assert csv.read_text().splitlines()[0].split(",") == list(rows[0])
        assert len(csv.read_text().splitlines()) == len(rows) + 1 and pq.stat().st_size > 0
        result = runner.invoke(app, [*cmd, "--csv", str(csv)])
        assert result.exit_code == 2 and "--force" in result.output

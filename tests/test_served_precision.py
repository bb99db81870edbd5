"""A chip's served weight format (catalog ``served_precision``, issue 10): the default precision on that chip."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_hardware_catalog import MINIMAL as CHIP
from typer.testing import CliRunner

from tokenomy import api
from tokenomy.cli.main import app
from tokenomy.errors import CatalogError
from tokenomy.frontier import sweep
from tokenomy.loaders.hardware import hardware_figures, hardware_to_catalog, load_hardware

MINIMAL = CHIP + 'fp8_dense_tflops: {value: 200, source: "my datasheet"}\n'   # bf16 and fp8 rates


def _chip(tmp_path: Path, extra: str) -> str:
    path = tmp_path / "chip.yaml"
    path.write_text(MINIMAL + extra)
    return str(path)


def test_groq_defaults_to_its_served_int8_and_explicit_bf16_wins():
    p = api.resolve("llama-3.1-70b", "groq-lpu")[3]
    assert (p.weights, p.activations, p.label) == ("int8", "int8", "int8 (served on groq-lpu)")
    assert api.resolve("llama-3.1-70b", "groq-lpu", precision="bf16")[3].label == "bf16"
    # the KV cache follows the engine's convention (dataflow extends serving: 'checkpoint', so bf16)
    pred = api.predict("llama-2-7b", "groq-lpu", context=128, tp=8, pp=32)
    assert pred.precision.startswith("int8") and pred.kv_cache == "bf16 (checkpoint)"


def test_other_chips_and_narrower_checkpoints_keep_the_shipped_format():
    assert api.resolve("llama-3.1-70b", "h100-sxm")[3].label == "bf16"
    assert api.resolve("llama-3.1-70b", "cerebras-wse3")[3].label == "bf16"     # Cerebras states 16-bit
    # gpt-oss ships MXFP4 experts (4.25 bits) < int8: never widened to the chip's served format
    assert api.resolve("gpt-oss-20b", "groq-lpu")[3].weights == "mxfp4"


def test_frontier_default_on_groq_is_int8_in_the_precision_column():
    res = sweep("llama-2-7b", ["groq-lpu"], isl=128, osl=128)
    assert {str(x) for x in res.columns["precision"]} == {"int8 (served on groq-lpu)"}


def test_hardware_show_lists_the_served_precision_and_it_round_trips():
    fig = {f["key"]: f for f in hardware_figures("groq-lpu")}["served_precision"]
    assert fig["value"] == "int8" and "8-bit-class" in fig["source"]
    out = CliRunner().invoke(app, ["hardware", "show", "groq-lpu"]).output
    assert "served_precisio" in out and "int8" in out
    assert hardware_to_catalog(load_hardware("groq-lpu"))["served_precision"]["value"] == "int8"
    assert load_hardware("h100-sxm").served_precision is None


def test_user_yaml_chip_with_served_precision(tmp_path):
    path = _chip(tmp_path, 'served_precision: {value: fp8, source: "my serving stack"}\n')
    assert api.resolve("llama-3.1-8b", path)[3].label == "fp8 (served on my-chip)"


@pytest.mark.parametrize("value, needle", [
    ("int4", "must be one of bf16, fp8, fp4, int8"),
    ("int8", "no matrix rate on this chip"),           # the chip has bf16 and fp8 rates only
])
def test_bad_served_precision_is_a_one_line_catalog_error(tmp_path, value, needle):
    path = _chip(tmp_path, f'served_precision: {{value: {value}, source: "x"}}\n')
    with pytest.raises(CatalogError, match=needle) as e:
        load_hardware(path)
    assert "\n" not in str(e.value)
    r = CliRunner().invoke(app, ["hardware", "show", path])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output

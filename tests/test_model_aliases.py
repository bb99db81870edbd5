"""Catalog aliases, the models of the shared serving data, and the architectures added for issue 9."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenomy.cli.models import models_app
from tokenomy.core.params import param_counts
from tokenomy.errors import CatalogError
from tokenomy.loaders import models as M
from tokenomy.loaders.models import load_model, model_aliases, model_names

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "serving"
NAMES = list(csv.DictReader(ln for ln in (DATA / "serving_model_names.csv").read_text().splitlines()
                            if not ln.startswith("#")))
# Published active counts cut (not rounded) to the digits given: published <= count < published + unit.
CUT_TO_UNIT = {"deepseek-v3": 1e9, "deepseek-r1": 1e9, "qwen3-30b-a3b": 0.1e9, "qwen3-235b-a22b": 1e9}
ACTIVE_FIELD = {"gpt-oss-120b": "active_matmul", "gpt-oss-20b": "active_matmul"}   # see test_models.py


@pytest.mark.parametrize("row", NAMES, ids=lambda r: r["name"])
def test_every_serving_data_name_resolves(row):
    if row["catalog"] == "skip":
        with pytest.raises(CatalogError):
            M.resolve_model_name(row["name"]) or load_model(row["name"])
        return
    spec = load_model(row["name"])
    assert spec.name == row["catalog"]
    assert (spec.quant_method or "-") == row["quant"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared serving data not present")
def test_the_name_list_covers_the_shared_data():
    columns = {"blis_vllm_ground_truth.csv": ["model"], "inferencex_benchmarks.csv": ["model"],
               "mlenergy_v3_llm.csv": ["model_id", "nickname"], "trtllm_perf_overview.csv": ["model", "checkpoint"]}
    listed = {(r["file"], r["column"], r["name"]) for r in NAMES}
    for file, cols in columns.items():
        with open(SHARED / file, newline="") as f:
            for row in csv.DictReader(f):
                for c in cols:
                    if not row[c].startswith("("):        # "(not listed in doc's checkpoint lists)"
                        assert (file, c, row[c]) in listed, (file, c, row[c])


def test_resolution_ignores_case_and_prefers_names():
    assert load_model("LLAMA-3.1-8B").name == "llama-3.1-8b"
    assert load_model("  llama 3.3 70b instruct ").name == "llama-3.3-70b"
    assert load_model("DSR1") == load_model("deepseek-r1")
    # an -FP8 id nobody listed still resolves, to the base shape in fp8 (router kept 16-bit)
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct-FP8-dynamic")
    assert (spec.name, spec.quant_weights, spec.quant_activations, spec.quant_bf16_parts) == \
        ("llama-3.1-8b", "fp8", "fp8", ("router",))
    # Meta's own FP8 405B quantizes only the MLPs: the catalog alias says so
    assert load_model("meta-llama/Llama-3.1-405B-Instruct-FP8").quant_bf16_parts == ("attention", "router")
    # a checkpoint that already ships quantized keeps its own format
    assert load_model("deepseek-ai/DeepSeek-R1-FP8").quant_method == "fp8"
    assert load_model("openai/gpt-oss-20b").quant_weights == "mxfp4"


def test_no_alias_is_claimed_twice_or_shadows_a_name():
    seen: dict[str, str] = {}
    names = {n.casefold() for n in model_names()}
    for name in model_names():
        for alias in model_aliases(name):
            key = alias.strip().casefold()
            assert key not in names, (alias, name)
            assert seen.setdefault(key, name) == name, (alias, name, seen[key])


def test_ambiguous_alias_names_both_entries(monkeypatch):
    index = {"twin": [("llama-3.1-8b", None), ("mistral-7b", None)]}
    monkeypatch.setattr(M, "_alias_index", lambda: index)
    with pytest.raises(CatalogError, match="ambiguous.*llama-3.1-8b, mistral-7b"):
        load_model("Twin")


def test_unknown_name_suggests_aliases_too():
    with pytest.raises(CatalogError, match="Did you mean.*Llama 3.3 70B"):
        load_model("Llama 3.3 70")


def test_bad_alias_entry_is_a_catalog_error(monkeypatch):
    monkeypatch.setattr(M, "_catalog_entry", lambda name: {"config": {}, "aliases": [{"name": 3}]})
    with pytest.raises(CatalogError, match="each alias must be"):
        model_aliases("llama-3.1-8b")


@pytest.mark.parametrize("name", model_names())
def test_total_params_within_half_a_percent_of_published(name):
    spec = load_model(name)
    assert spec.published_params, f"{name} needs published_params"
    assert param_counts(spec).total == pytest.approx(spec.published_params, rel=0.005)


@pytest.mark.parametrize("name", [n for n in model_names() if load_model(n).is_moe])
def test_active_params_match_published(name):
    spec = load_model(name)
    count = getattr(param_counts(spec), ACTIVE_FIELD.get(name, "active"))
    if name in CUT_TO_UNIT:
        assert spec.published_active_params <= count < spec.published_active_params + CUT_TO_UNIT[name]
    else:
        assert count == pytest.approx(spec.published_active_params, rel=0.01)


def test_cli_list_shows_aliases():
    result = CliRunner().invoke(models_app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.output)["rows"]}
    assert "dsr1" in rows["deepseek-r1"]["aliases"].split(", ")
    assert "Gemma 3 27B" in rows["gemma-3-27b"]["aliases"]
    result = CliRunner().invoke(models_app, ["show", "Llama 3.1 8B", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["query"]["model"] == "llama-3.1-8b"


# ---- architectures (tests/data/configs/README.md names each file's source) ----------------------------

def _config(name: str):
    return load_model(str(DATA / "configs" / name))


def test_gpt2_by_hand():
    # GPT-2 small, D 768, 12 layers, 12 heads, V 50257, 1024 learned positions, tied, biases everywhere.
    # embedding 50257*768 + 1024*768 = 39,383,808
    # attention 4*768*768 + 3*768 (qkv bias) + 768 (o bias) = 2,362,368
    # MLP (plain GELU, 4x) 2*768*3072 + 3072 + 768 = 4,722,432
    # LayerNorm weight + bias: (2*12 + 1)*2*768 = 38,400
    # total 39,383,808 + 12*(2,362,368 + 4,722,432) + 38,400 = 124,439,808 (the famous 124M)
    spec = _config("gpt2.json")
    c = param_counts(spec)
    assert (spec.family, spec.gated_mlp, spec.tie_embeddings, spec.n_positions, spec.d_ff) == \
        ("gpt2", False, True, 1024, 3072)
    assert c.attention_per_layer == 2_362_368 and c.dense_mlp_per_layer == 4_722_432
    assert c.total == 124_439_808
    assert c.active_matmul == c.total - 1024 * 768          # the position table is a lookup, not a GEMM


def test_phi3_by_hand():
    # embeddings 2*32064*3072 = 197,001,216; attention 4*3072^2 = 37,748,736; MLP 3*3072*8192 = 75,497,472
    # 32*(37,748,736 + 75,497,472) = 3,623,878,656; norms 65*3072 = 199,680 -> 3,821,079,552 (3.8B)
    spec = _config("phi3.json")
    assert param_counts(spec).total == 3_821_079_552
    assert (spec.sliding_window, spec.n_sliding_layers) == (2047, 32)


def test_gemma_by_hand():
    # Gemma 2B: tied 256000*2048 = 524,288,000; attention q 2048*2048 + kv 2*2048*256 + o 2048*2048
    # = 9,437,184; GeGLU 3*2048*16384 = 100,663,296; 18 layers = 1,981,808,640; norms 37*2048 = 75,776
    # total 2,506,172,416
    spec = _config("gemma.json")
    assert (spec.d_head, spec.n_kv_heads, spec.tie_embeddings) == (256, 1, True)
    assert param_counts(spec).total == 2_506_172_416


def test_gemma2_by_hand():
    # Gemma 2 2B: tied 256000*2304 = 589,824,000; attention q 2304*2048 + kv 2*2304*1024 + o 2048*2304
    # = 14,155,776; GeGLU 3*2304*9216 = 63,700,992; 26 layers = 2,024,275,968;
    # 4 norms a layer: (4*26 + 1)*2304 = 241,920; total 2,614,341,888. Even layers slide: 13 of 26.
    spec = _config("gemma2.json")
    assert param_counts(spec).total == 2_614_341_888
    assert (spec.norms_per_layer, spec.sliding_window, spec.n_sliding_layers) == (4, 4096, 13)


def test_gemma3_text_config_by_hand():
    # text_config: D 64, 4 heads of 32, 2 KV heads, F 256, 7 layers, V 1000, tied.
    # embedding 64,000; attention 64*128 + 2*64*64 + 128*64 + q/k norm 2*32 = 24,640; GeGLU 3*64*256 = 49,152
    # 7*(24,640 + 49,152) = 516,544; norms (4*7 + 1)*64 = 1,856; total 582,400.
    # Pattern 6: layer 5 is global, the other 6 slide.
    spec = _config("gemma3_tiny.json")
    assert (spec.family, spec.qk_norm, spec.n_sliding_layers, spec.max_position_embeddings) == \
        ("gemma3", True, 6, 4096)
    assert param_counts(spec).total == 582_400


def test_qwen2_moe_by_hand():
    # Qwen1.5-MoE-A2.7B: embeddings 2*151936*2048 = 622,329,856
    # attention 4*2048^2 + 3*2048 (q, k, v bias) = 16,783,360
    # MoE: router 2048*60 = 122,880; expert 3*2048*1408 = 8,650,752; shared 3*2048*5632 = 34,603,008
    # total: 24*(16,783,360 + 122,880 + 60*8,650,752 + 34,603,008) + 49*2048 norms + embeddings = 14,315,735,040
    # active: 24*(16,783,360 + 122,880 + 4*8,650,752 + 34,603,008) + 100,352 + 622,329,856 = 2,689,124,352
    # (published 14.3B / 2.7B; the shared expert's sigmoid gate, 24*2048 = 49k, is not counted)
    spec = _config("qwen2_moe.json")
    c = param_counts(spec)
    assert (spec.n_shared_experts, spec.d_ff_shared, spec.qkv_bias, spec.d_ff) == (1, 5632, True, 0)
    assert c.total == 14_315_735_040 and c.active == 2_689_124_352

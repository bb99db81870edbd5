"""Model catalog, config.json parsing, parameter counts and the `models` CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tokenomy.cli.models import models_app
from tokenomy.core.params import param_counts
from tokenomy.errors import CatalogError, SpecError, UnsupportedError
from tokenomy.loaders.models import load_model, model_from_config, model_names

REQUIRED = {"llama-3.1-8b", "llama-3.1-70b", "llama-3.3-70b", "llama-3.1-405b", "mistral-7b", "mixtral-8x7b",
            "qwen3-32b", "qwen3-30b-a3b", "qwen2.5-7b", "deepseek-v3", "gpt-oss-120b", "gpt-oss-20b"}

# Published total and active counts of every catalog model: tests/test_model_aliases.py.


def test_catalog_has_required_models():
    assert REQUIRED <= set(model_names())


def test_llama_8b_by_hand():
    # per layer: attention 2*4096*4096 + 2*4096*1024 = 41,943,040; MLP 3*4096*14336 = 176,160,768;
    # norms 2*4096. 32 layers + 2 * 128256*4096 embeddings + final norm 4096 = 8,030,261,248
    c = param_counts(load_model("llama-3.1-8b"))
    assert c.attention_per_layer == 41_943_040
    assert c.dense_mlp_per_layer == 176_160_768
    assert c.total == c.active == 8_030_261_248
    assert c.kv_cache_elements_per_token == 32 * 2 * 8 * 128  # 65,536: 128 KiB per token in bf16


def test_deepseek_v3_shape():
    spec = load_model("deepseek-v3")
    c = param_counts(spec)
    assert (spec.attention, spec.n_dense_layers, spec.n_moe_layers) == ("mla", 3, 58)
    assert (spec.n_shared_experts, spec.d_ff_shared, spec.d_ff_expert, spec.d_ff) == (1, 2048, 2048, 18432)
    assert c.kv_cache_elements_per_token == 61 * (512 + 64)
    # MLA: q_a + q_a_norm + q_b + kv_a + kv_a_norm + kv_b + o
    assert c.attention_per_layer == (7168 * 1536 + 1536 + 1536 * 128 * 192 + 7168 * 576 + 512
                                     + 512 * 128 * 256 + 128 * 128 * 7168)


def test_gpt_oss_shape():
    spec = load_model("gpt-oss-120b")
    assert (spec.sliding_window, spec.n_sliding_layers) == (128, 18)
    assert spec.qkv_bias and spec.o_bias and spec.attention_sinks and spec.expert_bias
    assert (spec.n_experts, spec.n_experts_active, spec.d_ff, spec.d_head) == (128, 4, 0, 64)


def test_family_flags():
    assert load_model("qwen2.5-7b").qkv_bias and not load_model("qwen2.5-7b").o_bias
    assert load_model("qwen3-32b").qk_norm
    assert load_model("mistral-7b").sliding_window is None
    assert load_model("qwen3-30b-a3b").n_dense_layers == 0
    assert load_model("mixtral-8x7b").n_experts_active == 2


BASE = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=8, vocab_size=1000, intermediate_size=128)
CONFIGS = {
    "llama": dict(BASE, model_type="llama", num_key_value_heads=2),
    "mistral": dict(BASE, model_type="mistral", num_key_value_heads=2, sliding_window=16),
    "qwen2": dict(BASE, model_type="qwen2", num_key_value_heads=2, tie_word_embeddings=True),
    "qwen3": dict(BASE, model_type="qwen3", num_key_value_heads=4, head_dim=16),
    "mixtral": dict(BASE, model_type="mixtral", num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2),
    "qwen3_moe": dict(BASE, model_type="qwen3_moe", num_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
                      decoder_sparse_step=1, mlp_only_layers=[0]),
    "gpt_oss": dict(BASE, model_type="gpt_oss", num_key_value_heads=2, head_dim=8, num_local_experts=4,
                    num_experts_per_tok=2, attention_bias=True, sliding_window=16,
                    layer_types=["sliding_attention", "full_attention"] * 2),
    "deepseek_v3": dict(BASE, model_type="deepseek_v3", q_lora_rank=32, kv_lora_rank=16, qk_nope_head_dim=8,
                        qk_rope_head_dim=4, v_head_dim=8, n_routed_experts=8, num_experts_per_tok=2,
                        moe_intermediate_size=16, n_shared_experts=1, first_k_dense_replace=1),
}


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_load_config_file(tmp_path, family):
    path = tmp_path / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(CONFIGS[family]))
    spec = load_model(str(path))
    assert (spec.family, spec.name, spec.source) == (family, "tiny", str(path))
    c = param_counts(spec)
    assert c.active <= c.total and (c.active < c.total) == spec.is_moe
    assert load_model(str(path.parent)) == spec  # the directory works too


def test_tiny_config_details(tmp_path):
    llama = model_from_config(CONFIGS["llama"], "t")
    # by hand: d_head 64/8 = 8; attention 2*64*64 + 2*64*(2*8) = 10,240; MLP 3*64*128 = 24,576; norms 2*64;
    # 4 layers x 34,944 = 139,776; untied embeddings 2*1000*64 = 128,000; final norm 64 -> 267,840
    assert param_counts(llama).total == param_counts(llama).active == 267_840
    assert (llama.d_head, llama.n_kv_heads) == (8, 2)  # head_dim = hidden / heads
    no_kv = {k: v for k, v in CONFIGS["llama"].items() if k != "num_key_value_heads"}
    assert model_from_config(no_kv, "t").n_kv_heads == 8  # absent -> MHA
    assert param_counts(model_from_config(CONFIGS["qwen2"], "t")).lm_head == 0  # tied
    assert model_from_config(CONFIGS["mistral"], "t").n_sliding_layers == 4
    moe = model_from_config(CONFIGS["qwen3_moe"], "t")
    assert (moe.n_dense_layers, moe.d_ff, moe.n_moe_layers) == (1, 128, 3)
    oss = model_from_config(CONFIGS["gpt_oss"], "t")
    assert (oss.n_sliding_layers, oss.sliding_window) == (2, 16)
    ds = model_from_config(CONFIGS["deepseek_v3"], "t")
    assert (ds.n_dense_layers, ds.d_ff_shared, ds.attention) == (1, 16, "mla")
    # architectures is the fallback when model_type is missing
    arch = {k: v for k, v in CONFIGS["mixtral"].items() if k != "model_type"}
    assert model_from_config(dict(arch, architectures=["MixtralForCausalLM"]), "t").family == "mixtral"


def test_unknown_model_type():
    with pytest.raises(UnsupportedError, match="llama.*deepseek_v3"):
        model_from_config(dict(BASE, model_type="nemotron_h"), "t")


def test_missing_key_names_key_and_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in CONFIGS["llama"].items() if k != "hidden_size"}))
    with pytest.raises(SpecError, match="hidden_size") as info:
        load_model(str(path))
    assert str(path) in str(info.value)


@pytest.fixture
def no_network(monkeypatch):
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError("the hub must not be asked")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)


def test_unknown_name_suggests_and_stays_offline(no_network):
    with pytest.raises(CatalogError, match="Did you mean 'llama-3.1-8b'") as info:
        load_model("llama-3.1-8")
    assert "tokenomy models list" in str(info.value)


def test_missing_path_stays_offline(no_network, tmp_path):
    with pytest.raises(CatalogError, match="No such file"):
        load_model(str(tmp_path / "nope" / "config.json"))


def test_hub_failure_is_one_catalog_error(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(CatalogError, match="config.json") as info:
        load_model("some-org/some-model")
    assert "\n" not in str(info.value)


def test_hub_download(monkeypatch, tmp_path):
    import huggingface_hub

    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIGS["llama"]))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo_id, filename, **kw: str(path))
    assert load_model("org/tiny").name == "org/tiny"


runner = CliRunner()


def test_cli_list():
    result = runner.invoke(models_app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.output)["rows"]}
    assert REQUIRED <= set(rows)
    assert rows["deepseek-v3"]["params_active"] < rows["deepseek-v3"]["params_total"]
    result = runner.invoke(models_app, ["list"])
    assert result.exit_code == 0 and "deepseek-v3" in result.output


def test_cli_show(tmp_path):
    result = runner.invoke(models_app, ["show", "qwen3-32b", "--json"])
    assert result.exit_code == 0, result.output
    data = {r["field"]: r["value"] for r in json.loads(result.output)["rows"]}
    assert data["qk_norm"] is True and data["params_total"] > 32e9 and data["name"] == "qwen3-32b"
    result = runner.invoke(models_app, ["show", "mixtral-8x7b"])
    assert result.exit_code == 0 and "n_experts" in result.output
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIGS["gpt_oss"]))
    assert runner.invoke(models_app, ["show", str(tmp_path)]).exit_code == 0


def test_cli_show_unknown(no_network):
    result = runner.invoke(models_app, ["show", "mixtral-8x8b"])
    assert result.exit_code == 2
    assert "mixtral-8x7b" in result.output

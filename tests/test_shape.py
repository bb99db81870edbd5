"""tokenomy.shape: per-GEMM analysis, nearby-shape proposals, design for a budget; ``tokenomy shape``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tokenomy import SpecError
from tokenomy.cli.main import app
from tokenomy.shape import analyze_shape, design_shape

runner = CliRunner()

# GPT-2 small's dimensions in a Llama-style config: 50,257-token vocabulary (not a multiple of 8)
GPT2ISH = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 768,
           "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 12,
           "intermediate_size": 3072, "vocab_size": 50257, "tie_word_embeddings": True}


@pytest.fixture
def gpt2ish(tmp_path):
    p = tmp_path / "gpt2ish" / "config.json"
    p.parent.mkdir()
    p.write_text(json.dumps(GPT2ISH))
    return str(p)


def test_vocab_50257_gets_padded_to_a_multiple_of_64(gpt2ish):
    a = analyze_shape(gpt2ish, "h100-sxm")
    lm = {g.name: g for g in a.gemms}["lm_head"]
    assert "misaligned_n" in lm.flags
    vocab = [p for p in a.proposals if p.dimension == "vocab_size"]
    assert vocab, a.proposals
    best = vocab[0]
    old, new = best.changes["vocab_size"]
    assert old == 50257 and new % 64 == 0 and 50257 < new <= 50257 + 256
    assert new == 50304                                  # the nearest multiple of 64 (nanoGPT's choice)
    assert best.decode_speedup > 1.05 and best.prefill_speedup > 0.99
    # the LM head itself: 64 decode rows leave the misaligned slow path (~2.9x measured on H100)
    assert best.gemm_speedups["lm_head"]["decode"] > 2.0
    assert abs(best.params_change_frac) <= a.tolerance


def test_vocab_padding_is_per_shard_with_tp(gpt2ish):
    a = analyze_shape(gpt2ish, "h100-sxm", tp=2)
    news = [p.changes["vocab_size"][1] for p in a.proposals if p.dimension == "vocab_size"]
    assert news and all(v % 128 == 0 for v in news)     # 64 per shard on 2 shards
    assert all(g.n == 2304 // 2 for g in a.gemms if g.name == "qkv")


@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.1-70b"])
def test_catalog_llama_needs_nothing(model):
    a = analyze_shape(model, "h100-sxm")
    assert a.proposals == ()
    assert all("misaligned_k" not in g.flags and "misaligned_n" not in g.flags for g in a.gemms)
    assert {g.name for g in a.gemms} == {"qkv", "o", "gate_up", "down", "lm_head"}
    assert 0.95 < a.prefill_efficiency_frac <= 1 and 0.95 < a.decode_efficiency_frac <= 1


def test_llama_70b_tp8_shards_and_no_proposals():
    a = analyze_shape("llama-3.1-70b", "h100-sxm", tp=8)
    g = {x.name: x for x in a.gemms}
    assert (g["qkv"].n, g["o"].k, g["gate_up"].n, g["down"].k) == ((64 // 8 + 2) * 128, 1024, 7168, 3584)
    assert a.proposals == ()


def test_misaligned_d_ff_gets_a_proposal(tmp_path):
    # SwiGLU at 8/3 * 4096 = 10922 (odd: off the 16-byte path); ml-engineering measured 273 vs 398 TFLOP/s
    cfg = {**GPT2ISH, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
           "intermediate_size": 10922, "vocab_size": 32000, "num_hidden_layers": 4}
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    a = analyze_shape(str(p), "h100-sxm")
    dff = [x for x in a.proposals if x.dimension == "d_ff"]
    assert dff and all(x.changes["d_ff"][1] % 64 == 0 for x in dff)
    assert max(x.prefill_speedup for x in dff) > 1.3


def test_bad_inputs():
    with pytest.raises(SpecError):
        analyze_shape("llama-3.1-8b", "h100-sxm", tp=0)
    with pytest.raises(SpecError):
        analyze_shape("llama-3.1-8b", "h100-sxm", tp=3)         # 3 does not divide 32 heads
    with pytest.raises(SpecError):
        analyze_shape("llama-3.1-8b", "h100-sxm", tolerance=-0.1)
    with pytest.raises(SpecError):
        design_shape(-1, "h100-sxm")
    with pytest.raises(SpecError):
        design_shape(1e3, "h100-sxm")                           # below the embedding alone


def _llama_params(layers, d_model, n_heads, n_kv_heads, d_head, d_ff, vocab, tied=False) -> int:
    """Parameters of a Llama-style decoder, written out here (not the package's count): per layer q and o
    (d x heads*d_head each), k and v (d x kv*d_head each), gate/up/down (3 x d x d_ff), two RMSNorms;
    embeddings (and an untied LM head) vocab x d; a final norm."""
    attn = 2 * d_model * n_heads * d_head + 2 * d_model * n_kv_heads * d_head
    return layers * (attn + 3 * d_model * d_ff + 2 * d_model) + (1 if tied else 2) * vocab * d_model + d_model


def test_hand_count_matches_published_llama_sizes():
    # Llama-3.1-8B:  32 x (41,943,040 + 176,160,768 + 8,192) + 2 x 525,336,576 + 4,096 = 8,030,261,248 ("8.03B")
    assert _llama_params(32, 4096, 32, 8, 128, 14336, 128256) == 8_030_261_248
    # Llama-3.1-70B: 80 x (150,994,944 + 704,643,072 + 16,384) + 2 x 1,050,673,152 + 8,192 = 70,553,706,496
    assert _llama_params(80, 8192, 64, 8, 128, 28672, 128256) == 70_553_706_496
    assert abs(70_553_706_496 / 70.6e9 - 1) < 0.001          # "70.6B params" on the model page


@pytest.mark.parametrize("model, published", [("llama-3.1-8b", 8_030_261_248), ("llama-3.1-70b", 70_553_706_496)])
def test_analysis_reports_the_published_parameter_count(model, published):
    assert analyze_shape(model, "h100-sxm").params_total == published


def test_design_7b_on_h100():
    d = design_shape(7e9, "h100-sxm")
    assert abs(d.params_total / 7e9 - 1) <= 0.03
    # the count the design reports is the hand count of the shape it designed (today 33 x 4096, d_ff 11264:
    # 33 x (41,943,040 + 138,412,032 + 8,192) + 2 x 525,336,576 + 4,096 = 7,002,664,960)
    assert d.params_total == _llama_params(d.n_layers, d.d_model, d.n_heads, d.n_kv_heads, d.d_head, d.d_ff,
                                           d.vocab_size, d.spec.tie_embeddings)
    assert d.params_error_frac == pytest.approx(d.params_total / 7e9 - 1)
    assert d.d_model % 128 == 0 and d.d_head == 128 and d.n_heads * 128 == d.d_model
    assert d.n_kv_heads == 8 and d.n_heads % 8 == 0
    assert d.d_ff % 256 == 0 and abs(d.d_ff / (8 / 3 * d.d_model) - 1) < 0.15
    assert d.vocab_size % 128 == 0
    assert 64 <= d.d_model / d.n_layers <= 192
    assert len(d.reasoning) >= 5 and any("d_ff" in r for r in d.reasoning)
    # the designed shape itself needs nothing changed
    assert analyze_shape(d.spec, "h100-sxm").proposals == ()


def test_design_with_fixed_layers_and_vocab_padding():
    d = design_shape(1.3e9, "b200", layers=24, vocab_size=50257)
    assert d.n_layers == 24 and d.vocab_size == 50304 and abs(d.params_error_frac) <= 0.02
    assert d.params_total == _llama_params(24, d.d_model, d.n_heads, d.n_kv_heads, d.d_head, d.d_ff, 50304,
                                           d.spec.tie_embeddings)
    assert abs(d.params_total / 1.3e9 - 1) <= 0.02
    assert d.d_model % 128 == 0 and d.n_heads % d.n_kv_heads == 0


def test_cli_shape_json_and_table(gpt2ish):
    res = runner.invoke(app, ["shape", "--model", gpt2ish, "--hardware", "h100-sxm", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["command"] == "shape" and out["query"]["hardware"] == "h100-sxm"
    first = out["summary"]["proposals"][0]
    assert first["changes"] == [{"field": "vocab_size", "value": 50304}]
    assert {g["gemm"] for g in first["gemm_speedups"]} and first["gemm_speedups"][0]["prefill_speedup"] > 0
    assert {g["gemm"] for g in out["rows"]} >= {"qkv", "o", "gate_up", "down", "lm_head"}
    res = runner.invoke(app, ["shape", "--model", gpt2ish, "--hardware", "h100-sxm"], env={"COLUMNS": "80"},
                        terminal_width=80)
    assert res.exit_code == 0 and "50257 -> 50304" in res.stdout and "…" not in res.stdout
    res = runner.invoke(app, ["shape", "--model", "llama-3.1-8b", "--hardware", "h100-sxm"])
    assert res.exit_code == 0, res.output
    assert "none (no nearby shape gains" in res.stdout


def test_cli_design(gpt2ish):
    res = runner.invoke(app, ["shape", "--design", "--params", "7e9", "--hardware", "h100-sxm", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["rows"][0]["d_model"] % 128 == 0 and out["summary"]["lines"] and out["query"]["design"] is True
    res = runner.invoke(app, ["shape", "--design", "--params", "7e9", "--hardware", "h100-sxm"])
    assert res.exit_code == 0 and "Reasoning" in res.stdout
    assert runner.invoke(app, ["shape", "--design", "--hardware", "h100-sxm"]).exit_code == 2
    assert runner.invoke(app, ["shape", "--hardware", "h100-sxm"]).exit_code == 2
    assert runner.invoke(app, ["shape", "--model", "nope-model", "--hardware", "h100-sxm"]).exit_code == 2

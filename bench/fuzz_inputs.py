"""Values and files for the fuzz suite (bench/fuzz.py and tests/test_fuzz.py).

Every choice goes through a ``draw`` object with two methods, ``one(options)`` and
``chance(p)``: ``RandomDraw`` (a seeded ``random.Random``) drives the bench, hypothesis drives the
tests (tests/test_fuzz.py), so both run the same generators. Valid options come first in every
list, so hypothesis shrinks a failure towards the valid input nearest to it.

Files are returned as bytes under names relative to a temporary folder; arguments refer to that
folder as ``{tmp}`` and the runner (bench/fuzz_oracle.py) substitutes it.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "src" / "tokenomy" / "catalog"
DATA = ROOT / "tests" / "data"
E2E_ROWS = DATA / "llama-3.1-8b.jsonl"
MICRO_ROWS = DATA / "microbench.jsonl"

NAN, INF = float("nan"), float("inf")
BIG = "__1e400__"           # placeholder written as the literal 1e400 (JSON) or 1.0e+400 (YAML)


@dataclass
class Case:
    """One generated input: an API call (``entry`` 'module:function', ``args``, ``kwargs``) or a CLI
    run (``argv``), with the files it reads. ``expect_ok``: no value was made hostile, so the
    input is valid and must not be rejected."""

    kind: str                                  # "api" | "cli"
    entry: str                                 # 'tokenomy.api:predict' or 'cli predict'
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)
    files: dict = field(default_factory=dict)  # name under {tmp} -> bytes
    expect_ok: bool = False


@dataclass
class Call:
    """An argument computed by calling ``entry`` first (e.g. a Prediction for token_economics)."""

    entry: str
    kwargs: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"{self.entry.split(':')[1]}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


class RandomDraw:
    """Choices from a seeded ``random.Random`` (the bench)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def one(self, options):
        return self.rng.choice(list(options))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


# ---------------------------------------------------------------------------------- catalog names


def _names(folder: str) -> list[str]:
    return sorted(p.stem for p in (CATALOG / folder).glob("*.yaml"))


@cache
def catalog() -> dict[str, list[str]]:
    """Catalog names, small models and common chips first (valid draws stay cheap)."""
    first_models = ["llama-3.1-8b", "mistral-7b", "qwen3-30b-a3b", "mixtral-8x7b", "gpt-oss-20b", "llama-3.1-70b"]
    first_chips = ["h100-sxm", "b200", "mi300x", "h200-sxm", "groq-lpu", "cerebras-wse3", "tpu-v6e", "gaudi3"]
    models, chips = _names("models"), _names("hardware")
    return {"models": [m for m in first_models if m in models] + [m for m in models if m not in first_models],
            "chips": [c for c in first_chips if c in chips] + [c for c in chips if c not in first_chips],
            "engines": _names("engines")}


# ----------------------------------------------------------------------------------- value pools

# Python values for API arguments
API_NUMBER = [0, -1, -0.0, 0.5, 1e-300, 3, 1e9, 1e30, 1e82, 10**30, 2**63, NAN, INF, -INF, True, False, None,
              "8", "abc", "", [1, 2], [], {"a": 1}, 1j, (1, NAN), ["8"], [[1, 2], [3]]]
API_TEXT = ["nope", "", " ", "H100-SXM", "h100-sxm,,b200", ",", 0, -1, 0.5, True, None, NAN, ["h100-sxm"],
            {"a": 1}, b"h100-sxm", "\x00", "x" * 5000, "../../etc/passwd", "w=fp8", "w=nope,a=bf16,kv=fp8"]
# speculative decoding (spec/args.py syntax): valid forms first, then every way it can be wrong
SPEC = ["mtp", "mtp:1,accept=0.85", "eagle:3,accepted=2.5", "draft:llama-3.1-8b:2", "off", "mtp:0", "mtp:17",
        "mtp,accept=1", "mtp,accept=nan", "mtp,accept=-0.5", "eagle:2,accepted=2", "eagle:3,accepted=1e400",
        "medusa:2", "draft", "draft:nope:2", "draft:{tmp}/none.json:2", "mtp:1:2", "mtp,accept=0.5,accepted=1",
        "mtp,foo", "mtp:٣", ":", "mtp:" + "9" * 40]
API_PRECISION = ["fp8", "fp4", "int8", "w=fp8,a=bf16,kv=fp8", "w=fp4,a=fp8,kv=fp8", "auto", "FP8", "bf32", 0.5, 8]

# command-line strings
CLI_NUMBER = ["0", "-1", "-5", "nan", "NaN", "inf", "-inf", "1e400", "1e9", "1e30", "0.5", "abc", "", " ", "1,2",
              "0x10", "9" * 40, "1e-300", "-0", "1_000", "٣"]
CLI_TEXT = ["nope", "", " ", ",", "h100-sxm,,b200", "H100-SXM", "{tmp}/missing/dir/x.yaml", "{tmp}/none.json",
            "nope.yaml", "\x00", "x" * 5000, "{tmp}", "-", "--json"]
PLOT_PATHS = ["{tmp}/p.png", "{tmp}/p.html", "{tmp}/missing/dir/p.png", "{tmp}/p.svg", "{tmp}/.png", "{tmp}/p",
              "{tmp}/P.PNG", "{tmp}", "{tmp}/p.png.html"]

# values written into JSON/YAML files
FILE_NUMBER = [0, -1, -14336, 0.5, 1e-300, 1e30, 10**30, BIG, NAN, INF, -INF, True, None, "32", [], [1], {}, "abc"]
JUNK = [b"", b"\xff\xfe\x00\x01" * 64, bytes(range(256)) * 4, b"\x89PNG\r\n\x1a\n\x00\x00", b"{", b"[]", b"null",
        b"7", b'"text"', b"[" * 20_000 + b"]" * 20_000, b"a: [" * 2000, "é".encode("latin-1") * 10]


def to_json(obj: Any) -> bytes:
    """JSON with NaN/Infinity tokens kept and the 1e400 placeholder written as a literal."""
    return json.dumps(obj).replace(f'"{BIG}"', "1e400").encode()


def to_yaml(obj: Any) -> bytes:
    return yaml.safe_dump(obj, sort_keys=False).replace(f"'{BIG}'", "1.0e+400").encode()


def mutate(d, obj: dict, keys: list[str], values: list) -> dict:
    """``obj`` with up to three fields set to hostile ``values`` or removed."""
    obj = copy.deepcopy(obj)
    for _ in range(d.one([1, 1, 2, 3])):
        key = d.one(keys)
        if d.chance(0.15):
            obj.pop(key, None)
        else:
            obj[key] = d.one(values)
    return obj


# ------------------------------------------------------------------------------------------ files


@cache
def model_configs() -> dict[str, dict]:
    """config.json dicts of the catalog models."""
    return {name: yaml.safe_load((CATALOG / "models" / f"{name}.yaml").read_text())["config"]
            for name in catalog()["models"]}


@cache
def hardware_raw() -> dict[str, dict]:
    return {name: yaml.safe_load((CATALOG / "hardware" / f"{name}.yaml").read_text()) for name in catalog()["chips"]}


_SIZE = [0, -1, -14336, 0.5, NAN, INF, BIG, "32", None, 10**30, True, [], 1e-300]
_STEP = [0, -1, 0.5, NAN, "1", 10**9, None]
CONFIG_HOSTILE: dict[str, list] = {
    **{k: _SIZE for k in ("num_attention_heads", "intermediate_size", "num_local_experts", "num_experts", "hidden_size",
                          "num_hidden_layers", "vocab_size", "head_dim", "num_key_value_heads", "moe_intermediate_size",
                          "kv_lora_rank", "num_experts_per_tok", "sliding_window", "max_position_embeddings",
                          "qk_rope_head_dim", "v_head_dim", "n_routed_experts", "n_shared_experts")},
    **{k: _STEP for k in ("decoder_sparse_step", "moe_layer_freq", "first_k_dense_replace", "max_window_layers")},
    "architectures": [5, "LlamaForCausalLM", [5], None, {}, ["BertModel"]],
    "model_type": [5, "bert", None, ["llama"], ""],
    "layer_types": [["x"], 5, "sliding_attention", [None], []],
    "mlp_only_layers": [5, ["a"], [-1], None],
    "tie_word_embeddings": ["yes", NAN, [1]], "use_sliding_window": ["no", 5], "quantization_config": [5, {"a": NAN}],
}


def config_file(d, files: dict, valid: bool = False) -> str:
    """A model config.json (one catalog config, possibly with hostile fields); returns its path."""
    cfg = copy.deepcopy(model_configs()[d.one(catalog()["models"])])
    if valid:
        data = to_json(cfg)
    elif d.chance(0.1):
        data = d.one(JUNK)
    else:
        keys = sorted(set(CONFIG_HOSTILE) & set(cfg)) + ["architectures", "decoder_sparse_step", "moe_layer_freq"]
        for _ in range(d.one([1, 1, 2])):
            key = d.one(keys)
            if d.chance(0.1):
                cfg.pop(key, None)
            else:
                cfg[key] = d.one(CONFIG_HOSTILE[key])
        data = to_json(cfg)
    files["model/config.json"] = data
    return d.one(["{tmp}/model/config.json", "{tmp}/model"])


def hardware_file(d, files: dict, valid: bool = False) -> str:
    """A hardware YAML in catalog format with hostile figures; returns its path."""
    raw = copy.deepcopy(hardware_raw()[d.one(catalog()["chips"])])
    if valid:
        data = to_yaml(raw)
    elif d.chance(0.15):
        data = d.one(JUNK)
    else:
        figures = [k for k, v in raw.items() if isinstance(v, dict)]
        for _ in range(d.one([1, 1, 2])):
            key = d.one(figures + ["id", "kind", "sram_is_cache", "unknown_key"])
            how = d.one(["value", "value", "value", "bare", "drop", "source"])
            if how == "value" and isinstance(raw.get(key), dict):
                raw[key]["value"] = d.one([0, 1e-300, NAN, INF, -1, BIG, "abc", None, True, [1], 1e30])
            elif how == "drop":
                raw.pop(key, None)
            elif how == "source" and isinstance(raw.get(key), dict):
                raw[key]["source"] = d.one(["", 5, None])
            else:
                raw[key] = d.one([5, NAN, "x", None, [], {"value": 1}])
        data = to_yaml(raw)
    files["chip.yaml"] = data
    return "{tmp}/chip.yaml"


def _case_line(d, base: dict, keys: list[str], values: list) -> bytes:
    if d.chance(0.2):
        return d.one([b"NaN", b"[]", b"1", b'{"a":', b"[" * 5000 + b"]" * 5000, b"\xff\xfe", b"", b"  ",
                      b'{"model": {"a": ' * 3000 + b"1" + b"}" * 3000])
    return to_json(mutate(d, base, keys, values) if d.chance(0.6) else base)


def predict_cases_file(d, files: dict) -> str:
    """A ``predict --cases`` JSONL file: valid lines mixed with hostile ones."""
    lines = []
    for _ in range(d.one([1, 2, 3, 5])):
        phase = d.one(["decode", "prefill"])
        base = {"model": d.one(catalog()["models"][:4]), "hardware": d.one(catalog()["chips"][:6]), "phase": phase,
                "batch": d.one([1, 8, 64]), ("context" if phase == "decode" else "seq"): d.one([128, 1024, 4096])}
        keys = ["model", "hardware", "phase", "batch", "seq", "context", "tp", "pp", "ep", "precision", "engine",
                "profile", "spec", "bogus"]
        lines.append(_case_line(d, base, keys, FILE_NUMBER + [["h100-sxm"], 8, "fp8", "nope", "{tmp}/x.json", "mtp",
                                                              "eagle:3,accepted=2", "mtp:0"]))
    files["cases.jsonl"] = d.one(JUNK) if d.chance(0.05) else b"\n".join(lines) + b"\n"
    return "{tmp}/cases.jsonl"


def gemm_cases_file(d, files: dict) -> str:
    """A ``gemm --cases`` JSONL file."""
    lines = []
    for _ in range(d.one([1, 2, 4])):
        base = {"hardware": d.one(catalog()["chips"][:6]), "m": d.one([1, 128, 4096]), "n": d.one([4096, 50257]),
                "k": d.one([4096, 14336])}
        lines.append(_case_line(d, base, ["hardware", "m", "n", "k", "dtype", "engine", "bogus"],
                                FILE_NUMBER + ["fp8", "fp4", ["bf16"]]))
    files["gemm.jsonl"] = b"\n".join(lines) + b"\n"
    return "{tmp}/gemm.jsonl"


@cache
def measured_rows() -> list[dict]:
    e2e = [json.loads(x) for x in E2E_ROWS.read_text().splitlines() if x.strip()]
    micro = [json.loads(x) for x in MICRO_ROWS.read_text().splitlines() if x.strip()]
    return e2e[:1] + e2e[1:50:6] + micro[:1] + micro[3:350:40]


def measurements_file(d, files: dict, valid: bool = False) -> str:
    """Measurement rows (shared/data/h100 format) as JSONL or a profile JSON, with hostile rows."""
    rows = copy.deepcopy(measured_rows())
    for _ in range(0 if valid else d.one([0, 1, 2, 3])):
        i = d.one(range(len(rows)))
        how = d.one(["value", "value", "drop", "kind", "replace"])
        if how == "replace":
            rows[i] = d.one([[1, 2], 5, "row", None, {}, {"kind": "decode"}])
        elif isinstance(rows[i], dict) and rows[i]:
            key = d.one(sorted(rows[i]))
            if how == "drop":
                rows[i].pop(key)
            elif how == "kind":
                rows[i]["kind"] = d.one(["nope", 5, None, "gemm", "energy"])
            else:
                rows[i][key] = d.one(FILE_NUMBER)
    if not valid and d.chance(0.1):
        files["rows.jsonl"] = d.one(JUNK)
        return "{tmp}/rows.jsonl"
    if not valid and d.chance(0.2):
        files["profile.json"] = to_json(d.one([{"name": "p", "measurements": rows}, {"measurements": 5}, rows]))
        return "{tmp}/profile.json"
    files["rows.jsonl"] = b"\n".join(to_json(r) for r in rows) + b"\n"
    return "{tmp}/rows.jsonl"


def scenario_file(d, files: dict) -> str:
    """A scenario YAML or TOML file with hostile fields."""
    from tokenomy.spec.economics import Scenario

    keys = list(Scenario.model_fields) + ["bogus"]
    raw = {d.one(keys): d.one(FILE_NUMBER + ["owned", "rented", "leased", 1e9, 1e7]) for _ in range(d.one([1, 2, 3]))}
    if d.chance(0.1):
        files["scenario.yaml"] = d.one(JUNK)
        return "{tmp}/scenario.yaml"
    if d.chance(0.3):
        lines = [f"{k} = {_toml(v)}" for k, v in raw.items() if _toml(v) is not None]
        files["scenario.toml"] = "\n".join(lines).encode()
        return "{tmp}/scenario.toml"
    files["scenario.yaml"] = to_yaml(raw)
    return "{tmp}/scenario.yaml"


def _toml(v) -> str | None:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == BIG:
        return "1e400"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    return None if v is None else json.dumps(v)


def profile_file(d, files: dict) -> str:
    """An engine profile (YAML or JSON) extending a built-in one, with hostile fields."""
    keys = ["step_fixed_s", "kernel_fixed_s", "elementwise_hbm_frac", "graph", "name", "extends", "bogus"]
    nested = {"gemm": ["compute_frac", "hbm_frac", "fixed_s"], "power": ["idle_frac", "flop_frac"],
              "memory": ["reserve_frac"], "comm": ["link_frac"], "attention": ["decode_impl", "prefill_frac"]}
    raw: dict[str, Any] = {"extends": d.one(catalog()["engines"]), "name": "fuzz"}
    for _ in range(d.one([1, 2])):
        if d.chance(0.5):
            raw[d.one(keys)] = d.one(FILE_NUMBER + ["nope", "serving", "fused"])
        else:
            group = d.one(sorted(nested))
            raw[group] = {d.one(nested[group]): d.one(FILE_NUMBER + ["bmm"])}
    if d.chance(0.1):
        files["engine.yaml"] = d.one(JUNK)
        return "{tmp}/engine.yaml"
    if d.chance(0.4):
        files["engine.json"] = to_json(raw)
        return "{tmp}/engine.json"
    files["engine.yaml"] = to_yaml(raw)
    return "{tmp}/engine.yaml"

"""Generated calls of the public Python API and command lines of every CLI command.

``make_case(draw)`` returns one ``Case`` (bench/fuzz_inputs.py): a base input that is valid,
with zero to three of its values replaced by hostile ones (wrong types, NaN/inf/1e400, zero,
negative, huge, unknown names, files with bad contents, paths to missing folders). A case with no
replacement is marked ``expect_ok``. ``ENTRIES`` weights the mix so that 10,000 cases run in a
few minutes: fast entry points often, sweeps rarely.
"""

from __future__ import annotations

import numpy as np
from fuzz_file_cases import api_files, cli_files
from fuzz_inputs import (
    API_NUMBER,
    API_PRECISION,
    API_TEXT,
    CLI_NUMBER,
    CLI_TEXT,
    PLOT_PATHS,
    ROOT,
    SPEC,
    Call,
    Case,
    catalog,
    config_file,
    gemm_cases_file,
    hardware_file,
    measurements_file,
    predict_cases_file,
    profile_file,
    scenario_file,
)

SIZE = API_NUMBER + [np.array([1, 8]), np.array([]), np.array([[1, 2]]), np.array([1, np.nan]), np.int64(4),
                     np.float32(8), 4096.0, 131073, 10**7, np.array([1, 2**62])]
VALID_ROWS = str(ROOT / "tests" / "data" / "llama-3.1-8b.jsonl")


def _pick(d, pool, files):
    v = d.one(pool)
    return v(d, files) if callable(v) else v


def _n_hostile(d) -> int:
    return d.one([0, 1, 1, 1, 2, 3])


def _api(d, entry: str, base: dict, pools: dict) -> Case:
    files: dict = {}
    kw = dict(base)
    n = _n_hostile(d)
    for _ in range(n):
        key = d.one(sorted(pools))
        kw[key] = _pick(d, pools[key], files)
    return Case("api", entry, kwargs=kw, files=files, expect_ok=n == 0)


def _names(kind: str, k: int) -> list:
    return catalog()[kind][:k]


def _model_pool():
    return API_TEXT + [config_file, "llama-3.1-405b", "deepseek-v3"]


def _chip_pool():
    return API_TEXT + [hardware_file] + _names("chips", 30)


def _engine_pool():
    return API_TEXT + [profile_file] + _names("engines", 10)


def api_predict(d) -> Case:
    phase = d.one(["decode", "prefill"])
    base = {"model": d.one(_names("models", 4)), "hardware": d.one(_names("chips", 8)), "phase": phase,
            "batch": d.one([1, 8, 64, np.array([1, 8, 256])]), "engine": d.one([None, *_names("engines", 4)])}
    base["context" if phase == "decode" else "seq"] = d.one([1, 1024, 4096, np.array([[128], [4096]])])
    pools = {"model": _model_pool(), "hardware": _chip_pool(), "engine": _engine_pool(),
             "precision": API_PRECISION + API_TEXT, "phase": API_TEXT + ["decode", "prefill"], "batch": SIZE,
             "seq": SIZE, "context": SIZE, "tp": SIZE + [2, 8, 128], "pp": SIZE + [2, 4], "ep": SIZE + [2, 8],
             "profile": API_TEXT + [profile_file, measurements_file], "spec": SPEC + API_TEXT}
    return _api(d, "tokenomy.api:predict", base, pools)


def api_gemm(d) -> Case:
    base = {"hardware": d.one(_names("chips", 8)), "m": d.one([1, 4096, np.array([1, 7, 4096])]),
            "n": d.one([4096, 50257]), "k": d.one([4096, 14336])}
    pools = {"hardware": _chip_pool(), "m": SIZE, "n": SIZE, "k": SIZE, "dtype": API_TEXT + ["fp8", "fp4", "int8"],
             "engine": _engine_pool()}
    return _api(d, "tokenomy.gemm:predict_gemm", base, pools)


def api_sweep(d) -> Case:
    base = {"model": d.one(_names("models", 3)), "hardware_list": d.one(_names("chips", 6)),
            "isl": d.one([128, 1024]), "osl": d.one([64, 256])}
    pools = {"model": _model_pool(), "hardware_list": _chip_pool() + [["h100-sxm", "groq-lpu"], [], ["nope"]],
             "isl": SIZE, "osl": SIZE, "chips": SIZE + [8, 10**9], "precision": API_PRECISION + API_TEXT + [None],
             "engine": _engine_pool(), "min_tokens_per_s_per_user": API_NUMBER + [1e6],
             "max_ttft_s": API_NUMBER + [1e-9], "batches": SIZE, "spec": SPEC + API_TEXT, "tp": API_NUMBER + [2, 8],
             "pp": API_NUMBER + [2, 100], "ep": API_NUMBER + [2], "mode": ["rented", "owned", "leased", 3],
             "scenario": [scenario_file, *API_TEXT], "rent_usd_per_hour": API_NUMBER}
    return _api(d, "tokenomy.frontier:sweep", base, pools)


def api_shape(d) -> Case:
    if d.chance(0.4):
        base = {"params": d.one([1e9, 7e9]), "hardware": d.one(_names("chips", 4))}
        pools = {"params": API_NUMBER + [1e3, 1e15], "hardware": _chip_pool(), "layers": API_NUMBER + [1, 1000],
                 "vocab_size": API_NUMBER, "tolerance": API_NUMBER, "engine": _engine_pool(),
                 "prefill_tokens": SIZE, "decode_batch": SIZE}
        return _api(d, "tokenomy.shape:design_shape", base, pools)
    base = {"model": d.one(_names("models", 4)), "hardware": d.one(_names("chips", 4))}
    pools = {"model": _model_pool(), "hardware": _chip_pool(), "tp": SIZE + [2, 8], "tolerance": API_NUMBER,
             "prefill_tokens": SIZE, "decode_batch": SIZE, "prefill_seqs": SIZE, "precision": API_PRECISION + API_TEXT,
             "engine": _engine_pool(), "min_gain": API_NUMBER}
    return _api(d, "tokenomy.shape:analyze_shape", base, pools)


def _overrides(d) -> dict:
    from tokenomy.spec.economics import Scenario

    return {name: API_NUMBER + ["owned", "rented", "leased", 1e9] for name in Scenario.model_fields}


def api_economics(d) -> Case:
    fn = d.one(["chip_hour_cost", "effective_usd_per_chip_hour", "operating_point", "factory", "break_even_price",
                "invest", "get_scenario", "token_economics"])
    econ = {"scenario": API_TEXT + [scenario_file], "engine": _engine_pool(),
            "precision": API_PRECISION + API_TEXT, **_overrides(d)}
    work = {"model": _model_pool(), "tokens_per_s_per_user": API_NUMBER + [1e6], "isl": SIZE, "osl": SIZE,
            "tp": SIZE + [2, 8]}
    model, chip = d.one(_names("models", 2)), d.one(_names("chips", 5))
    if fn in ("chip_hour_cost", "effective_usd_per_chip_hour"):
        base, pools = {"hardware": chip}, {"hardware": _chip_pool(), **econ}
    elif fn == "get_scenario":
        base, pools = {}, econ
    elif fn == "token_economics":
        pred = Call("tokenomy.api:predict", {"model": model, "hardware": chip, "phase": "decode", "batch": 8,
                                             "context": 1024})
        base, pools = {"prediction": pred}, {"hardware": _chip_pool(), "prediction": API_TEXT, **econ}
    elif fn == "factory":
        base = {"power_mw": d.one([1.0, 100.0]), "model": model, "hardware": d.one([chip, ["h100-sxm", "b200"]]),
                "tokens_per_s_per_user": 20.0}
        pools = {**work, **econ, "power_mw": API_NUMBER + [1e12], "hardware": _chip_pool() + [[], ["b200", 5]],
                 "token_price_usd_per_mtok": API_NUMBER}
    elif fn == "break_even_price":
        base = {"model": model, "hardware_x": chip, "hardware_y": d.one(_names("chips", 5)),
                "tokens_per_s_per_user": 20.0}
        pools = {**work, **econ, "hardware_x": _chip_pool(), "hardware_y": _chip_pool(), "tp_x": SIZE, "tp_y": SIZE,
                 "precision_y": API_PRECISION + API_TEXT}
    elif fn == "invest":
        base = {"model": model, "hardware": chip, "tokens_per_s_per_user": 20.0}
        pools = {**work, **econ, "hardware": _chip_pool(), "power_mw": API_NUMBER + [1e12],
                 "tokens_per_query": API_NUMBER, "tokens_multiplier": API_NUMBER}
    else:
        base = {"model": model, "hardware": chip, "tokens_per_s_per_user": d.one([0.0, 20.0])}
        pools = {**work, **econ, "hardware": _chip_pool(), "pp": SIZE, "ep": SIZE, "max_batch": SIZE}
    return _api(d, f"tokenomy.economics:{fn}", base, pools)


def api_loaders(d) -> Case:
    kind = d.one(["load_model", "load_hardware", "load_engine", "validate"])
    if kind == "validate":
        rows = Call("tokenomy.validate:read_measurements", {"paths": VALID_ROWS})
        base = {"rows": rows, "hardware": "h100-sxm"}
        pools = {"rows": [Call("tokenomy.validate:read_measurements", {"paths": measurements_file}), [], [5], [{}],
                          None, "abc"], "hardware": _chip_pool(), "profile": _engine_pool()}
        return _api(d, "tokenomy.validate:validate", base, pools)
    pool = {"load_model": _model_pool(), "load_hardware": _chip_pool(), "load_engine": _engine_pool()}[kind]
    base = {"load_model": {"name_or_path": "llama-3.1-8b"}, "load_hardware": {"name_or_path": "h100-sxm"},
            "load_engine": {"name_or_path": "serving"}}[kind]
    return _api(d, f"tokenomy:{kind}", base, {"name_or_path": pool})


# --------------------------------------------------------------------------------------------- CLI

INT = ["1", "8", "64"] + CLI_NUMBER
FLOAT = ["0.5", "20", "100"] + CLI_NUMBER


def _cli(d, cmd: list[str], base: dict, pools: dict, bools: tuple = ("--json",), files: dict | None = None) -> Case:
    """argv of ``cmd`` with ``base`` flags, zero to three made hostile (value, dropped, unknown or no value)."""
    files = {} if files is None else files
    flags = dict(base)
    n = _n_hostile(d)
    dangling = None
    for _ in range(n):
        how = d.one(["value", "value", "value", "value", "value", "drop", "unknown", "novalue"])
        key = d.one(sorted(pools))
        if how == "value":
            flags[key] = _pick(d, pools[key], files)
        elif how == "drop":
            flags.pop(key, None)
        elif how == "unknown":
            flags["--bogus-flag"] = "1"
        else:
            flags.pop(key, None)
            dangling = key
    for b in bools:
        if d.chance(0.5):
            flags[b] = True
    argv = list(cmd)
    for k, v in flags.items():
        argv += [k] if v is True else [k, v]
    if dangling:
        argv.append(dangling)
    return Case("cli", "cli " + " ".join(cmd), argv=argv, files=files, expect_ok=n == 0)


MODEL = ["llama-3.1-8b"] + CLI_TEXT + [config_file, "deepseek-v3"]
CHIP = ["h100-sxm"] + CLI_TEXT + [hardware_file, "groq-lpu"]
ENGINE = ["serving"] + CLI_TEXT + [profile_file, "torch-eager-bmm", "dataflow"]
PRECISION = ["bf16", "fp8", "fp4", "int8", "auto", "w=fp8,a=bf16,kv=fp8", "FP8", "bf32", "w=,a=,kv=", "8"] + CLI_TEXT


SCENARIO = ["{tmp}/none.yaml", *CLI_TEXT, scenario_file, scenario_file]


def cli_predict(d) -> Case:
    pools = {"--model": MODEL, "--hardware": CHIP, "--phase": ["decode", "prefill", *CLI_TEXT], "--batch": INT,
             "--seq": INT, "--context": INT, "--tp": INT + ["128"], "--pp": INT, "--ep": INT, "--engine": ENGINE,
             "--precision": PRECISION, "--profile": [profile_file, measurements_file, *CLI_TEXT],
             "--spec": SPEC + CLI_TEXT}
    if d.chance(0.3):
        files: dict = {}
        base = {"--cases": predict_cases_file(d, files)}
        case = _cli(d, ["predict"], base, {**pools, "--cases": [predict_cases_file, *CLI_TEXT]}, files=files)
        case.expect_ok = False   # the file itself is hostile
        return case
    phase = d.one(["decode", "prefill"])
    size = "--context" if phase == "decode" else "--seq"
    base = {"--model": d.one(_names("models", 4)), "--hardware": d.one(_names("chips", 8)), "--phase": phase,
            "--batch": d.one(["1", "8", "64"]), size: d.one(["1", "1024", "4096"])}
    return _cli(d, ["predict"], base, pools)


def cli_frontier(d) -> Case:
    base = {"--model": d.one(_names("models", 3)), "--hardware": d.one(["h100-sxm", "b200,groq-lpu", "mi300x"]),
            "--isl": d.one(["128", "1024"]), "--osl": d.one(["64", "256"])}
    pools = {"--model": MODEL, "--hardware": CHIP + ["h100-sxm,nope", "h100-sxm,h100-sxm"], "--isl": INT,
             "--osl": INT, "--chips": INT + ["1000000000"], "--precision": PRECISION, "--engine": ENGINE,
             "--profile": [profile_file, *CLI_TEXT], "--min-tokens-per-s-per-user": FLOAT + ["1e6"],
             "--max-ttft-s": FLOAT + ["1e-9"], "--spec": SPEC + CLI_TEXT, "--tp": INT + ["2", "3", "16"],
             "--pp": INT + ["2", "200"], "--ep": INT + ["2"], "--prefill-hardware": CHIP + ["rubin-cpx"],
             "--decode-hardware": CHIP + ["rubin-cpx"], **_econ_pools()}
    return _with_plot(d, _cli(d, ["frontier"], base, pools, bools=("--json", "--disagg")))


WORKLOAD = ["poisson:rate=4,isl=uniform:100:300,osl=32", "closed:conc=4,isl=200,osl=16",
            "gamma:rate=8,cv=2,isl=lognormal:200:0.5,osl=zipf:1.2:64", "poisson:rate=-1,isl=100,osl=10",
            "poisson:rate=nan,isl=100,osl=10", "poisson:rate=4,isl=pareto:1:2,osl=10", "poisson:rate=1e400,isl=1,osl=1",
            "closed:conc=0,isl=1,osl=1", "trace:{tmp}/none.csv", "poisson:rate=4,isl=normal:1e9:1,osl=1",
            "poisson:rate=4", "gamma:rate=1,cv=1e9,isl=1,osl=1", "poisson:rate=4,isl=uniform:9:1,osl=1", *CLI_TEXT]
SLO = ["ttft=1,tpot=50ms", "ttft=0", "tpot=-1", "ttft=nan", "ttft=1,ttft=2", "x=1", "ttft=1e400", *CLI_TEXT]
PREFIX = ["hit=0.5", "shared-prefix=64", "hit=2", "hit=nan", "shared-prefix=-1", "hit=0.5,shared-prefix=3",
          "shared-prefix=1e12", *CLI_TEXT]
SIM_OUT = ["{tmp}/r.parquet", "{tmp}/r.csv", "{tmp}/r.json", "{tmp}/missing/dir/r.csv", "{tmp}", "{tmp}/.csv"]


def cli_simulate(d) -> Case:
    base = {"--model": "llama-3.1-8b", "--hardware": d.one(["h100-sxm", "b200", "mi300x"]),
            "--workload": d.one(WORKLOAD[:3]), "--requests": d.one(["20", "50"])}
    pools = {"--model": MODEL, "--hardware": CHIP, "--workload": WORKLOAD, "--requests": INT, "--duration": FLOAT,
             "--replicas": INT, "--router": ["least-loaded", *CLI_TEXT], "--tp": INT + ["2", "3"], "--pp": INT,
             "--ep": INT, "--dp-attention": INT + ["2"], "--engine": ENGINE, "--precision": PRECISION,
             "--spec": SPEC + CLI_TEXT, "--slo": SLO, "--prefix-cache": PREFIX, "--seed": INT,
             "--requests-out": SIM_OUT, "--event-log": SIM_OUT, "--sweep": SCENARIO, "--workers": INT,
             "--prefill-hardware": CHIP, "--decode-hardware": CHIP, "--prefill-tp": INT, "--decode-tp": INT,
             "--prefill-replicas": INT, "--decode-replicas": INT, "--kv-link": ["auto", "scale-up", "scale-out", *CLI_TEXT]}
    return _with_plot(d, _cli(d, ["simulate"], base, pools))


def _with_plot(d, case: Case) -> Case:
    """Add --plot to a missing folder, an odd extension or a plain file, rarely (plots are slow)."""
    if d.chance(0.06):
        case.argv += ["--plot", d.one(PLOT_PATHS)]
        case.expect_ok = False
    return case


def _econ_pools() -> dict:
    from tokenomy.spec.economics import Scenario

    pools = {"--" + f.replace("_", "-"): FLOAT + ["1e9", "1e7"] for f in Scenario.model_fields}
    pools["--mode"] = ["owned", "rented", "leased", "", "OWNED"]
    pools["--scenario"] = SCENARIO
    return pools


def cli_economics(d) -> Case:
    cmd = d.one(["cost", "factory", "breakeven", "invest"])
    model, chip = d.one(_names("models", 2)), d.one(_names("chips", 5))
    work = {"--model": MODEL, "--tokens-per-s-per-user": FLOAT + ["1e6"], "--isl": INT, "--osl": INT,
            "--tp": INT + ["2", "8"], "--pp": INT + ["2", "80", "200"], "--ep": INT + ["2"], "--chips": INT,
            "--precision": PRECISION, "--engine": ENGINE, **_econ_pools()}
    if cmd == "cost":
        base = {"--hardware": d.one([chip, "h100-sxm,b200"])}
        pools = {"--hardware": CHIP + ["h100-sxm,nope", ",,"], **_econ_pools()}
    elif cmd == "factory":
        base = {"--power-mw": d.one(["1", "100"]), "--model": model, "--hardware": d.one([chip, "h100-sxm,b200"]),
                "--tokens-per-s-per-user": "20"}
        pools = {**work, "--power-mw": FLOAT + ["1e12"], "--hardware": CHIP + ["h100-sxm,b200", ","],
                 "--tp": INT + ["1,2", "1,2,3", "8,8"], "--precision": PRECISION + ["bf16,fp8", "bf16,fp8,fp4"]}
    elif cmd == "breakeven":
        base = {"--model": model, "--hardware": chip, "--versus": d.one(_names("chips", 5)),
                "--tokens-per-s-per-user": "20"}
        pools = {**work, "--hardware": CHIP, "--versus": CHIP, "--tp-versus": INT, "--precision-versus": PRECISION}
    else:
        base = {"--model": model, "--hardware": chip, "--tokens-per-s-per-user": "20"}
        pools = {**work, "--hardware": CHIP, "--power-mw": FLOAT + ["1e12"], "--tokens-per-query": FLOAT,
                 "--tokens-multiplier": FLOAT}
    return _cli(d, [cmd], base, pools)


def cli_gemm_shape(d) -> Case:
    kind = d.one(["gemm", "gemm", "gemm-cases", "shape", "design"])
    if kind == "gemm-cases":
        files: dict = {}
        base = {"--cases": gemm_cases_file(d, files)}
        case = _cli(d, ["gemm"], base, {"--hardware": CHIP, "--dtype": PRECISION, "--engine": ENGINE,
                                        "--cases": [gemm_cases_file, *CLI_TEXT]}, files=files)
        case.expect_ok = False
        return case
    if kind == "gemm":
        base = {"--hardware": d.one(_names("chips", 8)), "--m": d.one(["1", "4096"]), "--n": "50257", "--k": "4096"}
        pools = {"--hardware": CHIP, "--m": INT, "--n": INT, "--k": INT, "--dtype": PRECISION, "--engine": ENGINE,
                 "--profile": [profile_file, *CLI_TEXT]}
        return _cli(d, ["gemm"], base, pools)
    common = {"--hardware": CHIP, "--tolerance": FLOAT, "--prefill-tokens": INT, "--decode-batch": INT,
              "--engine": ENGINE, "--profile": [profile_file, *CLI_TEXT]}
    if kind == "shape":
        base = {"--model": d.one(_names("models", 4)), "--hardware": d.one(_names("chips", 4))}
        pools = {**common, "--model": MODEL, "--tp": INT + ["2", "8"], "--precision": PRECISION}
        return _cli(d, ["shape"], base, pools)
    base = {"--design": True, "--params": d.one(["1e9", "7e9"]), "--hardware": d.one(_names("chips", 4))}
    pools = {**common, "--params": FLOAT + ["1e3", "1e15"], "--layers": INT + ["1000"], "--vocab": INT,
             "--model": MODEL}
    return _cli(d, ["shape"], base, pools)


def cli_catalog(d) -> Case:
    group = d.one(["hardware", "models", "engines"])
    pool = {"hardware": CHIP, "models": MODEL, "engines": ENGINE}[group]
    if d.chance(0.3):
        return Case("cli", f"cli {group} list", argv=[group, "list"] + (["--json"] if d.chance(0.5) else []),
                    expect_ok=True)
    files: dict = {}
    name = _pick(d, pool, files) if d.chance(0.7) else _pick(d, pool[:1], files)
    argv = [group, "show", name] + (["--json"] if d.chance(0.5) else [])
    return Case("cli", f"cli {group} show", argv=argv, files=files, expect_ok=name == pool[0])


def cli_validate(d) -> Case:
    files: dict = {}
    base = {"--measurements": measurements_file(d, files, valid=True), "--hardware": "h100-sxm", "--summary": True}
    pools = {"--measurements": [measurements_file, measurements_file, *CLI_TEXT], "--hardware": CHIP,
             "--profile": ENGINE}
    return _with_plot(d, _cli(d, ["validate"], base, pools, files=files))


def cli_calibrate(d) -> Case:
    """calibrate with --help or arguments that must be rejected before anything is measured."""
    if d.chance(0.2):
        return Case("cli", "cli calibrate", argv=["calibrate", "--help"], expect_ok=True)
    files: dict = {}
    bad = d.one(["--out", "--model", "--hardware", "--device", "--name", "--bogus-flag"])
    value = {"--out": d.one(["x.txt", "", "{tmp}/missing/dir/p.txt", "\x00"]),
             "--model": d.one(["nope", "", "{tmp}/none.json", config_file(d, files)]),
             "--hardware": d.one(["nope", "", "{tmp}/none.yaml"]), "--device": d.one(["nope", "", "tpu"]),
             "--name": d.one(["", "\x00"]), "--bogus-flag": "1"}[bad]
    argv = ["calibrate"] + ([] if bad == "--out" else ["--out", "{tmp}/out/p.txt"]) + [bad, value]
    return Case("cli", "cli calibrate", argv=argv, files=files)


def cli_brief(d) -> Case:
    base = {"--model": d.one(_names("models", 2)), "--hardware": d.one(["h100-sxm,b200", "h100-sxm,groq-lpu"]),
            "--speeds": d.one(["20,50", "50"])}
    pools = {"--model": MODEL, "--hardware": CHIP + ["h100-sxm,b200", ",", "h100-sxm,nope"],
             "--speeds": FLOAT + ["20,x", "0,50", "1e6", ","], "--power-mw": FLOAT + ["1e12"], "--top": INT,
             "--isl": INT, "--osl": INT, "--format": ["md", "json", "html", "pdf", ""], **_econ_pools()}
    return _cli(d, ["brief"], base, pools)


def cli_root(d) -> Case:
    argv = d.one([["--help"], ["nope"], ["predict", "--help"], ["frontier", "--help"], [], ["--version"]])
    return Case("cli", "cli " + (argv[0] if argv else "(demo)"), argv=argv, expect_ok=argv in (["--help"], []))


# entry generators, repeated to weight the mix (fast ones often, sweeps rarely)
ENTRIES = ([api_predict] * 14 + [api_gemm] * 6 + [api_sweep] * 1 + [api_shape] * 2 + [api_economics] * 8
           + [api_loaders] * 5 + [cli_predict] * 8 + [cli_frontier] * 1 + [cli_simulate] * 2 + [cli_economics] * 5 + [cli_gemm_shape] * 4
           + [cli_catalog] * 3 + [cli_validate] * 1 + [cli_calibrate] * 1 + [cli_root] * 1 + [cli_brief] * 1
           + [api_files] * 6 + [cli_files] * 4)


API_ENTRIES = [api_predict, api_gemm, api_sweep, api_shape, api_economics, api_loaders, api_files]
CLI_ENTRIES = [cli_predict, cli_frontier, cli_simulate, cli_economics, cli_gemm_shape, cli_catalog, cli_validate, cli_calibrate,
               cli_root, cli_files, cli_brief]


def make_case(d) -> Case:
    """One generated case (API call or command line) from the weighted mix."""
    return d.one(ENTRIES)(d)

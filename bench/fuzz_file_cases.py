"""Cases whose only hostile part is a file: every reader of the project gets one bad file
(config.json, hardware YAML, engine profile, scenario, measurements, --cases JSONL) inside an
otherwise valid call or command line. Generated often enough that each loader sees hundreds.
"""

from __future__ import annotations

import fuzz_inputs as fi

DECODE = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "phase": "decode", "batch": 8, "context": 1024}


def api_files(d) -> fi.Case:
    """A public function fed one generated file (valid with probability 0.1)."""
    files: dict = {}
    kind = d.one(["config", "hardware", "profile", "scenario", "measurements"])
    valid = d.chance(0.1)
    if kind == "config":
        path = fi.config_file(d, files, valid=valid)
        entry, kw = d.one([("tokenomy.api:predict", {**DECODE, "model": path}),
                           ("tokenomy.api:predict", {**DECODE, "model": path, "phase": "prefill", "context": None,
                                                     "seq": 512}),
                           ("tokenomy.shape:analyze_shape", {"model": path, "hardware": "h100-sxm"}),
                           ("tokenomy:load_model", {"name_or_path": path})])
    elif kind == "hardware":
        path = fi.hardware_file(d, files, valid=valid)
        entry, kw = d.one([("tokenomy.api:predict", {**DECODE, "hardware": path}),
                           ("tokenomy.api:predict", {**DECODE, "hardware": path, "model": "llama-3.1-70b", "tp": 8}),
                           ("tokenomy.gemm:predict_gemm", {"hardware": path, "m": 4096, "n": 4096, "k": 4096}),
                           ("tokenomy.economics:chip_hour_cost", {"hardware": path}),
                           ("tokenomy:load_hardware", {"name_or_path": path})])
    elif kind == "profile":
        path = fi.profile_file(d, files)
        entry, kw = d.one([("tokenomy.api:predict", {**DECODE, "profile": path}),
                           ("tokenomy.api:predict", {**DECODE, "engine": path, "tp": 2}),
                           ("tokenomy.gemm:predict_gemm", {"hardware": "h100-sxm", "m": 1, "n": 4096, "k": 4096,
                                                           "engine": path}),
                           ("tokenomy:load_engine", {"name_or_path": path})])
    elif kind == "scenario":
        path = fi.scenario_file(d, files)
        entry, kw = d.one([("tokenomy.economics:chip_hour_cost", {"hardware": "h100-sxm", "scenario": path}),
                           ("tokenomy.economics:invest", {"model": "llama-3.1-8b", "hardware": "h100-sxm",
                                                          "tokens_per_s_per_user": 20.0, "scenario": path}),
                           ("tokenomy.economics:get_scenario", {"scenario": path})])
    else:
        path = fi.measurements_file(d, files, valid=valid)
        entry, kw = ("tokenomy.validate:validate",
                     {"rows": fi.Call("tokenomy.validate:read_measurements", {"paths": path}), "hardware": "h100-sxm"})
    kw = {k: v for k, v in kw.items() if v is not None}
    # tp 8 may exceed a chip's scale-up domain; chip_hour_cost of a rent-only chip in owned mode is refused
    ok = valid and kind in ("config", "hardware", "measurements") and "tp" not in kw and "chip_hour_cost" not in entry
    return fi.Case("api", entry, kwargs=kw, files=files, expect_ok=ok)


def cli_files(d) -> fi.Case:
    """A command line whose one file argument is generated (valid with probability 0.1)."""
    files: dict = {}
    valid = d.chance(0.1)
    decode = ["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "decode", "--batch", "8",
              "--context", "1024"]
    kind = d.one(["config", "hardware", "profile", "scenario", "measurements", "cases", "gemm-cases"])
    if kind == "config":
        path = fi.config_file(d, files, valid=valid)
        argv = d.one([["predict", *decode, "--model", path], ["models", "show", path],
                      ["shape", "--model", path, "--hardware", "h100-sxm"],
                      ["frontier", "--model", path, "--hardware", "h100-sxm", "--isl", "128", "--osl", "64"]])
    elif kind == "hardware":
        path = fi.hardware_file(d, files, valid=valid)
        argv = d.one([["predict", *decode, "--hardware", path], ["hardware", "show", path],
                      ["predict", *decode, "--hardware", path, "--model", "llama-3.1-70b", "--tp", "8"],
                      ["gemm", "--hardware", path, "--m", "4096", "--n", "4096", "--k", "4096"],
                      ["cost", "--hardware", path]])
    elif kind == "profile":
        path = fi.profile_file(d, files)
        argv = d.one([["predict", *decode, "--profile", path], ["engines", "show", path],
                      ["gemm", "--hardware", "h100-sxm", "--m", "1", "--n", "4096", "--k", "4096", "--profile", path]])
    elif kind == "scenario":
        path = fi.scenario_file(d, files)
        argv = d.one([["cost", "--hardware", "h100-sxm", "--scenario", path],
                      ["invest", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tokens-per-s-per-user", "20",
                       "--scenario", path]])
    elif kind == "measurements":
        path = fi.measurements_file(d, files, valid=valid)
        argv = ["validate", "--measurements", path, "--hardware", "h100-sxm", "--summary"]
    elif kind == "cases":
        argv = ["predict", "--cases", fi.predict_cases_file(d, files)]
    else:
        argv = ["gemm", "--cases", fi.gemm_cases_file(d, files)]
    if d.chance(0.5):
        argv.append("--json")
    ok = (valid and kind in ("config", "hardware", "measurements") and "--tp" not in argv
          and argv[0] not in ("frontier", "cost"))
    return fi.Case("cli", "cli " + argv[0] + " (file)", argv=argv, files=files, expect_ok=ok)

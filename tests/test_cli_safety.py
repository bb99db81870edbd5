"""CLI safety (issue 16): no overwrite without --force, file sets all or nothing, --plot checks,
one-line errors for usage mistakes and bad floats, "nothing fits" always says why, bounded loops."""

from __future__ import annotations

import builtins
import json
import os
import re

import pytest
from typer.testing import CliRunner

from tokenomy.cli.common import TABLE_ROWS
from tokenomy.cli.main import app
from tokenomy.errors import SpecError
from tokenomy.frontier import NothingFitsError, max_replica_chips, sweep
from tokenomy.loaders.hardware import load_hardware
from tokenomy.loaders.models import load_model
from tokenomy.report.files import write_files

runner = CliRunner()
SMALL = ["frontier", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--isl", "512", "--osl", "128"]


def _one_line_error(r, code=2, needle=""):
    """Exit ``code``, exactly one line of output, no traceback or Rich panel, ``needle`` in it."""
    out = r.output.strip()
    assert r.exit_code == code, r.output
    assert len(out.splitlines()) == 1, out
    assert "Traceback" not in out and "╭" not in out
    assert needle in out, out
    return out


# ---------------------------------------------------------------- writing files


def test_write_files_refuses_existing_without_force(tmp_path):
    a = tmp_path / "a.json"
    a.write_text("keep me")
    with pytest.raises(SpecError, match="already exists; pass --force"):
        write_files({a: "new", tmp_path / "b.jsonl": "new"})
    assert a.read_text() == "keep me" and not (tmp_path / "b.jsonl").exists()
    write_files({a: "new", tmp_path / "b.jsonl": "rows"}, force=True)
    assert a.read_text() == "new" and (tmp_path / "b.jsonl").read_text() == "rows"


def test_write_files_failure_mid_write_leaves_nothing(tmp_path):
    def boom(path):
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        write_files({tmp_path / "p.json": "{}", tmp_path / "p.jsonl": boom, tmp_path / "p.yaml": "x"})
    assert os.listdir(tmp_path) == []          # no target and no temporary file


@pytest.mark.parametrize("force", [False, True])
def test_write_files_failure_while_moving_rolls_back(tmp_path, monkeypatch, force):
    """The second rename fails: the first file is removed again (or restored when it replaced one)."""
    old = tmp_path / "p.json"
    if force:
        old.write_text("old profile")
    real_replace, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if str(dst).endswith("p.jsonl"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        write_files({old: "new profile", tmp_path / "p.jsonl": "rows"}, force=force)
    monkeypatch.setattr(os, "replace", real_replace)
    assert sorted(os.listdir(tmp_path)) == (["p.json"] if force else [])
    if force:
        assert old.read_text() == "old profile"


def test_calibrate_refuses_to_overwrite_before_measuring(tmp_path, monkeypatch):
    from tokenomy.calibrate import measure

    def no_measuring():
        raise AssertionError("calibrate started measuring before checking its outputs")
    monkeypatch.setattr(measure, "import_torch", no_measuring)
    (tmp_path / "llama-3.1-8b.jsonl").write_text('{"kind": "env"}\n')
    out = _one_line_error(runner.invoke(app, ["calibrate", "--out", str(tmp_path / "llama-3.1-8b.json")]),
                          needle="llama-3.1-8b.jsonl")
    assert "--force" in out
    assert (tmp_path / "llama-3.1-8b.jsonl").read_text() == '{"kind": "env"}\n'
    _one_line_error(runner.invoke(app, ["calibrate", "--out", str(tmp_path / "new.json"), "--hardware", "nope"]),
                    needle="Unknown hardware 'nope'")
    _one_line_error(runner.invoke(app, ["calibrate", "--out", str(tmp_path / "new.json"), "--model", "nope-7b"]),
                    needle="nope-7b")
    _one_line_error(runner.invoke(app, ["calibrate", "--out", str(tmp_path / "missing" / "p.json")]),
                    needle="does not exist")
    _one_line_error(runner.invoke(app, ["calibrate", "--out", str(tmp_path / "p.yaml")]), needle=".json")


# ---------------------------------------------------------------- --plot


@pytest.mark.parametrize("name, needle", [(".png", "needs a file name"), ("x.svg", ".png or .html"),
                                          ("missing/x.png", "does not exist")])
def test_plot_bad_targets(tmp_path, name, needle):
    _one_line_error(runner.invoke(app, SMALL + ["--plot", str(tmp_path / name) if "/" in name else name]),
                    needle=needle)
    assert not (tmp_path / ".png.png").exists() and not os.path.exists(".png.png")


def test_plot_overwrite_needs_force(tmp_path):
    png = tmp_path / "f.png"
    png.write_bytes(b"not a chart")
    _one_line_error(runner.invoke(app, SMALL + ["--plot", str(png)]), needle="--force")
    assert png.read_bytes() == b"not a chart"
    r = runner.invoke(app, SMALL + ["--plot", str(png), "--force", "--json"])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["f.png"]           # no temporary file left beside it


def test_plot_without_plotting_packages(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *a, **kw):
        if name.split(".")[0] in ("matplotlib", "plotly"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    for ext in ("png", "html"):
        _one_line_error(runner.invoke(app, SMALL + ["--plot", str(tmp_path / f"f.{ext}")]),
                        needle="pip install 'tokenomy[plot]'")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- usage errors and float flags


@pytest.mark.parametrize("argv, needle", [
    (["predict", "--bogus"], "No such option: --bogus"),
    (["predict", "--tp", "x"], "--tp"),
    (["hardware", "show"], "Missing argument"),
    (["frontier", "--chips", "0"], "--chips"),
    (["invest", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tokens-per-s-per-user", "20",
      "--power-mw", "inf"], "--power-mw"),
    (["invest", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tokens-per-s-per-user", "20",
      "--power-mw", "nan"], "--power-mw"),
    (["invest", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tokens-per-s-per-user", "20",
      "--tokens-per-query", "-5"], "--tokens-per-query"),
    (["factory", "--power-mw", "-1", "--model", "llama-3.1-8b", "--hardware", "h100-sxm",
      "--tokens-per-s-per-user", "20"], "--power-mw"),
    (["cost", "--hardware", "h100-sxm", "--pue", "nan"], "--pue"),
    (SMALL + ["--max-ttft-s", "inf"], "--max-ttft-s"),
    (SMALL + ["--min-tokens-per-s-per-user", "-3"], "--min-tokens-per-s-per-user"),
    (["shape", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tolerance", "-0.1"], "--tolerance"),
])
def test_usage_and_float_errors_are_one_line(argv, needle):
    out = _one_line_error(runner.invoke(app, argv), needle=needle)
    assert out.startswith("error: ")


def test_unexpected_exception_is_one_line_not_a_traceback(monkeypatch):
    import tokenomy.cli.predict as cli_predict

    def broken(*a, **kw):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(cli_predict, "predict", broken)
    r = runner.invoke(app, ["predict", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--phase", "decode",
                            "--batch", "1", "--context", "8"])
    _one_line_error(r, code=3, needle="internal error (ZeroDivisionError")


# ---------------------------------------------------------------- nothing fits, bounded loops, long tables


def _needs_vs_available(text: str) -> list[tuple[float, float]]:
    unit = {"kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    pat = r"needs ([\d.]+) (kB|MB|GB|TB) per chip .*? but ([\d.]+) (kB|MB|GB|TB) is available"
    return [(float(a) * unit[ua], float(b) * unit[ub]) for a, ua, b, ub in re.findall(pat, text)]


def test_nothing_fits_says_why_for_every_deployment():
    """405B on 8,192 Groq chips at bf16 with a 100k-token prompt: every reason names memory needed against memory
    available, and needed > available. (At 1k tokens it fits since prefill on SRAM chips is chunked, issue 10;
    on more chips per replica, with the embedding and LM head on chips of their own, the 100k prompt fits too.)"""
    with pytest.raises(NothingFitsError) as e:
        sweep("llama-3.1-405b", ["groq-lpu"], isl=100_000, osl=1024, precision="bf16", chips=8192)
    why = e.value.reasons["groq-lpu"]
    parts = [p for p in why.split("; ") if not p.startswith("and ")]
    pairs = _needs_vs_available(why)
    assert parts and len(pairs) == len(parts), why           # no empty reason (there were before)
    assert all(need > have for need, have in pairs), why
    assert e.value.exit_code == 2 and "groq-lpu" in str(e.value)


def test_chips_beyond_any_replica_are_rejected_without_looping(monkeypatch):
    """llama-3.1-8b on H100: tp <= 8 (NVLink domain) x pp <= 32 layers = 256 chips at most, by hand."""
    m, hw = load_model("llama-3.1-8b"), load_hardware("h100-sxm")
    assert max_replica_chips(m, hw)[0] == 8 * 32
    from tokenomy.frontier import deployments
    calls = []
    real = deployments.parallel_error
    monkeypatch.setattr(deployments, "parallel_error", lambda *a, **k: calls.append(1) or real(*a, **k))
    with pytest.raises(NothingFitsError, match="at most 256"):
        sweep(m, ["h100-sxm"], isl=128, osl=128, chips=10 ** 6)
    assert len(calls) < 200                      # was one check per divisor candidate up to 1e6
    with pytest.raises(SpecError, match="chips must be <= 1,000,000"):
        sweep(m, ["h100-sxm"], isl=128, osl=128, chips=10 ** 9)
    res = sweep(m, ["h100-sxm"], isl=128, osl=128, chips=256)
    assert set(res.columns["tp"].tolist()) == {8} and set(res.columns["pp"].tolist()) == {32}


def test_long_case_tables_are_capped(tmp_path):
    n = TABLE_ROWS + 50
    f = tmp_path / "c.jsonl"
    f.write_text("".join(json.dumps({"model": "llama-3.1-8b", "hardware": "h100-sxm", "phase": "decode",
                                     "batch": 1, "context": 100 + i}) + "\n" for i in range(n)))
    r = runner.invoke(app, ["predict", "--cases", str(f)], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert r.stdout.count("│ decode") == TABLE_ROWS            # one case a line; the model is in the title
    assert f"showing the first {TABLE_ROWS} of {n} rows; --json or --csv has them all" in r.stdout
    r = runner.invoke(app, ["predict", "--cases", str(f), "--json"])
    assert len(json.loads(r.stdout)["rows"]) == n


@pytest.mark.parametrize("flag", ["--model", "--hardware"])
def test_a_flag_where_a_name_belongs_is_a_usage_error(flag):
    """`--hardware --json` would take '--json' as the chip and print a table, not JSON: refused in one line."""
    other = ["--model", "llama-3.1-8b"] if flag == "--hardware" else ["--hardware", "h100-sxm"]
    res = CliRunner().invoke(app, ["predict", *other, flag, "--json", "--phase", "decode", "--batch", "1",
                                   "--context", "8"])
    assert res.exit_code == 2 and "needs a value, got the flag '--json'" in res.output
    assert len(res.output.strip().splitlines()) == 1

"""Every command in README.md runs as written (issue 13).

The code blocks of README.md (4-space indented blocks and ```-fenced ones) are read as a user would copy
them: backslash continuations joined, the ```python block run as Python, the rest as shell lines. They run
without network (HF_HUB_OFFLINE=1, HF_ENDPOINT on a closed port) in a temporary folder in which ``tests``
links to this repository's tests/, so the README's relative paths work and nothing is written into the
repository; ``tokenomy`` on PATH runs this checkout (``python -m tokenomy``). Lines run in parallel on a
small thread pool; a line waits for every earlier line that names one of its files (``cases.jsonl``,
``my-model/config.json``, ...), so a file is written before it is read.

A line is not run only when the README itself says why with a trailing ``# (needs ...)`` comment, or when
it is in SKIPPED below with its reason. Every other line must exit 0; a failure names the line and shows
its stderr.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Lines that cannot run on a test machine without network, GPU or cluster, by their first words; each with why.
SKIPPED = {
    "pip install": "installs packages: needs the network and changes the environment",
    ".ci/run": "the whole CI run: installs packages and runs this very test suite",
    "ray start": "starts a Ray cluster: a daemon outside the test",
}
# ```-fenced blocks in these languages are not commands.
NOT_COMMANDS = {"text", "yaml", "json", "toml", "console-output", "output"}
NEEDS = re.compile(r"#\s*\(needs [^)]+\)")                # the README's own skip marker: `# (needs an NVIDIA GPU)`
FILE_WORD = re.compile(r"[\w.:-]*?([\w.-]*/[\w./-]+|[\w.-]+\.(?:json|jsonl|yaml|csv|parquet|html|png))$")
WORKERS = 3
TIMEOUT_S = 120


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of every code block: ``sh`` for indented and unnamed fences."""
    blocks: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            lang = line.strip()[3:].strip() or "sh"
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            blocks.append((lang, lines[i + 1:j]))
            i = j + 1
            continue
        if line.startswith("    ") and line.strip() and (i == 0 or not lines[i - 1].strip()):
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            body = [x[4:] for x in lines[i:j]]
            while body and not body[-1].strip():
                body.pop()
            blocks.append(("sh", body))
            i = j
            continue
        i += 1
    return blocks


def _commands(lines: list[str]) -> list[str]:
    """Shell lines with backslash continuations joined; blank lines dropped."""
    out: list[str] = []
    buf = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1].rstrip() + " "
            continue
        whole = (buf + line.strip()).strip()
        buf = ""
        if whole:
            out.append(whole)
    assert not buf, f"README line ends in a backslash with nothing after it: {buf!r}"
    return out


def _is_command_block(lines: list[str]) -> bool:
    """An indented block is commands unless it is a file tree (the Layout section: first line a folder/)."""
    first = lines[0].strip() if lines else ""
    return bool(first) and not first.endswith("/")


def readme_items() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(kind, text) to run (kind ``sh`` or ``python``) and (line, reason) not run."""
    run: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for lang, lines in _blocks(README.read_text(encoding="utf-8")):
        if lang == "python":
            run.append(("python", "\n".join(lines)))
            continue
        if lang in NOT_COMMANDS or not _is_command_block(lines):
            continue
        for cmd in _commands(lines):
            if m := NEEDS.search(cmd):
                skipped.append((cmd, m.group(0)))
                continue
            parts = [p.strip() for p in cmd.split("&&")]
            kept = [p for p in parts if not any(p.startswith(k) for k in SKIPPED)]
            for p in parts:
                if p not in kept:
                    skipped.append((p, next(r for k, r in SKIPPED.items() if p.startswith(k))))
            if kept:
                run.append(("sh", " && ".join(kept)))
    return run, skipped


def _files(text: str) -> set[str]:
    """The file-like words of a line (paths, names with a data extension), without a leading ./ or flag:."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        words = text.split()
    out = set()
    for w in words:
        for piece in re.split(r"[=,]", w.replace(">", " ").strip()):
            if m := FILE_WORD.match(piece.strip()):
                out.add(m.group(1).removeprefix("./"))
    return out


def _env(tmp: Path) -> dict[str, str]:
    bindir = tmp / ".bin"
    bindir.mkdir()
    exe = bindir / "tokenomy"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tokenomy "$@"\n')
    exe.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT / "src"),
               HF_HUB_OFFLINE="1", HF_ENDPOINT="http://127.0.0.1:9", COLUMNS="100", MPLBACKEND="Agg")
    return env


def _run(kind: str, text: str, cwd: Path, env: dict[str, str], wait: list[Future]) -> str | None:
    """None when the item exits 0, else the failure text."""
    for f in wait:
        f.result()
    argv = [sys.executable, "-c", text] if kind == "python" else ["bash", "-c", f"set -o pipefail; {text}"]
    try:
        r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"$ {text}\n(timed out after {TIMEOUT_S} s)"
    if r.returncode == 0:
        return None
    return f"$ {text}\n(exit {r.returncode})\n{(r.stderr or r.stdout)[-2000:]}"


def test_readme_is_parsed_into_commands():
    run, skipped = readme_items()
    shell = [t for k, t in run if k == "sh"]
    assert sum(k == "python" for k, _ in run) >= 1
    assert len(shell) >= 20, shell
    assert all(t.startswith(("tokenomy", "mkdir", "printf", "cp", "python")) for t in shell), shell
    assert not any("\\" in t.replace("\\n", "") for t in shell), "a continuation was not joined"
    for line, reason in skipped:      # every skip has its reason: the README's marker or SKIPPED's
        assert reason in SKIPPED.values() or (NEEDS.search(line) and reason == NEEDS.search(line).group(0)), line
    assert any("--device cuda" in line for line, _ in skipped), "the GPU-only line must stay marked"


def test_the_extraction_finds_failures(tmp_path):
    """The runner itself fails a bad line with its stderr (the test can fail)."""
    msg = _run("sh", "tokenomy predict --model no-such-model", tmp_path, _env(tmp_path), [])
    assert msg and "no-such-model" in msg and "exit 2" in msg


def test_every_readme_command_runs(tmp_path):
    (tmp_path / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    env = _env(tmp_path)
    run, _ = readme_items()
    futures: list[Future] = []
    with ThreadPoolExecutor(WORKERS) as pool:   # FIFO: a line's earlier dependencies have started before it
        for i, (kind, text) in enumerate(run):
            mine = _files(text) if kind == "sh" else set()
            deps = [futures[j] for j in range(i) if run[j][0] == "sh" and mine & _files(run[j][1])]
            if kind == "python":
                deps = []
            futures.append(pool.submit(_run, kind, text, tmp_path, env, deps))
        failures = [m for f in futures if (m := f.result())]
    assert not failures, "README commands fail as written:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("text, expected", [
    ("tokenomy predict --cases cases.jsonl --json", {"cases.jsonl"}),
    ("mkdir -p my-model && cp tests/data/configs/gpt2.json my-model/config.json",
     {"tests/data/configs/gpt2.json", "my-model/config.json"}),
    ("tokenomy shape --model ./my-model/config.json --hardware h100-sxm  # flags", {"my-model/config.json"}),
    ("tokenomy simulate --workload trace:tests/data/t.csv,speedup=2 --requests-out r.parquet",
     {"tests/data/t.csv", "r.parquet"}),
    ("printf '%s\\n' 'a' > grid.yaml", {"grid.yaml"}),
])
def test_file_words(text, expected):
    assert _files(text) == expected

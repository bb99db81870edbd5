"""The house rules that keep the package easy to change: short modules, one home for errors, and an
``import tokenomy`` that stays light (no torch, no fastapi)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tokenomy"
MAX_LINES = 400


def _modules() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20, f"found only {len(files)} modules under {PACKAGE}"
    return files


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concept): {long}"


def _is_exception_class(node: ast.ClassDef) -> bool:
    names = [node.name] + [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                           if isinstance(b, ast.Name | ast.Attribute)]
    return any(n.endswith(("Error", "Exception")) for n in names)


def test_every_error_class_lives_in_errors_py():
    errors_py = PACKAGE / "errors.py"
    outside = [f"{p.relative_to(PACKAGE)}:{node.lineno} {node.name}"
               for p in _modules() if p != errors_py
               for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef) and _is_exception_class(node)]
    assert not outside, f"error classes outside tokenomy/errors.py: {outside}"
    defined = [n.name for n in ast.walk(ast.parse(errors_py.read_text(encoding="utf-8")))
               if isinstance(n, ast.ClassDef)]
    assert "TokenomyError" in defined and "NothingFitsError" in defined


def _loaded_after(imports: str) -> dict[str, bool]:
    code = (f"import sys; {imports}; "
            "print(' '.join(f'{m}={m in sys.modules}' for m in ('torch', 'fastapi')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(PACKAGE.parent))).stdout
    return {k: v == "True" for k, v in (pair.split("=") for pair in out.split())}


def test_import_tokenomy_loads_neither_torch_nor_fastapi():
    assert _loaded_after("import tokenomy") == {"torch": False, "fastapi": False}


def test_cli_and_calibrate_modules_import_without_torch():
    imports = ("import tokenomy.cli.main, tokenomy.calibrate.measure, tokenomy.calibrate.timing, "
               "tokenomy.calibrate.device, tokenomy.calibrate.energy")
    assert _loaded_after(imports) == {"torch": False, "fastapi": False}


def test_measure_keeps_its_public_names():
    from tokenomy.calibrate import measure

    for name in ("TORCH_HINT", "Session", "Step", "fp8_supported", "import_torch", "plan", "run"):
        assert hasattr(measure, name), f"tokenomy.calibrate.measure.{name} is gone"


def test_only_the_cli_imports_the_cli():
    # the API, core and report layers sit under the CLI: a to_pandas or a brief must not need Typer or Rich tables
    wrong = [str(p.relative_to(PACKAGE)) for p in _modules()
             if p.parent.name != "cli" and p.name != "__main__.py"
             and re.search(r"^\s*from (\.\.?cli|tokenomy\.cli)\b", p.read_text(encoding="utf-8"), re.MULTILINE)]
    assert not wrong, f"modules outside cli/ importing it: {wrong}"

"""docs/accuracy.md is generated from the measurements; it must match what the code predicts now."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_accuracy_doc_is_current():
    spec = importlib.util.spec_from_file_location("accuracy_table", ROOT / "scripts/accuracy_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "docs/accuracy.md").read_text() == mod.render(), \
        "docs/accuracy.md is stale: run python scripts/accuracy_table.py"

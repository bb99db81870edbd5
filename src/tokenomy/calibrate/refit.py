"""Rebuild a shipped profile from its measurements: ``python -m tokenomy.calibrate.refit OUT.yaml``.

The shipped ``torch-eager`` profile is exactly this fit of the shared H100 rows (test_fit.py
checks that refitting reproduces it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ..loaders.engines import engine_from_dict
from ..loaders.hardware import load_hardware
from ..loaders.measurements import read_measurements
from .fit import fit_profile, round_profile

TORCH_EAGER_BASE = {
    "name": "torch-eager",
    "description": ("Plain PyTorch, no kernel fusion, whole step replayed as one CUDA graph: the implementation "
                    "measured on an H100 SXM 80GB (the tokenomy microbenchmarks). Fitted from those rows by "
                    "tokenomy.calibrate.fit."),
    "assumptions": [
        "Kernel list mirrors measure.py (core/graph.py, style 'eager'); RMSNorm in fp32 as 8 kernels.",
        "Decode attention takes the faster of SDPA and batched matmuls, as measure.py keeps the faster.",
        "fp8: fp8 weights and activations in every linear layer but the LM head (torch._scaled_mm), one "
        "extra cast kernel per linear, attention and KV cache in bf16.",
        "Fractions are of datasheet figures, so the profile carries to chips of the same family (H200).",
    ],
    "graph": "eager",
    "attention": {"decode_impl": "best"},
}


def refit_torch_eager(data_dir: str | Path) -> tuple[dict, dict]:
    d = Path(data_dir)
    rows = read_measurements([d / "microbench.jsonl", d / "llama-3.1-8b.jsonl"])
    prof, errs = fit_profile(rows, load_hardware("h100-sxm"), engine_from_dict(TORCH_EAGER_BASE),
                             source="H100 microbenchmarks (microbench.jsonl, llama-3.1-8b.jsonl), H100 SXM 80GB")
    return round_profile(prof), errs


def main(argv=None) -> None:
    argv = argv if argv is not None else sys.argv[1:]
    data = argv[1] if len(argv) > 1 else str(Path(__file__).resolve().parents[3] / "tests" / "data")
    prof, errs = refit_torch_eager(data)
    Path(argv[0]).write_text(yaml.safe_dump(prof, sort_keys=False))
    print("fit errors (mean |rel|):", {k: round(v, 4) for k, v in errs.items()})


if __name__ == "__main__":
    main()

"""``tokenomy`` with no command: a short table on built-in defaults (default economics scenario)."""

from __future__ import annotations

import numpy as np

from ..api import predict
from .tables import Col, ms, scaled, show_rows, text, whole

DEMO_MODEL = "llama-3.1-8b"
DEMO_CHIPS = ("a100-sxm", "h100-sxm", "h200-sxm", "b200", "mi300x")
TWO = scaled(1, 2)
COLS = (Col("hardware", "chip", left=True, fmt=text), Col("prefill_s", "prefill 2k", "ms", ms),
        Col("speed_b1", "decode b=1", "tok/s/user", whole), Col("tokens_b64", "decode b=64", "tok/s", whole),
        Col("usd_b64", "b=64 cost", "$/Mtok", TWO), Col("j_b64", "b=64", "J/token", TWO))


def demo() -> None:
    """Llama-3.1-8B on five chips: prefill of a 2048-token prompt, decode at batch 1 and 64 (context 1024), and
    the cost and energy of a decoded token at batch 64 (owned chips, the default scenario)."""
    rows = []
    for chip in DEMO_CHIPS:
        pf = predict(DEMO_MODEL, chip, phase="prefill", batch=1, seq=2048)
        d1 = predict(DEMO_MODEL, chip, phase="decode", batch=1, context=1024)
        d64 = predict(DEMO_MODEL, chip, phase="decode", batch=64, context=1024)
        rows.append({"hardware": chip, "prefill_s": float(pf.latency_s), "speed_b1": float(d1.tokens_per_s_per_user),
                     "tokens_b64": float(d64.tokens_per_s), "usd_b64": float(np.asarray(d64.usd_per_mtok, dtype=float)),
                     "j_b64": float(d64.energy_j_per_token)})
    show_rows(f"{DEMO_MODEL}, bf16, one chip, engine 'serving'", rows, COLS,
              caption="decode at context 1024; $ of a decoded token on owned chips, 70% busy (the default "
                      "scenario; tokenomy predict --help for its flags)")
    print("More: tokenomy predict --help, tokenomy hardware list, tokenomy models list.")

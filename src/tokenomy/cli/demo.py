"""``tokenomy`` with no command: a short table on built-in defaults."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..api import predict

DEMO_MODEL = "llama-3.1-8b"
DEMO_CHIPS = ("a100-sxm", "h100-sxm", "h200-sxm", "b200", "mi300x")


def demo() -> None:
    """Llama-3.1-8B on five chips: prefill of a 2048-token prompt and decode at batch 1 and 64."""
    t = Table(title=f"{DEMO_MODEL}, bf16, one chip, engine 'serving' (fused kernels)")
    for h in ("chip", "prefill 2048 tok (ms)", "decode b=1 tok/s/user", "decode b=64 tok/s", "J/token b=64", "source"):
        t.add_column(h, justify="left" if h in ("chip", "source") else "right")
    for chip in DEMO_CHIPS:
        pf = predict(DEMO_MODEL, chip, phase="prefill", batch=1, seq=2048)
        d1 = predict(DEMO_MODEL, chip, phase="decode", batch=1, context=1024)
        d64 = predict(DEMO_MODEL, chip, phase="decode", batch=64, context=1024)
        t.add_row(chip, f"{float(pf.latency_s) * 1e3:.1f}", f"{float(d1.tokens_per_s_per_user):.0f}",
                  f"{float(d64.tokens_per_s):,.0f}", f"{float(d64.energy_j_per_token):.3f}", d64.source)
    c = Console()
    c.print(t)
    c.print("More: tokenomy predict --help, tokenomy hardware list, tokenomy models list.")

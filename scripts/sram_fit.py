"""Refit and report the SRAM systems' per-layer / per-hop times (calibrate/sram_fit.py).

    PYTHONPATH=src python scripts/sram_fit.py

Prints, per system, the fitted terms (to copy into catalog/hardware/<id>.yaml, layer_fixed_us and
hop_latency_us) and predicted / measured single-user speed per model: in-sample, held out (leave one
model out) and on the other published speeds that are never fitted (OTHER_PUBLISHED). Rows whose
measured speed the datasheet bandwidth cannot reach are reported, not fitted (NOT_FITTED).
"""

from __future__ import annotations

from tokenomy.calibrate.sram_fit import NOT_FITTED, OTHER_PUBLISHED, REFERENCE, fit_system, held_out, predicted_speed
from tokenomy.loaders.hardware import load_hardware


def _name(r) -> str:
    return f"{r.model}{' +spec' if r.spec else ''}"


def main() -> None:
    for system in dict.fromkeys(r.system for r in REFERENCE):
        hw = load_hardware(system)
        rows = [r for r in REFERENCE if r.system == system and (r.system, r.model) not in NOT_FITTED]
        fitted, ins = fit_system(hw, rows)
        out = held_out(hw, rows)
        kept = "" if len(rows) > 1 else " (kept: one row fits one term)"
        print(f"{system}: layer_fixed_us {fitted.layer_fixed_s * 1e6:.2f}, "
              f"hop_latency_us {fitted.hop_latency_s * 1e6:.2f}{kept}")
        for r in REFERENCE:
            if r.system != system:
                continue
            if (r.system, r.model) in NOT_FITTED:
                print(f"  {_name(r):22s} not fitted: {predicted_speed(fitted, r) / r.tokens_per_s:.2f}")
                continue
            ho = f"{out[r.model]:.2f}" if r.model in out else "-"
            print(f"  {_name(r):22s} in-sample {ins[r.model]:.2f}  held out {ho}")
        for r in OTHER_PUBLISHED:
            if r.system == system:
                print(f"  {_name(r):22s} other published {r.tokens_per_s:6.0f}/s: "
                      f"{predicted_speed(fitted, r) / r.tokens_per_s:.2f}  ({r.source})")


if __name__ == "__main__":
    main()

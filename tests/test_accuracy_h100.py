"""Accuracy contract against every end-to-end row of the shared H100 measurements.

Data: tests/data/llama-3.1-8b.jsonl (copied from shared/data/h100). Tolerances from issue 2:
MAPE <= 5% for prefill and decode latency, <= 10% for energy per token, IN-SAMPLE (the shipped
profile is fitted on these rows). Held-out (each row predicted by the fitter rerun without it,
calibrate/heldout.py) the figures are pinned in test_held_out_accuracy_is_pinned.
The energy rows were measured with the 'bmm' decode attention (measure.py section_energy), so
decode energy is predicted with the torch-eager-bmm profile; prefill energy with torch-eager.
"""

import numpy as np
import pytest

import tokenomy
from tokenomy.calibrate.heldout import held_out_checks
from tokenomy.calibrate.refit import TORCH_EAGER_BASE
from tokenomy.calibrate.rows import model_from_row
from tokenomy.loaders.engines import engine_from_dict

# Held-out MAPE (docs/accuracy.md): leave-one-batch-size-out for latency, leave-one-out for energy
HELD_OUT_MAPE = {"prefill": 0.032, "decode": 0.027, "energy": 0.099}


@pytest.fixture(scope="module")
def model(e2e_rows):
    return model_from_row(next(r for r in e2e_rows if r["kind"] == "model"))


@pytest.fixture(scope="module")
def held_out(e2e_rows, micro_rows):
    """Each end-to-end row predicted by a profile the same fitter made without it (about 5 s)."""
    return held_out_checks(micro_rows + e2e_rows, tokenomy.load_hardware("h100-sxm"),
                           engine_from_dict(TORCH_EAGER_BASE))


def _mape(pred, meas):
    pred, meas = np.asarray(pred), np.asarray(meas)
    return float(np.mean(np.abs(pred / meas - 1)))


def test_measured_shape_matches_catalog(model):
    cat = tokenomy.load_model("llama-3.1-8b")
    for f in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_head", "d_ff", "vocab_size"):
        assert getattr(cat, f) == getattr(model, f)


def test_prefill_latency_mape_in_sample(e2e_rows):
    rows = [r for r in e2e_rows if r["kind"] == "prefill"]
    p = tokenomy.predict("llama-3.1-8b", "h100-sxm", engine="torch-eager", phase="prefill",
                         batch=np.array([r["b"] for r in rows]), seq=np.array([r["s"] for r in rows]))
    mape = _mape(p.latency_s, [r["s_time"] for r in rows])
    assert mape <= 0.05, f"prefill MAPE {mape:.1%}"


def test_decode_latency_mape_in_sample(e2e_rows):
    rows = [r for r in e2e_rows if r["kind"] == "decode"]
    p = tokenomy.predict("llama-3.1-8b", "h100-sxm", engine="torch-eager", phase="decode",
                         batch=np.array([r["b"] for r in rows]), context=np.array([r["ctx"] for r in rows]))
    mape = _mape(p.latency_s, [r["step_s"] for r in rows])
    assert mape <= 0.05, f"decode MAPE {mape:.1%}"
    assert np.all(np.abs(p.latency_s / np.array([r["step_s"] for r in rows]) - 1) < 0.12)


def test_energy_per_token_mape_in_sample(e2e_rows):
    rows = [r for r in e2e_rows if r["kind"] == "energy"]
    pred = []
    for r in rows:
        eng = "torch-eager-bmm" if r["phase"] == "decode" else "torch-eager"
        kw = {"context": r["n"]} if r["phase"] == "decode" else {"seq": r["n"]}
        pred.append(float(tokenomy.predict("llama-3.1-8b", "h100-sxm", engine=eng, phase=r["phase"], batch=r["b"],
                                           **kw).energy_j_per_token))
    mape = _mape(pred, [r["j_per_token"] for r in rows])
    assert mape <= 0.10, f"energy MAPE {mape:.1%}"


def test_prefill_hits_power_cap_like_the_measurement_in_sample(e2e_rows):
    """IN-SAMPLE: this energy row is one the power shares are fitted on."""
    r = next(r for r in e2e_rows if r["kind"] == "energy" and r["phase"] == "prefill")
    p = tokenomy.predict("llama-3.1-8b", "h100-sxm", engine="torch-eager", phase="prefill", batch=r["b"], seq=r["n"])
    assert float(p.power_w) == pytest.approx(r["mean_w"], rel=0.03)              # measured 692 W, limit 700 W
    # measured SM clock 1635 of 1980 MHz (0.83); the model throttles only the compute-bound kernels (0.94)
    assert float(p.clock_frac) == pytest.approx(r["median_sm_mhz"] / 1980, abs=0.12)


def test_held_out_accuracy_is_pinned(held_out):
    checks = held_out
    counts = {"prefill": 11, "decode": 31, "energy": 6}
    for kind, pinned in HELD_OUT_MAPE.items():
        errs = [abs(c.rel_err) for c in checks if c.kind == kind]
        assert len(errs) == counts[kind]
        assert float(np.mean(errs)) == pytest.approx(pinned, abs=0.003), kind
        if kind in ("prefill", "decode"):        # the latency contract of issue 2 (MAPE <= 5%), held out
            assert float(np.mean(errs)) <= 0.05, kind


def test_held_out_energy_against_measured_joules(e2e_rows, held_out):
    """Leave-one-out J/token against the measured board energy of each row (joules / tokens)."""
    checks = held_out
    energy = [r for r in e2e_rows if r["kind"] == "energy"]
    pred = [c.predicted for c in checks if c.kind == "energy"]
    measured = [r["joules"] / r["tokens"] for r in energy]
    assert np.all(np.abs(np.array(pred) / measured - 1) < 0.30)          # worst today: b=256 +26.5%


def test_h100_tagged_calibrated_other_chips_extrapolated():
    assert tokenomy.predict("llama-3.1-8b", "h100-sxm", engine="torch-eager", context=10).source == "calibrated"
    assert tokenomy.predict("llama-3.1-8b", "h200-sxm", engine="torch-eager", context=10).source == "extrapolated"


def test_h200_is_faster_for_memory_bound_decode_same_for_compute_bound_prefill():
    kw = dict(engine="torch-eager", phase="decode", batch=1, context=1024)
    d100 = float(tokenomy.predict("llama-3.1-8b", "h100-sxm", **kw).latency_s)
    d200 = float(tokenomy.predict("llama-3.1-8b", "h200-sxm", **kw).latency_s)
    # weights stream at 4.8 vs 3.35 TB/s; the kernel launch gaps do not shrink
    assert 1.2 < d100 / d200 < 4.8 / 3.35
    kw = dict(engine="torch-eager", phase="prefill", batch=1, seq=8192)
    p100 = float(tokenomy.predict("llama-3.1-8b", "h100-sxm", **kw).latency_s)
    p200 = float(tokenomy.predict("llama-3.1-8b", "h200-sxm", **kw).latency_s)
    # same tensor cores and power limit: only the memory-bound kernels gain
    assert 0.9 * p100 < p200 <= p100

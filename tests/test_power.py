"""Board power: a hand-computed worked example of the cap, and the limit as a property of every chip."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tokenomy
from tokenomy.core.energy import chip_power
from tokenomy.loaders.hardware import hardware_ids
from tokenomy.spec.engine import PowerParams

LIMITED = [h for h in hardware_ids() if tokenomy.load_hardware(h).power_limit_w]
MODELS = ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "mixtral-8x7b", "qwen3-32b", "gpt-oss-120b",
          "deepseek-v3"]
# limit 700 W, idle 100 W: span 600 W; half the span when every SM is occupied, the whole span at peak FLOP/s
PARAMS = PowerParams(busy_frac=0.0, occupancy_frac=0.5, flop_frac=1.0, byte_frac=0.0)


def _power(flop_share, compute_bound_s, t=1.0):
    return chip_power(flop_share * 1e15 * t, 0.0, t, compute_bound_s, t, peak_flop_per_s=1e15, mem_bytes_per_s=1e12,
                      power_limit_w=700.0, idle_w=100.0, params=PARAMS)


def test_worked_example_below_the_limit():
    p = _power(0.2, 1.0)                       # 100 + 600 * (0.5 * 1 + 1.0 * 0.2) = 520 W, no throttling
    assert float(p.power_w) == pytest.approx(520.0)
    assert float(p.latency_s) == 1.0 and float(p.clock_frac) == 1.0


def test_worked_example_clock_drops_to_the_limit():
    # uncapped 100 + 600 * 1.5 = 1000 W; dynamic energy 900 J over the 600 W headroom: the step takes 1.5 s,
    # all of it compute-bound, so the clock runs at 1 / 1.5 of its maximum and the board at 700 W
    p = _power(1.0, 1.0)
    assert float(p.latency_s) == pytest.approx(1.5)
    assert float(p.clock_frac) == pytest.approx(1 / 1.5)
    assert float(p.power_w) == pytest.approx(700.0)
    assert float(p.energy_j) == pytest.approx(1050.0)


def test_worked_example_clock_floor_still_holds_the_limit():
    # only 0.2 s is compute-bound: at half clock it stretches to 0.4 s, the step to 1.2 s (not the 1.5 s the
    # dynamic energy would need); the board still sits at 700 W (lower voltage, less energy per operation)
    p = _power(1.0, 0.2)
    assert float(p.latency_s) == pytest.approx(1.2)
    assert float(p.power_w) == pytest.approx(700.0)
    assert float(p.energy_j) == pytest.approx(840.0)


BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])[:, None]
LENGTHS = np.array([1, 16, 128, 1024, 8192, 32768])[None, :]


def _assert_under_limit(chip, model, phase, batch, length, engine, tp=1):
    kw = {"seq": length} if phase == "prefill" else {"context": length}
    try:
        p = tokenomy.predict(model, chip, phase=phase, batch=batch, engine=engine, tp=tp, **kw)
    except tokenomy.TokenomyError:
        return                                  # a split the model or chip does not allow
    limit = tokenomy.load_hardware(chip).power_limit_w
    assert np.all(p.power_w_per_chip <= limit * (1 + 1e-9)), (chip, model, phase, float(np.max(p.power_w_per_chip)))
    assert np.allclose(p.power_w, p.power_w_per_chip * tp)


@pytest.mark.parametrize("engine", ["serving", "torch-eager"])
def test_power_per_chip_never_above_the_limit_every_chip_and_model(engine):
    """Every catalog chip with a limit x MODELS x both phases, over a grid of batches x lengths, one chip each."""
    for chip in LIMITED:
        for model in MODELS:
            for phase in ("prefill", "decode"):
                _assert_under_limit(chip, model, phase, BATCHES, LENGTHS, engine)


@settings(max_examples=40, deadline=None)
@given(chip=st.sampled_from(LIMITED), model=st.sampled_from(MODELS), phase=st.sampled_from(["prefill", "decode"]),
       batch=st.integers(1, 512), n=st.integers(1, 32768), engine=st.sampled_from(["serving", "torch-eager"]),
       tp=st.sampled_from([1, 2, 8]))
def test_power_per_chip_never_above_the_limit_drawn(chip, model, phase, batch, n, engine, tp):
    """Drawn points and tensor-parallel splits, beside the grid."""
    _assert_under_limit(chip, model, phase, np.append(BATCHES, batch)[:, None], np.append(LENGTHS, n)[None, :],
                        engine, tp)


@settings(max_examples=40, deadline=None)
@given(chip=st.sampled_from(LIMITED), model=st.sampled_from(MODELS), phase=st.sampled_from(["prefill", "decode"]),
       batch=st.integers(1, 256), n=st.integers(1, 16384))
def test_consistency_energy_is_power_times_stage_time(chip, model, phase, batch, n):
    """Consistency only, not a finding: energy per token is defined as power / throughput."""
    kw = {"seq": n} if phase == "prefill" else {"context": n}
    p = tokenomy.predict(model, chip, phase=phase, batch=batch, **kw)
    tokens = batch * n if phase == "prefill" else batch
    assert np.isclose(float(p.energy_j_per_token) * tokens, float(p.power_w) * float(p.stage_s), rtol=1e-9)

"""Fuzz suite: generated API calls and command lines (bench/fuzz_cases.py) judged by the oracle
of bench/fuzz_oracle.py. Every input must end in a finite, non-negative result or in one of
tokenomy's own errors (CLI: exit 2 or 1 with one line of message), never in a traceback, a NaN,
a hang or a rejected valid input. ``calibrate`` is guarded: reaching its measurement step fails.

Derandomized (a fixed seed per test) and without shrinking, so the run time is bounded (~1 min on
2 cores); a failure prints a reproducer. ``python bench/fuzz.py`` runs 10,000 such cases and lists
every failure grouped by cause.
"""

import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import fuzz_cases
import fuzz_oracle

# examples per generator, sized by cost: ~10 ms per API call, ~40 ms per command line
EXAMPLES = {"api_predict": 150, "api_gemm": 100, "api_sweep": 20, "api_shape": 40, "api_economics": 120,
            "api_loaders": 100, "cli_predict": 90, "cli_frontier": 15, "cli_simulate": 12, "cli_economics": 70, "cli_gemm_shape": 60,
            "cli_catalog": 40, "cli_validate": 20, "cli_calibrate": 20, "cli_root": 10, "api_files": 120,
            "cli_files": 60, "cli_brief": 6}
TIMEOUT_S = 20.0     # a hang, not a slow machine (the bench uses 5 s)


class HypothesisDraw:
    """The draw interface of bench/fuzz_inputs.py over hypothesis data (valid options come first)."""

    def __init__(self, data):
        self.data = data

    def one(self, options):
        return self.data.draw(st.sampled_from(list(options)))

    def chance(self, p: float) -> bool:
        return self.data.draw(st.integers(0, 99)) < round(p * 100)


@pytest.fixture(scope="module", autouse=True)
def no_measuring():
    """calibrate must never measure: its plan/run raise for the whole module, then are restored."""
    from tokenomy.calibrate import measure

    saved = measure.plan, measure.run
    fuzz_oracle.install_guards()
    yield
    measure.plan, measure.run = saved


def _fuzz(generator):
    @settings(max_examples=EXAMPLES[generator.__name__], deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def check(data):
        case = generator(HypothesisDraw(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # NumPy on hostile sizes; the oracle judges results
            outcome = fuzz_oracle.run_case(case, TIMEOUT_S)
        assert outcome.ok, (f"{outcome.category}: {outcome.detail} {outcome.where}\n{outcome.message}\n"
                            f"reproducer:\n{fuzz_oracle.reproducer(case)}")
    check()


@pytest.mark.parametrize("generator", fuzz_cases.API_ENTRIES, ids=lambda g: g.__name__)
def test_api_fuzz(generator):
    _fuzz(generator)


@pytest.mark.parametrize("generator", fuzz_cases.CLI_ENTRIES, ids=lambda g: g.__name__)
def test_cli_fuzz(generator):
    _fuzz(generator)


def test_entries_cover_every_command():
    """Every CLI command is generated somewhere (a new command must join the fuzz suite)."""
    from tokenomy.cli.main import app

    commands = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    source = Path(fuzz_cases.__file__).read_text()
    missing = sorted(c for c in commands if f'"{c}"' not in source)
    assert not missing, f"commands without a fuzz generator: {missing}"

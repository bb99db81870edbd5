"""Run one fuzz case and judge it (bench/fuzz.py, tests/test_fuzz.py).

A case passes when
- API: it returns a result whose every number is finite and not negative (except signed
  quantities: margins, NPV, cash flows, break-even prices, changes and errors), or it raises a
  ``tokenomy.errors.TokenomyError``; a valid input (``expect_ok``) may only raise
  InfeasibleError or UnsupportedError.
- CLI (in-process, typer's CliRunner): exit 0 with finite, non-negative numbers (``--json`` output
  parsed; tables searched for nan/inf), or exit 2 (bad input) / 1 (infeasible) with exactly one
  line of message and no traceback; a valid input must not exit 2.
Anything else, or running past the time limit, or ``calibrate`` reaching its measurement step,
is a failure with a category, a detail and the last frame inside src/tokenomy.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import re
import signal
import tempfile
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"              # never reach the network
CLI_ENV = {"COLUMNS": "4000", "HF_HUB_OFFLINE": "1"}   # rich wraps nothing: a one-line message stays one line

import numpy as np
from fuzz_inputs import Call, Case

SIGNED = re.compile(r"margin|npv|cash_flow|break_even|change|error|err$|delta|gain")
INF_OK = {"payback_years"}                  # inf (JSON null) means "never pays back"
# A chip without a power limit has unknown power (tokenomy.api.POWER_FIELDS are NaN, JSON null), and so do the
# figures made from it; allowed only in a record whose power_w itself is unknown.
POWER_DERIVED = {"energy_j_per_token", "power_w", "power_w_per_chip", "clock_frac", "j_per_token_facility",
                 "facility_power_w", "tokens_per_s_per_mw", "usd_per_hour", "usd_per_mtok",
                 "j_per_token_chip", "tokens_per_s_per_mw_chip", "tokens_per_s_per_mw_facility", "usd_per_mtok_all_in",
                 *(f"{ph}_{k}" for ph in ("decode", "prefill") for k in ("power_w", "j_per_token_chip",
                                                                         "j_per_token_facility", "usd_per_mtok"))}
POWER_KEYS = ("power_w", "decode_power_w", "prefill_power_w")   # predict rows carry their phase's power


def _power_unknown(obj) -> bool:
    """True for a record (dict or dataclass) whose power_w is unknown: NaN everywhere, or null."""
    for key in POWER_KEYS:
        v = obj.get(key, 0.0) if isinstance(obj, dict) else getattr(obj, key, 0.0)
        if v is None or bool(np.all(np.isnan(np.asarray(v, dtype=float)))):
            return True
    return False
NULL_OK = {"seq", "context", "chip_price_usd", "rent_usd_per_hour", "rent_usd_per_hour_input", "chip_power_w",
           "payback_years", "min_tokens_per_s_per_user", "max_ttft_s", "year", "layers", "best_margin",
           "lowest_price_chip", "sliding_window", "published_params", "published_active_params", "precision_y",
           "tokens_per_query", "goodput_requests_per_s", "slo_attainment",
           "usd_per_mtok_all_in"}   # a chip with neither a price nor a rent: its cost is unknown (null, with a warning)
# a number cell printed by Python formatting: nan, inf, -inf (optionally with %), alone between spaces or borders
NONFINITE_TEXT = re.compile(r"(?:^|[\s│|(])[-+]?(nan|inf)%?(?=$|[\s│|)])", re.MULTILINE)
CATALOG_COMMANDS = {"hardware", "models", "engines"}
JSON_COMMANDS = {"predict", "frontier", "cost", "factory", "breakeven", "invest", "gemm", "shape", "validate",
                 "hardware", "models", "engines"}


@dataclass(frozen=True)
class Outcome:
    """``category`` is 'ok' or a failure kind: traceback, exit_code, message, nonfinite, negative,
    rejected_valid, timeout, measuring."""

    category: str
    detail: str = ""
    where: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.category == "ok"


class FuzzTimeout(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` in the code swallows it."""


class MeasureGuard(BaseException):
    """Raised if ``calibrate`` reaches its measurement step: the fuzz suite must never measure."""


def install_guards() -> None:
    """Make calibrate's plan/run raise MeasureGuard instead of measuring (idempotent), and import the
    plotting packages once so that their first import (font cache) is not charged to a case's time."""
    from tokenomy.calibrate import measure

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot
    except ImportError:
        pass

    def refuse(*_a, **_k):
        raise MeasureGuard("calibrate started planning measurements")

    measure.plan = refuse
    measure.run = refuse


@contextmanager
def time_limit(seconds: float):
    def alarm(_sig, _frame):
        raise FuzzTimeout(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def last_frame(tb) -> str:
    """'tokenomy/path.py:function' of the innermost frame in src/tokenomy ('' when none)."""
    where = ""
    for fr in traceback.extract_tb(tb):
        path = fr.filename.replace(os.sep, "/")
        if "/tokenomy/" in path and "/bench/" not in path:
            where = f"tokenomy/{path.rsplit('/tokenomy/', 1)[1]}:{fr.name}:{fr.lineno}"
    return where


def _substitute(obj, tmp: str):
    if isinstance(obj, str):
        return obj.replace("{tmp}", tmp)
    if isinstance(obj, list):
        return [_substitute(v, tmp) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_substitute(v, tmp) for v in obj)
    if isinstance(obj, dict):
        return {k: _substitute(v, tmp) for k, v in obj.items()}
    if isinstance(obj, Call):
        return Call(obj.entry, _substitute(obj.kwargs, tmp))
    return obj


def _resolve(entry: str):
    module, name = entry.split(":")
    return getattr(importlib.import_module(module), name)


def _evaluate(obj):
    """Arguments with every ``Call`` replaced by its result."""
    if isinstance(obj, Call):
        return _resolve(obj.entry)(**{k: _evaluate(v) for k, v in obj.kwargs.items()})
    if isinstance(obj, dict):
        return {k: _evaluate(v) for k, v in obj.items()}
    return obj


# ------------------------------------------------------------------------------------ value checks


def _leaves(obj, key: str = "", depth: int = 0):
    """(key, number or array) for every number inside ``obj``; key is the innermost field name."""
    if depth > 8 or obj is None or isinstance(obj, (bool, np.bool_, str, bytes)):
        return
    if isinstance(obj, (int, float, np.integer, np.floating)):
        yield key, float(obj)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fiu" and obj.size:
            yield key, obj.astype(float)
    elif isinstance(obj, dict):
        if obj.get("feasible") is False:
            return                                   # an infeasible record has no numbers to give
        unknown = _power_unknown(obj)
        for k, v in obj.items():
            if not (unknown and k in POWER_DERIVED):
                yield from _leaves(v, str(k), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _leaves(v, key, depth + 1)
    elif dataclasses.is_dataclass(obj):
        if getattr(obj, "feasible", None) is False:
            return
        unknown = _power_unknown(obj)
        for f in dataclasses.fields(obj):
            if not f.name.startswith("_") and not (unknown and f.name in POWER_DERIVED):
                yield from _leaves(getattr(obj, f.name), f.name, depth + 1)
    elif hasattr(obj, "model_dump"):
        yield from _leaves(obj.model_dump(), key, depth + 1)


def check_values(obj) -> Outcome:
    """First non-finite or forbidden negative number inside ``obj`` (an API result or parsed JSON)."""
    for key, v in _leaves(obj):
        arr = np.atleast_1d(v)
        bad = ~np.isfinite(arr)
        if key in INF_OK:
            bad &= ~np.isposinf(arr)
        if bad.any():
            return Outcome("nonfinite", key, message=f"{key} = {arr[bad][0]}")
        if not SIGNED.search(key) and (arr < 0).any():
            return Outcome("negative", key, message=f"{key} = {arr[arr < 0][0]:g}")
    return Outcome("ok")


def _nulls(obj, key: str = ""):
    """Keys holding JSON null where a number is due (print_json writes NaN and inf as null)."""
    if obj is None and key and key not in NULL_OK and not key.endswith(("reason", "note")):
        yield key
    elif isinstance(obj, dict):
        if obj.get("feasible") is False:
            return
        unknown = _power_unknown(obj)
        for k, v in obj.items():
            # scenario: null = "from the catalog"; query (the envelope's inputs): null = not given, the command chose
            if k not in ("scenario", "query") and not (unknown and k in POWER_DERIVED):
                yield from _nulls(v, str(k))
    elif isinstance(obj, list):
        for v in obj:
            yield from _nulls(v, key)


# ------------------------------------------------------------------------------------------ runners


def run_api(case: Case, kwargs: dict) -> Outcome:
    from tokenomy.errors import InfeasibleError, TokenomyError, UnsupportedError

    try:
        result = _resolve(case.entry)(**_evaluate(kwargs))
        for method in ("records", "summary", "to_dict"):      # the public views of a result must work too
            if callable(getattr(result, method, None)):
                getattr(result, method)()
    except TokenomyError as e:
        if case.expect_ok and not isinstance(e, (InfeasibleError, UnsupportedError)):
            return Outcome("rejected_valid", type(e).__name__, last_frame(e.__traceback__), str(e)[:300])
        return Outcome("ok")
    except (FuzzTimeout, MeasureGuard, KeyboardInterrupt):
        raise
    except BaseException as e:  # noqa: BLE001 - any other exception is the finding
        return Outcome("traceback", type(e).__name__, last_frame(e.__traceback__), str(e)[:300])
    return check_values(result)


_RUNNER = None


def run_cli(case: Case, argv: list[str]) -> Outcome:
    global _RUNNER
    from typer.testing import CliRunner

    from tokenomy.cli.main import app

    _RUNNER = _RUNNER or CliRunner()
    res = _RUNNER.invoke(app, argv, catch_exceptions=True, env=CLI_ENV)
    out, err = res.stdout, res.stderr
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        if isinstance(res.exception, (FuzzTimeout, MeasureGuard)):
            raise res.exception
        e = res.exception
        return Outcome("traceback", type(e).__name__, last_frame(res.exc_info[2]), str(e)[:300])
    if "Traceback (most recent call last)" in out + err:
        return Outcome("traceback", "printed", "", (out + err)[-300:])
    code = res.exit_code
    if code not in (0, 1, 2):
        return Outcome("exit_code", f"exit {code}", "", (err or out)[-300:])
    if code in (1, 2):
        lines = [x for x in (err.splitlines() or out.splitlines()) if x.strip()]
        if case.expect_ok and code == 2:
            return Outcome("rejected_valid", "exit 2", "", "\n".join(lines)[:300])
        if len(lines) != 1:
            text = "\n".join(lines)
            usage = "Usage:" in text or "─ Error ─" in text
            detail = "click usage error in a box" if usage else "multi-line message" if lines else "no message"
            return Outcome("message", detail, "", text[:300])
        return Outcome("ok")
    cmd = argv[0] if argv else ""
    if "--json" in argv and cmd in JSON_COMMANDS and "--help" not in argv:
        constants: list[str] = []
        try:
            data = json.loads(out, parse_constant=lambda c: constants.append(c) or math.nan)
        except (json.JSONDecodeError, RecursionError):
            return Outcome("exit_code", "exit 0, --json output is not JSON", "", out[:300])
        if constants:
            return Outcome("nonfinite", f"JSON {constants[0]}", "", out[:300])
        nulls = [] if cmd in CATALOG_COMMANDS else list(_nulls(data))   # catalog listings: null = unknown
        if nulls:
            return Outcome("nonfinite", f"null {nulls[0]}", "", f"{nulls[0]} is null (NaN or inf in the model)")
        return check_values(data)
    m = NONFINITE_TEXT.search(out)
    if m:
        return Outcome("nonfinite", "table text " + m.group(0).lower(), "", out[max(0, m.start() - 150):m.end() + 50])
    return Outcome("ok")


def run_case(case: Case, timeout_s: float = 10.0) -> Outcome:
    """Write the case's files to a temporary folder, run it under a time limit and judge it."""
    with tempfile.TemporaryDirectory(prefix="tokenomy-fuzz-") as tmp:
        for name, data in case.files.items():
            path = Path(tmp) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        try:
            with time_limit(timeout_s):
                if case.kind == "api":
                    return run_api(case, _substitute(case.kwargs, tmp))
                return run_cli(case, _substitute(case.argv, tmp))
        except FuzzTimeout as e:
            return Outcome("timeout", f"over {timeout_s:g} s", last_frame(e.__traceback__))
        except MeasureGuard as e:
            return Outcome("measuring", "calibrate reached measure.plan/run", last_frame(e.__traceback__))


def reproducer(case: Case) -> str:
    """Python or shell lines that rebuild and run ``case`` (files written to ./fuzz-case/)."""
    lines = []
    for name, data in case.files.items():
        shown = data if len(data) <= 400 else data[:400] + b"..."
        lines.append(f"# file {{tmp}}/{name} ({len(data)} bytes): {shown!r}")
    if case.kind == "api":
        module, name = case.entry.split(":")
        args = ", ".join(f"{k}={_short(repr(v))}" for k, v in case.kwargs.items())
        lines.append(f"from {module} import {name}; {name}({args})")
    else:
        import shlex

        lines.append("tokenomy " + " ".join(shlex.quote(_short(a)) for a in case.argv))
    return "\n".join(lines)


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:60] + f"...({len(text)} chars)"

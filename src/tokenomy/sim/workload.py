"""Workloads for the simulator: when each request arrives and how many tokens it reads and writes.

    poisson:rate=R,isl=DIST,osl=DIST        open loop, exponential inter-arrivals of mean 1/R s
    gamma:rate=R,cv=C,isl=DIST,osl=DIST     open loop, gamma inter-arrivals of mean 1/R s and coefficient of
                                            variation C (shape 1/C^2, scale C^2/R); C = 1 is Poisson, C > 1 bursty
    closed:conc=N,isl=DIST,osl=DIST         closed loop: N clients, each sends its next request when the last ends
    trace:FILE.csv[,speedup=S]              replay a trace (loaders/traces.py), arrival times divided by S

DIST is spec/sim.py's grammar; ``isl=trace:FILE.csv`` resamples the file's input tokens (``osl=``: output
tokens), and when isl and osl name the same file whole rows are resampled, so their correlation is kept.

Count: ``requests`` or ``duration_s`` (not both). Open loop: the first ``requests`` arrivals, or every arrival
before ``duration_s``; closed loop with ``duration_s``: enough requests that no client runs dry before it
ends (each client needs at most duration_s * client_tokens_per_s / mean osl of them; the simulator stops
issuing at duration_s). Neither: 1000 requests (a trace: the whole file). Randomness comes only from
``np.random.default_rng(seed)``, split into independent streams for arrivals, input and output tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import SpecError
from ..loaders.traces import MAX_ARRIVAL_S, load_trace
from ..spec.args import number
from ..spec.sim import Dist, empirical_dist, key_values, parse_dist

WORKLOAD_GRAMMAR = ("--workload is poisson:rate=R,isl=DIST,osl=DIST | gamma:rate=R,cv=C,isl=DIST,osl=DIST | "
                    "closed:conc=N,isl=DIST,osl=DIST | trace:FILE.csv[,speedup=S] "
                    "(e.g. 'poisson:rate=4,isl=uniform:500:600,osl=250').")
DEFAULT_REQUESTS = 1000
MAX_REQUESTS = 10_000_000    # 3 arrays x 8 B x 1e7 = 240 MB: 10x the 1M-request target; a labelled bound
MAX_RATE = 1e6               # requests/s; ~1000x the busiest single-model deployments, catches unit slips
MAX_CV = 1e3                 # gamma shape 1/cv^2 >= 1e-6: below, NumPy's gamma draws are all 0 (one burst)
# assumption: no client decodes faster than this (single-stream records are ~1-3k tok/s on wafer-scale chips,
# ~100-300 on GPUs); api.simulate can pass the exact bound, 1 / (batch-1 decode step time)
CLIENT_TOKENS_PER_S = 1000.0
_KEYS = {"poisson": ("rate", "isl", "osl"), "gamma": ("rate", "cv", "isl", "osl"), "closed": ("conc", "isl", "osl")}


@dataclass(frozen=True)
class Workload:
    """The requests of one simulation, in arrival order (closed loop: issue order; arrival_s all 0)."""

    kind: Literal["open", "closed"]
    arrival_s: np.ndarray        # float64, ascending, shape (n,)
    input_tokens: np.ndarray     # int64 >= 1, shape (n,)
    output_tokens: np.ndarray    # int64 >= 1, shape (n,)
    concurrency: int | None      # closed loop: clients always in flight; None for open
    description: str             # one line

    def __len__(self) -> int:
        return len(self.arrival_s)


def parse_workload(text: str, *, requests: int | None = None, duration_s: float | None = None, seed: int = 0,
                   base_dir: Path | None = None, client_tokens_per_s: float = CLIENT_TOKENS_PER_S) -> Workload:
    """The workload ``text`` describes (module docstring); files are relative to ``base_dir`` (default: cwd)."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"workload must be text, got {text!r}. {WORKLOAD_GRAMMAR}")
    if requests is not None and duration_s is not None:
        raise SpecError("give requests or duration_s (CLI --requests or --duration), not both.")
    n = None if requests is None else _whole("requests", requests, 1, MAX_REQUESTS)
    dur = None if duration_s is None else number("duration_s", duration_s, minimum=0.0, maximum=MAX_ARRIVAL_S,
                                                 allow_minimum=False)
    _whole("seed", seed, 0, 2**63 - 1)
    client_rate = number("client_tokens_per_s", client_tokens_per_s, minimum=0.0, maximum=1e9, allow_minimum=False)
    head, _, body = text.strip().partition(":")
    kind = head.strip().lower()
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if kind == "trace":
        return _trace(text, body, n, dur, base)
    if kind not in _KEYS:
        raise SpecError(f"workload {text!r}: unknown kind {head.strip()!r}. {WORKLOAD_GRAMMAR}")
    args = key_values(body, f"workload {kind}", _KEYS[kind], WORKLOAD_GRAMMAR)
    missing = [k for k in _KEYS[kind] if k not in args]
    if missing:
        raise SpecError(f"workload {text!r}: {kind} needs {', '.join(missing)} "
                        f"({kind}:{','.join(k + '=...' for k in _KEYS[kind])}). {WORKLOAD_GRAMMAR}")
    isl, osl = (_dist(args[k], k, base) for k in ("isl", "osl"))
    arr_rng, isl_rng, osl_rng = np.random.default_rng(seed).spawn(3)
    if kind == "closed":
        conc = int(_field(text, "conc", args["conc"], 1, 10_000_000, whole=True))
        if n is None and dur is not None:
            per_client = math.ceil(dur * client_rate / osl.mean_tokens) + 1
            n = _bounded(conc * per_client, text, "conc x duration_s x client_tokens_per_s / mean osl")
        n = n or DEFAULT_REQUESTS
        inp, out = _tokens(isl, osl, isl_rng, osl_rng, n)
        what = f"closed conc={conc}, isl {_label(isl)}, osl {_label(osl)}; {n} requests"
        return Workload("closed", np.zeros(n), inp, out, conc, what)
    rate = _field(text, "rate", args["rate"], 0.0, MAX_RATE)
    cv = _field(text, "cv", args["cv"], 0.0, MAX_CV) if kind == "gamma" else 1.0
    arrival = _arrivals(arr_rng, kind, rate, cv, n, dur, text)
    inp, out = _tokens(isl, osl, isl_rng, osl_rng, len(arrival))
    shape = f"rate={rate:g}/s" + (f", cv={cv:g}" if kind == "gamma" else "")
    span = f"{len(arrival)} requests" + (f" in {dur:g} s" if dur is not None else "")
    return Workload("open", arrival, inp, out, None, f"{kind} {shape}, isl {_label(isl)}, osl {_label(osl)}; {span}")


def _arrivals(rng: np.random.Generator, kind: str, rate: float, cv: float, n: int | None, dur: float | None,
              text: str) -> np.ndarray:
    """Arrival times (s): cumulative sums of inter-arrival gaps (the first request at the first gap)."""
    def gaps(size: int) -> np.ndarray:
        if kind == "poisson":
            return rng.exponential(1.0 / rate, size)
        return rng.gamma(1.0 / cv**2, cv**2 / rate, size)

    if dur is None:
        return np.cumsum(gaps(n or DEFAULT_REQUESTS))
    expected = _bounded(rate * dur, text, "rate x duration_s")
    chunks, t_end, count = [], 0.0, 0
    while t_end < dur:          # chunks of the same stream: the first arrivals do not depend on the duration
        c = t_end + np.cumsum(gaps(max(1024, int(expected * 1.1) + 1)))
        chunks.append(c)
        t_end, count = float(c[-1]), count + len(c)
        if t_end < dur:
            _bounded(count, text, "arrivals before duration_s (a bursty gamma process)")
    arrival = np.concatenate(chunks)
    arrival = arrival[arrival < dur]
    if not len(arrival):
        raise SpecError(f"workload {text!r}: no request arrives before --duration {dur:g} s (the first arrives at "
                        f"{chunks[0][0]:.3g} s); lengthen it or raise the rate.")
    return arrival


def _trace(text: str, body: str, n: int | None, dur: float | None, base: Path) -> Workload:
    """trace:FILE.csv[,speedup=S]: the file's requests, arrival times divided by S."""
    name, *opts = (s.strip() for s in body.split(","))
    if not name:
        raise SpecError(f"workload {text!r}: trace needs a file, e.g. trace:requests.csv. {WORKLOAD_GRAMMAR}")
    args = key_values(",".join(opts), f"workload {text!r}", ("speedup",), WORKLOAD_GRAMMAR) if opts else {}
    speedup = _field(text, "speedup", args["speedup"], 0.0, MAX_RATE) if args else 1.0
    tr = load_trace(_path(name, base))
    arrival, inp, out = tr.arrival_s / speedup, tr.input_tokens, tr.output_tokens
    keep = len(arrival)
    if n is not None:
        if n > keep:
            raise SpecError(f"workload {text!r}: requests={n} but the trace has only {keep} requests; pass at most "
                            f"{keep}, or none for the whole file.")
        keep = n
    elif dur is not None:
        keep = int(np.searchsorted(arrival, dur, side="left"))
        if keep == 0:
            raise SpecError(f"workload {text!r}: no request arrives before duration_s={dur:g} (the first arrives at "
                            f"{arrival[0]:g} s).")
    sped = f", speedup {speedup:g}" if speedup != 1 else ""
    what = (f"trace {Path(tr.path).name} ({tr.fmt}{sped}); {keep} requests over "
            f"{arrival[keep - 1] - arrival[0]:.4g} s")
    return Workload("open", arrival[:keep].copy(), inp[:keep].copy(), out[:keep].copy(), None, what)


def _tokens(isl: Dist, osl: Dist, isl_rng: np.random.Generator, osl_rng: np.random.Generator,
            n: int) -> tuple[np.ndarray, np.ndarray]:
    """Input and output tokens of ``n`` requests; the same trace for both: whole rows resampled together."""
    if isl.kind == osl.kind == "empirical" and isl.source == osl.source:
        rows = isl_rng.integers(0, len(isl.params), size=n)
        return (np.asarray(isl.params)[rows].astype(np.int64), np.asarray(osl.params)[rows].astype(np.int64))
    return isl.sample(isl_rng, n), osl.sample(osl_rng, n)


def _dist(text: str, what: str, base: Path) -> Dist:
    """parse_dist, plus 'trace:FILE.csv': the file's input (isl) or output (osl) tokens, resampled."""
    head, _, name = text.partition(":")
    if head.strip().lower() != "trace":
        return parse_dist(text, what)
    if not name.strip():
        raise SpecError(f"{what}={text!r}: trace needs a file, e.g. {what}=trace:requests.csv.")
    tr = load_trace(_path(name.strip(), base))
    return empirical_dist(tr.input_tokens if what == "isl" else tr.output_tokens, tr.path)


def _label(d: Dist) -> str:
    return f"trace:{Path(d.source).name}" if d.kind == "empirical" else d.text()


def _path(name: str, base: Path) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else base / p


def _field(text: str, key: str, value: str, low: float, high: float, *, whole: bool = False) -> float:
    """A number in (low, high] for ``key`` of the workload ``text`` (whole: an integer in [low, high])."""
    try:
        v = float(value)
    except ValueError:
        v = math.nan
    good = math.isfinite(v) and (low <= v if whole else low < v) and v <= high and (not whole or v == round(v))
    if not good:
        want = f"a whole number in {low:g}..{high:g}" if whole else f"a finite number in ({low:g}, {high:g}]"
        raise SpecError(f"workload {text!r}: {key} must be {want}, got {value!r}. {WORKLOAD_GRAMMAR}")
    return v


def _whole(arg: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= int(value) <= high:
        raise SpecError(f"{arg} must be a whole number in {low:,}..{high:,}, got {value!r} ({type(value).__name__}).")
    return int(value)


def _bounded(count: float, text: str, how: str) -> int:
    if count > MAX_REQUESTS:
        raise SpecError(f"workload {text!r}: {how} = {count:.3g} requests, more than the {MAX_REQUESTS:,} one run "
                        "simulates; shorten the duration or lower the rate.")
    return int(count)

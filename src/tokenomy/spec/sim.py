"""The small languages of ``tokenomy simulate``: token-count distributions, prefix caching and SLOs.

Pure (no I/O): frozen dataclasses and their parsers. Every parse error is one SpecError line that quotes
the text, says what is wrong and shows the grammar.

DIST (a request's input or output tokens; every sample is a whole number in [1, MAX_TOKENS]):

    N                       every request has N tokens (a whole number)
    uniform:A:B             whole numbers A..B, both included, equally likely (A <= B)
    normal:MEAN:SD          normal, rounded to the nearest whole number, clipped to [1, MAX_TOKENS]
    lognormal:MEDIAN:SIGMA  exp(N(ln MEDIAN, SIGMA)), rounded and clipped (SIGMA <= ln MAX_TOKENS = 20.7:
                            one sigma wider than the whole token range 1..MAX_TOKENS means nothing)
    zipf:A:MAX              truncated Zipf: P(k) proportional to k^-A for k = 1..MAX (A > 0; any A works
                            because MAX bounds the support), sampled exactly by rejection-inversion
                            (Hoermann & Derflinger 1996, as in Apache Commons RNG)
    trace:FILE.csv          resample a trace file's column (input tokens for isl, output for osl); read by
                            ``sim.workload.parse_workload``, which owns the file I/O

``Dist.mean_tokens`` is the mean of the clipped distribution before rounding to whole tokens (rounding to
the nearest integer moves it by far less than one token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import SpecError
from .args import MAX_TOKENS

DIST_GRAMMAR = ("DIST is N | uniform:A:B | normal:MEAN:SD | lognormal:MEDIAN:SIGMA | zipf:A:MAX | trace:FILE.csv "
                f"(token counts, whole numbers in 1..{MAX_TOKENS:,}; e.g. 'uniform:500:600', 'lognormal:1000:0.8').")
PREFIX_GRAMMAR = "--prefix-cache is 'hit=F' (0 <= F <= 1, share of each prompt found cached) or 'shared-prefix=TOKENS'."
SLO_GRAMMAR = ("--slo is 'ttft=S', 'tpot=S' or 'ttft=S,tpot=S' (seconds > 0, or with an 'ms' suffix; "
               "e.g. ttft=1,tpot=50ms).")
MAX_SIGMA = math.log(MAX_TOKENS)    # 20.7: lognormal sigma beyond which one sigma spans all of 1..MAX_TOKENS
_HI = float(MAX_TOKENS)
_KINDS = ("const", "uniform", "normal", "lognormal", "zipf", "empirical")


ROUTERS = ("round-robin", "least-loaded")   # how requests are spread over replicas (sim/kernel.py)
MAX_REPLICAS = 100_000      # replicas of one deployment simulated together (a fleet of ~1e5 is the largest sized)
MAX_DURATION_S = 1e9        # a simulated span past ~30 years is a unit slip


@dataclass(frozen=True)
class Dist:
    """A token-count distribution (see the module docstring). ``kind`` 'empirical' holds its values in
    ``params`` (resampled with replacement) and the file they came from in ``source``."""

    kind: str
    params: tuple[float, ...]
    source: str = field(default="", compare=False)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` token counts: int64, each in [1, MAX_TOKENS]."""
        p = self.params
        if self.kind == "const":
            x = np.full(n, p[0])
        elif self.kind == "uniform":
            x = rng.integers(int(p[0]), int(p[1]), size=n, endpoint=True)
        elif self.kind == "normal":
            x = rng.normal(p[0], p[1], size=n)
        elif self.kind == "lognormal":
            x = rng.lognormal(math.log(p[0]), p[1], size=n)
        elif self.kind == "zipf":
            x = _zipf(rng, p[0], int(p[1]), n)
        else:
            x = np.asarray(p)[rng.integers(0, len(p), size=n)]
        return np.clip(np.rint(x), 1, MAX_TOKENS).astype(np.int64)

    @property
    def mean_tokens(self) -> float:
        """The mean token count (module docstring: of the clipped distribution, before rounding)."""
        p = self.params
        if self.kind in ("const", "empirical"):
            return float(np.mean(p))
        if self.kind == "uniform":
            return (p[0] + p[1]) / 2
        if self.kind == "normal":
            return _clipped_normal_mean(p[0], p[1])
        if self.kind == "lognormal":
            return _clipped_lognormal_mean(p[0], p[1])
        return _harmonic(int(p[1]), p[0] - 1) / _harmonic(int(p[1]), p[0])

    def text(self) -> str:
        """The DIST text this parses from (a trace: its file)."""
        if self.kind == "const":
            return _num(self.params[0])
        if self.kind == "empirical":
            return f"trace:{self.source}"
        return ":".join([self.kind, *(_num(v) for v in self.params)])


def _num(v: float) -> str:
    """``v`` as text that parses back to the same float ('500', '0.8')."""
    return str(int(v)) if v == int(v) else repr(v)


def empirical_dist(values: np.ndarray, source: str) -> Dist:
    """The distribution that resamples ``values`` (whole token counts in [1, MAX_TOKENS], checked by the
    trace loader) with replacement."""
    return Dist("empirical", tuple(float(v) for v in np.asarray(values)), source)


def parse_dist(text: str, what: str) -> Dist:
    """``text`` in the DIST grammar (module docstring) for the quantity ``what`` (e.g. 'isl')."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{what} must be a distribution, got {text!r}. {DIST_GRAMMAR}")
    name, *args = (a.strip() for a in text.strip().split(":"))
    kind = name.lower()

    def bad(why: str) -> SpecError:
        return SpecError(f"{what}={text!r}: {why}. {DIST_GRAMMAR}")

    if not args:
        return Dist("const", (_token_count(name, "the token count", bad),))
    if kind == "trace":
        raise bad("a trace column is read by the workload parser (parse_workload), not here")
    want = {"uniform": ("A", "B"), "normal": ("MEAN", "SD"), "lognormal": ("MEDIAN", "SIGMA"), "zipf": ("A", "MAX")}
    if kind not in want:
        raise bad(f"unknown distribution {name!r}")
    if len(args) != 2:
        raise bad(f"{kind} takes 2 numbers ({kind}:{':'.join(want[kind])}), got {len(args)}")
    if kind == "uniform":
        a, b = (_token_count(v, k, bad) for v, k in zip(args, "AB", strict=True))
        if a > b:
            raise bad(f"A = {a:g} is above B = {b:g}")
        return Dist(kind, (a, b))
    if kind == "zipf":
        a = _real(args[0], "A (the exponent)", bad, low=0.0, high=1e3, open_low=True)
        return Dist(kind, (a, _token_count(args[1], "MAX", bad)))
    center = _real(args[0], want[kind][0], bad, low=1.0, high=_HI)
    spread = _real(args[1], want[kind][1], bad, low=0.0, high=MAX_SIGMA if kind == "lognormal" else _HI)
    return Dist(kind, (center, spread))


@dataclass(frozen=True)
class PrefixCache:
    """Prefix caching: ``hit_frac`` of each prompt is found in the cache, or every prompt starts with the
    same ``shared_prefix_tokens`` (cached after the first request)."""

    hit_frac: float = 0.0
    shared_prefix_tokens: int = 0


def parse_prefix_cache(text: str | None) -> PrefixCache:
    """'hit=F' | 'shared-prefix=TOKENS' | None or 'off' (no prefix caching)."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("off", "none")):
        return PrefixCache()
    pairs = key_values(text, "--prefix-cache", ("hit", "shared-prefix"), PREFIX_GRAMMAR)
    if len(pairs) != 1:
        raise SpecError(f"--prefix-cache {text!r}: give hit=F or shared-prefix=TOKENS, not both. {PREFIX_GRAMMAR}")

    def bad(why: str) -> SpecError:
        return SpecError(f"--prefix-cache {text!r}: {why}. {PREFIX_GRAMMAR}")

    if "hit" in pairs:
        return PrefixCache(hit_frac=_real(pairs["hit"], "hit", bad, low=0.0, high=1.0))
    return PrefixCache(shared_prefix_tokens=int(_token_count(pairs["shared-prefix"], "shared-prefix", bad, low=0)))


@dataclass(frozen=True)
class Slo:
    """Latency targets per request: time to first token and time per output token, in seconds."""

    ttft_s: float | None = None
    tpot_s: float | None = None


def parse_slo(text: str | None) -> Slo | None:
    """'ttft=S,tpot=S' (either or both; seconds, or milliseconds with an 'ms' suffix); None -> None."""
    if text is None:
        return None
    pairs = key_values(text, "--slo", ("ttft", "tpot"), SLO_GRAMMAR)

    def bad(why: str) -> SpecError:
        return SpecError(f"--slo {text!r}: {why}. {SLO_GRAMMAR}")

    out: dict[str, float] = {}
    for key, value in pairs.items():
        scale, num = (1e-3, value[:-2]) if value.lower().endswith("ms") else (1.0, value.removesuffix("s"))
        out[f"{key}_s"] = _real(num, key, bad, low=0.0, high=1e9, open_low=True) * scale
    return Slo(**out)


def key_values(text: str, what: str, keys: tuple[str, ...], grammar: str) -> dict[str, str]:
    """KEY=VALUE pairs of a comma-separated ``text``: known keys only, each at most once, at least one."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{what} must be text, got {text!r}. {grammar}")
    out: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = (s.strip() for s in part.partition("="))
        key = key.lower()
        if key not in keys or not eq or not value:
            raise SpecError(f"{what} {text!r}: expected {' or '.join(k + '=...' for k in keys)}, got {part.strip()!r}. "
                            f"{grammar}")
        if key in out:
            raise SpecError(f"{what} {text!r}: {key} is given twice. {grammar}")
        out[key] = value
    return out


def _real(text: str, name: str, bad, *, low: float, high: float, open_low: bool = False) -> float:
    """A finite number in [low, high] (or (low, high]); ``bad(why)`` builds the error."""
    try:
        v = float(text)
    except ValueError:
        raise bad(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(v) or v < low or (open_low and v == low) or v > high:
        raise bad(f"{name} must be a finite number in {'(' if open_low else '['}{low:g}, {high:g}], got {text!r}")
    return v


def _token_count(text: str, name: str, bad, *, low: int = 1) -> float:
    """A whole number of tokens in [low, MAX_TOKENS]."""
    v = _real(text, name, bad, low=low, high=_HI)
    if v != round(v):
        raise bad(f"{name} must be a whole number of tokens, got {text!r}")
    return v


def _phi(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _clipped_normal_mean(mu: float, sd: float, lo: float = 1.0, hi: float = _HI) -> float:
    """E[clip(X, lo, hi)] for X ~ N(mu, sd): mu (P mid) + sd (pdf(a) - pdf(b)) + lo P(X<lo) + hi P(X>hi)."""
    if sd == 0:
        return min(max(mu, lo), hi)
    a, b = (lo - mu) / sd, (hi - mu) / sd
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    return mu * (_phi(b) - _phi(a)) + sd * (pdf(a) - pdf(b)) + lo * _phi(a) + hi * (1 - _phi(b))


def _clipped_lognormal_mean(median: float, sigma: float, lo: float = 1.0, hi: float = _HI) -> float:
    """E[clip(X, lo, hi)], ln X ~ N(mu = ln median, sigma): e^(mu + sigma^2/2) [Phi(b - sigma) - Phi(a - sigma)]
    + lo Phi(a) + hi (1 - Phi(b)) with a, b = (ln lo - mu) / sigma, (ln hi - mu) / sigma."""
    if sigma == 0:
        return min(max(median, lo), hi)
    mu = math.log(median)
    a, b = (math.log(lo) - mu) / sigma, (math.log(hi) - mu) / sigma
    mid = math.exp(mu + sigma * sigma / 2) * (_phi(b - sigma) - _phi(a - sigma))
    return mid + lo * _phi(a) + hi * (1 - _phi(b))


def _harmonic(n: int, s: float) -> float:
    """sum_{k=1..n} k^-s: exact up to 10^6 terms, beyond by Euler-Maclaurin from m = 10^6
    (the integral, the end-point halves and the first derivative term; error ~ s^3 m^(-s-3) / 720)."""
    m = min(n, 1_000_000)
    head = float(np.sum(np.arange(1, m + 1, dtype=float) ** -s))
    if n == m:
        return head
    integral = math.log(n / m) if s == 1 else (n ** (1 - s) - m ** (1 - s)) / (1 - s)
    return head - m**-s + integral + (m**-s + n**-s) / 2 + s * (m ** (-s - 1) - n ** (-s - 1)) / 12


def _zipf(rng: np.random.Generator, s: float, n: int, size: int) -> np.ndarray:
    """``size`` draws of k in 1..n with P(k) ~ k^-s, by vectorized rejection-inversion (Hoermann & Derflinger,
    'Rejection-inversion to generate variates from monotone discrete distributions', 1996; the form of Apache
    Commons RNG RejectionInversionZipfSampler). Acceptance is above 90% for every s and n, so few rounds."""
    t = 1.0 - s

    def big_h(x):   # integral of x^-s: (x^(1-s) - 1) / (1-s), log x at s = 1 (stays exact near s = 1)
        lx = np.log(np.asarray(x, dtype=float))
        tl = t * lx
        return lx * np.where(tl == 0, 1.0, np.expm1(tl) / np.where(tl == 0, 1.0, tl))

    def big_h_inv(y):
        ty = t * y
        return np.exp(y * np.where(ty == 0, 1.0, np.log1p(ty) / np.where(ty == 0, 1.0, ty)))

    h_x1 = float(big_h(np.array(1.5))) - 1.0
    h_n = float(big_h(np.array(n + 0.5)))
    shift = 2.0 - float(big_h_inv(big_h(np.array(2.5)) - 2.0**-s))
    out = np.empty(size)
    todo = np.arange(size)
    while todo.size:
        u = h_n + rng.random(todo.size) * (h_x1 - h_n)
        x = big_h_inv(u)
        k = np.clip(np.rint(x), 1, n)
        ok = (k - x <= shift) | (u >= big_h(k + 0.5) - k**-s)
        out[todo[ok]] = k[ok]
        todo = todo[~ok]
    return out


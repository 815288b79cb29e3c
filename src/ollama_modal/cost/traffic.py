"""Request arrival traffic: Poisson, daily shapes, and recorded traces.

A :class:`Traffic` holds arrival offsets in seconds from ``start`` (a UNIX time, so warm
windows know the weekday and hour), the simulated ``span`` and, when known, each request's
output tokens. Generation is vectorised: a month at 60 requests a minute is ~2.6 M arrivals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError
from .schedule import _local_seconds
from zoneinfo import ZoneInfo

#: Monday 2026-11-02 00:00 UTC: generated traffic starts on a Monday so weekly shapes line up.
DEFAULT_START = 1793577600.0

# business-hours: weekday 08:00-19:00 busy, the evening light, nights and weekends near zero.
_WEEKDAY = [0.02] * 7 + [0.3] + [1.0] * 11 + [0.25, 0.2, 0.15, 0.1, 0.05]
_WEEKEND = [0.02] * 8 + [0.05] * 12 + [0.02] * 4
BUSINESS_HOURS: tuple[tuple[float, ...], ...] = tuple(tuple(_WEEKDAY) for _ in range(5)) + tuple(tuple(_WEEKEND) for _ in range(2))
PATTERNS = {"business-hours": BUSINESS_HOURS}


@dataclass(frozen=True)
class Traffic:
    times: np.ndarray  # seconds since ``start``, sorted, each in [0, span)
    span: float  # seconds simulated
    start: float = DEFAULT_START  # UNIX time of offset 0
    output_tokens: np.ndarray | None = None  # per request, when the trace has them
    source: str = ""
    #: The span ends at the last request (a trace without a given span): the simulation
    #: extends it to bill the last requests through their scale-down (``with_tail``).
    open_end: bool = False

    def with_tail(self, service: np.ndarray, window: float, cold_start: float) -> Traffic:
        """An open-ended span lengthened to the last completion (a cold start allowed for) plus
        the scaledown window, so the containers of the last burst are billed until they stop."""
        if not self.open_end or self.times.size == 0:
            return self
        end = float(np.max(self.times + service)) + cold_start + window
        return Traffic(self.times, max(self.span, end), self.start, self.output_tokens, self.source)

    @property
    def requests(self) -> int:
        return int(self.times.size)

    @property
    def mean_rpm(self) -> float:
        return self.requests / self.span * 60 if self.span > 0 else 0.0


#: Generated traffic expected to hold more requests than this is produced a day at a time
#: while it is simulated (GeneratedTraffic), so memory does not grow with the span.
STREAM_REQUESTS = 4_000_000


@dataclass(frozen=True)
class GeneratedTraffic:
    """Poisson or shaped arrivals produced one day at a time, for spans too long to hold.

    Day d's arrivals come from their own seed (``seed`` and d), so any stretch is the same
    whenever it is asked for. Only :mod:`simulator` (through the pool model) consumes it.
    """

    rpm: float
    span: float
    seed: int = 0
    pattern: str | tuple[float, ...] | None = None
    start: float = DEFAULT_START
    source: str = ""
    output_tokens: None = None
    open_end: bool = False

    @property
    def mean_rpm(self) -> float:
        return self.rpm

    @property
    def expected_requests(self) -> float:
        return self.rpm * self.span / 60

    def with_tail(self, service: object, window: float, cold_start: float) -> GeneratedTraffic:
        return self

    def day(self, d: int) -> np.ndarray:
        """Arrival offsets of day d (from the span's start), inside the span."""
        seconds = min(86400.0, self.span - d * 86400.0)
        if seconds <= 0:
            return np.empty(0)
        seed = self.seed * 100_003 + d
        if self.pattern is None:
            tr = poisson(self.rpm, seconds, seed, start=self.start + d * 86400.0)
        else:
            tr = shaped(self.rpm, seconds, seed, self.pattern if isinstance(self.pattern, str) else list(self.pattern),
                        start=self.start + d * 86400.0)
        return tr.times + d * 86400.0

    def arrivals(self, t0: float, t1: float) -> np.ndarray:
        """Arrival offsets in [t0, t1)."""
        parts = [self.day(d) for d in range(int(t0 // 86400), int(np.ceil(t1 / 86400)))]
        a = np.concatenate(parts) if parts else np.empty(0)
        return a[(a >= t0) & (a < t1)]


def _check_rate(rpm: float, seconds: float) -> None:
    if rpm < 0:
        raise UsageError(f"requests per minute must be zero or more, got {rpm}")
    if seconds <= 0:
        raise UsageError(f"the traffic span must be positive, got {seconds} s")


def poisson(rpm: float, seconds: float, seed: int | None = 0, *, start: float = DEFAULT_START) -> Traffic:
    """Homogeneous Poisson arrivals at ``rpm`` requests a minute for ``seconds``."""
    _check_rate(rpm, seconds)
    rng = np.random.default_rng(seed)
    rate = rpm / 60.0
    if rate == 0:
        return Traffic(np.empty(0), float(seconds), start, source=f"poisson {rpm:g} rpm")
    expected = rate * seconds
    chunks, last = [], 0.0
    while last < seconds:  # almost always one pass: 8 sigma of headroom
        n = int(expected + 8 * np.sqrt(expected) + 16)
        t = last + np.cumsum(rng.exponential(1.0 / rate, n))
        chunks.append(t)
        last = float(t[-1])
    times = np.concatenate(chunks)
    times = times[: np.searchsorted(times, seconds, side="left")]
    return Traffic(times, float(seconds), start, source=f"poisson {rpm:g} rpm")


def _hourly_table(pattern: str | Sequence[float]) -> np.ndarray:
    """A 7x24 weight table (Monday first) from a named pattern or 24 hourly weights."""
    if isinstance(pattern, str):
        if pattern not in PATTERNS:
            raise UsageError(f"unknown traffic pattern {pattern!r}; use one of {', '.join(PATTERNS)} or 24 hourly weights")
        table = np.array(PATTERNS[pattern], dtype=float)
    else:
        weights = np.asarray(list(pattern), dtype=float)
        if weights.shape != (24,) or np.any(weights < 0) or not np.isfinite(weights).all():
            raise UsageError(f"hourly weights must be 24 non-negative numbers (hour 0 first), got {len(weights)} values")
        table = np.tile(weights, (7, 1))
    if table.sum() <= 0:
        raise UsageError("hourly weights are all zero: give at least one busy hour")
    return table


def shaped(
    rpm: float,
    seconds: float,
    seed: int | None = 0,
    pattern: str | Sequence[float] = "business-hours",
    *,
    start: float = DEFAULT_START,
    timezone_name: str = "UTC",
) -> Traffic:
    """Non-homogeneous Poisson arrivals following a daily/weekly shape, mean ``rpm`` over a week.

    Thinning: candidates at the peak rate, each kept with probability rate(t) / peak.
    Hours are local to ``timezone_name``.
    """
    _check_rate(rpm, seconds)
    table = _hourly_table(pattern)
    table = table / table.mean()  # mean over the week equals 1, so the mean rate is rpm
    peak = rpm * float(table.max())
    base = poisson(peak, seconds, seed, start=start)
    if base.requests == 0:
        return Traffic(base.times, base.span, start, source=f"{pattern if isinstance(pattern, str) else 'hourly'} {rpm:g} rpm")
    local = _local_seconds(ZoneInfo(timezone_name), start + base.times)
    day = np.floor(local / 86400).astype(np.int64)
    hour = np.floor((local - day * 86400) / 3600).astype(np.int64)
    weight = table[(day + 3) % 7, hour]
    rng = np.random.default_rng(None if seed is None else seed + 1)
    keep = rng.random(base.requests) * float(table.max()) < weight
    name = pattern if isinstance(pattern, str) else "hourly shape"
    return Traffic(base.times[keep], base.span, start, source=f"{name} {rpm:g} rpm mean")


# --- traces --------------------------------------------------------------------------------


def load_trace(path: str | Path, *, span: float | None = None) -> Traffic:
    """Read a recorded trace (CSV with a header, or JSONL) into sorted :class:`Traffic`.

    The span runs from the first request to the last one, and a simulation lengthens it to bill
    the last requests through their scale-down (``Traffic.with_tail``), unless ``span``
    (seconds) is given.
    Raises UsageError naming the file, the line and the fix.
    """
    from .tracefile import read_trace

    p = Path(path)
    times, tokens = read_trace(p)
    if times.size > 1 and not bool((times[1:] >= times[:-1]).all()):  # a recorded trace is usually in order already
        order = np.argsort(times, kind="stable")
        times = times[order]
        tokens = tokens[order] if tokens is not None else None
    start = float(times[0])
    offsets = times
    offsets -= start  # in place: the trace's memory is not held twice
    total = float(offsets[-1]) if span is None else float(span)
    if span is not None and span < offsets[-1]:
        raise UsageError(f"{p}: span {span:g} s is shorter than the trace ({offsets[-1]:g} s); drop --span or make it longer")
    total = max(total, 1.0)
    return Traffic(offsets, total, start, tokens, source=str(p), open_end=span is None)

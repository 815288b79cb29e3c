"""Request arrival traffic: Poisson, daily shapes, and recorded traces.

A :class:`Traffic` holds arrival offsets in seconds from ``start`` (a UNIX time, so warm
windows know the weekday and hour), the simulated ``span`` and, when known, each request's
output tokens. Generation is vectorised: a month at 60 requests a minute is ~2.6 M arrivals.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
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

_FIX = "each row needs `timestamp` (ISO-8601 such as 2026-11-02T09:15:00Z, or UNIX seconds) and optionally `output_tokens`"


def _parse_time(value: object, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{where}: timestamp {text!r} is neither ISO-8601 nor UNIX seconds; {_FIX}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # a trace without offsets is read as UTC
    return dt.timestamp()


def _parse_tokens(value: object, where: str) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return np.nan
    try:
        tokens = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"{where}: output_tokens {value!r} is not a number; give a whole number of tokens or leave it empty") from None
    if tokens < 0 or not np.isfinite(tokens):
        raise UsageError(f"{where}: output_tokens {value!r} must be zero or more")
    return tokens


def _rows_csv(path: Path) -> list[tuple[int, dict[str, object]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "timestamp" not in [f.strip() for f in reader.fieldnames]:
            raise UsageError(f"{path}:1: the CSV header has no `timestamp` column (found {reader.fieldnames}); {_FIX}")
        return [(reader.line_num, {k.strip(): v for k, v in row.items() if k}) for row in reader]


def _rows_jsonl(path: Path) -> list[tuple[int, dict[str, object]]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{path}:{n}: not valid JSON ({e.msg}); write one JSON object per line") from None
            if not isinstance(obj, dict):
                raise UsageError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}; {_FIX}")
            rows.append((n, obj))
    return rows


def load_trace(path: str | Path, *, span: float | None = None) -> Traffic:
    """Read a recorded trace (CSV with a header, or JSONL) into sorted :class:`Traffic`.

    The span runs from the first request to the last one, and a simulation lengthens it to bill
    the last requests through their scale-down (``Traffic.with_tail``), unless ``span``
    (seconds) is given.
    Raises UsageError naming the file, the line and the fix.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such trace file; give a CSV or JSONL file of requests")
    rows = _rows_jsonl(p) if p.suffix.lower() in (".jsonl", ".ndjson") else _rows_csv(p)
    if not rows:
        raise UsageError(f"{p}: the trace has no requests; {_FIX}")
    times = np.empty(len(rows))
    tokens = np.empty(len(rows))
    for i, (line, row) in enumerate(rows):
        where = f"{p}:{line}"
        if row.get("timestamp") in (None, ""):
            raise UsageError(f"{where}: missing timestamp; {_FIX}")
        times[i] = _parse_time(row["timestamp"], where)
        tokens[i] = _parse_tokens(row.get("output_tokens"), where)
    order = np.argsort(times, kind="stable")
    times, tokens = times[order], tokens[order]
    start = float(times[0])
    offsets = times - start
    total = float(offsets[-1]) if span is None else float(span)
    if span is not None and span < offsets[-1]:
        raise UsageError(f"{p}: span {span:g} s is shorter than the trace ({offsets[-1]:g} s); drop --span or make it longer")
    total = max(total, 1.0)
    has_tokens = not np.isnan(tokens).all()
    if has_tokens and np.isnan(tokens).any():
        missing = int(np.flatnonzero(np.isnan(tokens))[0])
        raise UsageError(f"{p}:{rows[order[missing]][0]}: output_tokens is empty here but set on other rows; fill it in on every row or on none")
    return Traffic(offsets, total, start, tokens if has_tokens else None, source=str(p), open_end=span is None)

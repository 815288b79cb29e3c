"""Scheduled warm windows as the cost model sees them: min_containers over time, vectorised.

The rules match :mod:`ollama_modal.warm_schedule` (what the deployed app applies): a window
is in force on its days from ``start`` (inclusive) to ``end`` (exclusive) local time; an end
at or before the start means the window runs past midnight into the next day; the window in
force with the highest ``min_containers`` wins, and the profile's own ``min_containers`` is a
floor under every window. Times are judged at minute resolution, as the rendered app does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Every time zone offset in use (and every DST change) falls on a quarter hour of UTC, so
# the offset is constant inside each 15-minute UTC block: one zoneinfo call per block.
_BLOCK = 900


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class WarmWindow:
    """Keep ``min_containers`` up on ``days`` between ``start`` and ``end`` (local, HH:MM)."""

    days: tuple[str, ...]
    start: str
    end: str
    timezone: str = "UTC"
    min_containers: int = 1
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days = tuple(d.lower()[:3] for d in self.days)
        bad = [d for d in days if d not in DAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}; use mon, tue, wed, thu, fri, sat, sun")
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "_tz", ZoneInfo(self.timezone))

    @property
    def start_minute(self) -> int:
        return _minutes(self.start)

    @property
    def end_minute(self) -> int:
        return _minutes(self.end)

    def as_dict(self) -> dict[str, object]:
        return {
            "days": list(self.days),
            "start": self.start,
            "end": self.end,
            "timezone": self.timezone,
            "min_containers": self.min_containers,
        }


def _offsets(tz: ZoneInfo, unix: np.ndarray) -> np.ndarray:
    """The zone's UTC offset (seconds) at each UNIX time."""
    blocks = np.floor(unix / _BLOCK).astype(np.int64)
    uniq, inverse = np.unique(blocks, return_inverse=True)
    offsets = np.array(
        [datetime.fromtimestamp(int(b) * _BLOCK, tz).utcoffset().total_seconds() for b in uniq],  # type: ignore[union-attr]
        dtype=np.float64,
    )
    return offsets[inverse]


def _local_seconds(tz: ZoneInfo, unix: np.ndarray) -> np.ndarray:
    """Local wall-clock seconds since 1970-01-01 local, for each UNIX time."""
    return unix + _offsets(tz, unix)


def _active(window: WarmWindow, unix: np.ndarray, local: np.ndarray | None = None) -> np.ndarray:
    local = _local_seconds(window._tz, unix) if local is None else local
    day = np.floor(local / 86400).astype(np.int64)
    minute = np.floor((local - day * 86400) / 60).astype(np.int64)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    on_day = np.zeros(7, dtype=bool)
    on_day[[DAYS.index(d) for d in window.days]] = True
    today = on_day[weekday]
    start, end = window.start_minute, window.end_minute
    if start < end:
        return today & (minute >= start) & (minute < end)
    yesterday = on_day[(weekday - 1) % 7]
    return (today & (minute >= start)) | (yesterday & (minute < end))


def min_containers_at(windows: Sequence[WarmWindow], base_min: int, unix_times: np.ndarray | Sequence[float],
                      offsets: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """min_containers in force at each UNIX time (an int array shaped like ``unix_times``);
    ``offsets`` (time zone name -> UTC offset at each time) when the caller has them."""
    unix = np.asarray(unix_times, dtype=np.float64)
    out = np.full(unix.shape, int(base_min), dtype=np.int64)
    for w in windows:
        local = unix + offsets[w.timezone] if offsets is not None else None
        np.maximum(out, np.where(_active(w, unix, local), w.min_containers, 0), out=out)
    return out


def active_window(windows: Sequence[WarmWindow], now: datetime | float) -> WarmWindow | None:
    """The window in force at ``now`` (aware datetime or UNIX time) with the highest min, or None."""
    unix = now.timestamp() if isinstance(now, datetime) else float(now)
    t = np.array([unix])
    active = [w for w in windows if bool(_active(w, t)[0])]
    return max(active, key=lambda w: w.min_containers) if active else None


#: Warm windows repeat every week of local time: transitions are found a week of minutes at a
#: time, and a week whose time zone offsets are those of the week before repeats its changes.
PERIOD = 7 * 86400


def iter_transitions(windows: Sequence[WarmWindow], base_min: int, start: float, end: float,
                     *, period: float = PERIOD) -> Iterator[tuple[float, int]]:
    """:func:`transitions`, lazily and in the memory of one week whatever the span.

    Window edges are whole local minutes and offsets are whole minutes, so a grid of UTC
    minutes sees every change exactly; it is laid a ``period`` at a time (a whole number of
    minutes). While every window's zone keeps the offsets it had a period before (no DST change
    in between), the local clock repeats and so do the changes: they are shifted, not
    recomputed. The zones' offsets are still looked up per 15 minutes (cheap); the grid
    evaluated at once is at most one period.
    """
    first = int(min_containers_at(windows, base_min, [start])[0])
    yield float(start), first
    if not windows or end <= start:
        return
    zones = {w.timezone: w._tz for w in windows}
    weekly = period % PERIOD == 0  # only then does a period repeat the one before
    t = float(np.ceil(start / 60) * 60)
    prev = first
    seen: tuple[list[np.ndarray], int, np.ndarray, np.ndarray] | None = None  # offsets, prev, change offsets, values
    while t < end:
        hi = min(t + period, end)
        grid = np.arange(t, hi, 60.0)
        if grid.size == 0:
            break
        offsets = {name: _offsets(tz, grid) for name, tz in zones.items()}
        key = [offsets[name] for name in zones]
        if weekly and seen is not None and seen[1] == prev and seen[0][0].size == grid.size and \
                all(np.array_equal(a, b) for a, b in zip(seen[0], key)):
            at, vals = seen[2], seen[3]  # the same week again
        else:
            values = min_containers_at(windows, base_min, grid, offsets)
            before = np.concatenate(([prev], values[:-1]))
            i = np.flatnonzero(values != before)
            at, vals = grid[i] - t, values[i]
            seen = (key, prev, at, vals)
        for dt, v in zip(at.tolist(), vals.tolist()):
            yield t + dt, int(v)
        if vals.size:
            prev = int(vals[-1])
        t = hi


def transitions(windows: Sequence[WarmWindow], base_min: int, start: float, end: float) -> list[tuple[float, int]]:
    """Change points of min_containers over [start, end): ``[(start, value), (t1, v1), ...]``.

    The first entry is the value in force at ``start``; each later entry is a UNIX time (a
    whole minute) at which the value changes. Modal applies these with a scheduled function.
    Memory: the list (a few entries a day) and one week of minutes (:func:`iter_transitions`).
    """
    return list(iter_transitions(windows, base_min, start, end))


def utc_datetime(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, timezone.utc)


def from_profile(windows: Sequence[object]) -> tuple[WarmWindow, ...]:
    """The cost model's windows for a profile's ``warm.schedule`` entries."""
    return tuple(WarmWindow(tuple(w.days), w.start, w.end, w.timezone, w.min_containers) for w in windows)  # type: ignore[attr-defined]


def mean_min_containers(windows: Sequence[WarmWindow], base_min: int, start: float, days: int = 30) -> float:
    """Average min_containers in force over ``days`` days from ``start`` (UNIX time), minute by minute."""
    grid = np.arange(float(start), float(start) + days * 86400, 60.0)
    return float(min_containers_at(windows, base_min, grid).mean())

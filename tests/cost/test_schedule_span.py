"""Schedules over long spans: transitions found a week at a time equal those of one minute grid
over the whole span, and the grid evaluated at once never exceeds a week whatever the span."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_modal.cost import schedule
from ollama_modal.cost.schedule import DAYS, PERIOD, WarmWindow, min_containers_at, transitions

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns",
         "Pacific/Chatham", "Africa/Casablanca", "America/Santiago"]


def grid_transitions(windows, base_min: int, start: float, end: float) -> list[tuple[float, int]]:
    """The whole-span minute grid (memory proportional to the span): the reference."""
    first = min_containers_at(windows, base_min, [start])[0]
    out = [(float(start), int(first))]
    if not windows or end <= start:
        return out
    grid = np.arange(np.ceil(start / 60) * 60, end, 60.0)
    if grid.size == 0:
        return out
    values = min_containers_at(windows, base_min, grid)
    prev = np.concatenate(([first], values[:-1]))
    for i in np.flatnonzero(values != prev):
        out.append((float(grid[i]), int(values[i])))
    return out


minutes = st.integers(0, 24 * 60 - 1).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")
window = st.builds(WarmWindow, st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True).map(tuple), minutes, minutes,
                   st.sampled_from(ZONES), st.integers(1, 3))


@settings(max_examples=120, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows=st.lists(window, max_size=3), base=st.integers(0, 2),
       start=st.floats(1.77e9, 1.9e9, allow_nan=False),  # 2026-2030, DST changes included
       days=st.floats(0, 40, allow_nan=False), period=st.sampled_from([PERIOD, 2 * PERIOD, 86_400.0, 5 * 3600 + 7 * 60]))
def test_a_week_at_a_time_is_the_whole_span_grid(windows, base: int, start: float, days: float, period: float) -> None:
    end = start + days * 86_400
    got = list(schedule.iter_transitions(windows, base, start, end, period=period))
    assert got == grid_transitions(windows, base, start, end)


def test_ten_years_evaluate_one_week_at_a_time_and_repeat_the_weeks(monkeypatch) -> None:
    """--days 3650 with an office-hours schedule: no grid larger than a week, and only the weeks
    around a DST change (and the first) are evaluated; the others repeat the week before."""
    sizes: list[int] = []
    real = schedule.min_containers_at

    def counting(windows, base_min, unix_times, offsets=None):
        sizes.append(np.asarray(unix_times).size)
        return real(windows, base_min, unix_times, offsets)

    monkeypatch.setattr(schedule, "min_containers_at", counting)
    office = WarmWindow(("mon", "tue", "wed", "thu", "fri"), "08:00", "19:00", "Europe/Berlin", 1)
    start = datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp()
    for days in (70, 3650):
        sizes.clear()
        out = transitions([office], 0, start, start + days * 86_400)
        assert len(out) == 1 + 2 * sum(datetime.fromtimestamp(start + d * 86_400, timezone.utc).weekday() < 5 for d in range(days))
        assert max(sizes) <= PERIOD // 60  # the grid of one week at most
        evaluated = sum(sizes)
        # 2 DST changes a year: each makes the week holding it and the one after it new
        assert evaluated <= (2 + 4 * (days / 365 + 1)) * PERIOD // 60, days
    assert evaluated < 0.1 * 3650 * 1440  # a tenth of the whole-span grid


def test_a_utc_schedule_is_evaluated_for_two_weeks_whatever_the_span(monkeypatch) -> None:
    sizes: list[int] = []
    real = schedule.min_containers_at
    monkeypatch.setattr(schedule, "min_containers_at", lambda *a: sizes.append(np.asarray(a[2]).size) or real(*a))
    night = WarmWindow(("fri",), "22:00", "02:00", "UTC", 2)
    start = datetime(2026, 11, 2, 0, 0, 30, tzinfo=timezone.utc).timestamp()
    out = transitions([night], 1, start, start + 3650 * 86_400)
    assert len(out) == 1 + 2 * 521
    assert sum(sizes) <= 1 + 2 * PERIOD // 60

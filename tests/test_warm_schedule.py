"""Scheduled warm windows: which window is in force at a given instant."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ollama_modal.warm_schedule import active_window, desired_min_containers, next_change, window_active

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
OFFICE = {"days": WEEKDAYS, "start": "08:00", "end": "19:00", "timezone": "Europe/Berlin", "min_containers": 1}
NIGHT = {"days": ["fri"], "start": "22:00", "end": "02:00", "timezone": "UTC", "min_containers": 2}


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "now,expected",
    [
        (utc(2026, 11, 30, 7, 0), True),  # Monday 08:00 Berlin (UTC+1)
        (utc(2026, 11, 30, 6, 59), False),  # Monday 07:59 Berlin
        (utc(2026, 11, 30, 17, 59), True),  # Monday 18:59 Berlin
        (utc(2026, 11, 30, 18, 0), False),  # Monday 19:00 Berlin: end is exclusive
        (utc(2026, 11, 28, 10, 0), False),  # Saturday
        (utc(2026, 7, 1, 6, 0), True),  # Wednesday 08:00 Berlin in summer time (UTC+2)
    ],
)
def test_office_hours(now: datetime, expected: bool) -> None:
    assert window_active(OFFICE, now) is expected


@pytest.mark.parametrize(
    "now,expected",
    [
        (utc(2026, 11, 27, 23, 0), True),  # Friday 23:00
        (utc(2026, 11, 28, 1, 30), True),  # Saturday 01:30: the Friday window carries over
        (utc(2026, 11, 28, 2, 0), False),
        (utc(2026, 11, 28, 23, 0), False),  # Saturday night: not a Friday
        (utc(2026, 11, 27, 1, 0), False),  # Friday 01:00: Thursday has no window
    ],
)
def test_window_across_midnight(now: datetime, expected: bool) -> None:
    assert window_active(NIGHT, now) is expected


def test_highest_window_wins_and_base_is_a_floor() -> None:
    fri_night = utc(2026, 11, 27, 23, 0)
    windows = [OFFICE, NIGHT]
    assert active_window(windows, fri_night) == NIGHT
    assert desired_min_containers(windows, 0, fri_night) == 2
    assert desired_min_containers(windows, 3, fri_night) == 3
    assert desired_min_containers(windows, 0, utc(2026, 11, 29, 12, 0)) == 0  # Sunday noon


def test_next_change() -> None:
    assert next_change([OFFICE], 0, utc(2026, 11, 30, 6, 30)) == utc(2026, 11, 30, 7, 0)

"""Warm windows as min_containers over time: the same rules as the deployed scheduled function."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from ollama_modal import warm_schedule
from ollama_modal.cost.schedule import WarmWindow, active_window, min_containers_at, transitions

OFFICE = WarmWindow(("mon", "tue", "wed", "thu", "fri"), "08:00", "19:00", "Europe/Berlin", 1)
NIGHT = WarmWindow(("fri",), "22:00", "02:00", "UTC", 2)


def ts(*a: int) -> float:
    return datetime(*a, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    "when,expected",
    [
        (ts(2026, 11, 30, 7, 0), 1),  # Monday 08:00 Berlin (UTC+1)
        (ts(2026, 11, 30, 6, 59), 0),
        (ts(2026, 11, 30, 18, 0), 0),  # 19:00 Berlin: end is exclusive
        (ts(2026, 7, 1, 6, 0), 1),  # summer time (UTC+2)
        (ts(2026, 11, 27, 23, 0), 2),  # Friday night window
        (ts(2026, 11, 28, 1, 59), 2),  # ...carries over past midnight into Saturday
        (ts(2026, 11, 28, 2, 0), 0),
        (ts(2026, 11, 28, 23, 0), 0),  # Saturday night is not a Friday
    ],
)
def test_min_containers_at(when: float, expected: int) -> None:
    assert min_containers_at([OFFICE, NIGHT], 0, [when])[0] == expected


def test_base_min_is_a_floor() -> None:
    assert min_containers_at([OFFICE], 3, [ts(2026, 11, 30, 10, 0)])[0] == 3


def test_agrees_with_the_deployed_rules_on_random_instants() -> None:
    rng = np.random.default_rng(0)
    times = rng.uniform(ts(2026, 1, 1), ts(2027, 1, 1), 400)
    times = np.floor(times / 60) * 60  # the deployed function judges whole minutes
    wins = [OFFICE, NIGHT, WarmWindow(("sun", "sat"), "23:30", "23:30", "America/New_York", 3)]
    got = min_containers_at(wins, 0, times)
    for t, g in zip(times, got):
        now = datetime.fromtimestamp(t, timezone.utc)
        assert g == warm_schedule.desired_min_containers([w.as_dict() for w in wins], 0, now), now


def test_active_window_picks_the_highest() -> None:
    both = WarmWindow(("fri",), "00:00", "24:00", "UTC", 1)
    assert active_window([both, NIGHT], ts(2026, 11, 27, 23, 0)) == NIGHT
    assert active_window([NIGHT], datetime(2026, 11, 27, 12, tzinfo=timezone.utc)) is None


def test_transitions_cross_midnight_and_dst() -> None:
    start = ts(2026, 11, 27, 0, 0)  # Friday
    assert transitions([NIGHT], 0, start, start + 2 * 86400) == [
        (start, 0), (ts(2026, 11, 27, 22, 0), 2), (ts(2026, 11, 28, 2, 0), 0)]
    # Berlin leaves summer time on Sunday 2026-10-25: Monday's window starts at 07:00 UTC.
    sun = ts(2026, 10, 25, 0, 0)
    tr = transitions([OFFICE], 0, sun, sun + 2 * 86400)
    assert tr == [(sun, 0), (ts(2026, 10, 26, 7, 0), 1), (ts(2026, 10, 26, 18, 0), 0)]
    assert transitions([], 2, sun, sun + 86400) == [(sun, 2)]


def test_bad_day_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown day"):
        WarmWindow(("funday",), "08:00", "09:00")

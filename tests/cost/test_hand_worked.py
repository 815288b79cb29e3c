"""Hand-worked timelines for the pool model (every number below is worked out in the comment
next to it), run through the reference event loop and the vectorised model, and the two
agreeing exactly on random traffic when the vectorised one runs to convergence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from ollama_modal.cost.schedule import WarmWindow
from ollama_modal.cost.simulator import Policy, usage_for
from ollama_modal.cost.traffic import DEFAULT_START, Traffic, poisson


@dataclass
class Case:
    name: str
    arrivals: list[float]
    service: list[float]
    policy: Policy
    cold_start: float
    span: float
    billed: float
    cold_starts: int
    cold_requests: int
    latencies: list[float]
    max_seen: int
    queued: int = 0
    busy: float | None = None
    methods: tuple[str, ...] = ("events", "pool", "auto")
    extra: dict = field(default_factory=dict)


MONDAY_0900 = 9 * 3600.0

CASES = [
    Case(
        # Two warm containers all month; requests never need more than one: no cold start.
        "always-on min_containers=2",
        [100.0, 200.0, 5000.0], [10.0, 10.0, 10.0],
        Policy(scaledown_window=60, concurrency=4, min_containers=2), 30.0, 10_000.0,
        billed=2 * 10_000.0, cold_starts=0, cold_requests=0, latencies=[10, 10, 10], max_seen=2,
        busy=30.0,
    ),
    Case(
        # r0 starts A (ready 5) and r1 joins it; A is full (2 slots) so r2 starts B (ready 5.2).
        # All finish at 15 / 15 / 15.2; A stops at 35, B at 35.2: billed 35 + 35.
        "concurrency 2: a third request starts a second container",
        [0.0, 0.1, 0.2], [10.0, 10.0, 10.0],
        Policy(scaledown_window=20, concurrency=2), 5.0, 100.0,
        billed=70.0, cold_starts=2, cold_requests=3, latencies=[15.0, 14.9, 15.0], max_seen=2,
    ),
    Case(
        # One slot, one container: r0 starts A (ready 5, done 15); r1 and r2 queue and run at
        # 15-25 and 25-35. A stops at 35 + 10.
        "max_containers=1 queues",
        [0.0, 1.0, 2.0], [10.0, 10.0, 10.0],
        Policy(scaledown_window=10, concurrency=1, max_containers=1), 5.0, 100.0,
        billed=45.0, cold_starts=1, cold_requests=1, latencies=[15.0, 24.0, 33.0], max_seen=1, queued=2,
        busy=35.0,
    ),
    Case(
        # r0 at 0: one in the system -> need 1 + buffer 1 = 2: two containers start (ready 5);
        # r0 runs 5-15. r1 at 7: need 2 + 1 = 3, a third starts (ready 12); a ready slot is
        # free, so r1 runs 7-17. At 15 need drops to 2 (the third lapses at 25), at 17 to 0
        # (the first two lapse at 27): billed 27 + 27 + (25 - 7).
        "buffer_containers=1",
        [0.0, 7.0], [10.0, 10.0],
        Policy(scaledown_window=10, concurrency=1, buffer_containers=1), 5.0, 100.0,
        billed=72.0, cold_starts=3, cold_requests=1, latencies=[15.0, 10.0], max_seen=3,
    ),
    Case(
        # Monday 09:00-10:00 UTC keeps one container: it starts at 09:00 (cold, no request
        # waits), serves the 09:30 request warm, and stops when the window ends (3600 s).
        # The 11:00 request starts a fresh one: waits 30, done at +40, stops 60 later (100 s).
        "schedule window 09:00-10:00",
        [MONDAY_0900 + 1800, 11 * 3600.0], [10.0, 10.0],
        Policy(scaledown_window=60, concurrency=4, schedule=(WarmWindow(("mon",), "09:00", "10:00"),)), 30.0, 86400.0,
        billed=3700.0, cold_starts=2, cold_requests=1, latencies=[10.0, 40.0], max_seen=1, busy=50.0,
    ),
    Case(
        # Buffer with max_containers=1: the buffer cannot exceed the cap.
        "buffer capped by max_containers",
        [0.0], [10.0],
        Policy(scaledown_window=10, concurrency=1, buffer_containers=2, max_containers=1), 5.0, 100.0,
        billed=25.0, cold_starts=1, cold_requests=1, latencies=[15.0], max_seen=1,
    ),
    Case(
        # Arrival exactly W after the last completion still finds the container up.
        "arrival at exactly the scaledown deadline",
        [0.0, 30.0], [5.0, 5.0],
        Policy(scaledown_window=20, concurrency=1), 5.0, 100.0,
        billed=55.0, cold_starts=1, cold_requests=1, latencies=[10.0, 5.0], max_seen=1,
    ),
    Case(
        # Billing stops at the span's end even when a container would stay up longer.
        "cut at the end of the span",
        [90.0], [5.0],
        Policy(scaledown_window=300, concurrency=1), 5.0, 100.0,
        billed=10.0, cold_starts=1, cold_requests=1, latencies=[10.0], max_seen=1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hand_worked(case: Case) -> None:
    traffic = Traffic(np.array(case.arrivals), case.span, DEFAULT_START)
    for method in case.methods:
        u = usage_for(traffic, np.array(case.service), case.policy, case.cold_start, method=method)
        assert u.container_seconds == pytest.approx(case.billed), method
        assert u.cold_starts == case.cold_starts, method
        assert u.cold_requests == case.cold_requests, method
        assert u.latencies.tolist() == pytest.approx(case.latencies), method
        assert u.max_containers_seen == case.max_seen, method
        assert u.queued_requests == case.queued, method
        if case.busy is not None:
            assert u.busy_seconds == pytest.approx(case.busy), method


def test_min_containers_with_overflow_starts_extra() -> None:
    # min 1, one slot: the warm container takes r0 (10-15). r1 at 11 makes two in the system:
    # a second container starts (ready 14) and r1 runs on it 14-19. At 15 one is in the system
    # again: the second lapses W = 20 later, at 35 (pool-level scale-down: the second
    # container is not needed even though it still serves r1 until 19). The floor's container
    # is billed all span: 1000 + (35 - 11).
    traffic = Traffic(np.array([10.0, 11.0]), 1000.0, DEFAULT_START)
    for method in ("events", "pool"):
        u = usage_for(traffic, np.array([5.0, 5.0]), Policy(scaledown_window=20, concurrency=1, min_containers=1), 3.0,
                      method=method)
        assert u.container_seconds == pytest.approx(1000 + 35 - 11), method
        assert u.cold_starts == 1 and u.latencies.tolist() == [5.0, 8.0], method


def test_shared_queue_serves_the_first_free_slot() -> None:
    # One slot per container, W = 100, c = 10. r0 at 0 starts A (ready 10), runs 10-30.
    # r1 at 1: two in the system, B starts (ready 11). r1 waits for B: starts 11, ends 21.
    # r2 at 12: B is busy, A busy -> C starts (ready 22). r1 ends at 21 first: r2 takes B's
    # slot at 21 (a shared first-come-first-served queue, not the container it started): 26.
    # Had r2 been bound to C it would start at 22.
    traffic = Traffic(np.array([0.0, 1.0, 12.0]), 1000.0, DEFAULT_START)
    for method in ("events", "pool"):
        u = usage_for(traffic, np.array([20.0, 10.0, 5.0]), Policy(scaledown_window=100, concurrency=1), 10.0, method=method)
        assert u.latencies.tolist() == pytest.approx([30.0, 20.0, 14.0]), method
        assert u.cold_starts == 3 and u.cold_requests == 3, method


RANDOM = [
    # rpm, max_inputs, W, c, constant service?, extra policy settings
    (1.0, 1, 30, 12.0, True, {}),
    (1.0, 2, 10, 12.0, False, {}),
    (2.0, 3, 2, 15.0, True, {"buffer_containers": 1}),
    (60.0, 4, 2, 10.0, True, {}),
    (60.0, 8, 60, 13.0, True, {"target_inputs": 4}),
    (20.0, 4, 10, 5.0, False, {"min_containers": 2}),
    (3.0, 2, 5, 8.0, False, {"max_containers": 2}),
    (0.5, 1, 300, 20.0, False, {}),
    (6.0, 8, 2, 10.0, True, {"buffer_containers": 2, "min_containers": 1}),
    (10.0, 64, 10, 3.0, False, {"max_containers": 1}),
    (30.0, 2, 30, 6.0, False, {"schedule": (WarmWindow(("mon",), "01:00", "02:30", min_containers=2),)}),
]


@pytest.mark.parametrize("rpm,k,w,c,constant,extra", RANDOM)
def test_pool_equals_reference(rpm: float, k: int, w: float, c: float, constant: bool, extra: dict) -> None:
    """Run to convergence, the vectorised model gives the reference loop's answer exactly."""
    traffic = poisson(rpm, 3 * 86400 if rpm < 10 else 4 * 3600, seed=11)
    rng = np.random.default_rng(5)
    svc = np.full(traffic.requests, 2.0) if constant else rng.exponential(3.0, traffic.requests) + 0.05
    policy = Policy(scaledown_window=w, concurrency=k, **extra)
    pool = usage_for(traffic, svc, policy, c, method="pool")
    events = usage_for(traffic, svc, policy, c, method="events")
    assert pool.method == "pool" and events.method == "events"
    assert pool.container_seconds == pytest.approx(events.container_seconds, rel=1e-9)
    assert pool.busy_seconds == pytest.approx(events.busy_seconds, rel=1e-9)
    assert (pool.cold_starts, pool.cold_requests, pool.queued_requests, pool.max_containers_seen) == (
        events.cold_starts, events.cold_requests, events.queued_requests, events.max_containers_seen)
    np.testing.assert_allclose(pool.latencies, events.latencies, rtol=1e-9)


@pytest.mark.parametrize("method", ["pool", "events"])
@pytest.mark.parametrize("min_containers, buffer", [(0, 0), (1, 0), (2, 1)])
def test_no_requests_bills_only_the_warm_floor(method: str, min_containers: int, buffer: int) -> None:
    """A day without requests (the idle cost `omc cost --actual` predicts when no traffic was
    observed): min_containers are up all day, nothing else (buffer containers follow load only)."""
    traffic = Traffic(np.empty(0), 86400.0, DEFAULT_START)
    policy = Policy(scaledown_window=300, concurrency=4, min_containers=min_containers, buffer_containers=buffer)
    u = usage_for(traffic, np.empty(0), policy, cold_start=30.0, method=method)
    assert u.container_seconds == pytest.approx(86400.0 * min_containers)
    assert u.cold_requests == 0 and u.busy_seconds == 0


@pytest.mark.parametrize("min_containers", [0, 1])
def test_a_day_without_requests_inside_a_trace(min_containers: int) -> None:
    """A quiet day between requests (a chunk of the pool model with no events) is billed like the
    per-request loop bills it, not a crash."""
    traffic = Traffic(np.array([1.0, 6 * 86400.0]), 7 * 86400.0, DEFAULT_START)
    service = np.array([5.0, 5.0])
    policy = Policy(scaledown_window=300, concurrency=4, min_containers=min_containers)
    pool = usage_for(traffic, service, policy, cold_start=30.0, method="pool")
    events = usage_for(traffic, service, policy, cold_start=30.0, method="events")
    assert pool.container_seconds == pytest.approx(events.container_seconds)
    assert (pool.cold_starts, pool.cold_requests) == (events.cold_starts, events.cold_requests)

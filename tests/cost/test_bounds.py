"""The no-wait billing bound (cost/bounds.py): never above what the pool bills, and equal to it
when nobody can wait (no cold start, no max_containers)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_modal.cost.bounds import NoWaitBilling
from ollama_modal.cost.simulator import Policy, usage_for
from ollama_modal.cost.traffic import DEFAULT_START, Traffic


def traffic_and_service(seed: int, rpm: float, hours: float, constant: bool) -> tuple[Traffic, np.ndarray]:
    rng = np.random.default_rng(seed)
    span = hours * 3600
    a = np.sort(rng.uniform(0, span, rng.poisson(rpm * hours * 60)))
    if rng.random() < 0.3 and a.size > 4:  # bursts: several requests at one instant
        a = np.sort(np.concatenate((a, np.repeat(a[: a.size // 4], 2))))
    svc = np.full(a.size, 3.0) if constant else np.round(rng.exponential(3.0, a.size) + 0.05, 1)  # ties of completions
    return Traffic(a, span, DEFAULT_START), svc


settings_ = settings(max_examples=60, derandomize=True, deadline=None, database=None)


@settings_
@given(
    seed=st.integers(0, 10_000),
    rpm=st.sampled_from([0.5, 4.0, 30.0, 120.0]),
    k=st.integers(1, 6),
    target=st.integers(1, 6),
    buffer=st.integers(0, 2),
    floor=st.integers(0, 3),
    cap=st.one_of(st.none(), st.integers(1, 4)),
    window=st.sampled_from([0.0, 2.0, 7.5, 60.0, 900.0]),
    cold=st.sampled_from([0.0, 4.0, 15.0]),
    constant=st.booleans(),
    method=st.sampled_from(["pool", "events"]),
)
def test_bound_is_below_the_bill(seed, rpm, k, target, buffer, floor, cap, window, cold, constant, method) -> None:
    traffic, svc = traffic_and_service(seed, rpm, 2.0, constant)
    kt = min(target, k)
    policy = Policy(scaledown_window=window, concurrency=k, target_inputs=kt, min_containers=floor, max_containers=cap,
                    buffer_containers=buffer)
    usage = usage_for(traffic, svc, policy, cold, method=method)
    bound = NoWaitBilling(traffic.times, svc, traffic.span, kt, buffer, cap)(window, floor)
    assert bound <= usage.container_seconds * (1 + 1e-12) + 1e-9
    if cold == 0 and cap is None:  # nobody ever waits: the bound is the bill
        assert bound == pytest.approx(usage.container_seconds, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("floor", [0, 1, 3])
def test_every_window_and_floor_from_one_pass(floor: int) -> None:
    """One NoWaitBilling answers every window: the same as building it again for each."""
    traffic, svc = traffic_and_service(7, 60.0, 3.0, False)
    nw = NoWaitBilling(traffic.times, svc, traffic.span, 4, 1)
    for w in (2, 30, 600, 3600):
        u = usage_for(traffic, svc, Policy(scaledown_window=w, concurrency=4, min_containers=floor, buffer_containers=1), 0.0)
        assert nw(w, floor) == pytest.approx(u.container_seconds, rel=1e-9)


def test_no_requests_and_the_trivial_cases() -> None:
    assert NoWaitBilling(np.empty(0), np.empty(0), 100.0, 4)(30, 2) == 200.0
    # A request past the span's end is billed only up to it.
    nw = NoWaitBilling(np.array([90.0]), np.array([20.0]), 100.0, 4)
    assert nw(30, 0) == pytest.approx(10.0)
    assert nw(30, 1) == pytest.approx(100.0)


@pytest.mark.parametrize("constant", [True, False])
def test_chunks_change_nothing(monkeypatch, constant: bool) -> None:
    """A long span is merged a few requests at a time (bounded memory): the same bound as in one go,
    with chunk edges falling on ties and inside bursts."""
    import ollama_modal.cost.bounds as bounds

    traffic, svc = traffic_and_service(3, 30.0, 4.0, constant)
    a = np.sort(np.concatenate((traffic.times, traffic.times[::5], np.round(traffic.times[::3]))))  # ties, bursts
    s = np.full(a.size, 3.0) if constant else np.random.default_rng(1).choice([1.0, 2.0, 3.0], a.size)
    whole = NoWaitBilling(a, s, traffic.span, 2, 1)
    for chunk in (1, 7, 64):
        monkeypatch.setattr(bounds, "_CHUNK", chunk)
        parts = NoWaitBilling(a, s, traffic.span, 2, 1)
        for w in (0.0, 5.0, 120.0):
            for floor in (0, 2):
                assert parts(w, floor) == pytest.approx(whole(w, floor), rel=1e-12)
    u = usage_for(Traffic(a, traffic.span, DEFAULT_START), s, Policy(scaledown_window=5.0, concurrency=2, buffer_containers=1), 0.0)
    assert whole(5.0, 0) == pytest.approx(u.container_seconds, rel=1e-9)

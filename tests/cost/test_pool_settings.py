"""PoolSettings: the one settings object both simulations, recommend and the accuracy matrix use."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ollama_modal.cost.events import simulate_events
from ollama_modal.cost.pool import simulate_pool
from ollama_modal.cost.schedule import WarmWindow
from ollama_modal.cost.simulator import Policy, min_changes
from ollama_modal.cost.traffic import poisson
from ollama_modal.cost.usage import GiveUp, PoolSettings


def test_policy_maps_every_setting() -> None:
    policy = Policy(scaledown_window=45, concurrency=8, min_containers=1, target_inputs=6, max_containers=5, buffer_containers=2)
    s = policy.pool_settings(12.5, [(0, 1), (3600, 3)], GiveUp(100.0))
    assert s == PoolSettings(window=45, cold_start=12.5, concurrency=8, target_inputs=6, min_changes=((0.0, 1), (3600.0, 3)),
                             max_containers=5, buffer_containers=2, give_up=GiveUp(100.0))
    assert s.target == 6 and s.constant_floor is None
    assert PoolSettings(window=1, cold_start=0, concurrency=4).target == 4
    assert PoolSettings(window=1, cold_start=0, concurrency=4, min_changes=[(0, 2)]).constant_floor == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.window = 3  # type: ignore[misc]
    assert s.stopping(None).give_up is None and s.stopping(None).window == 45 and s.give_up == GiveUp(100.0)
    # every field of Policy that the simulations need has a place in the settings
    assert {f.name for f in dataclasses.fields(Policy)} - {"scaledown_window", "min_containers", "schedule"} <= {
        f.name for f in dataclasses.fields(PoolSettings)}


def test_both_simulations_take_the_same_settings() -> None:
    traffic = poisson(20, 6 * 3600, seed=4)
    svc = np.random.default_rng(2).exponential(3.0, traffic.requests) + 0.1
    policy = Policy(scaledown_window=30, concurrency=3, buffer_containers=1,
                    schedule=(WarmWindow(("mon",), "02:00", "03:00", min_containers=2),))
    settings = policy.pool_settings(9.0, min_changes(policy, traffic))
    assert settings.constant_floor is None  # the window changes the floor inside the span
    pool = simulate_pool(traffic.times, svc, traffic.span, settings)
    ref = simulate_events(traffic.times, svc, traffic.span, settings)
    assert pool is not None
    assert pool.container_seconds == pytest.approx(ref.container_seconds, rel=1e-9)
    np.testing.assert_allclose(pool.latencies, ref.latencies, rtol=1e-9)

"""The JSON contract of a simulation, and the window-sweep plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ollama_modal import catalog
from ollama_modal.cost.plot import plot_window_sweep, window_sweep
from ollama_modal.cost.simulator import Machine, Policy, simulate
from ollama_modal.cost.traffic import poisson
from ollama_modal.pricing import Rates

T4 = catalog.GPUS["T4"]
MACHINE = Machine(Rates(T4.price_per_second))


def test_result_keys_and_money() -> None:
    traffic = poisson(1, 86400, seed=2)
    r = simulate(traffic, np.full(traffic.requests, 3.0), Policy(scaledown_window=60), MACHINE, 12.0)
    d = json.loads(json.dumps(r.to_dict()))
    for key in ("monthly_cost_usd", "gpu_cost_usd", "cpu_cost_usd", "memory_cost_usd", "container_seconds",
                "simulated_seconds", "cold_start_fraction", "cold_starts", "requests", "latency_s",
                "idle_fraction", "max_containers_seen"):
        assert key in d, key
    assert set(d["latency_s"]) == {"p50", "p95", "p99"}
    assert d["monthly_cost_usd"] == pytest.approx(d["gpu_cost_usd"] + d["cpu_cost_usd"] + d["memory_cost_usd"])
    month = catalog.SECONDS_PER_MONTH
    assert d["container_seconds"] == pytest.approx(d["simulated_container_seconds"] * month / 86400)
    assert d["gpu_cost_usd"] == pytest.approx(d["container_seconds"] * T4.price_per_second)
    assert 0 < d["idle_fraction"] < 1 and 0 < d["cold_start_fraction"] < 1


def test_always_on_costs_a_month_of_one_container() -> None:
    traffic = poisson(1, 86400, seed=2)
    r = simulate(traffic, np.full(traffic.requests, 3.0), Policy(scaledown_window=60, min_containers=1), MACHINE, 12.0)
    assert r.monthly_cost_usd == pytest.approx(MACHINE.per_second * catalog.SECONDS_PER_MONTH)
    assert r.cold_starts == 0 and r.latency_s["p99"] == pytest.approx(3.0)


def test_plot_window_sweep(tmp_path: Path) -> None:
    traffic = poisson(2, 2 * 86400, seed=4)
    svc = np.full(traffic.requests, 3.0)
    policy = Policy(scaledown_window=45)
    out = tmp_path / "sweep.png"
    points = plot_window_sweep(traffic, svc, policy, MACHINE, 12.0, out, windows=(2, 30, 300))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert [p.scaledown_window for p in points] == [2, 30, 45, 300]  # the profile's own window is added
    costs = [p.result.monthly_cost_usd for p in points]
    colds = [p.result.cold_start_fraction for p in points]
    assert costs == sorted(costs) and colds == sorted(colds, reverse=True)
    assert [p.scaledown_window for p in window_sweep(traffic, svc, policy, MACHINE, 12.0, (10,))] == [10, 45]


def test_cost_for_a_profile() -> None:
    """The glue `omc cost` uses: a resolved profile's GPU, count, prices and warm policy."""
    from ollama_modal.config import resolve
    from ollama_modal.config.loader import Origin
    from ollama_modal.services.costplan import cost_for

    traffic = poisson(1, 86400, seed=2)
    always_on = resolve("a10g-always-on").profile
    rep = cost_for(always_on, traffic, traffic_text="t", service_seconds=2.0)
    a10 = catalog.GPUS["A10"]
    assert rep.cold_start.total_s > 5 and rep.result.cold_starts == 0
    assert rep.result.gpu_cost_usd == pytest.approx(a10.price_per_second * catalog.SECONDS_PER_MONTH)
    two = resolve("a10g-always-on", {("gpu", "type"): ("a10:2", Origin("flag")), ("prices", "gpu_per_second"): (0.001, Origin("flag"))}).profile
    rep2 = cost_for(two, traffic, traffic_text="t", service_seconds=2.0)
    assert rep2.result.gpu_cost_usd == pytest.approx(0.002 * catalog.SECONDS_PER_MONTH)
    assert rep2.rates.source == "profile prices"

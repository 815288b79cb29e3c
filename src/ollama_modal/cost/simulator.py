"""Simulate a month of traffic against a warm-keeping policy: cost, cold starts and latency.

``simulate`` runs the vectorised pool model (pool.py) by default; the per-request event loop
(events.py) is the reference it is tested against (``method="events"``). Both follow the
model in docs/cost.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import catalog
from ..pricing import Rates
from .events import simulate_events
from .pool import simulate_pool
from .schedule import WarmWindow, transitions
from .traffic import GeneratedTraffic, Traffic
from .usage import GiveUp, PoolSettings, Usage


@dataclass(frozen=True)
class Policy:
    """The autoscaling settings being costed (Modal's names)."""

    scaledown_window: float
    concurrency: int = 4  # max_inputs: requests one container serves at once
    min_containers: int = 0
    target_inputs: int | None = None  # the autoscaler aims for this many per container (default: max_inputs)
    max_containers: int | None = None
    buffer_containers: int = 0
    schedule: tuple[WarmWindow, ...] = ()

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.scaledown_window < 0 or self.min_containers < 0 or self.buffer_containers < 0:
            raise ValueError("scaledown_window, min_containers and buffer_containers must be zero or more")
        if self.max_containers is not None and self.max_containers < 1:
            raise ValueError("max_containers must be at least 1")
        if self.target_inputs is not None and not 1 <= self.target_inputs <= self.concurrency:
            raise ValueError("target_inputs must be between 1 and max_inputs")

    def pool_settings(self, cold_start: float, min_changes: Sequence[tuple[float, int]], give_up: GiveUp | None = None) -> PoolSettings:
        """What the simulations take, for a span whose floor changes at ``min_changes``
        (``simulator.min_changes(policy, traffic)``)."""
        return PoolSettings(window=self.scaledown_window, cold_start=cold_start, concurrency=self.concurrency,
                            target_inputs=self.target_inputs, min_changes=tuple(min_changes),
                            max_containers=self.max_containers, buffer_containers=self.buffer_containers, give_up=give_up)


@dataclass(frozen=True)
class Machine:
    """What one container costs per second: GPUs plus the CPU and memory reserved with them."""

    rates: Rates
    gpu_count: int = 1
    cpu_cores: float = catalog.DEFAULT_CPU_CORES
    memory_gib: float = catalog.DEFAULT_MEMORY_GIB

    @property
    def gpu_per_second(self) -> float:
        return self.rates.gpu_per_second * self.gpu_count

    @property
    def cpu_per_second(self) -> float:
        return self.rates.cpu_per_core_second * self.cpu_cores

    @property
    def memory_per_second(self) -> float:
        return self.rates.memory_per_gib_second * self.memory_gib

    @property
    def per_second(self) -> float:
        return self.gpu_per_second + self.cpu_per_second + self.memory_per_second


@dataclass
class SimResult:
    monthly_cost_usd: float
    gpu_cost_usd: float  # monthly
    cpu_cost_usd: float  # monthly
    memory_cost_usd: float  # monthly
    container_seconds: float  # billed container-seconds per 30-day month
    simulated_seconds: float  # length of the simulated span
    simulated_container_seconds: float  # billed container-seconds inside the span
    cold_start_fraction: float  # share of requests that waited for a container to start
    cold_starts: int  # containers started inside the span
    requests: int
    latency_s: dict[str, float]  # p50/p95/p99, cold-start waits and queueing included
    idle_fraction: float  # share of the bill for containers up with no request assigned
    max_containers_seen: int
    queued_requests: int
    cold_start_s: float
    method: str
    latencies: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    #: Requests that waited although a container was ready (Usage.over_cap_requests): on a
    #: Modal Server they get 429; reported in the ``server`` object, not here.
    over_cap_requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (``omc cost --json``): the fields above minus the raw latencies."""
        return {k: v for k, v in self.__dict__.items() if k not in ("latencies", "over_cap_requests")}


def percentiles(latencies: np.ndarray) -> dict[str, float]:
    if latencies.size == 0:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99)}


def price(usage: Usage, span: float, machine: Machine, requests: int, cold_start: float) -> SimResult:
    if usage.requests is not None:
        requests = usage.requests
    scale = catalog.SECONDS_PER_MONTH / span
    month_seconds = usage.container_seconds * scale
    idle = max(0.0, usage.container_seconds - usage.busy_seconds)
    return SimResult(
        monthly_cost_usd=month_seconds * machine.per_second,
        gpu_cost_usd=month_seconds * machine.gpu_per_second,
        cpu_cost_usd=month_seconds * machine.cpu_per_second,
        memory_cost_usd=month_seconds * machine.memory_per_second,
        container_seconds=month_seconds,
        simulated_seconds=span,
        simulated_container_seconds=usage.container_seconds,
        cold_start_fraction=usage.cold_requests / requests if requests else 0.0,
        cold_starts=usage.cold_starts,
        requests=requests,
        latency_s=usage.percentiles if usage.percentiles is not None else percentiles(usage.latencies),
        idle_fraction=idle / usage.container_seconds if usage.container_seconds > 0 else 0.0,
        max_containers_seen=usage.max_containers_seen,
        queued_requests=usage.queued_requests,
        cold_start_s=cold_start,
        method=usage.method,
        latencies=usage.latencies,
        over_cap_requests=usage.over_cap_requests,
    )


def min_changes(policy: Policy, traffic: Traffic) -> list[tuple[float, int]]:
    """[(offset, min_containers)] over the span: the profile's floor raised by warm windows."""
    pts = transitions(policy.schedule, policy.min_containers, traffic.start, traffic.start + traffic.span)
    return [(t - traffic.start, m) for t, m in pts]


METHODS = ("auto", "pool", "events")
#: "auto" runs the per-request loop when more than this share of the first day's requests
#: find no free slot on arrival (cold starts are the rule, not the exception).
AUTO_EVENTS_SHARE = 0.1


def usage_for(
    traffic: Traffic | GeneratedTraffic,
    service: np.ndarray | float,
    policy: Policy,
    cold_start: float,
    *,
    method: str = "auto",
    changes: Sequence[tuple[float, int]] | None = None,
    give_up: GiveUp | None = None,
    progress: Callable[[float], None] | None = None,
) -> Usage:
    """Run the simulation: ``method`` "auto" or "pool" is the vectorised pool model, "events" the
    per-request reference loop. ``progress(t)`` is called with the simulated time so far.
    ``changes``: the floor over the span (default: ``min_changes(policy, traffic)``).

    GeneratedTraffic (a long span produced a day at a time) takes one service time for every
    request and always runs the pool model, in bounded memory.
    """
    changes = list(changes) if changes is not None else min_changes(policy, traffic)
    return usage_with(traffic, service, policy.pool_settings(cold_start, changes, give_up), method=method, progress=progress)


def usage_with(
    traffic: Traffic | GeneratedTraffic,
    service: np.ndarray | float,
    settings: PoolSettings,
    *,
    method: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> Usage:
    """``usage_for`` with the settings made: both simulations get the same PoolSettings."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if isinstance(traffic, GeneratedTraffic):
        value = float(np.asarray(service).reshape(-1)[0])

        def fetch(t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
            a = traffic.arrivals(t0, t1)
            return a, np.full(a.size, value)

        usage = simulate_pool(np.empty(0), np.empty(0), traffic.span, settings, progress=progress, source=fetch)
        assert usage is not None
        return usage
    assert isinstance(service, np.ndarray)
    if service.shape != traffic.times.shape:
        raise ValueError("one service time per request is needed")
    traffic = traffic.with_tail(service, settings.window, settings.cold_start)
    a, span = traffic.times, traffic.span
    if method != "events":
        usage = simulate_pool(a, service, span, settings, progress=progress,
                              decline_share=AUTO_EVENTS_SHARE if method == "auto" else None)
        if usage is not None:
            return usage
    return simulate_events(a, service, span, settings)


def simulate(
    traffic: Traffic | GeneratedTraffic,
    service: np.ndarray | float,
    policy: Policy,
    machine: Machine,
    cold_start: float,
    *,
    method: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """Cost, cold starts and latency of ``policy`` under ``traffic``; monthly figures scaled to 30 days.

    ``service``: seconds per request (see service.service_times; one number for
    GeneratedTraffic); ``cold_start``: seconds (see coldstart.estimate_cold_start(...).total_s).
    """
    settings = policy.pool_settings(cold_start, min_changes(policy, traffic))
    return simulate_with(traffic, service, settings, machine, method=method, progress=progress)


def simulate_with(
    traffic: Traffic | GeneratedTraffic,
    service: np.ndarray | float,
    settings: PoolSettings,
    machine: Machine,
    *,
    method: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """``simulate`` with the settings made (``Policy.pool_settings``)."""
    usage = usage_with(traffic, service, settings, method=method, progress=progress)
    span = traffic.with_tail(service, settings.window, settings.cold_start).span  # type: ignore[arg-type]
    requests = traffic.requests if isinstance(traffic, Traffic) else 0
    return price(usage, span, machine, requests, settings.cold_start)

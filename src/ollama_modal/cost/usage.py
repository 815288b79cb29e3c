"""What both simulation paths take (:class:`PoolSettings`) and what they measured, before prices
(:class:`Usage`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass
class Usage:
    container_seconds: float  # billed container up-time inside the simulated span
    busy_seconds: float  # container time with at least one request assigned (waiting or running)
    cold_starts: int  # containers started during the span (for requests, buffer or schedules)
    cold_requests: int  # requests that waited for a container to start
    queued_requests: int  # requests that waited and found max_containers up when they came
    latencies: np.ndarray  # per request: waits (cold start, queue) plus service time
    max_containers_seen: int
    method: str  # "pool" (vectorised pool model) or "events" (the per-request reference loop)
    gave_up: str | None = None  # "cost" or "latency" when stopped early: the figures are partial
    #: Set when the latencies were not kept (a long generated span): p50/p95/p99 from a
    #: histogram, and the number of requests simulated.
    percentiles: dict[str, float] | None = None
    requests: int | None = None
    #: Requests that waited although a container was ready: every ready container had its
    #: max_inputs running. A web function queues them; a Modal Server answers them 429.
    over_cap_requests: int = 0


class LatencyHistogram:
    """Latencies binned on a log scale (200 bins a decade, 1 ms to 11 days): percentiles
    within about 0.6% without keeping one number per request."""

    LO, DECADES, PER_DECADE = 1e-3, 9, 200

    def __init__(self) -> None:
        self.counts = np.zeros(self.DECADES * self.PER_DECADE + 2, dtype=np.int64)
        self.n = 0

    def add(self, lat: np.ndarray) -> None:
        idx = np.floor(np.log10(np.maximum(lat, self.LO / 10) / self.LO) * self.PER_DECADE).astype(np.int64) + 1
        np.add.at(self.counts, np.clip(idx, 0, self.counts.size - 1), 1)
        self.n += lat.size

    def percentiles(self, qs: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
        if self.n == 0:
            return {f"p{q:g}": 0.0 for q in qs}
        cum = np.cumsum(self.counts)
        out = {}
        for q in qs:
            rank = q / 100 * (self.n - 1) + 1
            b = int(np.searchsorted(cum, rank))
            before = cum[b - 1] if b else 0
            frac = (rank - before) / max(1, self.counts[b])
            lo = self.LO * 10 ** ((b - 1) / self.PER_DECADE) if b else 0.0
            hi = self.LO * 10 ** (b / self.PER_DECADE)
            out[f"p{q:g}"] = float(lo + frac * (hi - lo))
        return out


@dataclass(frozen=True)
class GiveUp:
    """Stop a simulation as soon as its answer cannot matter (recommend's search uses this).

    Once more than ``container_seconds`` are billed the setting is too expensive; once
    ``slow_requests`` requests took longer than ``latency_goal`` its p95 misses the goal.
    """

    container_seconds: float = float("inf")
    latency_goal: float = float("inf")
    slow_requests: int = 1 << 62


@dataclass(frozen=True)
class PoolSettings:
    """The pool's settings for one simulated span, as both simulations take them (the pool model,
    pool.py, and the reference loop, events.py); ``Policy.pool_settings`` makes them from a
    profile's autoscaling policy.

    ``min_changes``: ``[(0, min at start), (t, new min), ...]`` in seconds from the span's start
    (the floor with warm windows applied, ``simulator.min_changes``).
    """

    window: float  # scaledown_window, seconds
    cold_start: float  # seconds from a container's start until it takes requests
    concurrency: int  # max_inputs
    target_inputs: int | None = None  # default: max_inputs
    min_changes: tuple[tuple[float, int], ...] = ((0.0, 0),)
    max_containers: int | None = None
    buffer_containers: int = 0
    give_up: GiveUp | None = None  # stop once the answer cannot matter (recommend)

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_changes", tuple((float(t), int(m)) for t, m in self.min_changes))

    @property
    def target(self) -> int:
        """The autoscaler's inputs per container (target_inputs, else max_inputs)."""
        return self.target_inputs or self.concurrency

    @property
    def constant_floor(self) -> int | None:
        """min_containers when no warm window changes it over the span, else None."""
        return self.min_changes[0][1] if len(self.min_changes) == 1 else None

    def stopping(self, give_up: GiveUp | None) -> PoolSettings:
        """The same settings with another reason to stop early (or none)."""
        return replace(self, give_up=give_up)

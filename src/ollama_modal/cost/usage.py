"""What a simulation measured, before prices: the common output of both simulation paths."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class GiveUp:
    """Stop a simulation as soon as its answer cannot matter (recommend's search uses this).

    Once more than ``container_seconds`` are billed the setting is too expensive; once
    ``slow_requests`` requests took longer than ``latency_goal`` its p95 misses the goal.
    """

    container_seconds: float = float("inf")
    latency_goal: float = float("inf")
    slow_requests: int = 1 << 62

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
    queued_requests: int  # requests that waited because max_containers was reached
    latencies: np.ndarray  # per request: waits (cold start, queue) plus service time
    max_containers_seen: int
    method: str  # "fast" (one container, vectorised) or "events" (general)

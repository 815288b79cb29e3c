"""What a Modal Server's clients meet while no container is up (503s), and above its hard
concurrency cap (429s) (docs/cost.md).

A web function holds a request while the first container starts; a Modal Server answers 503
at once (the request still starts a container). Only the *first* container matters: once one
is up, a Server routes extra requests to busy containers (its target concurrency is soft), so
scale-up waits are not 503s. This pass follows that first container over the traffic:

- it is up at all times while the scheduled ``min_containers`` is 1 or more;
- otherwise a request arriving while it is down starts it (ready ``cold_start_s`` later) and
  gets 503, as does every request arriving before it is ready;
- it stays up while requests keep it busy and ``scaledown_window`` seconds after the last one
  finishes (a request is busy for its service time).

With ``client_retry`` the client retries each 503 every ``retry_interval_s`` until the container
is ready, so the request is served late (its extra wait is reported); without, those requests
fail. The bill barely differs from the web function's (the same container starts at the same
moment), which is why this is an overlay on the simulation's result, not a second simulation.

Above the cap: a Server never queues. A request that arrives while containers are up but every
ready one already runs ``max_inputs`` (its ``max_concurrency``) gets 429 at once, where a web
function would queue it (during a scale-up, or at ``max_containers``). The simulation counts
exactly those requests (``SimResult.over_cap_requests``, the same in the pool model and the
reference loop); :func:`with_rejected` puts them here. With ``client_retry`` they are retried
and served about when the web function would have served them (the latency figures); without,
they fail. Either way the bill is the simulation's: a rejected request that is not retried
would have cost a little less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_RETRY_INTERVAL_S = 1.0


@dataclass
class Unavailable:
    requests: int  # arrivals that met no ready container (503 on a Modal Server)
    fraction: float
    client_retry: bool
    failed_requests: int  # 0 with client_retry: they are served after retries
    retry_wait_s: dict[str, float]  # extra wait of the retried requests (p50/p95/max), {} without retries
    retry_interval_s: float
    rejected_requests: int = 0  # arrivals above the hard cap of every ready container (429 on a Modal Server)
    total_requests: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "unavailable_requests": self.requests,
            "unavailable_fraction": round(self.fraction, 6),
            "client_retry": self.client_retry,
            "failed_requests": self.failed_requests,
            "retry_wait_s": {k: round(v, 3) for k, v in self.retry_wait_s.items()},
            "retry_interval_s": self.retry_interval_s,
            "rejected_requests": self.rejected_requests,
            "rejected_fraction": round(self.rejected_requests / self.total_requests, 6) if self.total_requests else 0.0,
        }


def with_rejected(u: Unavailable, over_cap_requests: int, total_requests: int) -> Unavailable:
    """``u`` with the simulation's requests above the cap counted as 429s (failed unless retried)."""
    from dataclasses import replace

    failed = u.failed_requests + (0 if u.client_retry else over_cap_requests)
    return replace(u, rejected_requests=over_cap_requests, total_requests=total_requests, failed_requests=failed)


def always_up(min_changes: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """Offsets where the schedule keeps at least one container: [(start, end)], end may be inf."""
    spans: list[tuple[float, float]] = []
    for i, (t, m) in enumerate(min_changes):
        end = min_changes[i + 1][0] if i + 1 < len(min_changes) else math.inf
        if m >= 1:
            if spans and spans[-1][1] == t:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((t, end))
    return spans


def server_unavailable(
    arrivals: np.ndarray,
    service: np.ndarray,
    *,
    scaledown_window: float,
    cold_start_s: float,
    min_changes: list[tuple[float, int]],
    client_retry: bool = True,
    retry_interval_s: float = DEFAULT_RETRY_INTERVAL_S,
) -> Unavailable:
    """503s a Modal Server's clients meet: ``arrivals`` (sorted offsets, s) with ``service`` times."""
    n = int(arrivals.size)
    spans = always_up(min_changes)
    k = 0
    up_from, up_until = math.inf, -math.inf  # the first container: ready at up_from, down after up_until
    count = 0
    waits: list[float] = []
    for i in range(n):
        t = float(arrivals[i])
        while k < len(spans) and spans[k][1] <= t:
            k += 1
        if k < len(spans) and spans[k][0] <= t:  # the schedule keeps one up: never a 503
            up_from = min(up_from, spans[k][0])
            up_until = max(up_until, t + float(service[i]) + scaledown_window)
            continue
        if t > up_until:  # down: this request starts it (it idles scaledown_window if nobody is served)
            up_from = t + cold_start_s
            up_until = up_from + scaledown_window
        if t < up_from:  # down or starting: 503
            count += 1
            if not client_retry:
                continue
            tries = math.ceil((up_from - t) / retry_interval_s) if retry_interval_s > 0 else 0
            start = t + tries * retry_interval_s
            waits.append(start - t)
        else:
            start = t
        up_until = max(up_until, start + float(service[i]) + scaledown_window)
    w = np.asarray(waits)
    retry_wait = (
        {"p50": float(np.percentile(w, 50)), "p95": float(np.percentile(w, 95)), "max": float(w.max())} if w.size else {}
    )
    return Unavailable(
        requests=count,
        fraction=count / n if n else 0.0,
        client_retry=client_retry,
        failed_requests=0 if client_retry else count,
        retry_wait_s=retry_wait,
        retry_interval_s=retry_interval_s,
    )

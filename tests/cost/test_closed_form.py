"""The simulator against closed forms for Poisson arrivals on one container.

Model (docs/cost.md): a container goes down W seconds after its last request *finishes*; a
request finding it down starts it and waits the cold start c; requests arriving during the
cold start wait too. With arrival rate lam, constant service s and L = s + W, a container's
up-period ("session") is a renewal cycle:

    E[requests per session] = lam*c + e^(lam*L)
    E[session length]       = c + (e^(lam*L) - 1) / lam

so the share of requests that start a container is 1 / (lam*c + e^(lam*L)), the share that
wait for a start is (1 + lam*c) / (lam*c + e^(lam*L)), and billed seconds per request are
E[length] / E[requests]. With c = 0 and s = 0 these are the textbook e^(-lam*W) and
(1 - e^(-lam*W)) / lam.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ollama_modal.cost.simulator import Policy, usage_for
from ollama_modal.cost.traffic import poisson


def closed_form(lam: float, s: float, c: float, w: float) -> tuple[float, float, float]:
    e = math.exp(lam * (s + w))
    per_session = lam * c + e
    return 1 / per_session, (1 + lam * c) / per_session, (c + (e - 1) / lam) / per_session


CASES = [
    # rpm, service s, cold start c, window W, days
    (60, 0.5, 1.0, 2, 4),
    (60, 1.0, 5.0, 1, 4),
    (6, 2.0, 10.0, 5, 30),
    (2, 3.0, 12.0, 30, 150),
]


@pytest.mark.parametrize("rpm,s,c,w,days", CASES)
def test_matches_closed_form_within_one_percent(rpm: float, s: float, c: float, w: float, days: int) -> None:
    traffic = poisson(rpm, days * 86400, seed=7)
    usage = usage_for(traffic, np.full(traffic.requests, s), Policy(scaledown_window=w, concurrency=10_000), c)
    starts, waited, billed = closed_form(rpm / 60, s, c, w)
    n = traffic.requests
    assert usage.cold_starts / n == pytest.approx(starts, rel=0.01)
    assert usage.cold_requests / n == pytest.approx(waited, rel=0.01)
    assert usage.container_seconds / n == pytest.approx(billed, rel=0.01)


def test_textbook_limit() -> None:
    """c -> 0 and s -> 0: cold share e^(-lam W), billed (1 - e^(-lam W)) / lam per request."""
    lam, w = 1 / 10, 20
    traffic = poisson(lam * 60, 400 * 86400, seed=3)
    usage = usage_for(traffic, np.full(traffic.requests, 1e-6), Policy(scaledown_window=w, concurrency=10_000), 0.0)
    n = traffic.requests
    assert usage.cold_starts / n == pytest.approx(math.exp(-lam * w), rel=0.01)
    assert usage.container_seconds / n == pytest.approx((1 - math.exp(-lam * w)) / lam, rel=0.01)

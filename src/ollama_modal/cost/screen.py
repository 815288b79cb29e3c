"""Pick the stretches of traffic that recommend's first stage screens candidates on.

A month at 60 requests/min is ~2.6 M requests; simulating every candidate on all of it is what
makes a busy search slow. The screen instead simulates each candidate on a few short stretches
spread over the span, then only the best few on the whole span (see recommend.py).

Stretches are stratified so a daily or weekly shape is covered: stretch j starts on day
floor(j x days / count) at hour j x 24 / count (so the stretches see every part of the day
and several weekdays). When the span is shorter than ``count`` days they are spread evenly.
Each stretch is simulated as its own span (its own start, so warm windows line up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .traffic import Traffic

DAY = 86400.0


@dataclass(frozen=True)
class Stretch:
    traffic: Traffic  # arrivals of the stretch, offsets from its own start
    lo: int  # its requests are lo:hi of the full traffic
    hi: int


def stretches(traffic: Traffic, sample_requests: int, count: int = 6) -> list[Stretch] | None:
    """``count`` stretches holding about ``sample_requests`` requests in all, or None when the
    traffic is small enough (at most twice the sample) that screening would not save much."""
    n = traffic.requests
    if sample_requests <= 0 or count < 1 or n <= 2 * sample_requests:
        return None
    span = traffic.span
    length = span * sample_requests / n / count  # at the mean rate each holds sample_requests / count
    days = span / DAY
    out: list[Stretch] = []
    for j in range(count):
        if days >= count:
            t0 = np.floor(j * days / count) * DAY + j * DAY / count
        else:
            t0 = (j + 0.5) * span / count - length / 2
        t0 = float(min(max(t0, 0.0), span - length))
        lo, hi = (int(x) for x in np.searchsorted(traffic.times, [t0, t0 + length], side="left"))
        tokens = traffic.output_tokens[lo:hi] if traffic.output_tokens is not None else None
        sub = Traffic(traffic.times[lo:hi] - t0, length, traffic.start + t0, tokens, source=f"{traffic.source} (stretch {j})")
        out.append(Stretch(sub, lo, hi))
    return out

"""Long spans are produced and simulated a day at a time: same figures as the traffic held in
memory (percentiles from a histogram within 1%), and the CLI switches to it by itself."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ollama_modal.cost import traffic as tr
from ollama_modal.cost.simulator import Machine, Policy, simulate
from ollama_modal.cost.traffic import GeneratedTraffic, Traffic
from ollama_modal.cost.usage import LatencyHistogram
from ollama_modal.pricing import Rates


@pytest.mark.parametrize("pattern", [None, "business-hours"])
def test_generated_traffic_matches_the_same_arrivals_in_memory(pattern) -> None:  # type: ignore[no-untyped-def]
    g = GeneratedTraffic(20, 3.5 * 86400, seed=4, pattern=pattern)
    a = np.concatenate([g.day(d) for d in range(4)])
    assert np.all(np.diff(a) >= 0) and a[-1] < g.span
    np.testing.assert_array_equal(g.arrivals(3600.0, 90000.0), a[(a >= 3600) & (a < 90000)])
    held = Traffic(a, g.span, g.start)
    policy, machine = Policy(scaledown_window=120, concurrency=4, min_containers=0), Machine(Rates(0.0003))
    r1 = simulate(g, 3.0, policy, machine, 12.0)
    r2 = simulate(held, np.full(a.size, 3.0), policy, machine, 12.0)
    assert r1.requests == r2.requests and r1.method == "pool"
    assert r1.monthly_cost_usd == pytest.approx(r2.monthly_cost_usd, rel=1e-12)
    assert (r1.cold_starts, r1.cold_start_fraction) == (r2.cold_starts, r2.cold_start_fraction)
    for q in ("p50", "p95", "p99"):
        assert r1.latency_s[q] == pytest.approx(r2.latency_s[q], rel=0.01)


def test_histogram_percentiles() -> None:
    x = np.random.default_rng(1).exponential(5.0, 200_000) + 0.01
    h = LatencyHistogram()
    h.add(x[:50_000])
    h.add(x[50_000:])
    for q in (50, 95, 99):
        assert h.percentiles((q,))[f"p{q}"] == pytest.approx(float(np.percentile(x, q)), rel=0.01)


def test_cli_streams_a_long_span_and_recommend_refuses_it(omc, monkeypatch) -> None:
    monkeypatch.setattr(tr, "STREAM_REQUESTS", 1000)
    r = omc("cost", "--profile", "a10g-balanced", "--rpm", "2", "--days", "3", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["method"] == "pool" and 8000 < d["requests"] < 9300 and d["latency_s"]["p95"] > 0
    r = omc("recommend", "--rpm", "2", "--days", "3", "--p95-latency-s", "30")
    assert r.exit_code == 2 and "--days" in r.stderr
    assert omc("cost", "--rpm", "2", "--days", "3651").exit_code == 2

"""The vectorised pool model against the per-request reference loop on a matrix of traffic shapes
x autoscaler settings (sampled so the test stays fast: a few hours of traffic per cell).

Bounds: cost, billed container-seconds and cold-start share within 1 % (relative; the share
also within 0.1 points when it is tiny), p95 latency within 5 % or 0.5 s. docs/performance.md
has the table of the observed differences (benchmarks/cost_sim.py --accuracy prints it).
"""

from __future__ import annotations

import numpy as np
import pytest

from ollama_modal.cost.accuracy import CELLS, compare_cell


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
def test_pool_within_bounds_of_reference(cell) -> None:  # type: ignore[no-untyped-def]
    d = compare_cell(cell)
    assert d.pool.method == "pool" and d.reference.method == "events"
    assert d.pool.monthly_cost_usd == pytest.approx(d.reference.monthly_cost_usd, rel=0.01)
    assert d.pool.simulated_container_seconds == pytest.approx(d.reference.simulated_container_seconds, rel=0.01)
    assert d.pool.cold_start_fraction == pytest.approx(d.reference.cold_start_fraction, rel=0.01, abs=0.001)
    p, r = d.pool.latency_s["p95"], d.reference.latency_s["p95"]
    assert abs(p - r) <= max(0.05 * r, 0.5)


def test_matrix_covers_the_axes() -> None:
    shapes = {c.shape for c in CELLS}
    assert {"poisson 0.2", "poisson 2", "poisson 60", "bursts", "business hours", "trace"} <= shapes
    assert {c.max_inputs for c in CELLS} >= {1, 4, 32}
    assert {c.min_containers for c in CELLS} >= {0, 1, 2}
    assert {c.buffer for c in CELLS} >= {0, 1}
    windows = {c.window for c in CELLS}
    assert min(windows) == 2 and max(windows) == 3600
    assert np.unique([c.shape for c in CELLS]).size >= 6

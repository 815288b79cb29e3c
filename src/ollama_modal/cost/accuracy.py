"""The accuracy matrix: the vectorised pool model against the per-request reference loop.

Traffic shapes (Poisson at 0.2, 2 and 60 requests/min, bursts, business hours, a recorded-style
trace of chat sessions) x settings (max_inputs 1/4/32, min_containers 0/1/2, buffer 0/1,
scaledown windows 2..3600 s), sampled so each cell is a few hours of traffic. The tests
(tests/cost/test_accuracy.py) hold the pool model to the bounds there; benchmarks/cost_sim.py
--accuracy prints the table that docs/performance.md records.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..pricing import Rates
from .schedule import WarmWindow
from .simulator import Machine, Policy, SimResult, min_changes, simulate_with
from .traffic import DEFAULT_START, Traffic, load_trace, poisson, shaped

COLD_START = 12.6  # codellama:7b on an A10 from a Volume (coldstart.estimate_cold_start)
A10 = Rates(gpu_per_second=0.000306)
OFFICE = (WarmWindow(("mon", "tue", "wed", "thu", "fri"), "08:00", "19:00"),)


@dataclass(frozen=True)
class Cell:
    shape: str
    hours: float
    max_inputs: int
    min_containers: int
    buffer: int
    window: float
    constant_service: bool = False
    schedule: bool = False

    @property
    def name(self) -> str:
        extra = " office" if self.schedule else ""
        return (f"{self.shape}, max_inputs {self.max_inputs}, min {self.min_containers}, buffer {self.buffer}, "
                f"W {self.window:g}{extra}")


CELLS = (
    Cell("poisson 0.2", 48, 1, 0, 0, 60),
    Cell("poisson 0.2", 48, 4, 1, 0, 2, True),
    Cell("poisson 0.2", 48, 32, 0, 1, 3600),
    Cell("poisson 2", 12, 1, 0, 0, 300),
    Cell("poisson 2", 12, 4, 2, 1, 10),
    Cell("poisson 2", 12, 32, 0, 0, 2, True),
    Cell("poisson 60", 3, 4, 0, 0, 300, True),
    Cell("poisson 60", 3, 1, 1, 1, 60),
    Cell("poisson 60", 3, 32, 0, 0, 3600),
    Cell("poisson 60", 2, 4, 0, 0, 2),
    Cell("bursts", 12, 4, 0, 0, 30),
    Cell("bursts", 12, 1, 0, 1, 600, True),
    Cell("bursts", 12, 32, 1, 0, 5),
    Cell("business hours", 14, 4, 0, 0, 120),
    Cell("business hours", 14, 1, 0, 0, 900, False, True),
    Cell("business hours", 14, 32, 2, 1, 2, True),
    Cell("trace", 12, 4, 0, 0, 60),
    Cell("trace", 12, 1, 1, 0, 1800, True),
)


@dataclass
class Comparison:
    cell: Cell
    pool: SimResult
    reference: SimResult


def _bursts(seconds: float, seed: int) -> np.ndarray:
    """About 4 bursts an hour, each 5-40 requests within 20 s, over a trickle of 0.5/min."""
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.uniform(0, seconds, max(1, int(seconds / 900))))
    parts = [poisson(0.5, seconds, seed + 1).times]
    for t0 in starts:
        parts.append(t0 + np.sort(rng.uniform(0, 20, int(rng.integers(5, 41)))))
    a = np.sort(np.concatenate(parts))
    return a[a < seconds]


def _trace_file(seconds: float, seed: int, folder: Path) -> Path:
    """A recorded-style trace: chat sessions (20 an hour) of 1-12 requests a few seconds apart,
    with output tokens, written as CSV with ISO timestamps."""
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.uniform(0, seconds, int(seconds / 180)))
    rows = []
    for t0 in starts:
        t = t0
        for _ in range(int(rng.integers(1, 13))):
            rows.append((t, int(rng.integers(20, 600))))
            t += float(rng.exponential(15.0)) + 2.0
    rows.sort()
    path = folder / "sessions.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "output_tokens"])
        for t, tok in rows:
            w.writerow([f"{DEFAULT_START + t:.3f}", tok])
    return path


def traffic_for(cell: Cell, seed: int = 3) -> tuple[Traffic, np.ndarray]:
    """The cell's traffic and service times (seconds)."""
    seconds = cell.hours * 3600
    rng = np.random.default_rng(seed + 100)
    if cell.shape.startswith("poisson"):
        tr = poisson(float(cell.shape.split()[1]), seconds, seed)
    elif cell.shape == "bursts":
        tr = Traffic(_bursts(seconds, seed), seconds, DEFAULT_START, source="bursts")
    elif cell.shape == "business hours":  # Monday 06:00 to 20:00
        tr = shaped(10, seconds, seed, "business-hours", start=DEFAULT_START + 6 * 3600)
    else:
        with tempfile.TemporaryDirectory() as d:
            tr = load_trace(_trace_file(seconds, seed, Path(d)))
    if tr.output_tokens is not None:
        service = tr.output_tokens / 95.0 + 0.3  # an A10's decode speed for codellama:7b
    elif cell.constant_service:
        service = np.full(tr.requests, 3.0)
    else:
        service = rng.exponential(2.7, tr.requests) + 0.3
    return tr, service


def compare_cell(cell: Cell, seed: int = 3) -> Comparison:
    tr, service = traffic_for(cell, seed)
    policy = Policy(scaledown_window=cell.window, concurrency=cell.max_inputs, min_containers=cell.min_containers,
                    buffer_containers=cell.buffer, schedule=OFFICE if cell.schedule else ())
    machine = Machine(A10)
    settings = policy.pool_settings(COLD_START, min_changes(policy, tr))  # the very same settings for both
    pool = simulate_with(tr, service, settings, machine, method="pool")
    ref = simulate_with(tr, service, settings, machine, method="events")
    return Comparison(cell, pool, ref)

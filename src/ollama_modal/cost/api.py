"""One call from plain profile values to a cost estimate: what `omc cost` needs.

The CLI turns a profile into these arguments (GPU, model size, warm policy, prices) and
prints the result; everything here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import catalog
from ..pricing import Rates
from .coldstart import ColdStart, estimate_cold_start
from .schedule import WarmWindow
from .service import ServiceModel, service_times
from .simulator import Machine, Policy, SimResult, simulate
from .traffic import Traffic


def estimate_cost(
    traffic: Traffic,
    *,
    gpu: str,
    model_bytes: float,
    scaledown_window: float,
    concurrency: int = 4,
    min_containers: int = 0,
    max_containers: int | None = None,
    buffer_containers: int = 0,
    schedule: Sequence[WarmWindow] = (),
    gpu_count: int = 1,
    rates: Rates | None = None,
    service: ServiceModel = ServiceModel(),
    store: str = "volume",
    cold_start: ColdStart | None = None,
    cpu_cores: float = catalog.DEFAULT_CPU_CORES,
    memory_gib: float = catalog.DEFAULT_MEMORY_GIB,
) -> tuple[SimResult, ColdStart]:
    """Simulate one profile's policy; returns the result and the cold start it assumed."""
    g = catalog.lookup_gpu(gpu)
    if g is None:
        raise ValueError(f"unknown GPU {gpu!r}; known: {', '.join(catalog.gpu_names())}")
    cs = cold_start or estimate_cold_start(g, model_bytes, store=store, gpu_count=gpu_count)
    svc = service_times(service, traffic.requests, g, model_bytes, gpu_count=gpu_count, output_tokens=traffic.output_tokens)
    policy = Policy(
        scaledown_window=scaledown_window, concurrency=concurrency, min_containers=min_containers,
        max_containers=max_containers, buffer_containers=buffer_containers, schedule=tuple(schedule),
    )
    machine = Machine(rates or Rates(gpu_per_second=g.price_per_second), gpu_count, cpu_cores, memory_gib)
    return simulate(traffic, svc, policy, machine, cs.total_s), cs

"""Cost and cold-start planning for a profile: traffic in, simulated month out.

Glue between a validated profile and the simulator in ``ollama_modal.cost`` (which takes
plain inputs): GPU, prices, concurrency, warm policy, scheduled windows, model size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import catalog
from ..config.modelsize import estimate_model
from ..errors import UsageError
from ..pricing import Rates, rates_for

DEFAULT_DAYS = 7.0


@dataclass
class TrafficSpec:
    rpm: float | None = None
    pattern: str | None = None  # "business-hours" or 24 comma-separated weights
    trace: Path | None = None
    days: float = DEFAULT_DAYS
    seed: int = 0

    def describe(self) -> str:
        if self.trace:
            return f"trace {self.trace}"
        shape = f", {self.pattern} shape" if self.pattern else " (Poisson)"
        return f"{self.rpm:g} requests/min{shape} over {self.days:g} days"


def build_traffic(spec: TrafficSpec):
    from ..cost import traffic as tr

    if spec.trace is not None:
        if spec.rpm is not None or spec.pattern:
            raise UsageError("--trace replaces --rpm and --pattern; give one or the other")
        return tr.load_trace(spec.trace)
    if spec.rpm is None:
        raise UsageError("no traffic given", hint="pass --rpm N (optionally --pattern business-hours) or --trace FILE")
    if spec.rpm < 0 or spec.days <= 0:
        raise UsageError("--rpm must be zero or more and --days positive")
    seconds = spec.days * 86400
    stream = spec.rpm * seconds / 60 > tr.STREAM_REQUESTS  # too many to hold: produced a day at a time
    if not spec.pattern:
        if stream:
            return tr.GeneratedTraffic(spec.rpm, seconds, spec.seed, source=f"poisson {spec.rpm:g} rpm")
        return tr.poisson(spec.rpm, seconds, spec.seed)
    pattern: str | list[float] = spec.pattern
    if "," in spec.pattern:
        try:
            pattern = [float(x) for x in spec.pattern.split(",")]
        except ValueError:
            raise UsageError(f"--pattern {spec.pattern!r}: hourly weights must be numbers") from None
        if len(pattern) != 24:
            raise UsageError(f"--pattern has {len(pattern)} hourly weights; give 24 (00:00 to 23:00)")
    try:
        if stream:
            tr._hourly_table(pattern)  # refuse a bad shape now, not a day into the simulation
            return tr.GeneratedTraffic(spec.rpm, seconds, spec.seed, pattern if isinstance(pattern, str) else tuple(pattern),
                                       source=f"{spec.pattern} {spec.rpm:g} rpm mean")
        return tr.shaped(spec.rpm, seconds, spec.seed, pattern)
    except ValueError as e:
        raise UsageError(f"--pattern: {e}", hint="use business-hours or 24 comma-separated weights") from None


def normalise_live_rates(raw: dict[str, float]) -> dict[str, float]:
    """Modal's rate names -> catalog GPU names, "cpu" and "memory"."""
    out: dict[str, float] = {}
    for key, value in raw.items():
        gpu = catalog.lookup_gpu(key.replace("gpu.", "").replace("_", "-"))
        if gpu is not None:
            out[gpu.name] = value
        elif "cpu" in key.lower():
            out["cpu"] = value
        elif "mem" in key.lower():
            out["memory"] = value
    return out


def model_bytes(profile: Any) -> float:
    size = estimate_model(profile.model.name, profile.model.size_gb)
    if size.weights_bytes is None:
        raise UsageError(
            f"cannot estimate the size of {profile.model.name!r}",
            hint="set model.size_gb in the profile so cold starts and decode speed can be estimated",
        )
    return size.weights_bytes


@dataclass
class CostReport:
    profile: str
    traffic: str
    result: Any  # cost.simulator.SimResult
    cold_start: Any  # cost.coldstart.ColdStart
    rates: Rates
    service_seconds: float | None
    mean_service_s: float
    primitive: str = "function"
    unavailable: Any = None  # cost.unavailable.Unavailable on a Modal Server, else None

    def to_json(self) -> dict[str, Any]:
        d = self.result.to_dict()
        d.update(
            primitive=self.primitive,
            server=self.unavailable.to_json() if self.unavailable is not None else None,
            profile=self.profile,
            traffic=self.traffic,
            # total_s is what the simulation used (an override if given); the estimate stays apart
            cold_start={**self.cold_start.as_dict(), "total_s": self.result.cold_start_s,
                        "estimated_total_s": self.cold_start.total_s},
            mean_service_s=round(self.mean_service_s, 3),
            prices=self.rates.source,
        )
        return d


@dataclass
class SimInputs:
    service: Any  # numpy array of seconds per request
    policy: Any  # cost.simulator.Policy
    machine: Any  # cost.simulator.Machine
    cold_start_s: float
    cold_start: Any  # cost.coldstart.ColdStart (the estimate, before any override)
    rates: Rates


def prepare(
    profile: Any,
    traffic: Any,
    *,
    service_seconds: float | None = None,
    output_tokens: float | None = None,
    cold_start_seconds: float | None = None,
    live_rates: dict[str, float] | None = None,
) -> SimInputs:
    """The simulator's inputs for a profile: service times, autoscaler policy, prices, cold start."""
    from ..cost.coldstart import estimate_cold_start
    from ..cost.schedule import WarmWindow
    from ..cost.service import ServiceModel, service_times
    from ..cost.simulator import Machine, Policy
    from ..cost.traffic import GeneratedTraffic

    gpu = profile.gpu.model
    mbytes = model_bytes(profile)
    cold = estimate_cold_start(gpu, mbytes, store=profile.model.store, gpu_count=profile.gpu.count, warmup=profile.server.warmup)
    svc = ServiceModel(service_seconds=service_seconds, **({"output_tokens": output_tokens} if output_tokens is not None else {}))
    if isinstance(traffic, GeneratedTraffic):  # one service time for all (no tokens per request)
        service: Any = float(service_times(svc, 1, gpu, mbytes, gpu_count=profile.gpu.count)[0])
    else:
        service = service_times(svc, traffic.requests, gpu, mbytes, gpu_count=profile.gpu.count, output_tokens=traffic.output_tokens)
    w = profile.warm
    policy = Policy(
        scaledown_window=w.scaledown_window,
        concurrency=profile.server.max_inputs,
        target_inputs=profile.server.target_inputs,  # Modal scales at the target (default: max_inputs)
        min_containers=w.min_containers,
        max_containers=w.max_containers,
        buffer_containers=w.buffer_containers,
        schedule=tuple(WarmWindow(tuple(x.days), x.start, x.end, x.timezone, x.min_containers) for x in w.schedule),
    )
    rates = rates_for(profile, live_rates)
    cold_s = cold_start_seconds if cold_start_seconds is not None else cold.total_s
    return SimInputs(service, policy, Machine(rates, gpu_count=profile.gpu.count), cold_s, cold, rates)


def cost_for(profile: Any, traffic: Any, *, traffic_text: str, client_retry: bool = True, **kw: Any) -> CostReport:
    """The simulated month; on a Modal Server (``primitives.choose``) also the 503s its clients
    meet while no container is up and the 429s above its hard cap, retried or failed per
    ``client_retry``."""
    import numpy as np

    from .. import primitives
    from ..cost.simulator import min_changes, simulate

    progress = kw.pop("progress", None)
    i = prepare(profile, traffic, **kw)
    result = simulate(traffic, i.service, i.policy, i.machine, i.cold_start_s, progress=progress)
    mean = float(np.mean(i.service)) if np.size(i.service) else 0.0
    kind = primitives.choose(profile).kind
    unavailable = None
    if not primitives.PRIMITIVES[kind].holds_requests_when_cold:
        from ..cost.unavailable import DEFAULT_RETRY_INTERVAL_S, Unavailable

        if i.policy.min_containers >= 1:  # a container is up at all times: no 503, whatever the traffic
            unavailable = Unavailable(0, 0.0, client_retry, 0, {}, DEFAULT_RETRY_INTERVAL_S)
        elif not hasattr(traffic, "times"):
            raise UsageError(f"{profile.name} serves as a Modal Server, whose unavailable requests are counted on traffic held "
                             "in memory", hint="use fewer --days or a lower --rpm (at most ~4 million requests)")
        else:
            from ..cost.unavailable import server_unavailable

            unavailable = server_unavailable(
                traffic.times, i.service, scaledown_window=i.policy.scaledown_window, cold_start_s=i.cold_start_s,
                min_changes=min_changes(i.policy, traffic), client_retry=client_retry,
            )
        from ..cost.unavailable import with_rejected

        unavailable = with_rejected(unavailable, result.over_cap_requests, result.requests)
    return CostReport(profile.name, traffic_text, result, i.cold_start, i.rates, kw.get("service_seconds"), mean, kind, unavailable)


def plot(profile: Any, traffic: Any, path: Path, *, title: str, **kw: Any) -> None:
    from ..cost.plot import plot_window_sweep

    i = prepare(profile, traffic, **kw)
    plot_window_sweep(traffic, i.service, i.policy, i.machine, i.cold_start_s, path, title=title)

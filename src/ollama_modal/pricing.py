"""Per-second rates for a profile: list prices, overridable per profile or with live rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import catalog

if TYPE_CHECKING:
    from .config.models import Profile


@dataclass(frozen=True)
class Rates:
    gpu_per_second: float  # for one GPU
    cpu_per_core_second: float = catalog.CPU_CORE_PER_SECOND
    memory_per_gib_second: float = catalog.MEMORY_GIB_PER_SECOND
    source: str = f"list prices {catalog.PRICES_DATE}"


def region_multiplier(region: str | list[str] | None) -> float:
    """Modal's multiplier for pinning containers to ``region`` (catalog.REGION_PRICES_DATE).

    A broad region is a bare area code such as ``us``, ``eu`` or ``ap``; anything more
    specific (``us-west``, ``us-east-1``) is narrow. A list pays the dearest of its entries
    (Modal's guide prices one region; charging a list as its narrowest member errs on the
    dear side).
    """
    if region is None or region == []:
        return 1.0
    names = [region] if isinstance(region, str) else list(region)
    return max(catalog.REGION_MULTIPLIER_BROAD if n.isalpha() else catalog.REGION_MULTIPLIER_NARROW for n in names)


def rates_for(profile: Profile, live: dict[str, float] | None = None) -> Rates:
    """Profile overrides win over live workspace rates, which win over list prices; the region
    multiplier (the profile's ``prices.region_multiplier``, else Modal's for ``app.region``)
    applies on top of whichever base rates are used."""
    gpu = profile.gpu.model
    live = live or {}
    p = profile.prices
    source = "profile prices" if p.gpu_per_second is not None else ("live workspace rates" if gpu.name in live else f"list prices {catalog.PRICES_DATE}")
    factor = p.region_multiplier if p.region_multiplier is not None else region_multiplier(profile.app.region)
    if factor != 1.0:
        origin = "profile" if p.region_multiplier is not None else f"region prices {catalog.REGION_PRICES_DATE}"
        source += f", x{factor:g} for region {profile.app.region!r} ({origin})" if profile.app.region else f", x{factor:g} ({origin})"
    return Rates(
        gpu_per_second=factor * (p.gpu_per_second if p.gpu_per_second is not None else live.get(gpu.name, gpu.price_per_second)),
        cpu_per_core_second=factor
        * (p.cpu_per_core_second if p.cpu_per_core_second is not None else live.get("cpu", catalog.CPU_CORE_PER_SECOND)),
        memory_per_gib_second=factor
        * (p.memory_per_gib_second if p.memory_per_gib_second is not None else live.get("memory", catalog.MEMORY_GIB_PER_SECOND)),
        source=source,
    )


def container_cost_per_second(profile: Profile, rates: Rates | None = None) -> float:
    r = rates or rates_for(profile)
    return (
        r.gpu_per_second * profile.gpu.count
        + r.cpu_per_core_second * catalog.DEFAULT_CPU_CORES
        + r.memory_per_gib_second * catalog.DEFAULT_MEMORY_GIB
    )


def always_on_monthly(profile: Profile, rates: Rates | None = None) -> float:
    """One container up for a 30-day month."""
    return container_cost_per_second(profile, rates) * catalog.SECONDS_PER_MONTH


def idle_containers(profile: Profile, live_min: int | None = None, start: float | None = None) -> float:
    """Containers kept up with no traffic, averaged over a 30-day month from ``start`` (default: now):
    ``min_containers`` (or ``live_min``, a live override in force), raised by the warm schedule's windows."""
    base = int((profile.warm.min_containers if live_min is None else live_min) or 0)
    if not profile.warm.schedule:
        return float(base)
    import time

    from .cost.schedule import from_profile, mean_min_containers

    return mean_min_containers(from_profile(profile.warm.schedule), base, time.time() if start is None else start)


def idle_floor_monthly(profile: Profile, rates: Rates | None = None, *, live_min: int | None = None) -> float:
    """What the warm policy costs per month with no traffic at all (min_containers and warm windows)."""
    return always_on_monthly(profile, rates) * idle_containers(profile, live_min)

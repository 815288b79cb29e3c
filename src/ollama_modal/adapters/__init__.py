"""Adapters to the outside world. Result types live here so callers never import ``modal``.

``modal_backend.ModalBackend`` is the only code that talks to Modal; it returns these plain
dataclasses, never SDK objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class AppInfo:
    """A deployed app as Modal reports it."""

    name: str
    app_id: str
    state: str  # "deployed", "stopped", ...
    tags: dict[str, str] = field(default_factory=dict)
    version: int | None = None
    deployed_at: str | None = None  # ISO 8601, UTC
    description: str = ""
    containers: int | None = None  # known when listed; None from a single-app lookup
    stopped_at: str | None = None  # ISO 8601, UTC; set for a stopped app

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeployOutcome:
    app_name: str
    app_id: str
    version: int | None
    web_urls: dict[str, str]  # "Class.method" or function name -> URL
    skipped: bool  # Modal found nothing changed: no new version
    environment: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def web_url(self) -> str | None:
        return next(iter(self.web_urls.values()), None)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "web_url": self.web_url}


@dataclass(frozen=True)
class Deployment:
    """One entry of an app's deployment history (newest first when listed)."""

    version: int
    deployed_at: str | None
    deployed_by: str
    tag: str
    client_version: str
    rollback_version: int | None  # set when this version was made by rolling back to another
    current: bool
    tags: dict[str, str] | None = None  # Modal keeps tags only for the current version

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AutoscalerSettings:
    min_containers: int
    max_containers: int | None  # None: no function-level limit
    buffer_containers: int
    scaledown_window: int
    # Modal Servers only (None elsewhere): scale-up window and target concurrency per container.
    scaleup_window: int | None = None
    target_inputs: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CurrentStats:
    backlog: int
    num_total_runners: int
    num_running_inputs: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RequestStats:
    """A Modal Server's requests over a time range (``Server.stats()``)."""

    since: str  # ISO 8601, UTC
    until: str
    requests: int
    by_status: dict[int, int]  # HTTP status code -> requests
    latency: dict[str, float]  # "p50", "p90", "p99" -> value in ``latency_unit``
    latency_unit: str
    containers_started: int
    container_errors: int
    containers_total: int

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["by_status"] = {str(k): v for k, v in self.by_status.items()}
        return d


@dataclass(frozen=True)
class RequestRecord:
    """One request the deployed app answered: a Modal Server's request history, or a web
    function's request log lines (no body, client or key either way)."""

    timestamp: str  # ISO 8601, UTC: when the request began
    route: str
    status: int
    duration_s: float
    # The model's token counters, where the request log has them (web functions); None: unknown.
    input_tokens: int | None = None
    output_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProxyToken:
    """A workspace proxy token (Modal's proxy auth), without its secret."""

    token_id: str  # wk-...
    name: str
    created_at: str | None  # ISO 8601, UTC

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["AppInfo", "BillingRow", "AutoscalerSettings", "CurrentStats", "DeployOutcome", "Deployment", "ProxyToken", "RequestRecord", "RequestStats"]


@dataclass(frozen=True)
class BillingRow:
    """One row of Modal's workspace billing report: one object (an App) over one interval."""

    object_id: str
    description: str
    environment_name: str
    interval_start: datetime  # UTC
    cost: Decimal  # USD, as Modal states it (exact decimal)
    cost_by_resource: dict[str, Decimal] = field(default_factory=dict)  # "CPU", "Memory", a GPU type...
    tags: dict[str, str] = field(default_factory=dict)  # only the tag names asked for

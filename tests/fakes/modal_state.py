"""In-memory state of the fake Modal control plane.

Behaves like Modal where omc depends on it: app names resolve per environment; every
publish is a new version with its own tags; an unchanged publish is a no-op (no new
version, ``deployed_at`` 0); a deploy or rollback drops live autoscaler overrides;
a stopped app cannot be looked up by name; images are content-addressed and built once.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from modal_proto import api_pb2

DEFAULT_ENVIRONMENT = "main"
IMAGE_BUILDER_VERSION = "2025.06"
DEPLOYED_BY = "omc-tester"


def content_id(prefix: str, *parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return f"{prefix}-{h.hexdigest()[:20]}"


@dataclass
class Deployment:
    version: int
    deployed_at: float
    tag: str
    client_version: str
    tags: dict[str, str]
    function_ids: dict[str, str]
    class_ids: dict[str, str]
    definition_ids: dict[str, str]
    rollback_version: int = 0
    deployed_by: str = DEPLOYED_BY
    definitions: dict[str, api_pb2.Function] = field(default_factory=dict)  # function id -> what ran
    function_data: dict[str, api_pb2.FunctionData] = field(default_factory=dict)  # function id -> every rank


@dataclass
class AppRecord:
    app_id: str
    name: str
    environment: str
    state: int
    created_at: float
    tags: dict[str, str] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    function_ids: dict[str, str] = field(default_factory=dict)  # object tag -> function id
    class_ids: dict[str, str] = field(default_factory=dict)
    stopped_at: float = 0.0
    logs: list[str] = field(default_factory=list)

    @property
    def current(self) -> Deployment | None:
        return self.deployments[-1] if self.deployments else None

    @property
    def version(self) -> int:
        return self.current.version if self.current else 0


@dataclass
class FunctionRecord:
    function_id: str
    app_id: str
    tag: str
    definition: api_pb2.Function | None = None  # rank 0 of what FunctionCreate sent
    data: api_pb2.FunctionData | None = None  # every rank, as FunctionGet / FunctionGetById answer
    ranked_gpus: list[str] = field(default_factory=list)
    web_urls: dict[str, str] = field(default_factory=dict)  # method ("" for a function) -> url
    flash_urls: list[str] = field(default_factory=list)  # a Modal Server's URL (empty otherwise)
    static_settings: api_pb2.AutoscalerSettings = field(default_factory=api_pb2.AutoscalerSettings)
    override: api_pb2.AutoscalerSettings | None = None
    backlog: int = 0
    running: int = 0

    def effective_settings(self) -> api_pb2.AutoscalerSettings:
        s = api_pb2.AutoscalerSettings()
        s.CopyFrom(self.static_settings)
        if self.override is not None:
            s.MergeFrom(self.override)  # only the fields the override set
        return s


@dataclass
class VolumeRecord:
    volume_id: str
    name: str
    environment: str
    files: dict[str, int] = field(default_factory=dict)  # path -> size
    local_dir: Any = None  # a directory on disk when the data plane mounts the volume in containers

    def refresh(self) -> None:
        """What the containers committed: the files on disk (entries placed by tests stay)."""
        if self.local_dir is None:
            return
        for p in self.local_dir.rglob("*"):
            if p.is_file():
                self.files[p.relative_to(self.local_dir).as_posix()] = p.stat().st_size


@dataclass
class SecretRecord:
    secret_id: str
    name: str
    environment: str
    env_dict: dict[str, str]
    created_at: float
    updated: int = 0


@dataclass
class BillingRecord:
    """One billing report row: an object (an App) over one interval; money as Modal's decimal text."""

    object_id: str
    interval_start: float  # UNIX time, the start of the interval
    cost: str  # e.g. "12.345678"
    cost_by_resource: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # every tag the object carried then
    description: str = ""
    environment_name: str = "main"


@dataclass(frozen=True)
class LogRecord:
    """One line of an app's logs as Modal keeps it."""

    time: float  # UNIX seconds
    app_id: str
    data: str  # the line, without its newline
    fd: int = api_pb2.FILE_DESCRIPTOR_STDOUT
    function_id: str = ""
    task_id: str = "ta-fake"


class ControlPlaneState:
    """All records; guarded by one lock because tests read while the server thread writes."""

    def __init__(self, workspace: str = "omc-test") -> None:
        self.workspace = workspace
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        # Environments that exist; tests add more with add_environment().
        self.environments: dict[str, str] = {DEFAULT_ENVIRONMENT: "en-main"}
        self.apps: dict[str, AppRecord] = {}
        self.functions: dict[str, FunctionRecord] = {}
        self.classes: set[str] = set()  # class ids handed out by ClassCreate
        self.images: dict[str, api_pb2.Image] = {}
        self.built_images: set[str] = set()
        self.mounts: dict[str, list[str]] = {}  # mount id -> remote paths
        self.mount_files: dict[str, list[tuple[str, str]]] = {}  # mount id -> (remote path, sha256)
        self.blobs: set[str] = set()  # sha256 of uploaded mount files
        self.blob_data: dict[str, bytes] = {}  # sha256 -> content (what a container would see)
        self.volumes: dict[tuple[str, str], VolumeRecord] = {}
        self.secrets: dict[tuple[str, str], SecretRecord] = {}
        self.anonymous_secrets: dict[str, SecretRecord] = {}
        self.billing_rates: dict[str, str] = {"gpu.a10": "0.000306", "gpu.t4": "0.000164", "cpu": "0.0000131"}
        # Lines with no time or app (a test's canned lines): every app's, stamped "now" when read.
        self.log_lines: list[str] = ["Ollama server starting", "omc phase=ready"]
        # Lines with their real time, app and source (what the data plane's containers printed,
        # or a test put with add_log): AppFetchLogs/AppCountLogs answer them by time range.
        self.log_entries: list[LogRecord] = []
        self.log_fetches: list[tuple[float, float, int]] = []  # (since, until, limit) of each AppFetchLogs
        self.clock = time.time
        # No container runs here: a test says what a remote call of a function does
        # (handler(state, *args, **kwargs) -> return value; raise to fail the call).
        self.function_handlers: dict[str, Callable[..., Any]] = {}
        # Without a handler, a remote call goes here when set (the data plane runs a container):
        # run_function(function_record, args, kwargs) -> return value; raise to fail the call.
        self.run_function: Callable[[FunctionRecord, tuple, dict], Any] | None = None
        # Data-plane hooks, called outside the lock from a worker thread: an app stopped; the
        # containers of a function are about to be counted (idle ones may scale down first).
        self.on_app_stop: Callable[[AppRecord], None] | None = None
        self.before_stats: Callable[[FunctionRecord], None] | None = None
        # When set, the URL of a web endpoint (the data plane serves it on loopback).
        self.web_url_hook: Callable[[str, str], str] | None = None
        self.function_calls: dict[str, Any] = {}  # call id -> asyncio future of its FunctionGetOutputsItem
        # Modal Servers' request statistics, by server name (ServerGetTimeRangeStats answers with
        # them for any range); the ranges asked for are recorded.
        self.server_stats: dict[str, api_pb2.ServerGetTimeRangeStatsResponse] = {}
        self.stats_requests: list[tuple[Any, Any]] = []
        # What the data plane's ingress saw (or a test put): server name -> [(time, status, seconds, route)];
        # ServerRequestFetch returns them, ServerGetTimeRangeStats counts them unless server_stats is set.
        self.server_requests: dict[str, list[tuple]] = {}
        # Containers the data plane started for a Server: server name -> [(time, ok)]; a failed
        # start is a container error. ServerGetTimeRangeStats counts them unless server_stats is set.
        self.server_container_starts: dict[str, list[tuple[float, bool]]] = {}
        # When set, a Modal Server's URL (the data plane serves it on loopback): (label, region, env) -> URL.
        self.server_url_hook: Callable[[str, str, str], str] | None = None
        # Workspace billing report rows a test controls (see ``BillingRecord``); WorkspaceBillingReport
        # answers the ones inside the asked range, each with only the tag columns asked for.
        self.billing_rows: list[BillingRecord] = []
        # Workspace proxy tokens: id (wk-...) -> {"name", "secret" (ws-...), "created_at"}.
        self.proxy_tokens: dict[str, dict[str, Any]] = {}

    def add_log(self, app_id: str, data: str, time_s: float | None = None, fd: int = api_pb2.FILE_DESCRIPTOR_STDOUT,
                function_id: str = "", task_id: str = "ta-fake") -> None:
        with self.lock:
            self.log_entries.append(LogRecord(self.clock() if time_s is None else time_s, app_id, data, fd, function_id, task_id))

    def logs_of(self, app_id: str, since: float, until: float, *, fd: int = 0, function_id: str = "",
                search: str = "") -> list[LogRecord]:
        """The app's lines in [since, until), oldest first, filtered as AppFetchLogs filters them;
        the canned ``log_lines`` count as printed now (or just before ``until``, which a client
        computes a moment before it asks)."""
        now = min(self.clock(), until - 1e-6)
        canned = [LogRecord(now, app_id, line) for line in self.log_lines]
        out = [e for e in (*self.log_entries, *canned)
               if e.app_id == app_id and since <= e.time < until
               and (not fd or e.fd == fd) and (not function_id or e.function_id == function_id)
               and (not search or search in e.data)]
        return sorted(out, key=lambda e: e.time)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    @staticmethod
    def env(name: str) -> str:
        return name or DEFAULT_ENVIRONMENT

    def web_url(self, label: str, environment: str) -> str:
        if self.web_url_hook is not None:
            return self.web_url_hook(label, environment)
        suffix = "" if environment == DEFAULT_ENVIRONMENT else f"-{environment}"
        return f"https://{self.workspace}{suffix}--{label}.modal.run"

    def server_url(self, label: str, region: str, environment: str) -> str:
        if self.server_url_hook is not None:
            return self.server_url_hook(label, region, environment)
        suffix = "" if environment == DEFAULT_ENVIRONMENT else f"-{environment}"
        return f"https://{self.workspace}{suffix}--{label}.{region}.modal.direct"

    # -- apps ------------------------------------------------------------------------------
    def deployed_app(self, name: str, environment: str) -> AppRecord | None:
        """The live deployment of ``name`` (stopped apps are gone, as on Modal)."""
        env = self.env(environment)
        for app in self.apps.values():
            if app.name == name and app.environment == env and app.state == api_pb2.APP_STATE_DEPLOYED:
                return app
        return None

    def recently_stopped(self, name: str, environment: str) -> AppRecord | None:
        """The last deployed app of that name if it was stopped and none was deployed since."""
        env = self.env(environment)
        named = [a for a in self.apps.values() if a.name == name and a.environment == env and a.deployments]
        last = max(named, key=lambda a: (a.current.deployed_at, a.app_id), default=None)
        return last if last is not None and last.state == api_pb2.APP_STATE_STOPPED else None

    def app(self, app_id: str) -> AppRecord | None:
        return self.apps.get(app_id)

    def create_app(self, name: str, environment: str, state: int, tags: dict[str, str]) -> AppRecord:
        app = AppRecord(self.new_id("ap"), name, self.env(environment), state, self.clock(), dict(tags))
        self.apps[app.app_id] = app
        return app

    def publish(self, app: AppRecord, req: api_pb2.AppPublishRequest) -> Deployment | None:
        """Record a deployment; None when nothing changed (Modal's "Deployment skipped")."""
        cur = app.current
        function_ids, class_ids = dict(req.function_ids), dict(req.class_ids)
        if req.app_state != api_pb2.APP_STATE_DEPLOYED:  # `app.run()`: ephemeral, no version
            app.state, app.function_ids, app.class_ids = req.app_state, function_ids, class_ids
            return None
        if (
            cur is not None
            and app.state == api_pb2.APP_STATE_DEPLOYED
            and cur.definition_ids == dict(req.definition_ids)
            and cur.function_ids == function_ids
            and cur.tags == dict(req.tags)
        ):
            return None
        app.state = api_pb2.APP_STATE_DEPLOYED
        app.name = req.name or app.name
        app.stopped_at = 0.0
        dep = Deployment(
            version=app.version + 1,
            deployed_at=self.clock(),
            tag=req.deployment_tag,
            client_version=req.client_version,
            tags=dict(req.tags),
            function_ids=function_ids,
            class_ids=class_ids,
            definition_ids=dict(req.definition_ids),
        )
        self._activate(app, dep)
        return dep

    def rollback(self, app: AppRecord, version: int) -> Deployment:
        target = next(d for d in app.deployments if d.version == version)
        dep = Deployment(
            version=app.version + 1,
            deployed_at=self.clock(),
            tag=target.tag,
            client_version=target.client_version,
            tags=dict(target.tags),
            function_ids=dict(target.function_ids),
            class_ids=dict(target.class_ids),
            definition_ids=dict(target.definition_ids),
            rollback_version=version,
        )
        for fid, definition in target.definitions.items():  # the old code and settings run again
            fn = self.functions[fid]
            fn.definition = definition
            fn.static_settings = static_settings(definition)
            fn.data = target.function_data.get(fid)
            ranked = [r.function for r in fn.data.ranked_functions] if fn.data else [definition]
            fn.ranked_gpus = [r.resources.gpu_config.gpu_type for r in ranked]
        self._activate(app, dep)
        return dep

    def _activate(self, app: AppRecord, dep: Deployment) -> None:
        if not dep.definitions:
            dep.definitions = {f: self.functions[f].definition for f in dep.function_ids.values() if f in self.functions}
            dep.function_data = {f: self.functions[f].data for f in dep.function_ids.values() if f in self.functions and self.functions[f].data}
        app.deployments.append(dep)
        app.tags = dict(dep.tags)
        app.function_ids, app.class_ids = dict(dep.function_ids), dict(dep.class_ids)
        for fid in dep.function_ids.values():  # a deploy resets live autoscaler overrides
            if fid in self.functions:
                self.functions[fid].override = None

    def stop(self, app: AppRecord) -> None:
        app.state = api_pb2.APP_STATE_STOPPED
        app.stopped_at = self.clock()
        for fid in app.function_ids.values():
            if fid in self.functions:
                self.functions[fid].running = 0

    def lifecycle(self, app: AppRecord) -> api_pb2.AppLifecycle:
        cur = app.current
        return api_pb2.AppLifecycle(
            app_state=app.state,
            created_at=app.created_at,
            created_by=DEPLOYED_BY,
            deployed_at=cur.deployed_at if cur else 0,
            deployed_by=cur.deployed_by if cur else "",
            version=app.version,
            stopped_at=app.stopped_at,
            stopped_by=DEPLOYED_BY if app.stopped_at else "",
        )

    def handle_metadata(self, app: AppRecord) -> api_pb2.AppHandleMetadata:
        return api_pb2.AppHandleMetadata(
            app_id=app.app_id,
            description=app.name,
            environment_name=app.environment,
            lifecycle=self.lifecycle(app),
            functions=app.function_ids,
        )

    # -- lookups by name -------------------------------------------------------------------
    def lookup_function(self, app_name: str, tag: str, environment: str, version: int = 0) -> FunctionRecord | None:
        app = self.deployed_app(app_name, environment)
        if app is None:
            return None
        ids = app.function_ids
        if version:
            dep = next((d for d in app.deployments if d.version == version), None)
            ids = dep.function_ids if dep else {}
        fid = ids.get(tag)
        return self.functions.get(fid) if fid else None

    # -- volumes and secrets ---------------------------------------------------------------
    def volume(self, name: str, environment: str, create: bool) -> VolumeRecord | None:
        key = (self.env(environment), name)
        if key not in self.volumes and create:
            self.volumes[key] = VolumeRecord(self.new_id("vo"), name, key[0])
        return self.volumes.get(key)

    def volume_by_id(self, volume_id: str) -> VolumeRecord | None:
        return next((v for v in self.volumes.values() if v.volume_id == volume_id), None)

    def put_secret(self, name: str, environment: str, env_dict: dict[str, str]) -> SecretRecord:
        key = (self.env(environment), name)
        old = self.secrets.get(key)
        rec = SecretRecord(
            old.secret_id if old else self.new_id("st"),
            name,
            key[0],
            dict(env_dict),
            old.created_at if old else self.clock(),
            (old.updated + 1) if old else 0,
        )
        self.secrets[key] = rec
        return rec

    # -- helpers for tests -----------------------------------------------------------------
    def set_server_stats(
        self,
        server: str,
        *,
        by_status: dict[int, int],
        latency_s: dict[float, float] | None = None,
        started: int = 0,
        errors: int = 0,
        total: int = 0,
        seconds: float = 3600.0,
    ) -> None:
        """What ``Server.stats()`` reports for ``server``: requests by status code, latency
        percentiles {50: s, 90: s, 99: s}, container starts/errors/total."""
        resp = api_pb2.ServerGetTimeRangeStatsResponse(
            request_count=sum(by_status.values()),
            request_rate_per_second=sum(by_status.values()) / seconds,
            container_started_count=started,
            container_error_count=errors,
            container_total_count=total,
        )
        for code, n in sorted(by_status.items()):
            resp.request_count_by_status_code.add(status_code=code, count=n)
        if latency_s:
            dist = resp.request_percentile_stats["request_latency"]
            dist.unit = "s"
            for pct, value in sorted(latency_s.items()):
                dist.percentiles.add(percentile_basis_points=int(pct * 100), value=value)
        with self.lock:
            self.server_stats[server] = resp

    def add_environment(self, name: str) -> None:
        with self.lock:
            self.environments.setdefault(name, self.new_id("en"))

    def app_named(self, name: str, environment: str = "") -> AppRecord:
        app = self.deployed_app(name, environment)
        assert app is not None, f"no deployed app named {name!r}"
        return app


def static_settings(fn: api_pb2.Function) -> api_pb2.AutoscalerSettings:
    """The decorator values a deploy sets (what a later deploy resets overrides back to)."""
    s = api_pb2.AutoscalerSettings()
    if fn.HasField("autoscaler_settings"):
        s.CopyFrom(fn.autoscaler_settings)
    else:
        s.min_containers = fn.warm_pool_size
        s.max_containers = fn.concurrency_limit
        s.scaledown_window = fn.task_idle_timeout_secs
        s.buffer_containers = fn._experimental_buffer_containers
    return s

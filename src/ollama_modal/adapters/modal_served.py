"""The served object of a deployed app, one handle class per serving primitive.

``ModalBackend.served(app, primitive)`` returns a handle with the same five operations for both
primitives (``ollama_modal.primitives``): the URL, the autoscaler settings and their live update,
the container count, and the request statistics. The function primitive is a class (its
service function carries the autoscaler); the server primitive is a ``modal.Server``.
Like ``modal_backend``, this module imports ``modal`` only inside methods.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ContextManager

from ..errors import RemoteError, UsageError
from . import AutoscalerSettings, CurrentStats, RequestRecord, RequestStats

Remote = Callable[[str], ContextManager[None]]  # ModalBackend._remote
Rpc = Callable[[str, Any], Any]  # ModalBackend._rpc
#: ServerRequestFetch's largest range query.
REQUEST_FETCH_LIMIT = 20000

#: Percentiles status reports from a Server's request latency distribution.
PERCENTILES = (50, 90, 99)
LATENCY_TO_MS = {"s": 1000.0, "sec": 1000.0, "seconds": 1000.0, "ms": 1.0, "milliseconds": 1.0}


class ServedHandle:
    kind = ""
    #: How far back ``requests`` reaches, and where the requests come from (for messages).
    history = timedelta(days=7)
    history_source = ""
    #: Settings the live update accepts (beyond these: a UsageError naming them).
    live_keys: tuple[str, ...] = ("min_containers", "max_containers", "buffer_containers", "scaledown_window")

    def __init__(self, app_name: str, object_name: str, environment: str | None, remote: Remote, rpc: Rpc | None = None) -> None:
        self.app_name = app_name
        self.object_name = object_name
        self.environment = environment
        self._remote = remote
        self._rpc = rpc

    # The five operations; each subclass implements them for its primitive.
    def url(self) -> str | None:
        raise NotImplementedError

    def autoscaler_settings(self) -> AutoscalerSettings:
        raise NotImplementedError

    def update_autoscaler(self, **settings: Any) -> AutoscalerSettings:
        raise NotImplementedError

    def current_stats(self) -> CurrentStats:
        with self._remote(f"reading container stats of {self.app_name}"):
            s = self._service_function().get_current_stats()
        return CurrentStats(s.backlog, s.num_total_runners, getattr(s, "num_running_inputs", 0))

    def request_stats(self, since: datetime | None = None, until: datetime | None = None) -> RequestStats | None:
        """Requests by status code, latency percentiles, container starts (None: not reported)."""
        return None

    def requests(self, since: datetime, until: datetime, limit: int = REQUEST_FETCH_LIMIT) -> list[RequestRecord]:
        """At most ``limit`` requests that began in [since, until), oldest first."""
        raise NotImplementedError

    def gpus(self) -> list[str]:
        """The ranked GPUs Modal runs it on, as specs (``["H100", "A100-80GB"]``, ``["H100:2"]``);
        empty on CPU. From the definition as Modal keeps it (``Function.info()``)."""
        with self._remote(f"reading the GPU of {self.app_name}"):
            info = self._service_function().info(refresh=True)
        return [t if n == 1 else f"{t}:{n}" for t, n in info.gpus]

    # -- shared ----------------------------------------------------------------------------
    def _service_function(self) -> Any:
        raise NotImplementedError

    def _check_keys(self, settings: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(settings) - set(self.live_keys))
        if unknown:
            raise UsageError(
                f"{', '.join(unknown)} cannot change live on a {self.kind} deployment",
                hint="only a Modal Server (server.primitive = \"server\") takes target_inputs and scaleup_window live",
            )
        out = dict(settings)
        if out.get("scaledown_window", 0) is None:
            out.pop("scaledown_window")  # it has no "unset" value on Modal
        if "scaleup_window" in out and out["scaleup_window"] is None:
            out.pop("scaleup_window")
        return out

    def _not_deployed(self, what: str) -> RemoteError:
        return RemoteError(
            f"app {self.app_name!r} has no {what} {self.object_name!r} (not deployed, or deployed by hand?)",
            hint="deploy it with `omc deploy --profile NAME`",
        )


class FunctionHandle(ServedHandle):
    """``@app.cls`` + ``@modal.asgi_app``: the class's service function serves every method."""

    kind = "function"
    WEB_METHOD = "serve"
    history = timedelta(days=30)  # FunctionRequestLog.HISTORY
    history_source = "a web function's requests are read from its request log lines in the app's logs, at most 30 days back (how long Modal keeps logs depends on the plan)"

    def _cls(self) -> Any:
        import modal

        return modal.Cls.from_name(self.app_name, self.object_name, environment_name=self.environment)

    def _service_function(self) -> Any:
        from modal.exception import NotFoundError

        cls = self._cls()
        try:
            cls.hydrate()
        except NotFoundError:
            raise self._not_deployed("class") from None
        # No public accessor in modal 1.6: the deprecated Cls.update_autoscaler uses the same one.
        return cls._get_class_service_function()

    def url(self) -> str | None:
        with self._remote(f"reading the URL of {self.app_name}"):
            return getattr(self._cls()(), self.WEB_METHOD).get_web_url() or None

    def autoscaler_settings(self) -> AutoscalerSettings:
        with self._remote(f"reading autoscaler settings of {self.app_name}"):
            s = self._service_function().autoscaler.settings()
        return AutoscalerSettings(s.min_containers or 0, s.max_containers, s.buffer_containers or 0, s.scaledown_window)

    def update_autoscaler(self, **settings: Any) -> AutoscalerSettings:
        settings = self._check_keys(settings)
        with self._remote(f"updating autoscaler settings of {self.app_name}"):
            s = self._service_function().autoscaler.update(**settings)
        return AutoscalerSettings(s.min_containers or 0, s.max_containers, s.buffer_containers or 0, s.scaledown_window)

    def requests(self, since: datetime, until: datetime, limit: int = REQUEST_FETCH_LIMIT) -> list[RequestRecord]:
        """The requests that began in [since, until), from the proxy's request log lines."""
        return FunctionRequestLog(self.app_name, self.environment, self._remote).requests(since, until, limit)


class FunctionRequestLog:
    """A web function's requests, from the one line per request its proxy writes to stdout
    (``ollama_modal.service.requestlog``), read back through Modal's app logs by time range.

    Only whole, exact lines count (``parse_line``); a line must not claim to have begun after
    Modal received it. Lines are fetched up to ``LOG_GRACE`` past ``until``: a request that
    began inside the range is logged when it ends."""

    #: How far back ``omc traffic`` reads a function's request log. Modal's log API takes ranges
    #: of at most 35 days (modal/_logs.py) and its widest tail window is 30 days; how long
    #: the logs are kept depends on the workspace's plan (lines past it are simply not there).
    HISTORY = FunctionHandle.history
    LOG_GRACE = timedelta(minutes=15)
    CLOCK_SKEW = timedelta(seconds=60)

    def __init__(self, app_name: str, environment: str | None, remote: Remote) -> None:
        self.app_name = app_name
        self.environment = environment
        self._remote = remote

    def requests(self, since: datetime, until: datetime, limit: int) -> list[RequestRecord]:
        import modal

        from ..service.requestlog import parse_message

        rows: list[tuple[datetime, RequestRecord]] = []
        fetch_until = min(until + self.LOG_GRACE, datetime.now(timezone.utc))
        with self._remote(f"reading the request log of {self.app_name}"):
            app = modal.App.lookup(self.app_name, environment_name=self.environment)
            # stdout only: that is where the proxy writes (its other messages and Ollama's go to stderr).
            for entry in app.logs.fetch(since=since, until=max(fetch_until, since), source="stdout"):
                logged = entry.timestamp if entry.timestamp.tzinfo else entry.timestamp.replace(tzinfo=timezone.utc)
                for line in parse_message(entry.message):
                    if not since <= line.time < until or line.time > logged + self.CLOCK_SKEW:
                        continue
                    rows.append((line.time, RequestRecord(
                        timestamp=line.time.isoformat(timespec="microseconds"),
                        route=line.route,
                        status=line.status,
                        duration_s=round(line.duration_s, 6),
                        input_tokens=line.tokens_in,
                        output_tokens=line.tokens_out,
                    )))
        rows.sort(key=lambda r: r[0])
        return [r for _, r in rows[:limit]]


class ServerHandle(ServedHandle):
    """``@app.server``: a ``modal.Server`` named like the class."""

    kind = "server"
    history = timedelta(days=7)
    history_source = "Modal keeps a Server's request history for 7 days"
    live_keys = (*ServedHandle.live_keys, "scaleup_window", "target_inputs")

    def _server(self) -> Any:
        import modal
        from modal.exception import NotFoundError

        server = modal.Server.from_name(self.app_name, self.object_name, environment_name=self.environment)
        try:
            server.hydrate()
        except NotFoundError:
            raise self._not_deployed("Modal Server") from None
        return server

    def _service_function(self) -> Any:
        # The Server's container count comes from its service function (no public accessor).
        return self._server()._get_service_function()

    def url(self) -> str | None:
        with self._remote(f"reading the URL of {self.app_name}"):
            return self._server().get_url() or None

    @staticmethod
    def _settings(s: Any) -> AutoscalerSettings:
        return AutoscalerSettings(
            s.min_containers or 0,
            s.max_containers,
            s.buffer_containers or 0,
            s.scaledown_window,
            scaleup_window=s.scaleup_window,
            target_inputs=s.target_concurrency,
        )

    def autoscaler_settings(self) -> AutoscalerSettings:
        with self._remote(f"reading autoscaler settings of {self.app_name}"):
            return self._settings(self._server().autoscaler.settings())

    def update_autoscaler(self, **settings: Any) -> AutoscalerSettings:
        settings = self._check_keys(settings)
        if "target_inputs" in settings:
            settings["target_concurrency"] = settings.pop("target_inputs")
        with self._remote(f"updating autoscaler settings of {self.app_name}"):
            return self._settings(self._server().autoscaler.update(**settings))

    def request_stats(self, since: datetime | None = None, until: datetime | None = None) -> RequestStats | None:
        with self._remote(f"reading request statistics of {self.app_name}"):
            s = self._server().stats(since=since, until=until)
        dists = s.request_percentile_stats
        latency = dists.get("request_latency") or next(iter(dists.values()), None)
        points = {round(p.percentile): p.value for p in latency.percentiles} if latency else {}
        unit = latency.unit if latency else ""
        scale = LATENCY_TO_MS.get(unit.lower())
        return RequestStats(
            since=s.since.isoformat(timespec="seconds"),
            until=s.until.isoformat(timespec="seconds"),
            requests=s.request_count,
            by_status={int(k): int(v) for k, v in sorted(s.request_count_by_status_code.items())},
            # In ms where Modal's unit is known; otherwise as reported, with the unit named.
            latency={f"p{p}": round(points[p] * (scale or 1.0), 3 if scale is None else 1) for p in PERCENTILES if p in points},
            latency_unit="ms" if scale is not None else unit,
            containers_started=s.container_started_count,
            container_errors=s.container_error_count,
            containers_total=s.container_total_count,
        )


    def requests(self, since: datetime, until: datetime, limit: int = REQUEST_FETCH_LIMIT) -> list[RequestRecord]:
        from modal_proto import api_pb2

        assert self._rpc is not None
        with self._remote(f"reading the request history of {self.app_name}"):
            req = api_pb2.ServerRequestFetchRequest(function_id=self._server().object_id)
            req.range.since.FromDatetime(since)
            req.range.until.FromDatetime(until)
            req.range.limit = limit
            resp = self._rpc("ServerRequestFetch", req)
        rows = [
            RequestRecord(
                timestamp=r.timestamp.ToDatetime(tzinfo=timezone.utc).isoformat(timespec="milliseconds"),
                route=r.route,
                status=int(r.status),
                duration_s=round(float(r.duration_seconds), 6),
            )
            for r in resp.requests
        ]
        return sorted(rows, key=lambda r: r.timestamp)


HANDLES: dict[str, type[ServedHandle]] = {FunctionHandle.kind: FunctionHandle, ServerHandle.kind: ServerHandle}

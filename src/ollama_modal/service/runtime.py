"""The container's life: start ``ollama serve``, load the model, serve the proxy, stop.

The rendered Modal class calls :meth:`ContainerRuntime.start` from ``@modal.enter`` and
:meth:`ContainerRuntime.asgi_app` from ``@modal.asgi_app`` (web function), or, for a Modal
Server, :meth:`ContainerRuntime.serve_http` at the end of ``@modal.enter``. With GPU memory snapshots
the start is split: ``phase="snapshot"`` (before the snapshot: server up, model in VRAM)
and ``phase="restore"`` (after it: verify, and restart the server if the child did not
survive). No phase does everything in one go.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import phases as P
from .errors import StartupError
from .names import model_matches
from .process import ExitCallback, OllamaProcess, loopback_client
from .auth import KeyChecker
from .settings import AUTH_BEARER, ServiceSettings

FULL, SNAPSHOT, RESTORE = "full", "snapshot", "restore"
WARMUP_PROMPT = "Hi"
RESTORE_CHECK_TIMEOUT_S = 5.0


@dataclass
class StartResult:
    mode: str
    ollama_version: str
    restarted: bool = False  # restore found the child gone or unresponsive and started afresh
    phases: list[dict[str, Any]] = field(default_factory=list)


def exit_container(returncode: int | None, tail: list[str]) -> None:
    """Default watchdog action: say why, then exit so Modal replaces the container."""
    last = " | ".join(tail[-5:]) or "(no output)"
    sys.stderr.write(
        f"omc: ollama serve died (exit code {returncode}) after start; last output: {last}; "
        "exiting so Modal replaces this container\n"
    )
    sys.stderr.flush()
    os._exit(1)


class ContainerRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        on_child_exit: ExitCallback | None = None,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.process = OllamaProcess(settings)
        self.on_child_exit = on_child_exit or exit_container
        self.emit = emit
        self.ollama_version: str | None = None
        self._app: Any = None
        self._keys: KeyChecker | None = None  # shared with the proxy app once it is built
        self._http: Any = None  # http_server.RunningServer (Modal Server primitive only)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> ContainerRuntime:
        settings = ServiceSettings.from_env(environ)
        settings.check_serving()  # never serve open by accident
        return cls(settings, **kwargs)

    # -- start ----------------------------------------------------------------------------
    def start(self, phase: str | None = None) -> StartResult:
        mode = phase or FULL
        if mode not in (FULL, SNAPSHOT, RESTORE):
            raise ValueError(f"phase must be None, {SNAPSHOT!r} or {RESTORE!r}, not {phase!r}")
        if mode == RESTORE:
            self._reload_secrets()
        clock = P.PhaseClock(self.settings.model, mode, self.emit)
        deadline = clock.origin + self.settings.startup_timeout
        if mode == RESTORE:
            result = self._restore(clock, deadline)
        else:
            result = self._cold_start(clock, deadline, mode)
        if mode != SNAPSHOT:
            # Not before a snapshot: the watchdog starts with the restored process.
            self.process.start_watchdog(self.on_child_exit)
        result.phases = clock.records
        return result

    def _cold_start(self, clock: P.PhaseClock, deadline: float, mode: str) -> StartResult:
        clock.begin()
        self.process.spawn()
        clock.done(P.PROCESS_STARTED, pid=self.process.pid)
        try:
            self.ollama_version = self.process.wait_ready(deadline)
            clock.done(P.SERVER_READY, ollama_version=self.ollama_version)
            self._load_model(clock, deadline)
        except BaseException:
            self.process.stop(grace=2.0)
            raise
        return StartResult(mode, self.ollama_version)

    def _load_model(self, clock: P.PhaseClock, deadline: float) -> None:
        clock.begin()
        self._generate({"model": self.settings.model, "keep_alive": -1}, deadline, P.MODEL_LOADED)
        clock.done(P.MODEL_LOADED)
        if self.settings.warmup:
            clock.begin()
            body = {
                "model": self.settings.model,
                "prompt": WARMUP_PROMPT,
                "stream": False,
                "keep_alive": -1,
                "options": {"num_predict": 1},
            }
            self._generate(body, deadline, P.WARMUP_DONE)
            clock.done(P.WARMUP_DONE)

    def _reload_secrets(self) -> None:
        """Read the Secret's values again: Modal restores a memory snapshot with the process
        state of snapshot time and then updates the environment to the Secret's current values
        (after `omc keys rotate` the keys read before the snapshot are stale)."""
        settings = self.settings.with_secrets_from()
        settings.check_serving()
        self.settings = settings
        if self._keys is not None and settings.auth == AUTH_BEARER:
            self._keys.replace(settings.api_keys)

    def _restore(self, clock: P.PhaseClock, deadline: float) -> StartResult:
        base = self.settings.upstream_url
        problem = None
        if not self.process.alive:
            problem = self.process.exit_reason()
        else:
            try:
                with loopback_client(RESTORE_CHECK_TIMEOUT_S) as client:
                    clock.begin()
                    self.ollama_version = str(client.get(base + "/api/version").raise_for_status().json()["version"])
                    clock.done(P.SERVER_READY, ollama_version=self.ollama_version, restored=True)
                    clock.begin()
                    loaded = client.get(base + "/api/ps").raise_for_status().json().get("models") or []
                if any(model_matches(m.get("name") or m.get("model", ""), self.settings.model) for m in loaded):
                    clock.done(P.MODEL_LOADED, restored=True)
                    return StartResult(RESTORE, self.ollama_version)
                # Server survived but the model is gone from VRAM: load it again.
                self._load_model(clock, deadline)
                return StartResult(RESTORE, self.ollama_version)
            except (httpx.HTTPError, ValueError, KeyError) as e:
                problem = f"ollama serve did not answer after restore ({type(e).__name__})"
        sys.stderr.write(f"omc: {problem}; starting it again\n")
        self.process.stop(grace=2.0)
        result = self._cold_start(clock, deadline, RESTORE)
        result.restarted = True
        return result

    def _generate(self, body: dict[str, Any], deadline: float, phase: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout(phase)
        url = self.settings.upstream_url + "/api/generate"
        try:
            with loopback_client(httpx.Timeout(remaining, connect=min(remaining, 10.0))) as client:
                r = client.post(url, json=body)
        except httpx.TimeoutException:
            self.process.raise_if_exited(phase)
            raise self._timeout(phase) from None
        except httpx.TransportError as e:
            self.process.raise_if_exited(phase)
            raise StartupError(f"phase {phase} failed: lost the connection to ollama serve ({e})", phase=phase, output=self.process.tail()) from e
        if r.status_code != 200:
            try:
                detail = r.json().get("error", r.text)
            except (ValueError, AttributeError):
                detail = r.text
            hint = None
            if r.status_code == 404:
                hint = "the model is not in the store: `omc deploy` pulls it (volume store) or bakes it into the image"
            raise StartupError(f"phase {phase} failed: Ollama answered HTTP {r.status_code}: {detail}", phase=phase, hint=hint, output=self.process.tail())

    def _timeout(self, phase: str) -> StartupError:
        return StartupError(
            f"phase {phase} did not complete within the start-up budget of {self.settings.startup_timeout:g} s "
            f"(model {self.settings.model})",
            phase=phase,
            output=self.process.tail(),
            hint="raise server.startup_timeout (OMC_STARTUP_TIMEOUT); large models on slow volumes load slowly",
        )

    # -- serve and stop ---------------------------------------------------------------
    def asgi_app(self) -> Any:
        if self._app is None:
            from .proxy import create_app

            if self.settings.auth == AUTH_BEARER:
                self._keys = KeyChecker(self.settings.api_keys)
            self._app = create_app(self.settings, self.process, keys=self._keys)
        return self._app

    def serve_http(self, port: int, host: str = "0.0.0.0") -> Any:
        """Modal Server primitive: serve the proxy on ``host:port`` and return once it accepts.

        Call it after :meth:`start` (the model is loaded): Modal routes requests to the container
        as soon as ``@modal.enter`` has returned and the port accepts connections.
        """
        from .http_server import serve_in_thread

        if self._http is None:
            self._http = serve_in_thread(self.asgi_app(), port, host)
        return self._http

    def stop(self) -> int | None:
        if self._http is not None:
            # Stop taking requests first; in-flight ones finish within Modal's exit grace period.
            self._http.stop()
            self._http = None
        return self.process.stop()


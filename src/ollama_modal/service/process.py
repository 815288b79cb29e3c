"""Supervise ``ollama serve`` as a child process.

The child runs in its own process group (Ollama starts runner subprocesses; stopping the
group stops them too). Its stdout/stderr are forwarded line by line to ours so they reach
the container log, and the last lines are kept for error messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO

import httpx

from .errors import StartupError
from .requestlog import defuse
from .settings import ServiceSettings

TAIL_LINES = 50
STOP_GRACE_S = 10.0
# Readiness polling: start fast (a local server is usually up in well under a second),
# back off a little so a slow GPU init does not spin the CPU.
POLL_FIRST_S = 0.02
POLL_MAX_S = 0.25
POLL_REQUEST_TIMEOUT_S = 2.0

ExitCallback = Callable[[int | None, list[str]], None]


def loopback_client(timeout: float | httpx.Timeout) -> httpx.Client:
    """A client for ollama serve on loopback. Plain HTTP: no TLS, so skip loading the CA
    bundle (tens of milliseconds per client on a small container)."""
    return httpx.Client(timeout=timeout, verify=False)


class OllamaProcess:
    """One ``ollama serve`` child: spawn, readiness, liveness, watchdog, stop."""

    def __init__(self, settings: ServiceSettings, *, tail_lines: int = TAIL_LINES) -> None:
        self.settings = settings
        self._proc: subprocess.Popen[bytes] | None = None
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._tail_lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self._watchdog: threading.Thread | None = None
        self._stopping = False

    # -- state ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def tail(self) -> list[str]:
        with self._tail_lock:
            return list(self._tail)

    def exit_reason(self) -> str:
        if self._proc is None:
            return "ollama serve was not started"
        rc = self._proc.poll()
        if rc is None:
            return "ollama serve is running"
        return f"ollama serve exited with {_describe_rc(rc)}"

    # -- lifecycle ------------------------------------------------------------------------
    def spawn(self) -> None:
        if self.alive:
            raise RuntimeError("ollama serve is already running")
        cmd = [*self.settings.ollama_command, "serve"]
        self._stopping = False
        with self._tail_lock:
            self._tail.clear()
        try:
            self._proc = subprocess.Popen(
                cmd,
                env=self.settings.child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own process group: stop() signals runners too
            )
        except OSError as e:
            raise StartupError(
                f"could not run {cmd[0]!r}: {e.strerror or e}",
                phase="process_started",
                hint="install Ollama in the image or point OMC_OLLAMA_BIN at the binary",
            ) from e
        self._readers = [
            _start_reader(self._proc.stdout, lambda: sys.stdout, self._remember),
            _start_reader(self._proc.stderr, lambda: sys.stderr, self._remember),
        ]

    def wait_ready(self, deadline: float) -> str:
        """Poll GET /api/version until it answers; returns Ollama's version.

        Fails at once if the child exits, and with the phase name when ``deadline``
        (a time.monotonic() value) passes first.
        """
        url = self.settings.upstream_url + "/api/version"
        interval = POLL_FIRST_S
        last_error = "no answer yet"
        with loopback_client(POLL_REQUEST_TIMEOUT_S) as client:
            while True:
                self.raise_if_exited("server_ready")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StartupError(
                        f"phase server_ready did not complete: ollama serve did not answer GET /api/version "
                        f"within the start-up budget ({last_error})",
                        phase="server_ready",
                        output=self.tail(),
                        hint="raise server.startup_timeout (OMC_STARTUP_TIMEOUT) if the GPU is slow to initialise",
                    )
                try:
                    r = client.get(url, timeout=min(POLL_REQUEST_TIMEOUT_S, max(remaining, 0.05)))
                    if r.status_code == 200:
                        return str(r.json().get("version", "unknown"))
                    last_error = f"HTTP {r.status_code}"
                except (httpx.TransportError, ValueError, AttributeError) as e:
                    last_error = type(e).__name__
                # Waiting on the child doubles as the poll interval and returns at once if it exits.
                self._wait_child(min(interval, max(deadline - time.monotonic(), 0)))
                interval = min(interval * 1.5, POLL_MAX_S)

    def raise_if_exited(self, phase: str) -> None:
        if self._proc is None or self._proc.poll() is None:
            return
        self._drain_readers(1.0)
        tail = self.tail()
        shown = "\n".join(tail[-20:]) or "(no output)"
        raise StartupError(
            f"{self.exit_reason()} during phase {phase}; last output:\n{shown}",
            phase=phase,
            output=tail,
        )

    def start_watchdog(self, on_exit: ExitCallback) -> None:
        """Call ``on_exit(returncode, last_lines)`` if the child dies (not when we stop it)."""
        proc = self._proc
        if proc is None:
            raise RuntimeError("spawn() first")

        def watch() -> None:
            rc = proc.wait()
            if self._stopping or proc is not self._proc:
                return
            self._drain_readers(1.0)
            on_exit(rc, self.tail())

        self._watchdog = threading.Thread(target=watch, name="omc-ollama-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self, grace: float = STOP_GRACE_S) -> int | None:
        """SIGTERM the child's process group, SIGKILL after ``grace`` seconds. Idempotent."""
        proc = self._proc
        if proc is None:
            return None
        self._stopping = True
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        # Runners left behind by a leader that died on its own go too.
        _signal_group(proc.pid, signal.SIGKILL)
        self._drain_readers(2.0)
        return proc.returncode

    # -- internals ------------------------------------------------------------------------
    def _remember(self, line: str) -> None:
        with self._tail_lock:
            self._tail.append(line)

    def _wait_child(self, seconds: float) -> None:
        if self._proc is None or seconds <= 0:
            return
        try:
            self._proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass

    def _drain_readers(self, timeout: float) -> None:
        # After the child exits its last lines may still be in the pipe: let the readers finish.
        end = time.monotonic() + timeout
        for t in self._readers:
            t.join(max(0.0, end - time.monotonic()))


def _start_reader(pipe: IO[bytes] | None, target: Callable[[], IO[str]], remember: Callable[[str], None]) -> threading.Thread:
    def pump() -> None:
        assert pipe is not None
        with pipe:
            for raw in iter(pipe.readline, b""):
                # Defused: nothing ollama prints can pass for the proxy's request lines.
                line = defuse(raw.decode("utf-8", "replace").rstrip("\r\n"))
                remember(line)
                out = target()  # looked up per line: the stream may be swapped (tests, log capture)
                try:
                    out.write(line + "\n")
                    out.flush()
                except (ValueError, OSError):
                    pass  # our own stream is closed: keep draining so the child never blocks

    t = threading.Thread(target=pump, name="omc-ollama-output", daemon=True)
    t.start()
    return t


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _describe_rc(rc: int) -> str:
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"exit code {rc}"

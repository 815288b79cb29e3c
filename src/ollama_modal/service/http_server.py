"""The proxy's own HTTP server, for the Modal Server primitive.

A web function's HTTP server is Modal's; a Modal Server's container must listen on its port
itself, on all interfaces. Modal routes traffic to a container as soon as ``@modal.enter`` has
returned *and* the port accepts connections, so the runtime opens the port only after the model
is loaded (``ContainerRuntime.serve_http``), and this module returns only once it accepts.

uvicorn is imported here, lazily: the web-function image does not install it.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from .errors import StartupError

ALL_INTERFACES = "0.0.0.0"
LISTEN_TIMEOUT_S = 30.0
GRACEFUL_SHUTDOWN_S = 5.0  # uvicorn's own; Modal's exit_grace_period bounds the whole shutdown


@dataclass
class RunningServer:
    server: Any  # uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    def stop(self, timeout: float = GRACEFUL_SHUTDOWN_S + 5.0) -> None:
        """Stop accepting, let open requests finish (bounded), then return."""
        self.server.should_exit = True
        self.thread.join(timeout)


def accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    target = "127.0.0.1" if host in (ALL_INTERFACES, "") else ("::1" if host == "::" else host)
    try:
        with socket.create_connection((target, port), timeout=timeout):
            return True
    except OSError:
        return False


def serve_in_thread(app: Any, port: int, host: str = ALL_INTERFACES, *, timeout: float = LISTEN_TIMEOUT_S) -> RunningServer:
    """Serve ``app`` with uvicorn in a daemon thread; return once the port accepts connections.

    Raises StartupError when the port is taken or the server does not listen within ``timeout``.
    """
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        # Keep connections from Modal's routing proxy open between requests.
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as e:  # noqa: BLE001 - reported to the caller below
            failure.append(e)

    thread = threading.Thread(target=run, name="omc-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.started and accepts(host, port):
            return RunningServer(server, thread, host, port)
        if not thread.is_alive():
            # uvicorn exits (SystemExit) when it cannot bind, after logging why.
            why = f"{type(failure[0]).__name__}: {failure[0]}" if failure else "the server stopped"
            raise StartupError(
                f"the proxy could not listen on {host}:{port} ({why})",
                phase="listening",
                hint="another process holds the port; choose another server.port in the profile",
            )
        time.sleep(0.02)
    server.should_exit = True
    raise StartupError(f"the proxy did not listen on {host}:{port} within {timeout:g} s", phase="listening")

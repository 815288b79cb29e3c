"""A local data plane for the fake Modal control plane: deployed apps really serve.

Attach it to a :class:`FakeModalServer` (``DataPlane(server, workdir)``) and the fake hands out
web URLs on loopback (``http://127.0.0.1:PORT``, one stable port per endpoint label, so a
redeploy keeps the URL as on Modal). Behind each URL an *ingress* (uvicorn in a thread, like
Modal's web router) starts a *container* on the first request and forwards requests to it.

A container is a real process (``container_main.py``) built only from what the SDK sent:

- its files are the uploaded mounts (the rendered module and the ``ollama_modal`` package);
- its environment is the image's ``ENV`` lines (walked through the base images) plus the
  attached Secrets' values at start;
- volumes are directories on disk, mounted by rewriting the environment values that name the
  mount path; ``ollama`` is the fake (``OMC_OLLAMA_BIN``) on a free loopback port
  (``OLLAMA_HOST``). These are the only substitutions (the hardware boundary), so a rendering
  bug in anything else shows.

Like Modal: a running container serves until the deployment changes (a new definition after a
deploy, a GPU switch or a rollback: the next request starts a new container), the app stops (its
URL answers 404, containers are stopped) or the test scales it to zero (:meth:`scale_to_zero`,
what an elapsed ``scaledown_window`` does). Changing a Secret reaches new containers only. With
memory snapshots, the first container of a definition takes the snapshot (the environment of
that moment); later containers are restored from it and get the current Secret values in the
environment after the pre-snapshot ``@modal.enter`` methods ran.

Remote function calls (``pull_model``) run as one-shot containers; the volume's files are what
the container wrote.

Container processes are forked from a process that imported the Modal SDK once (``zygote.py``:
the same interpreter state ``import modal`` leaves in every container, seconds saved per start);
each child takes its own working directory and environment and imports everything else fresh.
``FAKE_CONTAINERS_FORK=0`` starts every container as a fresh ``python container_main.py``.

Modal Servers (``@app.server``) get a URL of their own (``server_url_hook``) and an ingress that
behaves like Modal's routing proxy: while no container is up it answers **503 at once** and
starts one in the background (requests are not held); a container counts as up once its
``@modal.enter`` methods returned and the Server's port (``http_config.port``, as recorded)
accepts connections; then requests go straight to that port. The ingress records each answered
request (time on the control plane's ``clock``, status, duration), which ``ServerRequestFetch``
returns and ``ServerGetTimeRangeStats`` reports unless a test set other figures. Like Modal, a
Server never queues: a container counts the requests in flight on it, and one that arrives
while the container already serves its ``max_concurrency`` (``max_concurrent_inputs`` of the
definition; 0 is unlimited) gets **429 at once** (:data:`OVER_CAP`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import pickle
import shlex
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from modal_proto import api_pb2

from .modal_server import FakeModalServer
from .modal_state import ControlPlaneState, FunctionRecord
from .ports import bound_socket, free_port

HERE = Path(__file__).resolve().parent
FAKE_OLLAMA = HERE / "fake_ollama.py"
CONTAINER_MAIN = HERE / "container_main.py"
#: Bounds a hang only (a broken container); asserts nothing about speed.
START_LIMIT_S = 60.0
#: What the routing proxy answers above a Server container's max_concurrency (Modal documents the
#: 429, not its body: this text says the same in the proxy's words).
OVER_CAP = "modal-http: too many concurrent requests: every container of this Server is serving its max_concurrency ({cap}); retry later"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


_TASK_IDS = itertools.count(1)


@dataclass
class ContainerSpec:
    """What one container runs, derived from the fake's records."""

    mode: str  # "web", "server" or "call"
    module: str
    target: str  # class name (web) or function name (call)
    method: str  # the web method ("" for calls)
    files: list[tuple[str, str]]  # (remote path, sha256)
    env: dict[str, str]
    volumes: dict[str, Path]  # mount path -> local dir
    snapshot: bool = False
    key: str = ""  # identity of the deployed definition: a new one means new containers
    port: int = 0  # a Modal Server's port (its http_config), where the container listens
    max_concurrency: int = 0  # a Modal Server's hard cap per container (0: unlimited)
    function_id: str = ""
    app_id: str = ""


@dataclass
class Container:
    spec: ContainerSpec
    proc: Any  # subprocess.Popen, or zygote.ForkedProcess (the same calls)
    port: int
    root: Path
    log: Path
    inflight: int = 0  # requests the routing proxy has forwarded and not yet seen end (Servers)
    readers: list[threading.Thread] = field(default_factory=list)  # take in its stdout and stderr
    task_id: str = field(default_factory=lambda: f"ta-{next(_TASK_IDS):06d}")

    def output(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class PortTaken(Exception):
    pass


class Refused(Exception):
    """What the ingress answers instead of forwarding (Modal's own error pages)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


@dataclass
class Endpoint:
    """One web URL: an ingress on a fixed loopback port and the container behind it."""

    label: str
    environment: str
    port: int
    url: str
    server: Any = None
    thread: threading.Thread | None = None
    container: Container | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    starts: int = 0  # containers started (cold starts) for this URL
    is_server: bool = False  # a Modal Server's URL: 503 while no container is up, no holding
    starting: threading.Thread | None = None  # a Server's container coming up in the background
    start_error: str | None = None
    server_name: str = ""
    inflight: int = 0  # requests being served
    last_used: float = 0.0  # monotonic time the last request ended
    client: Any = None  # the ingress's pooled httpx.AsyncClient
    sock: Any = None  # the ingress's listening socket, bound before the URL is handed out


class DataPlane:
    def __init__(self, server: FakeModalServer, workdir: Path, *, ollama_env: dict[str, str] | None = None,
                 cold_start_s: float = 0.0) -> None:
        self.server = server
        # A cold start takes at least this long (GPU attach, image pull: seconds on Modal), so a
        # client with a short timeout that hits a cold start sees what it would see on Modal.
        self.cold_start_s = cold_start_s
        self.state: ControlPlaneState = server.state
        self.workdir = Path(workdir)
        self.ollama_env = dict(ollama_env or {})  # FAKE_OLLAMA_* knobs for every container
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        self.snapshots: dict[str, dict[str, str]] = {}  # definition key -> env at snapshot time
        self._lock = threading.Lock()
        self._n = 0
        self._zygote = self._make_zygote()
        self.state.web_url_hook = self.url_for
        self.state.server_url_hook = self.server_url_for
        self.state.run_function = self.run_function
        self.state.on_app_stop = self.app_stopped
        self.state.before_stats = self.scale_down_idle

    def _make_zygote(self):  # noqa: ANN202
        """Containers are forked from a process that imported the Modal SDK once (``zygote.py``);
        FAKE_CONTAINERS_FORK=0 starts each one as a fresh interpreter instead."""
        if os.environ.get("FAKE_CONTAINERS_FORK", "1") == "0":
            return None
        from .zygote import Zygote

        home = self.workdir / "zygote-home"  # no ~/.modal.toml, as in a container's home
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
        return Zygote({**env, "HOME": str(home), "PYTHONUNBUFFERED": "1"})

    def _spawn(self, home: Path, env: dict[str, str], log: Path, pipes: bool = False):  # noqa: ANN202
        """Start ``container_main.py`` in ``home`` with exactly ``env``, output to ``log``
        (``pipes``: a fresh interpreter's stdout and stderr are pipes ``_capture`` takes in; a
        forked container writes to ``log`` and ``_capture`` follows the file)."""
        if self._zygote is not None:
            return self._zygote.spawn(home, env, log)
        if pipes:
            return subprocess.Popen([sys.executable, str(CONTAINER_MAIN)], cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with log.open("wb") as out:
            return subprocess.Popen([sys.executable, str(CONTAINER_MAIN)], cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)

    def seed_model(self, volume: str, model: str, environment: str = "") -> None:
        """Put a model into a volume as an earlier pull left it (deploys then skip the pull)."""
        from ollama_modal.service.names import manifest_path

        with self.state.lock:
            vol = self.state.volume(volume, environment, True)
            if vol.local_dir is None:
                vol.local_dir = self.workdir / "volumes" / f"{vol.environment}--{vol.name}"
            path = manifest_path(vol.local_dir, model)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text('{"schemaVersion": 2, "layers": []}')
            vol.refresh()

    # -- URLs and ingress ---------------------------------------------------------------
    def url_for(self, label: str, environment: str) -> str:
        key = (self.state.env(environment), label)
        with self._lock:
            ep = self.endpoints.get(key)
            if ep is None:
                sock = bound_socket()
                port = sock.getsockname()[1]
                ep = Endpoint(label, key[0], port, f"http://127.0.0.1:{port}", sock=sock)
                self.endpoints[key] = ep
                self._serve(ep)
        return ep.url

    def server_url_for(self, label: str, region: str, environment: str) -> str:
        """A Modal Server's URL: its own ingress, with Modal's 503-while-cold routing."""
        key = (self.state.env(environment), f"{label}.{region}")
        with self._lock:
            ep = self.endpoints.get(key)
            if ep is None:
                sock = bound_socket()
                port = sock.getsockname()[1]
                ep = Endpoint(key[1], key[0], port, f"http://127.0.0.1:{port}", is_server=True, sock=sock)
                self.endpoints[key] = ep
                self._serve(ep)
        return ep.url

    def _serve(self, ep: Endpoint) -> None:
        import uvicorn

        config = uvicorn.Config(self._ingress(ep), log_level="warning", lifespan="off")
        ep.server = uvicorn.Server(config)
        ep.server.install_signal_handlers = lambda: None
        ep.thread = threading.Thread(target=ep.server.run, kwargs={"sockets": [ep.sock]}, name=f"ingress-{ep.label}", daemon=True)
        ep.thread.start()
        end = time.monotonic() + START_LIMIT_S
        while not ep.server.started:
            if time.monotonic() > end:
                raise RuntimeError(f"ingress for {ep.label} did not start")
            time.sleep(0.01)

    def _ingress(self, ep: Endpoint):
        import anyio

        plane = self

        async def app(scope, receive, send) -> None:
            if scope["type"] != "http":
                return
            body = b""
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            began = plane.state.clock()  # Modal's clock: a test may set when requests happen
            status = [0]
            recorded = [False]

            def record() -> None:
                if ep.is_server and status[0] and not recorded[0]:
                    recorded[0] = True
                    plane.record_server_request(ep, began, status[0], plane.state.clock() - began, scope["path"])

            async def answered(message) -> None:  # noqa: ANN001 - ASGI message
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                elif message["type"] == "http.response.body" and not message.get("more_body"):
                    # In the history before the client holds the whole answer (no race with a
                    # test that reads the history right after its request).
                    ep.last_used = time.monotonic()
                    record()
                await send(message)

            ep.inflight += 1
            try:
                await plane._forward(ep, scope, body, answered)
            finally:
                ep.inflight -= 1
                ep.last_used = time.monotonic()
                record()  # a client that left mid-answer

        return app

    def record_server_request(self, ep: Endpoint, began: float, status: int, seconds: float, route: str) -> None:
        with self.state.lock:
            self.state.server_requests.setdefault(ep.server_name or "Ollama", []).append((began, status, seconds, route))

    def proxy_auth_required(self, ep: Endpoint) -> bool:
        """What the SDK sent decides whether Modal's proxy wants a workspace proxy token here: a
        web endpoint's ``requires_proxy_auth``, a Server's ``unauthenticated = False``."""
        found = self._resolve(ep)
        if found is None:
            return False  # a stopped app answers 404 before anything else
        fn, method = found
        d = fn.definition
        if d is None:
            return False
        if ep.is_server:
            return not d.http_config.unauthenticated
        config = d.method_definitions[method].webhook_config if method else d.webhook_config
        return bool(config.requires_proxy_auth)

    def proxy_token_valid(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """``Modal-Key``/``Modal-Secret``, or ``Authorization: Bearer wk-….ws-…``, naming a live token."""
        h = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        key, secret = h.get("modal-key", ""), h.get("modal-secret", "")
        if not key:
            scheme, _, value = h.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                key, _, secret = value.strip().partition(".")
        with self.state.lock:
            token = self.state.proxy_tokens.get(key)
        return token is not None and bool(secret) and hmac.compare_digest(token["secret"], secret)

    async def _forward(self, ep: Endpoint, scope: dict, body: bytes, send) -> None:  # noqa: ANN001
        import anyio

        if await anyio.to_thread.run_sync(self.proxy_auth_required, ep) and not self.proxy_token_valid(scope["headers"]):
            # Modal's proxy refuses before any container is involved (none starts for it).
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"modal-http: missing or invalid proxy token credentials"})
            return
        try:
            if ep.is_server:
                c = await anyio.to_thread.run_sync(self._server_container, ep)
                # The check and the count happen with no await between them: one event loop
                # serves the ingress, so concurrent requests cannot both take the last slot.
                if c.spec.max_concurrency and c.inflight >= c.spec.max_concurrency:
                    raise Refused(429, OVER_CAP.format(cap=c.spec.max_concurrency))
                c.inflight += 1
                try:
                    await self._send_to(ep, c.port, scope, body, send)
                finally:
                    c.inflight -= 1
                return
            port = await anyio.to_thread.run_sync(self.container_port, ep)
        except Refused as r:
            await send({"type": "http.response.start", "status": r.status, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": r.text.encode()})
            return
        await self._send_to(ep, port, scope, body, send)

    async def _send_to(self, ep: Endpoint, port: int, scope: dict, body: bytes, send) -> None:  # noqa: ANN001
        dropped = HOP_BY_HOP | {"host", "content-length", "modal-key", "modal-secret"}  # Modal strips its auth headers
        headers = [(k, v) for k, v in scope["headers"] if k.decode().lower() not in dropped]
        path = scope.get("raw_path") or scope["path"].encode()
        url = f"http://127.0.0.1:{port}{path.decode()}"
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode()
        if ep.client is None:  # one pooled client per ingress (its event loop), made on first use
            ep.client = httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10), trust_env=False, verify=False)
        req = ep.client.build_request(scope["method"], url, headers=headers, content=body)
        try:
            resp = await ep.client.send(req, stream=True)
        except httpx.TransportError as e:
            await send({"type": "http.response.start", "status": 502, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": f"modal-http: container unreachable: {e}".encode()})
            return
        try:
            out = [(k, v) for k, v in resp.headers.raw if k.decode().lower() not in HOP_BY_HOP | {"content-length"}]
            await send({"type": "http.response.start", "status": resp.status_code, "headers": out})
            async for chunk in resp.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await resp.aclose()

    # -- which container serves a URL -------------------------------------------------
    def _resolve(self, ep: Endpoint) -> tuple[FunctionRecord, str] | None:
        """The deployed function (and web method) behind ``ep``; None if no live app serves it."""
        with self.state.lock:
            for app in self.state.apps.values():
                if app.environment != ep.environment or app.state != api_pb2.APP_STATE_DEPLOYED:
                    continue
                for fid in app.function_ids.values():
                    fn = self.state.functions.get(fid)
                    if fn is None:
                        continue
                    for method, url in fn.web_urls.items():
                        if url == ep.url:
                            return fn, method
                    if ep.url in fn.flash_urls:
                        return fn, ""
        return None

    def container_port(self, ep: Endpoint) -> int:
        """Start (or reuse) the container for ``ep``; the port it serves on."""
        if ep.is_server:
            return self._server_port(ep)
        with ep.lock:
            found = self._resolve(ep)
            if found is None:
                self._stop(ep)
                raise Refused(404, "modal-http: app for invoked web endpoint is stopped")
            spec = self.spec(found[0], "web", found[1])
            c = ep.container
            if c is not None and (c.spec.key != spec.key or c.proc.poll() is not None):
                self._stop(ep)
            if ep.container is None:
                began = time.monotonic()
                for attempt in range(3):
                    try:
                        ep.container = self._start_web(spec)
                        break
                    except PortTaken:  # another process took a free port before the container bound it
                        if attempt == 2:
                            raise Refused(503, "modal-http: the container could not bind its ports") from None
                ep.starts += 1
                self._count(spec.function_id, +1)
                self._collect_logs(ep.container)
                time.sleep(max(0.0, began + self.cold_start_s - time.monotonic()))
            return ep.container.port

    def _server_port(self, ep: Endpoint) -> int:
        return self._server_container(ep).port

    def _server_container(self, ep: Endpoint) -> Container:
        """A Modal Server: the running container, or 503 now and a container starting."""
        with ep.lock:
            found = self._resolve(ep)
            if found is None:
                self._stop(ep)
                raise Refused(404, "modal-http: app for invoked server is stopped")
            fn = found[0]
            ep.server_name = fn.tag
            spec = self.spec(fn, "server")
            c = ep.container
            if c is not None and (c.spec.key != spec.key or c.proc.poll() is not None):
                self._stop(ep)
            if ep.container is not None:
                return ep.container
            if ep.starting is None or not ep.starting.is_alive():
                ep.start_error = None
                ep.starting = threading.Thread(target=self._start_server_bg, args=(ep, spec), daemon=True)
                ep.starting.start()
        raise Refused(503, "modal-http: no container is up for this Server yet; one is starting (retry)")

    def _start_server_bg(self, ep: Endpoint, spec: ContainerSpec) -> None:
        try:
            c = self._start_web(spec)
        except Refused as r:
            ep.start_error = r.text
            self._record_start(ep, ok=False)
            return
        except PortTaken:
            ep.start_error = f"modal-http: the Server's port {spec.port} is taken by another process"
            self._record_start(ep, ok=False)
            return
        with ep.lock:
            ep.container = c
            ep.starts += 1
        self._record_start(ep, ok=True)
        self._count(spec.function_id, +1)
        self._collect_logs(c)

    def wait_until_up(self, url: str, limit: float = START_LIMIT_S) -> Container:
        """Tests: wait for a Modal Server's container (bounds a hang only)."""
        ep = next(e for e in self.endpoints.values() if e.url == url)
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if ep.container is not None:
                return ep.container
            if ep.start_error:
                raise AssertionError(ep.start_error)
            time.sleep(0.05)
        raise AssertionError(f"no container came up for {url}")

    def _stop(self, ep: Endpoint) -> None:
        if ep.container is not None:
            c, ep.container = ep.container, None
            c.stop()
            self._count(c.spec.function_id, -1)
            self._collect_logs(c)

    def _record_start(self, ep: Endpoint, ok: bool) -> None:
        """Modal's Server statistics count container starts and start errors."""
        with self.state.lock:
            self.state.server_container_starts.setdefault(ep.server_name or "Ollama", []).append((self.state.clock(), ok))

    def _count(self, function_id: str, delta: int) -> None:
        """Modal counts a function's containers (FunctionGetCurrentStats)."""
        with self.state.lock:
            fn = self.state.functions.get(function_id)
            if fn is not None:
                fn.running = max(0, fn.running + delta)

    def _capture(self, c: Container) -> None:
        """What a container prints becomes the app's logs as it is printed, each line with the
        time it arrived and its source (stdout/stderr), like Modal's log collection; the lines
        also go to the container's log file (``Container.output``)."""
        if getattr(c.proc, "stdout", None) is None:  # forked: the output goes to the log file
            t = threading.Thread(target=self._follow, args=(c,), name=f"logs-{c.task_id}", daemon=True)
            t.start()
            c.readers.append(t)
            return
        lock = threading.Lock()
        c.log.parent.mkdir(parents=True, exist_ok=True)
        out = c.log.open("wb")
        open_pipes = [2]
        spec = c.spec

        def pump(pipe, fd: int) -> None:  # noqa: ANN001 - a pipe of the process
            with pipe:
                for raw in iter(pipe.readline, b""):
                    now = self.state.clock()  # when Modal received the line, on its clock
                    with lock:
                        out.write(raw)
                        out.flush()
                    text = raw.decode("utf-8", "replace").rstrip("\n")
                    if text.strip():
                        self.state.add_log(spec.app_id, text, now, fd, spec.function_id, c.task_id)
            with lock:
                open_pipes[0] -= 1
                if not open_pipes[0]:
                    out.close()

        for pipe, fd in ((c.proc.stdout, api_pb2.FILE_DESCRIPTOR_STDOUT), (c.proc.stderr, api_pb2.FILE_DESCRIPTOR_STDERR)):
            t = threading.Thread(target=pump, args=(pipe, fd), name=f"logs-{c.task_id}", daemon=True)
            t.start()
            c.readers.append(t)

    def _follow(self, c: Container) -> None:
        """A forked container's log file, line by line as it grows, until the process ended and
        the file is drained: each line becomes an app log line stamped when it was read (the
        file merges stdout and stderr, so every line counts as stdout)."""
        spec = c.spec
        while not c.log.exists() and c.proc.poll() is None:
            time.sleep(0.02)
        pending = b""
        with c.log.open("rb") as f:
            while True:
                ended = c.proc.poll() is not None
                chunk = f.read()
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    now = self.state.clock()
                    for raw in lines:
                        text = raw.decode("utf-8", "replace")
                        if text.strip():
                            self.state.add_log(spec.app_id, text, now, api_pb2.FILE_DESCRIPTOR_STDOUT, spec.function_id, c.task_id)
                elif ended:
                    break
                else:
                    time.sleep(0.02)
        if pending.strip():
            self.state.add_log(spec.app_id, pending.decode("utf-8", "replace"), self.state.clock(),
                               api_pb2.FILE_DESCRIPTOR_STDOUT, spec.function_id, c.task_id)

    def _collect_logs(self, c: Container) -> None:
        """Wait (briefly) until what a stopped container printed has been taken in."""
        if c.proc.poll() is not None:
            for t in c.readers:
                t.join(5)

    def app_stopped(self, app: Any) -> None:
        """Modal stops an app's containers when the app stops."""
        for ep in list(self.endpoints.values()):
            with ep.lock:
                if ep.container is not None and ep.container.spec.app_id == app.app_id:
                    self._stop(ep)

    def scale_down_idle(self, fn: FunctionRecord) -> None:
        """Containers idle for longer than the scaledown window go, down to min_containers
        (evaluated when Modal is asked for the count; windows of minutes never pass in a test)."""
        with self.state.lock:
            settings = fn.effective_settings()
        for ep in list(self.endpoints.values()):
            with ep.lock:
                c = ep.container
                if c is None or c.spec.function_id != fn.function_id or ep.inflight or settings.min_containers > 0:
                    continue
                if time.monotonic() - ep.last_used > settings.scaledown_window:
                    self._stop(ep)

    def scale_to_zero(self) -> None:
        """Every container goes away (what an elapsed scaledown_window does); URLs stay."""
        for ep in list(self.endpoints.values()):
            with ep.lock:
                self._stop(ep)

    def running(self) -> list[Container]:
        return [ep.container for ep in self.endpoints.values() if ep.container is not None and ep.container.proc.poll() is None]

    def close(self) -> None:
        self.scale_to_zero()
        for ep in self.endpoints.values():
            if ep.server is not None:
                ep.server.should_exit = True
        for ep in self.endpoints.values():
            if ep.thread is not None:
                ep.thread.join(10)
            if ep.sock is not None:
                ep.sock.close()
        if self._zygote is not None:
            self._zygote.close()
        self.state.web_url_hook = None
        self.state.server_url_hook = None
        self.state.run_function = None
        self.state.on_app_stop = None
        self.state.before_stats = None

    # -- what a container is, from the records -----------------------------------------
    def spec(self, fn: FunctionRecord, mode: str, method: str = "") -> ContainerSpec:
        with self.state.lock:
            d = fn.definition
            assert d is not None, f"function {fn.tag} was never created"
            files: list[tuple[str, str]] = []
            for mid in d.mount_ids:
                files += self.state.mount_files.get(mid, [])
            env = self._image_env(d.image_id)
            for sid in d.secret_ids:
                env.update(self._secret_env(sid))
            volumes: dict[str, Path] = {}
            for vm in d.volume_mounts:
                vol = self.state.volume_by_id(vm.volume_id)
                assert vol is not None, f"volume {vm.volume_id} unknown"
                if vol.local_dir is None:
                    vol.local_dir = self.workdir / "volumes" / f"{vol.environment}--{vol.name}"
                    vol.local_dir.mkdir(parents=True, exist_ok=True)
                volumes[vm.mount_path] = vol.local_dir
            key = hashlib.sha256(fn.function_id.encode() + d.SerializeToString(deterministic=True)).hexdigest()[:16]
            snapshot = bool(d.checkpointing_enabled or d.is_checkpointing_function)
            server_port = d.http_config.port if d.is_server else 0
            cap = d.max_concurrent_inputs if d.is_server else 0
        cls_name, _, _ = d.function_name.partition(".")
        return ContainerSpec(
            mode=mode,
            module=d.module_name,
            target=cls_name if mode in ("web", "server") else d.function_name,
            method=method,
            files=files,
            env=env,
            volumes=volumes,
            snapshot=snapshot,
            key=key,
            port=server_port,
            max_concurrency=cap,
            function_id=fn.function_id,
            app_id=fn.app_id,
        )

    def _image_env(self, image_id: str) -> dict[str, str]:
        chain = []
        while image_id:
            img = self.state.images.get(image_id)
            if img is None:
                break
            chain.append(img)
            image_id = img.base_images[0].image_id if img.base_images else ""
        env: dict[str, str] = {}
        for img in reversed(chain):
            for cmd in img.dockerfile_commands:
                if cmd.startswith("ENV "):
                    k, _, v = cmd[4:].partition("=")
                    env[k.strip()] = " ".join(shlex.split(v))
        return env

    def _secret_env(self, secret_id: str) -> dict[str, str]:
        for rec in [*self.state.secrets.values(), *self.state.anonymous_secrets.values()]:
            if rec.secret_id == secret_id:
                return dict(rec.env_dict)
        raise AssertionError(f"secret {secret_id} unknown")

    # -- starting containers -------------------------------------------------------------
    def _layout(self, spec: ContainerSpec) -> tuple[Path, Path]:
        with self._lock:
            self._n += 1
            n = self._n
        root = self.workdir / "containers" / f"{n:03d}-{spec.target.lower()}"
        for remote, sha in spec.files:
            dest = root / remote.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(self.state.blob_data[sha])
        home = root / "root"  # Modal's working directory; add_local_python_source puts packages there
        home.mkdir(parents=True, exist_ok=True)
        return root, home

    def _process_env(self, spec: ContainerSpec, env: dict[str, str], home: Path, ollama_port: int) -> dict[str, str]:
        out = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
        out.update(env)
        for key, value in list(out.items()):  # mount the volumes where the environment names them
            for mount, local in spec.volumes.items():
                if value == mount or value.startswith(mount.rstrip("/") + "/"):
                    out[key] = str(local) + value[len(mount.rstrip("/")):]
        out.update(self.ollama_env)
        out.update(
            {
                "HOME": str(home),
                "PYTHONPATH": str(home),
                "PYTHONUNBUFFERED": "1",
                "OMC_OLLAMA_BIN": f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_OLLAMA))}",
                "OLLAMA_HOST": f"127.0.0.1:{ollama_port}",
                "MODAL_SERVER_URL": self.server.url,
                "MODAL_TOKEN_ID": "ak-container",
                "MODAL_TOKEN_SECRET": "as-container",
                "FAKE_CONTAINER_MODULE": spec.module,
            }
        )
        return out

    def _start_web(self, spec: ContainerSpec) -> Container:
        """A web function's container (uvicorn serves its ASGI app on a free port) or a Modal
        Server's (its own code listens on the Server's port): up once the port accepts."""
        root, home = self._layout(spec)
        port = spec.port if spec.mode == "server" else free_port()
        env = dict(spec.env)
        restore: dict[str, str] | None = None
        if spec.snapshot:
            if spec.key in self.snapshots:  # restored from the snapshot the first container took
                restore, env = env, {**env, **self.snapshots[spec.key]}
            else:
                self.snapshots[spec.key] = dict(env)
        penv = self._process_env(spec, env, home, free_port())
        ready = root / "entered"
        penv.update(FAKE_CONTAINER_MODE=spec.mode, FAKE_CONTAINER_CLASS=spec.target, FAKE_CONTAINER_METHOD=spec.method,
                    FAKE_CONTAINER_PORT=str(port), FAKE_CONTAINER_READY=str(ready))
        if restore is not None:
            penv["FAKE_CONTAINER_RESTORE_ENV"] = json.dumps(restore)
        log = root / "container.log"
        proc = self._spawn(home, penv, log, pipes=True)
        c = Container(spec, proc, port, root, log)
        self._capture(c)
        end = time.monotonic() + START_LIMIT_S
        while True:
            if proc.poll() is not None:
                self._collect_logs(c)
                if "Address already in use" in c.output(lines=200):
                    raise PortTaken()
                raise Refused(503, f"modal-http: the container exited during startup (code {proc.returncode}):\n{c.output()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    # A Server routes only once @modal.enter has returned, not when the port opens.
                    if spec.mode != "server" or ready.exists():
                        return c
            except OSError:
                pass
            if time.monotonic() > end:
                c.stop()
                raise Refused(503, f"modal-http: the container did not start:\n{c.output()}")
            time.sleep(0.05)

    def run_function(self, fn: FunctionRecord, args: tuple, kwargs: dict) -> Any:
        """A remote call: a one-shot container runs the function; its result or failure comes back."""
        spec = self.spec(fn, "call")
        root, home = self._layout(spec)
        penv = self._process_env(spec, spec.env, home, free_port())
        inp, outp = root / "input.pkl", root / "output.pkl"
        inp.write_bytes(pickle.dumps((args, kwargs)))
        penv.update(FAKE_CONTAINER_MODE="call", FAKE_CONTAINER_FUNCTION=spec.target, FAKE_CONTAINER_INPUT=str(inp), FAKE_CONTAINER_OUTPUT=str(outp))
        log = root / "container.log"
        proc = self._spawn(home, penv, log)
        try:
            proc.wait(300)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        for local in spec.volumes.values():
            with self.state.lock:
                for vol in self.state.volumes.values():
                    if vol.local_dir == local:
                        vol.refresh()
        if not outp.exists():
            raise RuntimeError(f"container exited with code {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        status, value = pickle.loads(outp.read_bytes())
        if status != "ok":
            raise RuntimeError(value)
        return value

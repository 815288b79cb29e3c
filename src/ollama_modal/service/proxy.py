"""The authenticating reverse proxy in front of ``ollama serve`` (a Starlette ASGI app).

Only inference and read-only endpoints pass; model-changing ones are refused (the store is
shared and filled by ``omc deploy``). Responses stream through chunk by chunk; when the
caller goes away the upstream response is closed so Ollama stops generating.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .auth import KeyChecker
from .names import model_matches
from .settings import AUTH_BEARER, ServiceSettings

ALLOWED_PATHS = frozenset({
    "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models",
    "/api/chat", "/api/generate", "/api/embed", "/api/embeddings",
    "/api/tags", "/api/ps", "/api/version", "/api/show",
})
ALLOWED_PREFIXES = ("/v1/models/",)
BLOCKED_PATHS = frozenset({"/api/pull", "/api/push", "/api/delete", "/api/create", "/api/copy", "/api/blobs"})
BLOCKED_PREFIXES = ("/api/blobs/",)

# RFC 9110 hop-by-hop headers (plus any a Connection header names); never forwarded.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# Also dropped on the way in: Host (Ollama refuses non-local ones; httpx sets the upstream's),
# the caller's key, and the length (recomputed for the body we send).
DROP_REQUEST = HOP_BY_HOP | {"host", "authorization", "content-length", "expect"}
HEALTH_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 10.0


class ChildStatus(Protocol):
    @property
    def alive(self) -> bool: ...

    def exit_reason(self) -> str: ...


def classify(path: str) -> str:
    """'allow', 'block' or 'unknown' for a request path."""
    if path in ALLOWED_PATHS or (path.startswith(ALLOWED_PREFIXES) and len(path) > len("/v1/models/")):
        return "allow"
    if path in BLOCKED_PATHS or path.startswith(BLOCKED_PREFIXES):
        return "block"
    return "unknown"


def error_body(message: str, code: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    """OpenAI's error shape; the ollama client shows it too (it reads the ``error`` key)."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _log(line: str) -> None:
    sys.stderr.write(f"omc-proxy: {line}\n")
    sys.stderr.flush()


class _Upstream:
    """The one shared AsyncClient, created lazily (ASGI servers may skip the lifespan)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.base = settings.upstream_url
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base,
                timeout=httpx.Timeout(self.settings.request_timeout, connect=min(CONNECT_TIMEOUT_S, self.settings.request_timeout)),
                # Concurrency is bounded by Modal's max_inputs; never queue in our own pool.
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                follow_redirects=False,
                verify=False,  # plain HTTP to loopback: no CA bundle to load
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class _Proxy:
    """Raw ASGI handler for everything that is not /healthz or /readyz."""

    def __init__(self, upstream: _Upstream, child: ChildStatus | None, keys: KeyChecker | None) -> None:
        self.upstream = upstream
        self.child = child
        self.keys = keys

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        if self.keys is not None:
            auth = next((v for k, v in headers if k == "authorization"), None)
            if not self.keys.check(auth):
                msg = "Missing API key: send 'Authorization: Bearer <key>'" if auth is None else "Invalid API key"
                await _json(send, 401, error_body(msg, "invalid_api_key"), [(b"www-authenticate", b"Bearer")])
                return
        path = scope["path"]
        kind = classify(path)
        if kind == "block":
            await _json(send, 403, error_body(
                f"{path} is disabled on this endpoint: models are managed by omc (change the profile and run `omc deploy`)",
                "endpoint_blocked", "permission_error"))
            return
        if kind == "unknown":
            await _json(send, 404, error_body(f"{path} is not an endpoint of this server", "not_found"))
            return
        await self._forward(scope, receive, send, headers)

    async def _forward(self, scope: dict[str, Any], receive: Any, send: Any, headers: list[tuple[str, str]]) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the caller left before sending its request
        named = {t.strip().lower() for k, v in headers if k == "connection" for t in v.split(",")}
        out = [(k, v) for k, v in headers if k not in DROP_REQUEST and k not in named]
        if not any(k == "accept-encoding" for k, _ in out):
            out.append(("accept-encoding", "identity"))  # we relay raw bytes: no surprise compression
        target = scope.get("raw_path") or scope["path"].encode()
        url = target.decode("latin-1") + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
        client = self.upstream.client
        request = client.build_request(scope["method"], url, headers=out, content=body)
        call = _Call(send)
        async with anyio.create_task_group() as tg:
            # From here on a caller that leaves cancels the upstream request, also while
            # Ollama is still working on a non-streamed answer.
            tg.start_soon(call.watch_disconnect, receive, tg.cancel_scope)
            try:
                await self._exchange(scope, client, request, call)
            finally:
                tg.cancel_scope.cancel()
        if call.disconnected:
            _log(f"client disconnected from {scope['path']} mid-request; closed the upstream request")

    async def _exchange(self, scope: dict[str, Any], client: httpx.AsyncClient, request: httpx.Request, call: _Call) -> None:
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException:
            await call.error(504, error_body("Ollama did not answer in time", "upstream_timeout", "server_error"))
            return
        except httpx.TransportError as e:
            reason = self.child.exit_reason() if (self.child is not None and not self.child.alive) else type(e).__name__
            _log(f"upstream unreachable for {scope['path']}: {reason}")
            await call.error(502, error_body(f"Ollama is unreachable: {reason}", "upstream_unavailable", "server_error"))
            return
        try:
            await call.relay(response)
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()  # closing mid-stream tells Ollama to stop generating


class _Call:
    """One proxied exchange: relays the response and notices a caller that leaves."""

    def __init__(self, send: Any) -> None:
        self.send = send
        self.finished = False
        self.disconnected = False

    async def watch_disconnect(self, receive: Any, scope: anyio.CancelScope) -> None:
        # Servers on ASGI spec < 2.4 (and Modal) report a gone client only through receive().
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.finished:  # after the last chunk, receive() returning disconnect is normal
            self.disconnected = True
            scope.cancel()

    async def error(self, status: int, body: dict[str, Any]) -> None:
        self.finished = True
        await _json(self.send, status, body)

    async def relay(self, response: httpx.Response) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        send = self.send
        try:
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.finished = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            self.disconnected = True  # servers on spec 2.4 report a gone client by failing send()
        except httpx.TransportError as e:
            _log(f"upstream stream broke midway: {type(e).__name__}")
            raise


async def _read_body(receive: Any) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _json(send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> None:
    response = JSONResponse(body, status_code=status)
    response.raw_headers.extend(extra or [])
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> dict[str, Any]:  # JSONResponse never reads; present for the signature
    return {"type": "http.disconnect"}


def create_app(settings: ServiceSettings, supervisor: ChildStatus | None = None, keys: KeyChecker | None = None) -> Starlette:
    """The proxy app. ``supervisor`` reports whether ``ollama serve`` is alive (None: ask it).
    ``keys``: the checker to use for bearer auth, shared with its owner so that it can replace
    the keys while the app serves (None: one built from ``settings``)."""
    settings.check_serving()  # bearer without a key is refused here too, not served open
    if settings.auth == AUTH_BEARER and keys is None:
        keys = KeyChecker(settings.api_keys)
    elif settings.auth != AUTH_BEARER:
        keys = None
    upstream = _Upstream(settings)
    model = settings.model

    async def healthz(request: Request) -> JSONResponse:
        if supervisor is not None:
            if supervisor.alive:
                return JSONResponse({"status": "ok"})
            return JSONResponse({"status": "down", "reason": supervisor.exit_reason()}, status_code=503)
        try:
            r = await upstream.client.get("/api/version", timeout=HEALTH_TIMEOUT_S)
            r.raise_for_status()
        except httpx.HTTPError as e:
            return JSONResponse({"status": "down", "reason": f"ollama serve does not answer ({type(e).__name__})"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        if supervisor is not None and not supervisor.alive:
            return JSONResponse({"ready": False, "model": model, "reason": supervisor.exit_reason()}, status_code=503)
        client = upstream.client
        try:
            ps, version = await asyncio.gather(
                client.get("/api/ps", timeout=HEALTH_TIMEOUT_S), client.get("/api/version", timeout=HEALTH_TIMEOUT_S)
            )
            loaded = ps.raise_for_status().json().get("models") or []
            ollama_version = version.raise_for_status().json().get("version")
        except httpx.TimeoutException:
            return JSONResponse({"ready": False, "model": model, "reason": f"ollama serve did not answer within {HEALTH_TIMEOUT_S:g} s"}, status_code=503)
        except (httpx.HTTPError, ValueError) as e:
            return JSONResponse({"ready": False, "model": model, "reason": f"ollama serve did not answer ({type(e).__name__})"}, status_code=503)
        entry = next((m for m in loaded if model_matches(m.get("name") or m.get("model", ""), model)), None)
        if entry is None:
            return JSONResponse({"ready": False, "model": model, "reason": f"model {model} is not loaded"}, status_code=503)
        return JSONResponse({"ready": True, "model": model, "size_vram": entry.get("size_vram"), "ollama_version": ollama_version})

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        await upstream.aclose()

    routes = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/{path:path}", _Proxy(upstream, supervisor, keys)),
    ]
    return Starlette(routes=routes, lifespan=lifespan)

"""The authenticating reverse proxy in front of ``ollama serve`` (a raw ASGI app).

Every request but ``/healthz`` and ``/readyz`` needs a key (``auth = "bearer"``). Its target
is then reduced to one canonical path (:mod:`.routes`), which alone decides against the
allow-list and is exactly what is forwarded. Bodies stream to Ollama under a size limit;
responses stream back chunk by chunk; when the caller goes away the upstream request is
closed so Ollama stops generating. A request that fails on a pooled connection before any
response byte arrived is sent once more on a fresh connection, if its body can be replayed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import anyio
import httpx
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse

from .auth import KeyChecker
from .names import model_matches
from .requestlog import RequestLog
from .routes import ALLOWED_METHODS, TargetError, canonical_target, decide
from .settings import AUTH_BEARER, ServiceSettings

HEALTH_PATHS = (b"/healthz", b"/readyz")
HEALTH_METHODS = ("GET", "HEAD")

# RFC 9110 hop-by-hop headers (plus any a Connection header names); never forwarded.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# Also dropped on the way in: Host (Ollama refuses non-local ones; httpx sets the upstream's),
# anything that may carry a credential (ours, Anthropic clients' x-api-key, Modal's proxy-auth
# pair), and the length (set again for the body we send).
DROP_REQUEST = HOP_BY_HOP | {"host", "authorization", "x-api-key", "modal-key", "modal-secret", "content-length", "expect"}
HEALTH_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 10.0
# A body up to this size is kept while it streams, so a request that meets a stale pooled
# connection can be sent again; a larger one is streamed without a copy and not retried.
REPLAY_LIMIT = 1024 * 1024
# Headers a browser client may send on a cross-origin call (OpenAI's and Anthropic's SDKs).
CORS_HEADERS = (
    "Authorization", "Content-Type", "Accept", "User-Agent", "X-Requested-With", "OpenAI-Beta",
    "OpenAI-Organization", "OpenAI-Project", "anthropic-version", "anthropic-beta",
    "anthropic-dangerous-direct-browser-access", "x-stainless-arch", "x-stainless-async",
    "x-stainless-helper-method", "x-stainless-lang", "x-stainless-os", "x-stainless-package-version",
    "x-stainless-retry-count", "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-timeout",
)
# Upstream failures that mean "no answer at all on this connection", typically a pooled
# connection the server had already closed (llama.cpp closes after each streamed response
# while advertising keep-alive; a request sent into the closing socket gets no response).
STALE_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def _no_response(e: Exception) -> bool:
    """True when ``e`` ended the exchange before a response head arrived."""
    if isinstance(e, httpx.RemoteProtocolError):
        return "without sending a response" in str(e)  # httpcore's words for "closed, no head"
    return isinstance(e, (httpx.ReadError, httpx.WriteError))


class ChildStatus(Protocol):
    @property
    def alive(self) -> bool: ...

    def exit_reason(self) -> str: ...


class BodyTooLarge(Exception):
    pass


def error_body(message: str, code: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    """OpenAI's error shape; the ollama client shows it too (it reads the ``error`` key)."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _log(line: str) -> None:
    sys.stderr.write(f"omc-proxy: {line}\n")
    sys.stderr.flush()


def _no_cookies() -> CookieJar:
    # A jar that stores nothing: a Set-Cookie from Ollama on one caller's request must never
    # ride along on another caller's request.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class _Upstream:
    """The pooled AsyncClient, and a no-keep-alive one for retries; created lazily (ASGI
    servers may skip the lifespan)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.base = httpx.URL(settings.upstream_url)
        self._client: httpx.AsyncClient | None = None
        self._fresh: httpx.AsyncClient | None = None

    def _make(self, keepalive: int) -> httpx.AsyncClient:
        timeout = self.settings.request_timeout
        return httpx.AsyncClient(
            base_url=self.base,
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)),
            # Concurrency is bounded by Modal's max_inputs; never queue in our own pool.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=keepalive),
            follow_redirects=False,
            cookies=_no_cookies(),
            trust_env=False,  # no proxy variables: Ollama is on loopback
            verify=False,  # plain HTTP to loopback: no CA bundle to load
        )

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._make(64)
        return self._client

    @property
    def fresh(self) -> httpx.AsyncClient:
        """Every request on a new connection, closed after the answer."""
        if self._fresh is None:
            self._fresh = self._make(0)
        return self._fresh

    async def aclose(self) -> None:
        for client in (self._client, self._fresh):
            if client is not None:
                await client.aclose()
        self._client = self._fresh = None


class ProxyApp:
    """The whole service as one ASGI app: health endpoints, key check, allow-list, forwarding."""

    def __init__(self, settings: ServiceSettings, supervisor: ChildStatus | None = None, keys: KeyChecker | None = None) -> None:
        settings.check_serving()  # bearer without a key is refused here too, not served open
        self.settings = settings
        self.upstream = _Upstream(settings)
        self.child = supervisor
        if settings.auth != AUTH_BEARER:
            keys = None
        elif keys is None:
            keys = KeyChecker(settings.api_keys)
        self.keys = keys

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets: nothing here speaks them
            await send({"type": "websocket.close", "code": 1008})
            return
        raw_path = scope.get("raw_path")
        exact = raw_path if raw_path is not None else scope["path"].encode("utf-8", "surrogateescape")
        if exact in HEALTH_PATHS:
            await self._health(scope, send, exact)
            return
        headers = [(k.lower(), v) for k, v in scope["headers"]]
        if self.keys is not None:
            auth = next((v for k, v in headers if k == b"authorization"), None)
            if not self.keys.check(None if auth is None else auth.decode("latin-1")):
                msg = "Missing API key: send 'Authorization: Bearer <key>'" if auth is None else "Invalid API key"
                await _json(send, 401, error_body(msg, "invalid_api_key"), [(b"www-authenticate", b"Bearer")])
                return
        try:
            target = canonical_target(exact, decoded=raw_path is None)
        except TargetError as e:
            await _json(send, e.status, error_body(str(e), "invalid_path"))
            return
        method = scope["method"]
        decision = decide(method, target.path)
        if decision.verdict == "block":
            await _json(send, 403, error_body(
                f"{target.path} is disabled on this endpoint: models are managed by omc (change the profile and run `omc deploy`)",
                "endpoint_blocked", "permission_error"))
            return
        if decision.verdict == "unknown":
            await _json(send, 404, error_body(f"{target.path} is not an endpoint of this server", "not_found"))
            return
        if decision.verdict == "method":
            allow = ", ".join(decision.allow)
            await _json(send, 405, error_body(f"{method} is not allowed on {target.path}; use {allow}", "method_not_allowed"),
                        [(b"allow", allow.encode())])
            return
        await self._forward(scope, receive, send, headers, target.raw)

    # -- health ---------------------------------------------------------------------------
    async def _health(self, scope: dict[str, Any], send: Any, path: bytes) -> None:
        if scope["method"] not in HEALTH_METHODS:
            allow = ", ".join(HEALTH_METHODS)
            await _json(send, 405, error_body(f"{scope['method']} is not allowed on {path.decode()}; use {allow}", "method_not_allowed"),
                        [(b"allow", allow.encode())])
            return
        status, body = await (self._healthz() if path == b"/healthz" else self._readyz())
        await _json(send, status, body)

    async def _healthz(self) -> tuple[int, dict[str, Any]]:
        if self.child is not None:
            if self.child.alive:
                return 200, {"status": "ok"}
            return 503, {"status": "down", "reason": self.child.exit_reason()}
        try:
            r = await self.upstream.client.get("/api/version", timeout=HEALTH_TIMEOUT_S)
            r.raise_for_status()
        except httpx.HTTPError as e:
            return 503, {"status": "down", "reason": f"ollama serve does not answer ({type(e).__name__})"}
        return 200, {"status": "ok"}

    async def _readyz(self) -> tuple[int, dict[str, Any]]:
        model = self.settings.model

        def down(reason: str, state: str = "loading") -> tuple[int, dict[str, Any]]:
            # state: "loading" (ask again: `ollama serve` is busy or the model is not loaded yet)
            # or "down" (`ollama serve` exited: this container is going away).
            return 503, {"ready": False, "model": model, "reason": reason, "state": state}

        if self.child is not None and not self.child.alive:
            return down(self.child.exit_reason(), "down")
        client = self.upstream.client
        try:
            ps, version = await asyncio.gather(
                client.get("/api/ps", timeout=HEALTH_TIMEOUT_S), client.get("/api/version", timeout=HEALTH_TIMEOUT_S)
            )
            ps_data = ps.raise_for_status().json()
            version_data = version.raise_for_status().json()
        except httpx.TimeoutException:
            return down(f"ollama serve did not answer within {HEALTH_TIMEOUT_S:g} s")
        except Exception as e:  # any failure or non-JSON answer means "not ready", never a 500
            return down(f"ollama serve did not answer ({type(e).__name__})")
        loaded = ps_data.get("models") if isinstance(ps_data, dict) else None
        if loaded is None and isinstance(ps_data, dict):
            loaded = []
        if not isinstance(loaded, list):
            return down("ollama serve gave an unexpected answer to /api/ps")
        ollama_version = version_data.get("version") if isinstance(version_data, dict) else None
        for entry in loaded:
            if not isinstance(entry, dict):
                continue
            name = entry.get("name") or entry.get("model")
            if isinstance(name, str) and model_matches(name, model):
                size = entry.get("size_vram")
                return 200, {
                    "ready": True, "model": model,
                    "size_vram": size if isinstance(size, int) else None,
                    "ollama_version": ollama_version if isinstance(ollama_version, str) else None,
                }
        return down(f"model {model} is not loaded")

    # -- forwarding -----------------------------------------------------------------------
    async def _forward(self, scope: dict[str, Any], receive: Any, send: Any, headers: list[tuple[bytes, bytes]], raw: bytes) -> None:
        limit = self.settings.max_body_bytes
        length = _content_length(headers)
        if length is not None and length > limit:
            await _json(send, 413, _too_large(limit))
            return
        first = await receive()
        if first["type"] == "http.disconnect":
            return  # the caller left before sending its request
        body = _Body(first, length, limit, receive)
        if body.too_large:
            await _json(send, 413, _too_large(limit))
            return
        named = {t.strip().lower() for k, v in headers if k == b"connection" for t in v.decode("latin-1").split(",")}
        out = [(k, v) for k, v in headers if k.decode("latin-1") not in DROP_REQUEST and k.decode("latin-1") not in named]
        if not any(k == b"accept-encoding" for k, _ in out):
            out.append((b"accept-encoding", b"identity"))  # we relay raw bytes: no surprise compression
        if body.length is not None:
            out.append((b"content-length", str(body.length).encode()))
        query = scope.get("query_string") or b""
        url = self.upstream.base.copy_with(raw_path=raw + (b"?" + query if query else b""))
        if url.raw_path.partition(b"?")[0] != raw:  # the canonical path is what is sent, or nothing is
            await _json(send, 400, error_body("the request target cannot be forwarded unchanged", "invalid_path"))
            return
        call = _Call(send, body)
        async with anyio.create_task_group() as tg:
            # From here on a caller that leaves cancels the upstream request, also while
            # Ollama is still working on a non-streamed answer.
            tg.start_soon(call.pump, tg.cancel_scope)
            try:
                await self._exchange(scope, url, out, call, raw)
            finally:
                tg.cancel_scope.cancel()
        if call.disconnected:
            _log(f"client disconnected from {raw.decode()} mid-request; closed the upstream request")

    async def _exchange(self, scope: dict[str, Any], url: httpx.URL, headers: list[tuple[bytes, bytes]], call: _Call, raw: bytes) -> None:
        attempt = 0
        while True:
            client = self.upstream.client if attempt == 0 else self.upstream.fresh
            request = client.build_request(scope["method"], url, headers=headers, content=call.body.content())
            try:
                response = await client.send(request, stream=True)
                break
            except BodyTooLarge:
                await call.error(413, _too_large(self.settings.max_body_bytes))
                return
            except httpx.TimeoutException:
                await call.error(504, error_body("Ollama did not answer in time", "upstream_timeout", "server_error"))
                return
            except STALE_CONNECTION_ERRORS as e:
                if attempt == 0 and call.body.replayable and _no_response(e):
                    attempt += 1
                    _log(f"upstream connection failed before answering {raw.decode()} ({type(e).__name__}); retrying on a fresh connection")
                    continue
                await self._unreachable(call, raw, e)
                return
            except httpx.TransportError as e:
                await self._unreachable(call, raw, e)
                return
        try:
            await call.relay(response)
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()  # closing mid-stream tells Ollama to stop generating

    async def _unreachable(self, call: _Call, raw: bytes, e: Exception) -> None:
        reason = self.child.exit_reason() if (self.child is not None and not self.child.alive) else type(e).__name__
        _log(f"upstream unreachable for {raw.decode()}: {reason}")
        await call.error(502, error_body(f"Ollama is unreachable: {reason}", "upstream_unavailable", "server_error"))

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.upstream.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


class _Body:
    """The caller's request body, read from ``receive`` as Ollama's connection takes it.

    At most ``limit`` bytes pass (413 beyond). Up to :data:`REPLAY_LIMIT` bytes are kept so
    the body can be sent again on a fresh connection; a larger body is not kept.
    """

    def __init__(self, first: dict[str, Any], length: int | None, limit: int, receive: Any) -> None:
        chunk = first.get("body", b"")
        self.limit = limit
        self.length = length  # the caller's Content-Length, if it sent one
        self.complete = not first.get("more_body", False)
        self.received = len(chunk)
        self.kept: list[bytes] | None = [chunk]
        self.consumed = False  # a content() iterator has taken chunks from the caller
        self._receive = receive
        self._chunks: anyio.abc.ObjectReceiveStream[bytes] | None = None
        if self.complete:
            self.length = len(chunk)  # the whole body is here: send it with its length

    @property
    def too_large(self) -> bool:
        return self.received > self.limit

    @property
    def replayable(self) -> bool:
        return self.kept is not None

    def content(self) -> bytes | AsyncIterator[bytes]:
        if self.complete and self.kept is not None:
            return b"".join(self.kept)
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        if self.kept is not None:
            for chunk in list(self.kept):
                yield chunk
        elif self.consumed:
            raise RuntimeError("the request body was already sent and not kept")
        self.consumed = True
        assert self._chunks is not None
        async for chunk in self._chunks:
            self.received += len(chunk)
            if self.received > self.limit:
                raise BodyTooLarge
            if self.kept is not None:
                if self.received <= REPLAY_LIMIT:
                    self.kept.append(chunk)
                else:
                    self.kept = None
            yield chunk


class _Call:
    """One proxied exchange: owns ``receive`` (body, then disconnect) and relays the response."""

    def __init__(self, send: Any, body: _Body) -> None:
        self.send = send
        self.body = body
        self.finished = False
        self.disconnected = False
        self._tx, body._chunks = anyio.create_memory_object_stream[bytes](1)

    async def pump(self, scope: anyio.CancelScope) -> None:
        # Servers on ASGI spec < 2.4 (and Modal) report a gone client only through receive().
        receive = self.body._receive
        async with self._tx:
            more = not self.body.complete
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return self._gone(scope)
                more = message.get("more_body", False)
                await self._tx.send(message.get("body", b""))
        while (await receive())["type"] != "http.disconnect":
            pass
        self._gone(scope)

    def _gone(self, scope: anyio.CancelScope) -> None:
        if not self.finished:  # after the last chunk, receive() returning disconnect is normal
            self.disconnected = True
            scope.cancel()

    async def error(self, status: int, body: dict[str, Any]) -> None:
        self.finished = True
        await _json(self.send, status, body)

    async def relay(self, response: httpx.Response) -> None:
        headers = [(k, v) for k, v in response.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP]
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


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for k, v in headers:
        if k == b"content-length" and v.strip().isdigit():
            return int(v.strip())
    return None


def _too_large(limit: int) -> dict[str, Any]:
    return error_body(f"the request body is larger than this endpoint accepts ({limit} bytes; server.max_body_bytes)", "body_too_large")


async def _json(send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> None:
    response = JSONResponse(body, status_code=status)
    response.raw_headers.extend(extra or [])
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> dict[str, Any]:  # JSONResponse never reads; present for the signature
    return {"type": "http.disconnect"}


class _Cors:
    """CORS for the configured origins only: an allowed origin's preflight is answered without
    a key; any other origin gets no CORS headers and is treated like any other caller."""

    def __init__(self, app: ProxyApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        # Never credentials: the key travels in Authorization, which needs no cookie mode.
        self.cors = CORSMiddleware(app, allow_origins=sorted(self.origins), allow_methods=ALLOWED_METHODS,
                                   allow_headers=CORS_HEADERS, allow_credentials=False, max_age=600)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and Headers(scope=scope).get("origin") in self.origins:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(settings: ServiceSettings, supervisor: ChildStatus | None = None, keys: KeyChecker | None = None,
               request_log: Callable[[str], None] | None = None) -> Any:
    """The proxy app. ``supervisor`` reports whether ``ollama serve`` is alive (None: ask it).
    ``keys``: the checker to use for bearer auth, shared with its owner so that it can replace
    the keys while the app serves (None: one built from ``settings``). Every request is
    logged as one :mod:`.requestlog` line, on stdout unless ``request_log`` takes the lines.

    The upstream is ``settings.upstream_url`` (from ``OLLAMA_HOST``): any server that speaks
    Ollama's or OpenAI's HTTP API can sit behind it.
    """
    app = ProxyApp(settings, supervisor, keys)
    served = _Cors(app, settings.cors_origins) if settings.cors_origins else app
    return RequestLog(served, emit=request_log)

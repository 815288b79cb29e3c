"""The run's connection pool: one connection per worker, with socket-level timestamps.

Two things would otherwise blur the figures at high concurrency:

- httpcore's pool rescans every connection (quadratically) whenever a request starts or
  ends; at 64 streams that CPU lands in the event loop just when a batch of tokens arrives.
  So the client's transport is made of lanes: one single-connection pool per worker,
  picked by a context variable the worker sets. The pool still holds as many connections
  as the concurrency.
- A task resumes after every other ready task has run, so ``perf_counter`` taken there is
  late by the client's own queue. The network backend below stamps bytes in
  ``data_received`` (when the event loop reads the socket) and requests when their bytes
  are handed to the kernel, and exposes those times on a per-lane ``Clock``.

Behind an HTTP proxy from the environment the plain httpx transport is used instead
(its timestamps are taken when tasks resume).
"""

from __future__ import annotations

import asyncio
import contextvars
import select
import time
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

lane: contextvars.ContextVar[int] = contextvars.ContextVar("omc_bench_lane", default=0)


@dataclass
class Clock:
    """Socket-level times (perf_counter_ns) of one lane's connection."""

    arrival_ns: int = 0  # when the bytes last returned by a read reached the event loop
    write_ns: int = 0  # when bytes were last handed to the kernel


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[tuple[int, bytes]] = deque()
        self.readable = asyncio.Event()
        self.eof = False
        self.error: BaseException | None = None
        self.can_write = asyncio.Event()
        self.can_write.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.perf_counter_ns(), data))
        self.readable.set()

    def eof_received(self) -> bool:
        self.eof = True
        self.readable.set()
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof, self.error = True, exc
        self.readable.set()
        self.can_write.set()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()


def _backend(clock: Clock) -> Any:
    import httpcore

    class Stream(httpcore.AsyncNetworkStream):
        def __init__(self, proto: _Protocol, transport: asyncio.Transport) -> None:
            self.proto, self.transport = proto, transport

        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            p = self.proto
            if not p.chunks and not p.eof:
                p.readable.clear()
                try:
                    async with asyncio.timeout(timeout):  # no extra task per read, unlike wait_for
                        await p.readable.wait()
                except TimeoutError:
                    raise httpcore.ReadTimeout("timed out waiting for the server") from None
            if p.chunks:
                at, data = p.chunks.popleft()
                if len(data) > max_bytes:
                    p.chunks.appendleft((at, data[max_bytes:]))
                    data = data[:max_bytes]
                clock.arrival_ns = at
                return data
            if p.error is not None:
                raise httpcore.ReadError(str(p.error) or type(p.error).__name__)
            return b""  # the server closed the connection

        async def write(self, buffer: bytes, timeout: float | None = None) -> None:
            if not buffer:
                return
            if self.transport.is_closing():
                raise httpcore.WriteError("the connection is closed")
            self.transport.write(buffer)
            clock.write_ns = time.perf_counter_ns()
            if not self.proto.can_write.is_set():
                try:
                    async with asyncio.timeout(timeout):
                        await self.proto.can_write.wait()
                except TimeoutError:
                    raise httpcore.WriteTimeout("timed out sending the request") from None

        async def aclose(self) -> None:
            self.transport.close()

        def _kernel_readable(self) -> bool:
            """Whether the socket holds bytes (or the server's FIN) the event loop has not
            read yet: the pool asks just before reusing an idle connection, often before the
            loop ran its read callback. Plain TCP only; under TLS an idle socket may hold a
            session ticket, which says nothing about the connection's end."""
            if self.transport.get_extra_info("ssl_object") is not None:
                return False
            sock = self.transport.get_extra_info("socket")
            if sock is None:
                return False
            return _readable_now(sock.fileno())

        async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                            timeout: float | None = None) -> "Stream":
            loop = asyncio.get_running_loop()
            try:
                tls = await loop.start_tls(self.transport, self.proto, ssl_context,
                                           server_hostname=server_hostname, ssl_handshake_timeout=timeout)
            except (OSError, asyncio.TimeoutError) as e:
                self.transport.close()
                raise httpcore.ConnectError(f"TLS handshake failed: {e}") from None
            self.proto.transport = tls  # type: ignore[assignment]
            return Stream(self.proto, tls)  # type: ignore[arg-type]

        def get_extra_info(self, info: str) -> Any:
            if info == "is_readable":  # an idle connection the server has closed
                return bool(self.proto.chunks) or self.proto.eof or self._kernel_readable()
            return self.transport.get_extra_info({"client_addr": "sockname", "server_addr": "peername"}.get(info, info))

    class Backend(httpcore.AsyncNetworkBackend):
        async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                              local_address: str | None = None, socket_options: Any = None) -> Stream:
            loop = asyncio.get_running_loop()
            proto = _Protocol()
            try:
                transport, _ = await asyncio.wait_for(
                    loop.create_connection(lambda: proto, host, port,
                                           local_addr=(local_address, 0) if local_address else None),
                    timeout)
            except asyncio.TimeoutError:
                raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
            except OSError as e:
                raise httpcore.ConnectError(str(e) or type(e).__name__) from None
            return Stream(proto, transport)  # type: ignore[arg-type]

        async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                      socket_options: Any = None) -> Stream:
            raise httpcore.ConnectError("unix sockets are not supported by the bench client")

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(seconds)

    return Backend()


def _readable_now(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    ready, _, _ = select.select([fd], [], [], 0)  # Windows
    return bool(ready)


def proxied(url: str) -> bool:
    """Whether the environment routes ``url`` through a proxy (then httpx must handle it)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


class Lanes:
    """Builds the transport: ``clocks[k]`` is lane k's Clock, or None when not timed."""

    def __init__(self, count: int, timed: bool) -> None:
        self.count = count
        self.timed = timed
        self.clocks: list[Clock | None] = [Clock() if timed else None for _ in range(count)]

    def transport(self) -> "httpx.AsyncBaseTransport":
        import httpcore
        import httpx

        ssl = httpx.create_ssl_context()  # built once: loading CA certificates is slow
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        lanes = []
        for k, clock in enumerate(self.clocks):
            t = httpx.AsyncHTTPTransport(verify=ssl, http1=True, http2=False, limits=one)
            if clock is not None and not hasattr(t, "_pool"):
                self.clocks[k] = None  # another httpx layout: keep its pool, untimed
            elif clock is not None:
                # httpx has no parameter for the network backend; its pool takes one.
                t._pool = httpcore.AsyncConnectionPool(
                    ssl_context=ssl, max_connections=1, max_keepalive_connections=1,
                    http1=True, http2=False, network_backend=_backend(clock))
            lanes.append(t)

        class LaneTransport(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                return await lanes[lane.get() % len(lanes)].handle_async_request(request)

            async def aclose(self) -> None:
                for t in lanes:
                    await t.aclose()

        return LaneTransport()

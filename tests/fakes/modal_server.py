"""A fake Modal control plane: a grpclib server the real ``modal`` SDK talks to.

It runs on 127.0.0.1 in a background thread with its own event loop. Every request is
recorded (method name + protobuf message, in order) so tests assert on what the SDK really
sent. RPCs the fake does not implement answer UNIMPLEMENTED with a message naming them and
are listed in ``unimplemented`` so a test fails loudly instead of hanging.

Faults: ``fail(method, status, times=1|None)`` makes an RPC fail (None: always);
``delay(method, seconds)`` holds its answer. The RPC behaviour lives in ``modal_rpcs``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

import grpclib.const
import grpclib.server
from grpclib import GRPCError, Status

from .modal_rpcs import ModalRpcs
from .modal_state import ControlPlaneState

#: Any gRPC status a test may inject, by short name.
STATUSES = {s.name: s for s in Status}


@dataclass
class Recorded:
    method: str
    request: Any  # the protobuf request message (None for client-streaming calls)
    metadata: dict[str, str] = field(default_factory=dict)  # gRPC headers (token id, client version)


@dataclass
class _Fault:
    status: Status | None
    message: str
    remaining: int | None  # None: always
    delay: float = 0.0


class _ReplayStream:
    """Hands a handler the request the recorder already read; delegates everything else."""

    def __init__(self, stream: grpclib.server.Stream, message: Any) -> None:
        self._stream = stream
        self._message = message

    async def recv_message(self) -> Any:
        return self._message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class FakeModalServicer(ModalRpcs):
    """The implemented RPCs plus recording, fault injection and loud UNIMPLEMENTED answers."""

    def __init__(self, state: ControlPlaneState) -> None:
        super().__init__(state)
        self.requests: list[Recorded] = []
        self.unimplemented: list[str] = []
        self.failed_calls: list[tuple[str, str]] = []  # (method, status) of injected failures
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        mapping = super().__mapping__()
        return {path: self._wrap(path.rsplit("/", 1)[1], h) for path, h in mapping.items()}

    def _wrap(self, name: str, handler: grpclib.const.Handler) -> grpclib.const.Handler:
        unary_request = handler.cardinality in (
            grpclib.const.Cardinality.UNARY_UNARY,
            grpclib.const.Cardinality.UNARY_STREAM,
        )

        async def call(stream: grpclib.server.Stream) -> None:
            message = await stream.recv_message() if unary_request else None
            with self._lock:
                headers = {k: v for k, v in (stream.metadata or {}).items() if isinstance(v, str) and "secret" not in k}
                self.requests.append(Recorded(name, message, headers))
                fault = self._faults.get(name)
                if fault is not None and fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[name]
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    self.failed_calls.append((name, fault.status.name))
                    raise GRPCError(fault.status, fault.message)
            self._check_environment(message)
            await handler.func(_ReplayStream(stream, message) if unary_request else stream)

        return grpclib.const.Handler(call, handler.cardinality, handler.request_type, handler.reply_type)

    def _check_environment(self, message: Any) -> None:
        """Like Modal: naming an environment that does not exist is NOT_FOUND, for any RPC."""
        if message is None or "environment_name" not in message.DESCRIPTOR.fields_by_name:
            return
        env = message.environment_name
        with self.state.lock:
            known = not env or env in self.state.environments
        if not known:
            raise GRPCError(Status.NOT_FOUND, f"Environment '{env}' not found")

    # -- test API ------------------------------------------------------------------------
    def fail(self, method: str, status: Status | str, *, times: int | None = 1, message: str = "") -> None:
        st = STATUSES[status] if isinstance(status, str) else status
        with self._lock:
            self._faults[method] = _Fault(st, message or f"injected {st.name} for {method}", times)

    def delay(self, method: str, seconds: float, *, times: int | None = 1) -> None:
        with self._lock:
            self._faults[method] = _Fault(None, "", times, delay=seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def calls(self, method: str) -> list[Any]:
        """Requests of one RPC, in order."""
        with self._lock:
            return [r.request for r in self.requests if r.method == method]

    def methods(self) -> list[str]:
        with self._lock:
            return [r.method for r in self.requests]

    def last_metadata(self, method: str) -> dict[str, str]:
        with self._lock:
            return next(r.metadata for r in reversed(self.requests) if r.method == method)

    def reset_records(self) -> None:
        with self._lock:
            self.requests.clear()


def _unimplemented(name: str):
    async def handler(self: FakeModalServicer, stream: grpclib.server.Stream) -> None:
        self.unimplemented.append(name)
        raise GRPCError(Status.UNIMPLEMENTED, f"fake Modal control plane does not implement {name}")

    handler.__name__ = name
    return handler


# Every RPC the SDK may call exists; the ones ModalRpcs does not define answer UNIMPLEMENTED.
for _name in sorted(ModalRpcs.__abstractmethods__):
    setattr(FakeModalServicer, _name, _unimplemented(_name))
FakeModalServicer.__abstractmethods__ = frozenset()


class FakeModalServer:
    """Owns the event loop thread and the grpclib server."""

    def __init__(self, workspace: str = "omc-test") -> None:
        self.state = ControlPlaneState(workspace=workspace)
        self.servicer = FakeModalServicer(self.state)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-modal", daemon=True)
        self._server: grpclib.server.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeModalServer":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = grpclib.server.Server([self.servicer])
        await self._server.start("127.0.0.1", 0)  # port 0: the OS picks a free one, no race
        self.port = self._server._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Idempotent: a test may stop the server early to simulate an outage."""
        if self._loop.is_closed():
            return

        async def _stop() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> "FakeModalServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Shortcuts used by most tests.
    def calls(self, method: str) -> list[Any]:
        return self.servicer.calls(method)

    def methods(self) -> list[str]:
        return self.servicer.methods()

    def fail(self, method: str, status: Status | str, **kw: Any) -> None:
        self.servicer.fail(method, status, **kw)

    def delay(self, method: str, seconds: float, **kw: Any) -> None:
        self.servicer.delay(method, seconds, **kw)

    def iter_requests(self) -> Iterator[Recorded]:
        return iter(list(self.servicer.requests))

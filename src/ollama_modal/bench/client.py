"""One streamed chat completion, timed from the moment it is sent.

Times are ``time.perf_counter_ns``: the start when the request goes on the wire, token times
when a network read returns, before any parsing,
so the client's own processing does not shift them. Failures become an error kind on the
sample, never an exception: a benchmark counts errors, it does not stop at the first one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import jsonio
from .sse import SseParser, interpret
from .transport import Clock

if TYPE_CHECKING:
    import httpx

ERROR_KINDS = ("timeout", "broken_stream", "connect", "stream_error")  # plus http_<status>


@dataclass
class RequestSample:
    sent_ns: int
    end_ns: int | None = None
    token_ns: list[int] = field(default_factory=list)  # arrival of each content chunk
    usage_tokens: int | None = None
    error: str | None = None  # None, http_<status>, timeout, broken_stream, connect, stream_error
    detail: str | None = None
    retries: int = 0  # 1 when a stale pooled connection made it go again on a fresh one

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def counted_tokens(self) -> int:
        return len(self.token_ns)

    @property
    def output_tokens(self) -> int:
        """The server's count when it reports one (usage), else the chunks we counted."""
        return self.usage_tokens if self.usage_tokens is not None else len(self.token_ns)

    @property
    def ttft_ms(self) -> float | None:
        return (self.token_ns[0] - self.sent_ns) / 1e6 if self.token_ns else None

    @property
    def e2e_ms(self) -> float | None:
        return (self.end_ns - self.sent_ns) / 1e6 if self.end_ns is not None else None

    @property
    def itl_ms(self) -> list[float]:
        t = self.token_ns
        return [(b - a) / 1e6 for a, b in zip(t, t[1:])]

    @property
    def tokens_per_s(self) -> float | None:
        """Decode speed of this stream: tokens after the first over the time they took."""
        t = self.token_ns
        if len(t) < 2 or t[-1] == t[0]:
            return None
        # Scale by output/counted so a server that packs several tokens per chunk
        # (reported through usage) is not under-counted.
        scale = self.output_tokens / len(t) if self.usage_tokens else 1.0
        return (len(t) - 1) * scale / ((t[-1] - t[0]) / 1e9)


def request_body(model: str, messages: Any, max_tokens: int) -> bytes:
    return jsonio.dumps({
        "model": model,
        "messages": list(messages),
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }).encode()


async def stream_request(client: "httpx.AsyncClient", url: str, headers: dict[str, str], body: bytes,
                         clock: Clock | None = None) -> RequestSample:
    """Send one streaming request and time it. With a ``clock`` (the lane's socket-level
    times) the start is when the request's bytes left and token times when they arrived;
    without, both are taken when this task runs.

    A request that fails on a reused connection before any byte of a response arrived (the
    server closed that idle connection as the request went out) is sent once more on a
    fresh connection: ``retries`` is 1, and every figure is the second attempt's alone.
    """
    sample, stale = await _attempt(client, url, headers, body, clock)
    if stale:
        sample, _ = await _attempt(client, url, headers, body, clock)
        sample.retries = 1
    return sample


async def _attempt(client: "httpx.AsyncClient", url: str, headers: dict[str, str], body: bytes,
                   clock: Clock | None) -> tuple[RequestSample, bool]:
    """One try. The flag says it failed on a reused connection with no response at all."""
    import httpx

    now = time.perf_counter_ns
    parser = SseParser()
    sample = RequestSample(sent_ns=now())
    new_connection = False
    arrived_before = clock.arrival_ns if clock is not None else 0

    async def trace(event: str, info: object) -> None:
        # The clock starts when the request goes on the wire: when a connection is opened
        # for it (that wait is real), else when its headers are written to a pooled one.
        # The client's own queuing before that is not the server's latency.
        nonlocal new_connection
        if event == "connection.connect_tcp.started":
            new_connection = True
            sample.sent_ns = now()  # the connect starts right after this event
        elif event == "http11.send_request_headers.started" and not new_connection and clock is None:
            sample.sent_ns = now()
        elif event == "http11.send_request_headers.complete" and not new_connection and clock is not None:
            sample.sent_ns = clock.write_ns

    done = finished = answered = False
    try:
        async with client.stream("POST", url, content=body, headers=headers,
                                 extensions={"trace": trace}) as resp:
            answered = True
            if resp.status_code >= 400:
                await resp.aread()
                sample.error = f"http_{resp.status_code}"
                sample.detail = f"HTTP {resp.status_code}: {error_message(resp.text)}"[:300]
                return sample, False
            async for raw in resp.aiter_bytes():  # decodes, should a server compress anyway
                arrived = clock.arrival_ns if clock is not None else now()
                for data in parser.feed(raw):
                    c = interpret(data)
                    if c.token:
                        sample.token_ns.append(arrived)
                    if c.usage_tokens is not None:
                        sample.usage_tokens = c.usage_tokens
                    finished = finished or c.finished
                    if c.error is not None:
                        sample.error, sample.detail = "stream_error", c.error
                    elif c.malformed:
                        sample.error, sample.detail = "broken_stream", f"unparseable event: {data[:100]!r}"
                    elif c.done and not done:
                        done, sample.end_ns = True, arrived
                # Keep reading after [DONE]: only a fully read response returns its
                # connection to the pool, and reconnecting would inflate the next TTFT.
                if sample.error:
                    break
            for data in parser.close():
                c = interpret(data)
                done = done or c.done
                finished = finished or c.finished
        if sample.end_ns is None:
            sample.end_ns = now()
        if sample.error is None and not (done or finished):
            kind = resp.headers.get("content-type", "")
            sample.error, sample.detail = "broken_stream", (
                "stream ended without [DONE] or finish_reason" if "event-stream" in kind
                else f"the response is not an event stream (content-type: {kind or 'none'})")
    except httpx.HTTPError as e:
        if done and sample.error is None:
            return sample, False  # the answer was complete; only the connection's end misbehaved
        sample.error, sample.detail = classify(e), f"{type(e).__name__}: {e}"
        # Retried only when nothing of a response came back on a connection that an earlier
        # request used: the server closed it while idle. A timeout, a refused connect, or a
        # new connection failing are the server's doing and stay errors.
        nothing_back = not answered and (clock is None or clock.arrival_ns == arrived_before)
        stale = (not new_connection and nothing_back
                 and isinstance(e, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)))
        return sample, stale
    return sample, False


def classify(e: Exception) -> str:
    """Map an httpx exception to an error kind."""
    import httpx

    if isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout)):
        return "connect"
    if isinstance(e, httpx.TimeoutException):
        return "timeout"
    # RemoteProtocolError (peer closed mid-body), ReadError, DecodingError, ...
    return "broken_stream"


def error_message(body: str) -> str:
    """The message of an error response: OpenAI's ``{"error": {"message": ...}}``, Ollama's
    ``{"error": "..."}``, or the body itself (one line) when it is neither."""
    import json

    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(data.get("detail"), str):
            return data["detail"]
    return " ".join(body.split()) or "(empty body)"

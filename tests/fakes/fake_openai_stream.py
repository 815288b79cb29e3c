"""A streaming OpenAI-compatible server with known timings, for bench tests and benchmarks.

Run as a real process:

    python tests/fakes/fake_openai_stream.py --ttft-ms 50 --itl-ms 10 --tokens 20

It prints ``PORT <n>`` on stdout once listening. Every option can also come from an env
var (``FAKE_OPENAI_TTFT_MS`` ...). Timings follow absolute deadlines (token i is sent at
request_received + ttft + i * itl), so sleep jitter never accumulates and the truth the
client should measure is exactly the configured figures. Each stream sleeps on its own
(asyncio), so many concurrent streams are served on time.

Error injection by arrival order (1-based): ``--errors 2:500,3:429,4:cut,5:hang,6:stream_error``.
``cut`` drops the connection midway, ``hang`` sends headers then nothing, ``stream_error``
sends an in-band ``{"error": ...}`` event. ``GET /stats`` reports what the server saw.

Stdlib only: a minimal HTTP/1.1 server with keep-alive and chunked responses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

MODEL = "fake-model:7b"


def _options(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=env("FAKE_OPENAI_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("FAKE_OPENAI_PORT", "0")))
    p.add_argument("--ttft-ms", type=float, default=float(env("FAKE_OPENAI_TTFT_MS", "50")))
    p.add_argument("--itl-ms", type=float, default=float(env("FAKE_OPENAI_ITL_MS", "10")))
    p.add_argument("--tokens", type=int, default=int(env("FAKE_OPENAI_TOKENS", "20")))
    p.add_argument("--cold-ms", type=float, default=float(env("FAKE_OPENAI_COLD_MS", "0")),
                   help="extra delay before the first token of the first request only")
    p.add_argument("--errors", default=env("FAKE_OPENAI_ERRORS", ""),
                   help="comma list of N:KIND, KIND = HTTP status | cut | hang | stream_error")
    p.add_argument("--usage-tokens", type=int, default=int(env("FAKE_OPENAI_USAGE_TOKENS", "-1")),
                   help="completion_tokens to report in the usage chunk (-1: the true count)")
    p.add_argument("--no-usage", action="store_true", default=env("FAKE_OPENAI_NO_USAGE") == "1",
                   help="never send a usage chunk")
    p.add_argument("--reasoning-tokens", type=int, default=int(env("FAKE_OPENAI_REASONING_TOKENS", "0")),
                   help="send the first K tokens as delta.reasoning_content")
    p.add_argument("--split-writes", action="store_true", default=env("FAKE_OPENAI_SPLIT_WRITES") == "1",
                   help="write each SSE event in two TCP writes, split inside the JSON")
    p.add_argument("--models-delay-ms", type=float, default=float(env("FAKE_OPENAI_MODELS_DELAY_MS", "0")),
                   help="delay before answering GET /v1/models")
    p.add_argument("--close-connections", action="store_true", default=env("FAKE_OPENAI_CLOSE") == "1",
                   help="answer with connection: close and close after each stream")
    p.add_argument("--drop-reused-ms", type=float, default=float(env("FAKE_OPENAI_DROP_REUSED_MS", "-1")),
                   help="close a connection that already carried a stream when its next request arrives, "
                        "after this many ms and without answering (the race a keep-alive server can lose)")
    p.add_argument("--api-key", default=env("FAKE_OPENAI_API_KEY"),
                   help="answer 401 to requests without 'Authorization: Bearer <this key>'")
    p.add_argument("--tls-cert", default=env("FAKE_OPENAI_TLS_CERT"), help="serve HTTPS with this PEM cert")
    p.add_argument("--tls-key", default=env("FAKE_OPENAI_TLS_KEY"), help="... and this PEM key")
    return p.parse_args(argv)


def parse_errors(spec: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        n, _, kind = item.partition(":")
        out[int(n)] = kind
    return out


def _wants_stream(body: bytes) -> bool:
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return False
    return isinstance(req, dict) and req.get("stream") is not False


class TimedReader(asyncio.StreamReader):
    """Stamps data as the event loop reads it from the socket."""

    last_data = 0.0

    def feed_data(self, data: bytes) -> None:
        self.last_data = time.perf_counter()
        super().feed_data(data)


class FakeServer:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.o = opts
        self.errors = parse_errors(opts.errors)
        self.count = 0
        self.inflight = 0
        self.max_inflight = 0
        self.auth: set[str] = set()
        self.last_body: dict | None = None
        self.late_ms: list[float] = []
        self.models_requests = 0
        self.dropped_ns: list[int] = []  # when each reused connection was dropped (perf_counter_ns)

    # -- HTTP plumbing -------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        streamed = False  # this connection has carried a streamed response
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                # When the request's last bytes reached this process, not when this task ran:
                # the truth must not move with the server's own event-loop backlog.
                received = getattr(reader, "last_data", None) or time.perf_counter()
                if streamed and self.o.drop_reused_ms >= 0 and path != "/stats":
                    await asyncio.sleep(self.o.drop_reused_ms / 1000)
                    self.dropped_ns.append(time.perf_counter_ns())
                    writer.transport.abort()
                    return
                streamed = streamed or (method == "POST" and _wants_stream(body))
                keep = await self.route(method, path, headers, body, received, writer)
                if not keep:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def send_json(writer: asyncio.StreamWriter, status: int, obj: object) -> None:
        data = json.dumps(obj).encode()
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(data)}\r\n\r\n".encode() + data
        )
        await writer.drain()

    async def route(self, method: str, path: str, headers: dict, body: bytes,
                    received: float, writer: asyncio.StreamWriter) -> bool:
        if method == "GET" and path.split("?")[0] == "/stats":
            import statistics

            late = self.late_ms
            await self.send_json(writer, 200, {
                "requests": self.count, "max_inflight": self.max_inflight,
                "models_requests": self.models_requests, "dropped_ns": self.dropped_ns,
                "authorization": sorted(self.auth), "last_body": self.last_body,
                # How late this process wrote first tokens against their deadlines: a
                # starved server moves the truth, which is not the client's error.
                "first_token_late_ms_p50": statistics.median(late) if late else None,
            })
            if path.endswith("?reset=1"):
                self.late_ms = []
            return True
        if self.o.api_key and headers.get("authorization") != f"Bearer {self.o.api_key}":
            await self.send_json(writer, 401, {"error": {"message": "Invalid API key", "type": "invalid_request_error",
                                                         "code": "invalid_api_key"}})
            return True
        if method == "GET" and path == "/v1/models":
            self.models_requests += 1
            if self.o.models_delay_ms:
                await asyncio.sleep(self.o.models_delay_ms / 1000)
            await self.send_json(writer, 200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            return True
        if method != "POST" or path != "/v1/chat/completions":
            await self.send_json(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            return True
        self.count += 1
        n = self.count
        req = json.loads(body or b"{}")
        self.last_body = req
        if "authorization" in headers:
            self.auth.add(headers["authorization"])
        kind = self.errors.get(n, "")
        if kind.isdigit():
            await self.send_json(writer, int(kind), {"error": {"message": f"injected {kind}", "type": "fake"}})
            return True
        if req.get("stream") is False:  # a plain completion, as servers answer without stream=true
            text = "".join(f" tok{i}" for i in range(self.o.tokens))
            await self.send_json(writer, 200, {
                "id": f"chatcmpl-{n}", "object": "chat.completion", "model": req.get("model") or MODEL,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            })
            return True
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return await self.stream(n, req, kind, received, writer)
        finally:
            self.inflight -= 1

    # -- the stream ----------------------------------------------------------------
    async def stream(self, n: int, req: dict, kind: str, received: float,
                     writer: asyncio.StreamWriter) -> bool:
        o = self.o
        model = req.get("model") or MODEL
        tokens = o.tokens
        if req.get("max_tokens"):
            tokens = min(tokens, int(req["max_tokens"]))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
                     b"x-received-ns: %d\r\n%s\r\n" % (int(received * 1e9),
                                                          b"connection: close\r\n" if o.close_connections else b""))

        async def event(payload: str) -> None:
            data = f"data: {payload}\n\n".encode()
            if o.split_writes and len(data) > 8:
                half = len(data) // 2
                writer.write(b"%x\r\n%s\r\n" % (half, data[:half]))
                await writer.drain()
                await asyncio.sleep(0)
                data = data[half:]
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await writer.drain()

        def chunk(delta: dict, finish: str | None = None, **extra: object) -> str:
            return json.dumps({
                "id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "system_fingerprint": "fp_ollama",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
            })

        # Like OpenAI, a role-only chunk goes out at once: it is not the first token.
        await event(chunk({"role": "assistant", "content": ""}))
        if kind == "hang":
            await asyncio.sleep(3600)
            return False
        loop_now = time.perf_counter
        first_at = received + (o.ttft_ms + (o.cold_ms if n == 1 else 0)) / 1000
        pre, post = f"data: {chunk({'role': 'assistant', 'content': chr(0)})}\n\n".encode().split(b"\\u0000")
        for i in range(tokens):
            delay = first_at + i * o.itl_ms / 1000 - loop_now()
            if delay > 0:
                await asyncio.sleep(delay)
            if kind == "cut" and i == tokens // 2:
                writer.transport.abort()
                return False
            if kind == "stream_error" and i == tokens // 2:
                await event(json.dumps({"error": {"message": "model runner has unexpectedly stopped"}}))
                await event("[DONE]")
                writer.write(b"0\r\n\r\n")
                return True
            field = "reasoning_content" if i < o.reasoning_tokens else "content"
            if i == 0:
                self.late_ms.append((loop_now() - first_at) * 1000)
                # When this process wrote the first token (perf_counter is system-wide on
                # Linux): lets a benchmark split latency between server and client.
                await event(chunk({"role": "assistant", field: f" tok{i}"}, written_ns=time.perf_counter_ns()))
                continue
            if field == "content" and not o.split_writes:
                # Fast path, so 64 streams cost this process little: a pre-encoded template.
                data = pre + b" tok%d" % i + post
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
                continue
            await event(chunk({"role": "assistant", field: f" tok{i}"}))
        await event(chunk({"role": "assistant", "content": ""}, "stop"))
        if (req.get("stream_options") or {}).get("include_usage") and not o.no_usage:
            reported = tokens if o.usage_tokens < 0 else o.usage_tokens
            await event(json.dumps({
                "id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "choices": [],
                "usage": {"prompt_tokens": 12, "completion_tokens": reported, "total_tokens": 12 + reported},
            }))
        # An SSE comment line, as some proxies send: clients must skip it.
        writer.write(b"%x\r\n%s\r\n" % (len(b": keep-alive\n\n"), b": keep-alive\n\n"))
        await event("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return not o.close_connections


class Spawned:
    """A running fake server process; ``url`` is its base URL. Use as a context manager."""

    def __init__(self, args: list[str]) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.abspath(__file__), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.proc.kill()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"fake server did not start: {line!r} {err}")
        self.port = int(line.split()[1])
        self.url = f"{'https://localhost' if '--tls-cert' in args else 'http://127.0.0.1'}:{self.port}"

    def stats(self, reset: bool = False) -> dict:
        import urllib.request

        with urllib.request.urlopen(self.url + "/stats" + ("?reset=1" if reset else ""), timeout=10) as r:
            return json.loads(r.read())

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except Exception:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "Spawned":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn(**opts: object) -> Spawned:
    """Start the server as a real process: ``spawn(ttft_ms=50, errors="2:500")``."""
    args: list[str] = []
    for key, value in opts.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value not in (False, None):
            args += [flag, str(value)]
    return Spawned(args)


async def main(argv: list[str] | None = None) -> None:
    opts = _options(argv)
    server = FakeServer(opts)
    tls = None
    if opts.tls_cert:
        import ssl

        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(opts.tls_cert, opts.tls_key)
    def protocol() -> asyncio.StreamReaderProtocol:
        return asyncio.StreamReaderProtocol(TimedReader(limit=2 ** 16), server.handle)

    srv = await asyncio.get_running_loop().create_server(protocol, opts.host, opts.port, backlog=1024, ssl=tls)
    port = srv.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass

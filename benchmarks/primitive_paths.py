"""The in-container request path of each serving primitive, measured on loopback.

What can be measured here is only the container's part: Modal's edge (routing proxy, input
plane) is not reachable from this machine. Two paths, each against a baseline in the same run:

- **Modal Server**: the container runs omc's proxy itself (``http_server.serve_in_thread``,
  exactly what a Server's ``@modal.enter`` starts). Streams go through it to the fake
  ``ollama serve`` and straight to the fake, alternating batches: TTFT p50 added and per-token
  added (ms).
- **Web function**: Modal's in-container ASGI bridge (``modal._runtime.asgi.asgi_app_wrapper``,
  the SDK's own code, with a stub for the input/output transport) calls the proxy app; the
  baseline calls the same app directly with the same ASGI messages. Time to the first body
  chunk and per-chunk cost added by the bridge (ms), in-process.

    python benchmarks/primitive_paths.py [--requests 32] [--tokens 24] [--json]

Modal's own figures for its edge (about 6 ms p50 added for Servers, about 39 ms for web
functions) are quoted in docs/performance.md; this script does not measure them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("proxy_overhead", Path(__file__).with_name("proxy_overhead.py"))
po = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(po)  # type: ignore[union-attr]

SERVER_PROCESS = """
import sys, threading
from ollama_modal.service.http_server import serve_in_thread
from ollama_modal.service.proxy import create_app
from ollama_modal.service.settings import ServiceSettings
serve_in_thread(create_app(ServiceSettings.from_env()), int(sys.argv[1]), "127.0.0.1")
print("listening", flush=True)
threading.Event().wait()
"""


async def bridge(upstream: str, streams: int, tokens: int) -> dict:
    """Web-function path, in-process: the proxy app called directly vs through Modal's ASGI bridge."""
    from modal._runtime import asgi as modal_asgi

    from ollama_modal.service.proxy import create_app
    from ollama_modal.service.settings import ServiceSettings

    settings = ServiceSettings(model=po.MODEL, ollama_host=upstream.split("://", 1)[1], api_keys=(po.KEY,))
    sink = open(os.devnull, "w")  # the request log lines are written, as in a container, but not shown
    app = create_app(settings, request_log=lambda line: (sink.write(line + "\n"), sink.flush()))
    body = json.dumps({"model": po.MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": tokens}).encode()
    path = "/v1/chat/completions"
    request = {"type": "http.request", "body": body, "more_body": False}

    def scope() -> dict:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"authorization", f"Bearer {po.KEY}".encode()), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 443),
        }

    class Inputs:  # what Modal's container IO manager hands the bridge: the request message, then nothing
        class get_data_in:  # noqa: N801 - mirrors the SDK's attribute
            @staticmethod
            async def aio(function_call_id: str, attempt_token: str):
                yield request
                await asyncio.Event().wait()

    modal_asgi.current_function_call_id = lambda: "fc-bench"  # type: ignore[assignment]
    modal_asgi.current_attempt_token = lambda: "at-bench"  # type: ignore[assignment]
    wrapped, _lifespan = modal_asgi.asgi_app_wrapper(app, Inputs())

    async def direct() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first = last = None
        chunks = 0
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return request
            await asyncio.Event().wait()
            return {}  # pragma: no cover

        async def send(message: dict) -> None:
            nonlocal first, last, chunks
            if message["type"] == "http.response.body" and message.get("body"):
                now = time.perf_counter()
                first = first or now
                last = now
                chunks += 1

        await app(scope(), receive, send)
        return first - t0, last - first, chunks

    async def bridged() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first = last = None
        chunks = 0
        async for message in wrapped(scope()):
            if message["type"] == "http.response.body" and message.get("body"):
                now = time.perf_counter()
                first = first or now
                last = now
                chunks += 1
        return first - t0, last - first, chunks

    await direct(), await bridged()  # warm the upstream pool
    d: list[tuple[float, float, int]] = []
    b: list[tuple[float, float, int]] = []
    cpu = {"direct": 0.0, "bridged": 0.0}
    for _ in range(streams):  # alternate, so machine noise hits both
        for name, fn, out in (("direct", direct, d), ("bridged", bridged, b)):
            c0 = time.process_time()
            out.append(await fn())
            cpu[name] += time.process_time() - c0
    chunks = b[0][2]
    first_d = statistics.median(x[0] for x in d) * 1000
    first_b = statistics.median(x[0] for x in b) * 1000
    span_d = statistics.median(x[1] for x in d) * 1000
    span_b = statistics.median(x[1] for x in b) * 1000
    return {
        "streams": streams,
        "chunks_per_stream": chunks,
        "first_chunk_p50_direct_ms": round(first_d, 3),
        "first_chunk_p50_bridged_ms": round(first_b, 3),
        "first_chunk_added_ms": round(first_b - first_d, 3),
        "per_chunk_added_ms": round((span_b - span_d) / max(chunks - 1, 1), 4),
        "cpu_ms_per_stream_direct": round(cpu["direct"] * 1000 / streams, 3),
        "cpu_ms_per_stream_bridged": round(cpu["bridged"] * 1000 / streams, 3),
        "cpu_ratio": round(cpu["bridged"] / cpu["direct"], 3) if cpu["direct"] else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32, help="streams per path (same number on the baseline)")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--ttft-ms", type=float, default=20.0, help="the fake's time to first token")
    ap.add_argument("--itl-ms", type=float, default=10.0, help="the fake's time between tokens")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    with po.fake_ollama_and(SERVER_PROCESS, args) as (ollama_port, server_port, server_proc):
        direct = f"http://127.0.0.1:{ollama_port}/v1/chat/completions"
        served = f"http://127.0.0.1:{server_port}/v1/chat/completions"
        server = asyncio.run(po.measure(direct, served, 1, args.requests, args.tokens, server_proc.pid, args.ttft_ms))
        function = asyncio.run(bridge(f"http://127.0.0.1:{ollama_port}", args.requests, args.tokens))

    if args.json:
        print(json.dumps({"server": server, "function_bridge": function}, indent=2))
        return 0
    print(f"fake upstream: TTFT {args.ttft_ms:g} ms, {args.tokens} tokens every {args.itl_ms:g} ms; one stream at a time")
    print(f"Modal Server path (omc's uvicorn in the container) vs direct, {server['requests']} streams each: "
          f"TTFT p50 {server['ttft_p50_proxied_ms']:.2f} vs {server['ttft_p50_direct_ms']:.2f} ms "
          f"(added {server['ttft_p50_added_ms']:.2f} ms, ratio {server['ttft_ratio']:.3f}), "
          f"per token added {server['per_token_added_ms']:.3f} ms")
    print(f"web-function path (Modal's ASGI bridge in the container) vs the app called directly, {function['streams']} streams each: "
          f"first chunk p50 {function['first_chunk_p50_bridged_ms']:.2f} vs {function['first_chunk_p50_direct_ms']:.2f} ms "
          f"(added {function['first_chunk_added_ms']:.2f} ms), per chunk added {function['per_chunk_added_ms']:.3f} ms, "
          f"CPU per stream {function['cpu_ms_per_stream_bridged']:.2f} vs {function['cpu_ms_per_stream_direct']:.2f} ms "
          f"(ratio {function['cpu_ratio']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Latency the container proxy adds to streamed responses, against a direct baseline.

In one run: the fake ``ollama serve`` (tests/fakes/fake_ollama.py) streams SSE chat
completions with a fixed schedule (token i at request + TTFT + i * ITL); the same requests go
straight to it and through the proxy (uvicorn, one worker, bearer auth on, in its own process),
at 1, 8 and 32 concurrent streams, alternating direct and proxied batches so machine noise
hits both. Loopback only.

    python benchmarks/proxy_overhead.py [--requests 48] [--tokens 32] [--json]

Prints, per concurrency: what one direct loopback hop costs (TTFT direct minus the fake's
schedule, for scale), TTFT p50 direct and proxied, TTFT p50 added (ms), per-token added
(ms: the extra time between first and last token, divided by the tokens after the first), the
proxied/direct TTFT ratio and the proxy's own CPU time per stream (from /proc). Then, driven
in-process without an HTTP server, the proxy app's CPU per stream against a bare httpx read
of the same streams (baseline), what the app adds per chunk, and what its request log line
(``service/requestlog.py``: the line and the token counter) costs per stream. Goal: <= 2 ms TTFT p50 added and <= 0.2 ms per token.
Exits 1 when a goal is missed (at concurrency 1, where the figures are not CPU contention).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import httpx

REPO = Path(__file__).resolve().parents[1]
FAKE = REPO / "tests" / "fakes" / "fake_ollama.py"
MODEL = "bench-model:7b"
KEY = "bench-key"
GOAL_TTFT_MS = 2.0
GOAL_TOKEN_MS = 0.2
PROXY_SERVER = """
import sys, uvicorn
from ollama_modal.service.proxy import create_app
from ollama_modal.service.settings import ServiceSettings
settings = ServiceSettings.from_env()
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, limit: float = 20.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up within {limit:g} s")


async def one_stream(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict) -> tuple[float, float, int]:
    """(ttft, first-to-last-token seconds, events) for one streamed chat completion."""
    t0 = time.perf_counter()
    first = last = None
    events = 0
    async with client.stream("POST", url, headers=headers, json=body) as r:
        r.raise_for_status()
        async for chunk in r.aiter_raw():
            n = chunk.count(b"data: {")
            if n:
                now = time.perf_counter()
                first = first or now
                last = now
                events += n
    assert first is not None and last is not None, "no tokens arrived"
    return first - t0, last - first, events


async def batch(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict, concurrency: int):
    return await asyncio.gather(*(one_stream(client, url, headers, body) for _ in range(concurrency)))


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU of a process from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(direct: str, proxied: str, concurrency: int, requests: int, tokens: int, proxy_pid: int, ttft_ms: float) -> dict:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": tokens}
    auth = {"Authorization": f"Bearer {KEY}"}
    results: dict[str, list[tuple[float, float, int]]] = {"direct": [], "proxied": []}
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # Warm up connections on both paths.
        await batch(client, direct, {}, body, concurrency)
        await batch(client, proxied, auth, body, concurrency)
        rounds = max(2, requests // concurrency)
        before = cpu_seconds(proxy_pid)  # the proxy is idle during direct batches
        for _ in range(rounds):
            results["direct"] += await batch(client, direct, {}, body, concurrency)
            results["proxied"] += await batch(client, proxied, auth, body, concurrency)
        after = cpu_seconds(proxy_pid)
        cpu = (after - before) if (before is not None and after is not None) else float("nan")
    d, p = results["direct"], results["proxied"]
    events = d[0][2]
    ttft_d = statistics.median(x[0] for x in d) * 1000
    ttft_p = statistics.median(x[0] for x in p) * 1000
    span_d = statistics.median(x[1] for x in d) * 1000
    span_p = statistics.median(x[1] for x in p) * 1000
    return {
        "concurrency": concurrency,
        "requests": len(p),
        "events_per_stream": events,
        "ttft_p50_direct_ms": round(ttft_d, 3),
        # What one loopback hop (client + fake server) costs here, for scale: the proxy adds a hop.
        "direct_hop_ms": round(ttft_d - ttft_ms, 3),
        "ttft_p50_proxied_ms": round(ttft_p, 3),
        "ttft_p50_added_ms": round(ttft_p - ttft_d, 3),
        "per_token_added_ms": round((span_p - span_d) / max(events - 1, 1), 4),
        "ttft_ratio": round(ttft_p / ttft_d, 3),
        # Only proxied batches run while this is sampled: the proxy's own CPU per stream.
        "proxy_cpu_ms_per_stream": round(cpu * 1000 / len(p), 2),
    }


async def app_cpu(upstream: str, streams: int, tokens: int) -> dict:
    """CPU the proxy app itself spends per stream and per chunk, driven in-process (no HTTP
    server in front), against reading the same streams with a bare httpx client (the
    unavoidable part: the proxy reads upstream with httpx too)."""
    from ollama_modal.service.proxy import create_app
    from ollama_modal.service.settings import ServiceSettings

    settings = ServiceSettings(model=MODEL, ollama_host=upstream.split("://", 1)[1], api_keys=(KEY,))
    sink = open(os.devnull, "w")  # the request log lines are written, as in a container, but not shown
    app = create_app(settings, request_log=lambda line: (sink.write(line + "\n"), sink.flush()))
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": tokens}).encode()
    path = b"/v1/chat/completions"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path.decode(), "raw_path": path, "query_string": b"", "root_path": "",
        "headers": [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json"), (b"host", b"omc.example")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }

    async def through_app(front=None) -> int:  # noqa: ANN001 - an ASGI app
        front = front or app
        delivered = False
        chunks = 0

        async def receive() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the caller never leaves
            return {}  # pragma: no cover

        async def send(message: dict) -> None:
            nonlocal chunks
            if message["type"] == "http.response.body" and message.get("body"):
                chunks += 1

        await front(dict(scope), receive, send)
        return chunks

    async def without_log() -> int:
        return await through_app(app.app)  # the same proxy without its request log middleware

    async with httpx.AsyncClient(base_url=upstream, timeout=60) as bare:
        async def through_httpx() -> int:
            chunks = 0
            async with bare.stream("POST", path.decode(), content=body, headers={"content-type": "application/json"}) as r:
                async for _ in r.aiter_raw():
                    chunks += 1
            return chunks

        await through_app(), await through_httpx()  # warm both connection pools
        out = {}
        for name, fn in (("httpx", through_httpx), ("app", through_app), ("no_log", without_log)):
            t0 = time.process_time()
            chunks = sum([await fn() for _ in range(streams)])
            out[name] = (time.process_time() - t0, chunks)
    (cpu_h, ch_h), (cpu_a, ch_a), (cpu_n, _) = out["httpx"], out["app"], out["no_log"]
    return {
        "streams": streams,
        "chunks_per_stream": round(ch_a / streams, 1),
        "httpx_read_cpu_ms_per_stream": round(cpu_h * 1000 / streams, 3),
        "app_cpu_ms_per_stream": round(cpu_a * 1000 / streams, 3),
        "app_added_cpu_us_per_chunk": round((cpu_a - cpu_h) * 1e6 / max(ch_a, 1), 1),
        "app_to_httpx_cpu_ratio": round(cpu_a / cpu_h, 3) if cpu_h else None,
        # the request log line and its token counter, against the same app without them
        "request_log_cpu_us_per_stream": round((cpu_a - cpu_n) * 1e6 / streams, 1),
        "app_without_log_cpu_ms_per_stream": round(cpu_n * 1000 / streams, 3),
    }


@contextlib.contextmanager
def fake_ollama_and(front_code: str, args: argparse.Namespace) -> Iterator[tuple[int, int, subprocess.Popen]]:
    """The fake ``ollama serve`` with the given timings, and a front process (``python -c
    front_code PORT``) in the container's environment; yields both ports and the front process."""
    ollama_port, front_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp, "manifests/registry.ollama.ai/library/bench-model/7b")
        manifest.parent.mkdir(parents=True)
        manifest.write_text("{}")
        env = {
            **os.environ,
            "OLLAMA_HOST": f"127.0.0.1:{ollama_port}", "OLLAMA_MODELS": tmp,
            "FAKE_OLLAMA_TTFT": str(args.ttft_ms / 1000), "FAKE_OLLAMA_TOKEN_DELAY": str(args.itl_ms / 1000),
            "FAKE_OLLAMA_TOKENS": str(args.tokens),
            "OMC_MODEL": MODEL, "OMC_AUTH": "bearer", "OMC_API_KEYS": KEY,
            "OMC_OLLAMA_BIN": f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE))}",
        }
        procs = [
            subprocess.Popen([sys.executable, str(FAKE), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([sys.executable, "-c", front_code, str(front_port)], env=env, stdout=subprocess.DEVNULL),
        ]
        try:
            wait_http(f"http://127.0.0.1:{ollama_port}/api/version")
            wait_http(f"http://127.0.0.1:{front_port}/healthz")
            yield ollama_port, front_port, procs[1]
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32,
                    help="proxied streams per concurrency level, at least 2 batches (same number direct)")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--ttft-ms", type=float, default=20.0, help="the fake's time to first token")
    ap.add_argument("--itl-ms", type=float, default=10.0, help="the fake's time between tokens")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--cpu-streams", type=int, default=24, help="streams for the in-process CPU comparison")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    with fake_ollama_and(PROXY_SERVER, args) as (ollama_port, proxy_port, proxy):
        direct = f"http://127.0.0.1:{ollama_port}/v1/chat/completions"
        proxied = f"http://127.0.0.1:{proxy_port}/v1/chat/completions"
        rows = [asyncio.run(measure(direct, proxied, int(c), args.requests, args.tokens, proxy.pid, args.ttft_ms))
                for c in args.concurrency.split(",")]
        cpu = asyncio.run(app_cpu(f"http://127.0.0.1:{ollama_port}", args.cpu_streams, args.tokens))

    if args.json:
        goal = {"ttft_p50_added_ms": GOAL_TTFT_MS, "per_token_added_ms": GOAL_TOKEN_MS}
        print(json.dumps({"goal": goal, "results": rows, "app_cpu": cpu}, indent=2))
    else:
        print(f"fake upstream: TTFT {args.ttft_ms:g} ms, {args.tokens} tokens every {args.itl_ms:g} ms; "
              f"goal <= {GOAL_TTFT_MS:g} ms TTFT p50 added, <= {GOAL_TOKEN_MS:g} ms per token")
        print(f"{'streams':>7} {'n':>4} {'direct hop':>11} {'TTFT direct':>12} {'TTFT proxied':>13} {'TTFT added':>11} "
              f"{'per token added':>16} {'ratio':>6} {'proxy CPU/stream':>17}")
        for r in rows:
            print(f"{r['concurrency']:>7} {r['requests']:>4} {r['direct_hop_ms']:>8.2f} ms "
                  f"{r['ttft_p50_direct_ms']:>9.2f} ms {r['ttft_p50_proxied_ms']:>10.2f} ms "
                  f"{r['ttft_p50_added_ms']:>8.2f} ms {r['per_token_added_ms']:>13.3f} ms {r['ttft_ratio']:>6.3f} "
                  f"{r['proxy_cpu_ms_per_stream']:>14.2f} ms")
        print(f"in-process CPU over {cpu['streams']} streams of {cpu['chunks_per_stream']:g} chunks: "
              f"bare httpx read {cpu['httpx_read_cpu_ms_per_stream']:.2f} ms/stream, proxy app "
              f"{cpu['app_cpu_ms_per_stream']:.2f} ms/stream (ratio {cpu['app_to_httpx_cpu_ratio']}), "
              f"app adds {cpu['app_added_cpu_us_per_chunk']:.0f} us/chunk; its request log line "
              f"{cpu['request_log_cpu_us_per_stream']:.0f} us/stream (app without it "
              f"{cpu['app_without_log_cpu_ms_per_stream']:.2f} ms/stream)")
    single = rows[0]
    ok = single["ttft_p50_added_ms"] <= GOAL_TTFT_MS and single["per_token_added_ms"] <= GOAL_TOKEN_MS
    if not ok:
        print(f"goal missed at {single['concurrency']} stream(s)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

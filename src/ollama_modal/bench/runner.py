"""The load generator: a first request alone, then closed-loop levels of C workers.

One ``httpx.AsyncClient`` serves the whole run (HTTP/1.1, a pool as large as the highest
concurrency) so connection set-up is paid once per connection, not per request.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import RemoteError, UsageError
from .client import RequestSample, request_body, stream_request
from .config import BenchConfig, public_url
from .models import BenchResult, LevelReport
from .roofline import analyse
from .stats import first_request, headline, summarise
from .transport import Clock, Lanes, lane, proxied

if TYPE_CHECKING:
    import httpx

Progress = Callable[[int, int], None]  # (done, total) requests, first request included
#: A /v1/models lookup slower than this has likely waited for a container to start.
LOOKUP_COLD_S = 1.0


def _client(config: BenchConfig, connections: int) -> tuple["httpx.AsyncClient", list[Clock | None]]:
    """The run's one client, and the per-lane clocks of its connections (None: not timed)."""
    import httpx

    # No pool timeout: each worker has its own connection, a wait there would be ours.
    timeout = httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s, pool=None)
    if proxied(config.endpoint):
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(http1=True, http2=False, limits=limits, timeout=timeout), [None] * connections
    lanes = Lanes(connections, timed=True)
    return httpx.AsyncClient(transport=lanes.transport(), timeout=timeout), lanes.clocks


async def resolve_model(client: "httpx.AsyncClient", config: BenchConfig) -> str:
    """No --model: take the first model the endpoint lists at /v1/models."""
    import httpx

    url = config.endpoint.removesuffix("/chat/completions") + "/models"
    try:
        resp = await client.get(url, headers=config.headers)
    except httpx.HTTPError as e:
        raise RemoteError(f"cannot reach {public_url(url)}: {type(e).__name__}: {e}",
                          hint="check the URL and that the app is deployed (omc status)") from None
    if resp.status_code in (401, 403):
        raise RemoteError(f"the API key was rejected by {public_url(url)} (HTTP {resp.status_code})",
                          hint="check --api-key or OMC_API_KEY (`omc keys show` prints the app's key)" if config.api_key
                          else "pass --api-key or set OMC_API_KEY")
    try:
        models = [m["id"] for m in resp.json().get("data", [])] if resp.status_code == 200 else []
    except (ValueError, KeyError, TypeError, AttributeError):
        models = []
    if not models:
        raise UsageError(f"no --model given and {public_url(url)} lists none (HTTP {resp.status_code})",
                         hint="pass --model, e.g. --model qwen2.5-coder:7b")
    return models[0]


async def open_connections(client: "httpx.AsyncClient", config: BenchConfig, count: int) -> None:
    """Open each worker's connection before timing starts (a cheap GET /v1/models on each).

    Connection set-up (TCP, TLS) is the client's cost, paid once per connection; with it
    in, the first round of a level would measure 64 simultaneous handshakes, not the server.
    Failures are ignored here: the timed requests will meet and count them.
    """
    import httpx

    url = config.endpoint.removesuffix("/chat/completions") + "/models"

    async def one(k: int) -> None:
        lane.set(k)
        for _ in range(2):
            try:
                await client.get(url, headers=config.headers)
                return
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                continue  # the server had closed the lane's idle connection: once more, on a new one
            except httpx.HTTPError:
                return

    await asyncio.gather(*(one(k) for k in range(count)))


async def _level(client: "httpx.AsyncClient", clocks: list[Clock | None], config: BenchConfig,
                 bodies: Sequence[bytes], offset: int,
                 concurrency: int, tick: Callable[[], None]) -> LevelReport:
    n = config.requests
    samples: list[RequestSample | None] = [None] * n
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker(k: int) -> None:
        lane.set(k)  # this task's own connection
        # Closed loop: a worker sends its next request only when the previous one ended.
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = bodies[(offset + i) % len(bodies)]
            samples[i] = await stream_request(client, config.endpoint, config.headers, body, clocks[k])
            tick()

    if config.open_connections:
        await open_connections(client, config, min(concurrency, n))
    # No cyclic GC pauses while streams are timed: a level allocates little that lives.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(min(concurrency, n))))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        if gc_was_on:
            gc.enable()
    return summarise([s for s in samples if s is not None], concurrency, wall, cpu)


async def run_bench(config: BenchConfig, progress: Progress | None = None) -> BenchResult:
    """Run the benchmark described by ``config``; errors are counted in the result, not raised."""
    total = 1 + config.requests * len(config.concurrency)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    client, clocks = _client(config, max(config.concurrency))
    async with client:
        t0 = time.perf_counter()
        model = config.model or await resolve_model(client, config)
        lookup_s = time.perf_counter() - t0
        bodies = [request_body(model, p.messages, p.max_tokens or config.max_tokens) for p in config.prompts]
        # The first request goes alone, on a connection it opens itself: it may meet a
        # cold container and must not colour the figures of the concurrent levels.
        first = first_request(await stream_request(client, config.endpoint, config.headers, bodies[0], clocks[0]))
        if not config.model and lookup_s >= LOOKUP_COLD_S:
            first.note = (f"the model lookup before it took {lookup_s:.1f} s and probably met the cold start; "
                          "pass --model to time a cold first request")
        tick()
        levels: list[LevelReport] = []
        for k, c in enumerate(config.concurrency):
            offset = 1 + k * config.requests  # keep walking through the prompt list
            levels.append(await _level(client, clocks, config, bodies, offset, c, tick))

    head = headline(levels)
    tokens = sum(lv.output_tokens for lv in levels)
    cpu = sum(lv.client_cpu_s for lv in levels)
    return BenchResult(
        url=public_url(config.url),
        model=model,
        concurrency=head.concurrency,
        requests=head.requests,
        errors=head.errors,
        errors_by_kind=head.errors_by_kind,
        retries=head.retries,
        rejected=head.rejected,
        ttft_ms=head.ttft_ms,
        itl_ms=head.itl_ms,
        per_stream_tokens_per_s=head.per_stream_tokens_per_s,
        output_tokens_per_s=head.output_tokens_per_s,
        e2e_ms=head.e2e_ms,
        first_request=first,
        roofline=analyse(levels, first, config.gpu, config.gpu_count, config.model_bytes),
        client_overhead_us_per_token=round(cpu * 1e6 / tokens, 3) if tokens else None,
        max_tokens=config.max_tokens,
        levels=levels,
    )


def run_bench_sync(config: BenchConfig, progress: Progress | None = None) -> BenchResult:
    """``run_bench`` for synchronous callers (the CLI)."""
    return asyncio.run(run_bench(config, progress))


async def send_one(config: BenchConfig) -> RequestSample:
    """One request on its own client (cold-start measurement)."""
    client, clocks = _client(config, 1)
    async with client:
        model = config.model or await resolve_model(client, config)
        p = config.prompts[0]
        return await stream_request(client, config.endpoint, config.headers,
                                    request_body(model, p.messages, p.max_tokens or config.max_tokens), clocks[0])


def send_one_sync(config: BenchConfig) -> RequestSample:
    return asyncio.run(send_one(config))

"""``omc bench`` against llama.cpp's server: no errors at 1 and 4 streams, and per-stream
tokens/s that agree with the server's own ``timings.predicted_per_second``."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ollama_modal.bench import BenchConfig, run_bench
from ollama_modal.bench.client import request_body, stream_request
from ollama_modal.bench.transport import Lanes, lane

from .conftest import Llama, sse_events, usage_event

pytestmark = pytest.mark.realserver

# One short prompt (llama.cpp keeps it cached per slot) and short answers keep 2 x 100
# requests to seconds on one llama.cpp thread.
SHORT = [{"prompt": "Say hello."}]
# Long answers for the speed comparison: the longer a stream, the less one late chunk weighs.
LONG = [{"messages": [{"role": "user", "content": f"Write a long Python program that {task}, with comments."}]}
        for task in ("parses CSV files", "sorts a list with merge sort", "serves HTTP requests",
                     "draws a tree", "simulates a bank", "solves sudoku")]
TOKENS = 32


def test_cli_bench_has_no_errors_over_100_requests_at_1_and_4_streams(llama: Llama, tmp_path: Path):
    prompts = tmp_path / "short.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in SHORT))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMC_", "MODAL_"))}
    done = subprocess.run(
        [Path(sys.executable).with_name("omc"), "bench", "--url", llama.url + "/v1", "--sweep", "1,4",
         "--requests", "100", "--max-tokens", "4", "--prompts", str(prompts), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert r["model"] == llama.model and r["first_request"]["ok"]
    for level in r["levels"]:
        # llama.cpp closes each connection after a stream while advertising keep-alive:
        # requests that met such a connection went again on a fresh one, none failed.
        assert (level["concurrency"], level["requests"], level["errors"], level["errors_by_kind"]) == \
            (level["concurrency"], 100, 0, {}), level["error_examples"]
        assert level["ok"] == 100 and level["output_tokens"] >= 100 and level["retries"] >= 0
    assert [lv["concurrency"] for lv in r["levels"]] == [1, 4] and "retries" in r


class _Tee(httpx.AsyncByteStream):
    """Passes a response body through unchanged and keeps a copy."""

    def __init__(self, inner: httpx.AsyncByteStream, into: bytearray) -> None:
        self.inner, self.into = inner, into

    async def __aiter__(self):
        async for chunk in self.inner:
            self.into += chunk
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Recording(httpx.AsyncBaseTransport):
    """The bench's own timed transport, recording each response body per lane."""

    def __init__(self, inner: httpx.AsyncBaseTransport, bodies: dict[int, bytearray]) -> None:
        self.inner, self.bodies = inner, bodies

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        self.bodies[lane.get()] = buf = bytearray()
        return httpx.Response(resp.status_code, headers=resp.headers, stream=_Tee(resp.stream, buf),
                              extensions=resp.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _measure(llama: Llama, streams: int, rounds: int) -> list[tuple[float, float, dict]]:
    """(omc's tokens/s, llama.cpp's predicted_per_second, timings) per comparable request."""
    import asyncio

    lanes = Lanes(streams, timed=True)
    bodies: dict[int, bytearray] = {}
    out = []
    async with httpx.AsyncClient(transport=_Recording(lanes.transport(), bodies), timeout=120) as client:
        url = llama.url + "/v1/chat/completions"

        async def one(k: int, i: int):
            lane.set(k)
            body = request_body(llama.model, LONG[(k + i) % len(LONG)]["messages"], TOKENS)
            sample = await stream_request(client, url, {}, body, lanes.clocks[k])
            return sample, usage_event(sse_events(bytes(bodies[k])))

        for i in range(rounds):
            for sample, usage in await asyncio.gather(*(one(k, i) for k in range(streams))):
                assert sample.ok, sample.detail
                t = usage["timings"]
                # llama.cpp's rate is (predicted_n - 1) / predicted_ms: the tokens after the
                # first over first-to-last token, the same definition as omc's.
                assert t["predicted_per_second"] * t["predicted_ms"] / 1000 == pytest.approx(t["predicted_n"] - 1, rel=1e-3)
                # Like with like: llama.cpp counts every token it sampled, omc the text chunks it
                # saw. They agree when each token came as one chunk (no end-of-text token
                # sampled, no split UTF-8 sequence held back): the rest are not comparable.
                if sample.counted_tokens == t["predicted_n"] == usage["usage"]["completion_tokens"]:
                    out.append((sample.tokens_per_s, t["predicted_per_second"], t))
    return out


@pytest.mark.parametrize("streams,rounds", [(1, 5), (4, 2)])
async def test_per_stream_tokens_per_s_matches_llama_cpp_timings(llama: Llama, streams: int, rounds: int):
    pairs = await _measure(llama, streams, rounds)
    assert len(pairs) >= streams * rounds // 2, "too few requests where every token came as one chunk"
    ratios = [ours / theirs for ours, theirs, _ in pairs]
    # The median request: omc's decode speed (tokens after the first over first-to-last
    # token arrival) against llama.cpp's (the same tokens over first-to-last token sampled).
    assert abs(statistics.median(ratios) - 1) <= 0.01, sorted(round(r, 4) for r in ratios)

"""The container's proxy (the real app under uvicorn) in front of llama.cpp's server: streams
and usage pass through intact, llama.cpp's connection habits cause no 502, and a caller that
leaves mid-stream stops the generation upstream."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.service.conftest import KEY, ServedProxy, auth, proxy_settings, wait_for

from .conftest import Llama, sse_events, usage_event

pytestmark = pytest.mark.realserver


@pytest.fixture
def proxy(llama: Llama) -> Iterator[ServedProxy]:
    host = llama.url.removeprefix("http://")
    with ServedProxy(proxy_settings(host, model=llama.model, api_keys=(KEY,))) as p:
        yield p


def _chat(model: str, max_tokens: int, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
            "max_tokens": max_tokens, "stream": True, "stream_options": {"include_usage": True},
            "temperature": 0, "seed": 7, **extra}


def _decodes(llama: Llama) -> int:
    text = httpx.get(llama.url + "/metrics", timeout=10).text
    return int(float(next(line.split()[1] for line in text.splitlines() if line.startswith("llamacpp:n_decode_total"))))


def test_llama_cpp_closes_the_connection_after_a_stream(llama: Llama):
    # The premise of the tests below (and of bench's retry): after a streamed response the
    # server closes the connection, although its headers advertise keep-alive.
    body = json.dumps(_chat(llama.model, 2)).encode()
    host, port = llama.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert b"keep-alive" in head and b"connection: close" not in head
    assert data.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


def test_stream_and_usage_pass_through_intact(llama: Llama, proxy: ServedProxy):
    # No prompt cache: both answers are computed the same way, so greedy decoding matches.
    request = _chat(llama.model, 12, cache_prompt=False)
    direct = httpx.post(llama.url + "/v1/chat/completions", json=request, timeout=60)
    via = httpx.post(proxy.url + "/v1/chat/completions", json=request, headers=auth(), timeout=60)
    assert via.status_code == 200 and via.headers["content-type"].startswith("text/event-stream")
    ours, theirs = sse_events(via.content), sse_events(direct.content)
    assert ours[-1] == theirs[-1] == "[DONE]" and len(ours) == len(theirs)

    def text(events: list[str]) -> str:
        return "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in (json.loads(e) for e in events[:-1]) if c["choices"])

    assert text(ours) == text(theirs) != ""  # same greedy answer, chunk for chunk
    first = json.loads(ours[0])["choices"][0]["delta"]
    assert first["role"] == "assistant" and first.get("content") is None  # the role-only chunk
    usage = usage_event(ours)
    assert usage["choices"] == [] and usage["usage"] == usage_event(theirs)["usage"]
    assert usage["usage"]["completion_tokens"] == 12 and usage["timings"]["predicted_n"] == 12


def test_the_openai_client_through_the_proxy_sees_usage(llama: Llama, proxy: ServedProxy):
    from openai import OpenAI

    client = OpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)
    chunks = list(client.chat.completions.create(**{k: v for k, v in _chat(llama.model, 6).items() if k != "seed"}))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 6


def test_no_502_over_many_sequential_streams(llama: Llama, proxy: ServedProxy):
    # llama.cpp closes its end after every stream; the proxy's pooled upstream connection
    # must never turn that into a 502 for the caller.
    statuses = []
    with httpx.Client(timeout=60, headers=auth()) as client:
        for _ in range(40):
            with client.stream("POST", proxy.url + "/v1/chat/completions", json=_chat(llama.model, 2)) as r:
                body = r.read()
            statuses.append(r.status_code)
            assert r.status_code != 200 or sse_events(body)[-1] == "[DONE]"
    assert statuses == [200] * 40, body.decode(errors="replace")[:300]


def test_a_caller_leaving_mid_stream_stops_the_generation(llama: Llama, proxy: ServedProxy):
    wait_for(lambda: llama.busy_slots() == 0, "llama.cpp to be idle", 60)
    before = _decodes(llama)
    # ignore_eos: the generation can only end at max_tokens, or by being cancelled.
    request = _chat(llama.model, 1500, ignore_eos=True)
    seen = busy = 0
    with httpx.Client(timeout=60) as client:
        with client.stream("POST", proxy.url + "/v1/chat/completions", json=request, headers=auth()) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                seen += line.startswith("data: ") and '"content":"' in line
                if seen == 3:
                    busy = llama.busy_slots()  # still reading: it generates for us
                    break  # leaving the iteration closes the connection mid-stream
    assert busy == 1
    wait_for(lambda: llama.busy_slots() == 0, "llama.cpp to stop generating", 120)
    # Idle long before its 1500 tokens: the proxy closed the upstream request when we left.
    assert _decodes(llama) - before < 750


async def test_bench_through_the_proxy_has_no_errors(llama: Llama, proxy: ServedProxy):
    # The whole path a user benchmarks: omc bench -> the container's proxy -> llama.cpp.
    from ollama_modal.bench import BenchConfig, run_bench

    r = await run_bench(BenchConfig(url=proxy.url, api_key=KEY, model=llama.model, requests=20,
                                    concurrency=[2], max_tokens=4))
    assert r.first_request.ok and r.errors == 0 and r.errors_by_kind == {}, r.levels[0].error_examples
    assert r.levels[0].ok == 20 and r.levels[0].counted_tokens >= 20

"""The real runner against the fake streaming server (a separate process).

Timing checks are lower bounds only (a figure cannot beat the configured delay); the rest
is structure: counts, kinds, what the server received.
"""

from __future__ import annotations

import json

import pytest

from ollama_modal.bench import BenchConfig, run_bench, run_bench_sync, send_one_sync
from ollama_modal.bench.client import request_body, stream_request
from ollama_modal.bench.transport import proxied
from ollama_modal.errors import RemoteError, UsageError
from tests.fakes.ports import closed_port

TOKENS = 8


def config(server, **kw) -> BenchConfig:
    kw.setdefault("requests", 4)
    kw.setdefault("max_tokens", 64)
    return BenchConfig(url=server.url, model="fake-model:7b", **kw)


async def test_clean_run_figures(fake_server):
    s = fake_server(ttft_ms=40, itl_ms=5, tokens=TOKENS)
    r = await run_bench(config(s, requests=6, concurrency=[3], gpu="A10", model_bytes=3_800_000_000))
    assert r.errors == 0 and r.errors_by_kind == {} and r.requests == 6 and r.concurrency == 3
    assert r.ttft_ms.p50 >= 40 and r.ttft_ms.p99 >= r.ttft_ms.p95 >= r.ttft_ms.p50
    # Gaps are arrival times: on a busy machine several tokens can arrive in one read (a 0 ms
    # gap), so the median may be 0; the tail still shows the server's 5 ms spacing.
    assert r.itl_ms.p95 >= r.itl_ms.p50 >= 0 and r.itl_ms.p95 > 0
    assert r.e2e_ms.p50 >= 40 + (TOKENS - 1) * 5 * 0.9
    assert r.per_stream_tokens_per_s.p50 > 0 and r.output_tokens_per_s > 0
    lv = r.levels[0]
    assert lv.counted_tokens == lv.output_tokens == 6 * TOKENS and lv.usage_tokens == 6 * TOKENS
    assert r.client_overhead_us_per_token is not None and r.client_overhead_us_per_token > 0
    assert r.roofline.gpu == "A10" and r.roofline.bound_tokens_per_s and r.roofline.advice
    # The first request is extra and reported apart: the server saw 1 + N requests.
    assert r.first_request.ok and r.first_request.output_tokens == TOKENS
    st = s.stats()
    assert st["requests"] == 7 and st["max_inflight"] <= 3
    body = st["last_body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 64 and body["model"] == "fake-model:7b"


def test_json_contract_keys(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3)
    out = json.loads(run_bench_sync(config(s, requests=2)).model_dump_json())
    for key in ("requests", "errors", "errors_by_kind", "ttft_ms", "itl_ms", "per_stream_tokens_per_s",
                "output_tokens_per_s", "e2e_ms", "first_request", "concurrency", "model", "url", "roofline",
                "client_overhead_us_per_token"):
        assert key in out, key
    assert set(out["ttft_ms"]) == {"p50", "p95", "p99"} and set(out["itl_ms"]) == {"p50", "p95"}
    assert set(out["per_stream_tokens_per_s"]) == {"p50"}
    assert {"ttft_ms", "e2e_ms"} <= set(out["first_request"])


def test_cold_first_request_is_separated(fake_server):
    s = fake_server(ttft_ms=10, itl_ms=2, tokens=4, cold_ms=400)
    r = run_bench_sync(config(s, requests=3))
    assert r.first_request.ttft_ms >= 410
    # The cold request is not among the level's samples: 1 + 3 requests reached the server.
    assert s.stats()["requests"] == 4 and r.requests == 3 and r.levels[0].requests == 3


def test_api_key_is_sent_and_never_reported(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3)
    r = run_bench_sync(BenchConfig(url=s.url + "/v1", model="m", api_key="sk-secret-123", requests=2))
    assert s.stats()["authorization"] == ["Bearer sk-secret-123"]
    assert "sk-secret-123" not in r.model_dump_json()
    assert "sk-secret-123" not in repr(BenchConfig(url=s.url, api_key="sk-secret-123"))


def test_usage_replaces_counted_tokens(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=2, tokens=6, usage_tokens=9)
    lv = run_bench_sync(config(s, requests=3)).levels[0]
    assert lv.counted_tokens == 18 and lv.usage_tokens == 27 and lv.output_tokens == 27


def test_no_usage_falls_back_to_counted(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=2, tokens=6, no_usage=True)
    lv = run_bench_sync(config(s, requests=3)).levels[0]
    assert lv.usage_tokens is None and lv.output_tokens == lv.counted_tokens == 18


def test_reasoning_tokens_start_the_clock(fake_server):
    s = fake_server(ttft_ms=30, itl_ms=2, tokens=6, reasoning_tokens=3, no_usage=True)
    r = run_bench_sync(config(s, requests=2))
    assert r.levels[0].counted_tokens == 12 and r.ttft_ms.p50 >= 30


def test_split_writes_parse_the_same(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=2, tokens=5, split_writes=True)
    r = run_bench_sync(config(s, requests=3, concurrency=[3]))
    assert r.errors == 0 and r.levels[0].counted_tokens == 15


def test_max_tokens_is_sent(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=50)
    r = run_bench_sync(config(s, requests=2, max_tokens=4))
    assert r.levels[0].counted_tokens == 8 and s.stats()["last_body"]["max_tokens"] == 4


def test_errors_are_counted_by_kind(fake_server):
    # Arrival order: 1 is the first request; then 500, 429, cut, hang, in-band error, 503.
    s = fake_server(ttft_ms=5, itl_ms=2, tokens=6, errors="2:500,3:429,4:cut,5:hang,6:stream_error,7:503")
    r = run_bench_sync(config(s, requests=8, concurrency=[1], read_timeout_s=0.5))
    assert r.first_request.ok
    assert r.errors_by_kind == {"broken_stream": 1, "http_429": 1, "http_500": 1, "http_503": 1,
                                "stream_error": 1, "timeout": 1}
    assert r.errors == 6 and r.levels[0].ok == 2
    assert r.rejected == r.levels[0].rejected == 1  # the 429, also counted apart
    examples = r.levels[0].error_examples
    assert "injected 500" in examples["http_500"] and "unexpectedly stopped" in examples["stream_error"]
    assert r.roofline.rule == "errors"


def test_connect_errors_are_counted(fake_server):
    port = closed_port()  # nothing listens there, and nothing will
    r = run_bench_sync(BenchConfig(url=f"http://127.0.0.1:{port}", model="m", requests=3, concurrency=[2]))
    assert r.errors_by_kind == {"connect": 3} and not r.first_request.ok
    assert r.first_request.error == "connect" and r.output_tokens_per_s == 0.0


def test_sweep_runs_each_level(fake_server):
    s = fake_server(ttft_ms=20, itl_ms=5, tokens=6)
    seen: list[tuple[int, int]] = []
    r = run_bench_sync(config(s, requests=4, concurrency=[1, 2, 4]), progress=lambda d, t: seen.append((d, t)))
    assert [lv.concurrency for lv in r.levels] == [1, 2, 4]
    assert all(lv.requests == 4 and lv.errors == 0 for lv in r.levels)
    assert r.concurrency in (1, 2, 4)
    best = max(r.levels, key=lambda lv: lv.output_tokens_per_s)
    assert r.output_tokens_per_s == best.output_tokens_per_s
    assert seen == [(i, 13) for i in range(1, 14)]
    st = s.stats()
    assert st["requests"] == 13 and 1 < st["max_inflight"] <= 4


def test_model_is_resolved_from_the_endpoint(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3)
    r = run_bench_sync(BenchConfig(url=s.url, requests=1))
    assert r.model == "fake-model:7b"


def test_model_resolution_failure_is_a_remote_error():
    port = closed_port()
    with pytest.raises(RemoteError, match="cannot reach"):
        run_bench_sync(BenchConfig(url=f"http://127.0.0.1:{port}", requests=1))


def test_model_resolution_empty_list_is_a_usage_error(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3)
    with pytest.raises(UsageError, match="--model"):
        # A URL whose /v1/models is a 404 on the fake.
        run_bench_sync(BenchConfig(url=s.url + "/other/v1", requests=1))


def test_send_one(fake_server):
    s = fake_server(ttft_ms=25, itl_ms=2, tokens=4)
    sample = send_one_sync(config(s))
    assert sample.ok and sample.ttft_ms >= 25 and sample.output_tokens == 4


def test_proxy_detection(monkeypatch):
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert not proxied("http://example.com/v1/chat/completions")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert proxied("http://example.com/v1/chat/completions")
    assert not proxied("http://127.0.0.1:8000/v1/chat/completions")


async def test_untimed_path_with_a_plain_httpx_client(fake_server):
    # What the runner uses behind a proxy: no socket clock, times taken when the task runs.
    import httpx

    s = fake_server(ttft_ms=15, itl_ms=2, tokens=4)
    body = request_body("m", [{"role": "user", "content": "hi"}], 16)
    async with httpx.AsyncClient() as client:
        sample = await stream_request(client, s.url + "/v1/chat/completions", {}, body, None)
    assert sample.ok and sample.counted_tokens == 4 and sample.usage_tokens == 4 and sample.ttft_ms >= 15


@pytest.fixture
def self_signed(tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_https_through_the_timed_transport(fake_server, self_signed, monkeypatch):
    cert, key = self_signed
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate
    s = fake_server(ttft_ms=15, itl_ms=2, tokens=5, tls_cert=cert, tls_key=key)
    assert s.url.startswith("https://")
    r = run_bench_sync(BenchConfig(url=s.url, model="m", requests=4, concurrency=[2]))
    assert r.errors == 0 and r.first_request.ok and r.levels[0].counted_tokens == 20 and r.ttft_ms.p50 >= 15


def test_https_with_an_untrusted_certificate_is_a_connect_error(fake_server, self_signed, monkeypatch):
    cert, key = self_signed
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    s = fake_server(ttft_ms=15, itl_ms=2, tokens=5, tls_cert=cert, tls_key=key)
    r = run_bench_sync(BenchConfig(url=s.url, model="m", requests=1))
    assert r.errors_by_kind == {"connect": 1} and r.first_request.error == "connect"


async def test_a_non_streaming_answer_is_a_broken_stream(fake_server):
    # A plain JSON completion (what a server ignoring stream=true would send) has no events.
    import httpx

    s = fake_server()
    async with httpx.AsyncClient() as client:
        sample = await stream_request(client, s.url + "/v1/chat/completions", {}, b'{"stream": false}', None)
    assert sample.error == "broken_stream" and "not an event stream" in sample.detail


def test_server_closing_connections_is_not_an_error(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=4, close_connections=True)
    r = run_bench_sync(config(s, requests=6, concurrency=[2]))
    assert r.errors == 0 and r.levels[0].counted_tokens == 24 and s.stats()["requests"] == 7
    # `Connection: close` is honoured: the next request opens a new connection, nothing to retry.
    assert r.retries == 0


@pytest.mark.parametrize("open_first", [True, False])
def test_connections_are_opened_before_each_level(fake_server, open_first):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3)
    r = run_bench_sync(config(s, requests=8, concurrency=[4, 2], open_connections=open_first))
    assert r.errors == 0
    # One GET /v1/models per worker per level when opening first; none otherwise.
    assert s.stats()["models_requests"] == (6 if open_first else 0)


def test_slow_model_lookup_is_noted_on_the_first_request(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3, models_delay_ms=1100)
    r = run_bench_sync(BenchConfig(url=s.url, requests=1, open_connections=False))
    assert r.first_request.ok and "--model" in r.first_request.note
    # With --model there is no lookup, so never a note.
    assert run_bench_sync(config(s, requests=1)).first_request.note is None


# -- a server that closes a reused connection without answering (llama.cpp's habit) --------

def test_a_dropped_reused_connection_is_retried_once_not_an_error(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3, drop_reused_ms=1)
    r = run_bench_sync(config(s, requests=6, concurrency=[2]))
    # Each worker's first stream goes on a connection that carried none; every later one
    # meets a reused connection the server drops, and succeeds on a fresh one.
    assert r.errors == 0 and r.errors_by_kind == {} and r.levels[0].ok == 6
    assert r.retries == r.levels[0].retries == 6 - 2 and r.first_request.retries == 0
    assert r.levels[0].counted_tokens == 18
    out = json.loads(r.model_dump_json())
    assert out["retries"] == 4 and out["levels"][0]["retries"] == 4 and out["first_request"]["retries"] == 0
    # Opening the connections before the level met the first request's closing one on lane 0
    # and went again on a new connection: both lanes start the level connected.
    st = s.stats()
    assert st["models_requests"] == 2 and len(st["dropped_ns"]) == 1 + 4


@pytest.mark.parametrize("timed", [True, False])
async def test_a_retried_request_is_timed_from_the_fresh_connection(fake_server, timed):
    import httpx

    from ollama_modal.bench.transport import Lanes

    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3, drop_reused_ms=150)
    body = request_body("m", [{"role": "user", "content": "hi"}], 16)
    url = s.url + "/v1/chat/completions"
    lanes = Lanes(1, timed=timed)
    client = httpx.AsyncClient(transport=lanes.transport()) if timed else httpx.AsyncClient()
    async with client:
        first = await stream_request(client, url, {}, body, lanes.clocks[0])
        second = await stream_request(client, url, {}, body, lanes.clocks[0])
    assert first.ok and first.retries == 0
    assert second.ok and second.retries == 1 and second.counted_tokens == 3
    (dropped,) = s.stats()["dropped_ns"]
    # The failed attempt is not in the figures: the clock starts after the drop.
    assert second.sent_ns > dropped


def test_a_stream_cut_midway_is_an_error_and_not_retried(fake_server):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=6, errors="2:cut")
    r = run_bench_sync(config(s, requests=3, open_connections=False))
    assert r.errors_by_kind == {"broken_stream": 1} and r.retries == 0
    assert s.stats()["requests"] == 4  # no second try of the cut request


@pytest.mark.parametrize("key", ["WRONG", None])
def test_a_rejected_api_key_without_model_names_the_key(fake_server, key):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3, api_key="right-key")
    with pytest.raises(RemoteError, match="API key") as e:
        run_bench_sync(BenchConfig(url=s.url, api_key=key, requests=1))
    assert "--model" not in e.value.message + (e.value.hint or "")
    assert "HTTP 401" in e.value.message and "right-key" not in e.value.message


def test_cli_rejected_api_key_exits_3_naming_the_key(fake_server, omc):
    s = fake_server(ttft_ms=5, itl_ms=1, tokens=3, api_key="right-key")
    res = omc("bench", "--url", s.url, "--api-key", "WRONG", "-n", "1")
    assert res.exit_code == 3
    assert "API key" in res.stderr and "pass --model" not in res.stderr and "WRONG" not in res.output + res.stderr


def test_429s_are_counted_as_rejected_and_advised_on(fake_server):
    """A server over its concurrency cap answers 429: bench counts them as rejected (and as
    http_429 errors), and the advice says what the cap is and how to stay under it."""
    s = fake_server(ttft_ms=5, itl_ms=2, tokens=4, errors="2:429,3:429,5:429")
    r = run_bench_sync(config(s, requests=6, concurrency=[1]))
    assert r.first_request.ok and r.rejected == 3 and r.errors == 3 and r.errors_by_kind == {"http_429": 3}
    assert r.levels[0].ok == 3 and r.levels[0].rejected == 3
    assert r.roofline.rule == "rejected" and "max_inputs" in r.roofline.advice and "does not queue" in r.roofline.advice
    from ollama_modal.bench.summary import rejected_total, summary_rows

    assert rejected_total(r) == 3
    assert "3 rejected with 429" in dict(summary_rows(r))["Requests"]

"""The proxy's request log line: its format, the strict reader, token counters, and what the
running proxy writes (never a byte of what the caller sent)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_modal.service.process import _start_reader
from ollama_modal.service.requestlog import (
    MAX_TOKENS, OTHER_ROUTE, PREFIX, ROUTES, SNIFF_LINE_LIMIT, RequestLine, TokenCounter, defuse, format_line,
    parse_line, parse_message, route_label,
)

from .conftest import KEY, ServedProxy, proxy_settings, wait_for
from .upstream import Answer, RecordingUpstream

T0 = datetime(2026, 11, 2, 9, 15, 0, 123456, tzinfo=timezone.utc)
GOOD = RequestLine(T0, "POST", "/v1/chat/completions", 200, 1.234567, 26, 298)


def _line(**change) -> str:
    obj = json.loads(format_line(GOOD)[len(PREFIX):])
    for k, v in change.items():
        if v is ...:
            obj.pop(k)
        else:
            obj[k] = v
    return PREFIX + json.dumps(obj, separators=(",", ":"))


# -- format and strict reading ------------------------------------------------------------------
def test_a_line_reads_back_as_written() -> None:
    line = format_line(GOOD)
    assert line.startswith(PREFIX) and "\n" not in line and len(line) < 200
    assert parse_line(line) == GOOD
    assert parse_line(line + "\r") == GOOD  # a CRLF log shipper
    bare = RequestLine(T0, "GET", "/api/tags", 401, 0.0)
    assert parse_line(format_line(bare)) == bare
    assert "tokens_in" not in format_line(bare)


def test_values_out_of_range_are_written_in_range() -> None:
    odd = RequestLine(T0, "BREW", "/etc/passwd", 200, float("nan"), -5, MAX_TOKENS * 10)
    back = parse_line(format_line(odd))
    assert back == RequestLine(T0, "OTHER", OTHER_ROUTE, 200, 0.0, 0, MAX_TOKENS)
    assert parse_line(format_line(RequestLine(T0, "GET", "/api/tags", 200, float("inf")))).duration_s == 0.0


def test_every_cut_of_a_line_is_refused() -> None:
    line = format_line(GOOD)
    for n in range(len(line)):
        assert parse_line(line[:n]) is None, line[:n]


@pytest.mark.parametrize("line", [
    " " + format_line(GOOD),  # not at the start
    "2026-11-02 " + format_line(GOOD),
    format_line(GOOD) + " ",
    format_line(GOOD) + "{}",
    format_line(GOOD).replace(PREFIX, "omc.request  "),
    format_line(GOOD).replace(PREFIX, "OMC.REQUEST "),
    format_line(GOOD).replace(PREFIX, "omc.requests "),
    PREFIX + "[]",
    PREFIX + "null",
    PREFIX + "{}",
    PREFIX + '{"time":"x"}',
    _line(route="/v1/chat/completions?key=sk-123"),  # the raw target, not a route name
    _line(route="/v1/models/llama"),
    _line(route="/secret"),
    _line(method="BREW"),
    _line(method="post"),
    _line(status=600), _line(status=99), _line(status=True), _line(status=200.0), _line(status="200"),
    _line(duration_s=-0.1), _line(duration_s=1e9), _line(duration_s="1"), _line(duration_s=None), _line(duration_s=False),
    _line(tokens_in=-1), _line(tokens_out=MAX_TOKENS + 1), _line(tokens_out=1.5), _line(tokens_out=None), _line(tokens_in=True),
    _line(time="2026-11-02T09:15:00Z"), _line(time="2026-11-02T09:15:00.123456+00:00"), _line(time="2026-13-02T09:15:00.123456Z"),
    _line(time=1788340500), _line(time="2026-11-02T09:15:00.123456Z\n"),
    _line(prompt="hello"),  # an extra key
    _line(status=...), _line(route=...), _line(time=...), _line(method=...), _line(duration_s=...),
    format_line(GOOD)[:-1] + ',"status":500}',  # a duplicate key: which one is true?
    format_line(GOOD).replace('"duration_s":1.234567', '"duration_s":NaN'),
    format_line(GOOD).replace('"duration_s":1.234567', '"duration_s":Infinity'),
    format_line(GOOD).replace("/v1/chat", "/v1/\\u0063hat"),  # escapes make it not ASCII-exact? it is ascii; route then matches
    PREFIX + "{" + '"a":' * 1 + "[" * 300 + "]" * 300 + "}",
    PREFIX + '{"time":"' + "x" * 600 + '"}',
])
def test_anything_but_an_exact_line_is_refused(line: str) -> None:
    if "\\u0063" in line:  # a JSON escape spelling the same route: still one meaning, accepted
        assert parse_line(line) == GOOD
        return
    assert parse_line(line) is None


def test_a_message_may_hold_several_lines_and_only_whole_ones_count() -> None:
    a, b = format_line(GOOD), format_line(RequestLine(T0, "GET", "/api/tags", 200, 0.01, None, 0))
    msg = f"noise\n{a}\n{b[:-3]}\n{b}\r\n\nomc-proxy: something\n"
    assert parse_message(msg) == [GOOD, parse_line(b)]
    assert parse_message("Ollama starting") == []
    # another break-like character never starts a line of its own
    assert parse_message("x\r" + a) == [] and parse_message("x\u2028" + a) == [] and parse_message("x\x85" + a) == []


def test_route_names_come_from_the_allow_list_never_from_the_target() -> None:
    assert route_label(b"/v1/chat/completions") == "/v1/chat/completions"
    assert route_label(b"/v1//chat/../chat/completions") == OTHER_ROUTE
    assert route_label(b"/v1/x/../chat/completions") == "/v1/chat/completions"
    assert route_label(b"/v1/models/sk-secret-model") == "/v1/models/{model}"
    assert route_label(b"/api/blobs/sha256:abc") == "/api/blobs/{digest}"
    assert route_label(b"/api/pull") == "/api/pull"
    assert route_label(b"/healthz") == "/healthz"
    for hostile in (b"/sk-live-123", b"/%2e%2e/etc/passwd", b"/a%0d%0aomc.request {}", b"relative", b"/\xff"):
        assert route_label(hostile) == OTHER_ROUTE
    assert all(r in ROUTES for r in ("/api/chat", "/v1/messages", OTHER_ROUTE))


def test_a_forwarded_line_cannot_pass_for_a_request_line() -> None:
    forged = format_line(GOOD)
    assert parse_line(defuse(forged)) is None and parse_message("x\n" + defuse("[GIN] " + forged)) == []
    assert defuse("plain ollama output") == "plain ollama output"


def test_ollama_output_is_forwarded_defused() -> None:
    import io

    r, w = os.pipe()
    out = io.StringIO()
    t = _start_reader(os.fdopen(r, "rb"), lambda: out, lambda _line: None)
    with os.fdopen(w, "wb") as f:
        f.write(format_line(GOOD).encode() + b"\nlevel=INFO msg=ok\n")
    t.join(5)
    lines = out.getvalue().splitlines()
    assert lines[1] == "level=INFO msg=ok" and parse_message(out.getvalue()) == []


# -- token counters ---------------------------------------------------------------------------
def _count(route: str, body: bytes, cut: int = 7) -> TokenCounter:
    c = TokenCounter(route)
    for i in range(0, len(body), cut):
        c.feed(body[i:i + cut])
    c.close()
    return c


def test_ollama_counters_from_a_stream_split_anywhere() -> None:
    body = b"".join(json.dumps(o).encode() + b"\n" for o in [
        {"message": {"content": "eval_count 99"}, "done": False},
        {"message": {"content": "", "tool_calls": [{"function": {"arguments": {"eval_count": 7777}}}]}, "done": False},
        {"done": True, "prompt_eval_count": 26, "eval_count": 298},
    ])
    for cut in (1, 2, 5, 64, len(body)):
        c = _count("/api/chat", body, cut)
        assert (c.tokens_in, c.tokens_out) == (26, 298), cut


def test_non_streamed_answers_without_a_newline() -> None:
    c = _count("/api/generate", json.dumps({"response": "hi", "prompt_eval_count": 3, "eval_count": 2}).encode())
    assert (c.tokens_in, c.tokens_out) == (3, 2)
    c = _count("/v1/chat/completions", json.dumps({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}).encode())
    assert (c.tokens_in, c.tokens_out) == (9, 4)
    c = _count("/v1/embeddings", json.dumps({"data": [], "usage": {"prompt_tokens": 5, "total_tokens": 5}}).encode())
    assert (c.tokens_in, c.tokens_out) == (5, None)


def test_openai_and_anthropic_streams() -> None:
    sse = b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in [
        {"choices": [{"delta": {"content": "usage"}}]},
        {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 40}},
    ]) + b"data: [DONE]\n\n"
    assert (lambda c: (c.tokens_in, c.tokens_out))(_count("/v1/chat/completions", sse)) == (11, 40)
    anthropic = (b"event: message_start\ndata: " + json.dumps({"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1}}}).encode()
                 + b"\n\nevent: message_delta\ndata: " + json.dumps({"type": "message_delta", "usage": {"output_tokens": 57}}).encode() + b"\n\n")
    assert (lambda c: (c.tokens_in, c.tokens_out))(_count("/v1/messages", anthropic)) == (12, 57)
    responses = b"data: " + json.dumps({"type": "response.completed", "response": {"usage": {"input_tokens": 8, "output_tokens": 21}}}).encode() + b"\n\n"
    assert (lambda c: (c.tokens_in, c.tokens_out))(_count("/v1/responses", responses)) == (8, 21)


def test_counters_are_read_only_where_the_api_puts_them() -> None:
    # Ollama's keys in an OpenAI answer, nested or badly typed counters: not counters.
    for route, obj in [
        ("/v1/chat/completions", {"eval_count": 5, "prompt_eval_count": 5}),
        ("/api/chat", {"usage": {"prompt_tokens": 5, "completion_tokens": 5}}),
        ("/api/chat", {"message": {"eval_count": 5}}),
        ("/api/chat", {"eval_count": True, "prompt_eval_count": -1}),
        ("/api/chat", {"eval_count": 1.5}),
        ("/api/chat", {"eval_count": MAX_TOKENS + 1}),
        ("/healthz", {"eval_count": 5}),
    ]:
        c = _count(route, json.dumps(obj).encode() + b"\n")
        assert (c.tokens_in, c.tokens_out) == (None, None), (route, obj)


def test_an_overlong_line_is_relayed_not_read() -> None:
    big = json.dumps({"response": "x" * SNIFF_LINE_LIMIT, "eval_count": 5}).encode() + b"\n"
    after = json.dumps({"done": True, "eval_count": 6, "prompt_eval_count": 1}).encode() + b"\n"
    c = _count("/api/generate", big + after, cut=4096)
    assert (c.tokens_in, c.tokens_out) == (1, 6)
    assert len(c._line) == 0


# -- the running proxy writes one line per request ------------------------------------------------
@pytest.fixture
def logged(upstream):
    lines: list[str] = []
    with ServedProxy(proxy_settings(upstream.host), request_log=lines.append) as p:
        yield p, upstream, lines


def test_one_line_per_request_with_route_status_and_tokens(logged) -> None:
    proxy, upstream, lines = logged
    upstream.answers["/api/chat"] = Answer(body=b'{"message":{"content":"hi"},"done":true,"prompt_eval_count":26,"eval_count":298}')
    upstream.answers["/api/tags"] = Answer(body=b'{"models":[]}')
    h = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=proxy.url, timeout=10) as c:
        assert c.post("/api/chat?secret=1", json={"messages": []}, headers=h).status_code == 200
        assert c.get("/api/tags", headers=h).status_code == 200
        assert c.get("/api/tags").status_code == 401
        assert c.post("/api/pull", headers=h).status_code == 403
        assert c.get("/nope/sk-123", headers=h).status_code == 404
        assert c.get("/healthz").status_code in (200, 503)
    wait_for(lambda: len(lines) >= 6, "six request lines")  # each is written once its answer is out
    recs = [parse_line(x) for x in lines]
    assert None not in recs and len(recs) == 6
    recs.sort(key=lambda r: r.time)  # a line is written once the answer is out: order by start
    chat, tags, unauth, pull, nope, health = recs
    assert (chat.method, chat.route, chat.status, chat.tokens_in, chat.tokens_out) == ("POST", "/api/chat", 200, 26, 298)
    assert (tags.route, tags.status, tags.tokens_in, tags.tokens_out) == ("/api/tags", 200, None, 0)
    assert (unauth.status, unauth.tokens_out, pull.status, pull.route) == (401, 0, 403, "/api/pull")
    assert (nope.route, nope.status, health.route) == (OTHER_ROUTE, 404, "/healthz")
    assert all(r.time.tzinfo is not None and r.duration_s >= 0 for r in recs)
    assert not any("secret" in x or "sk-123" in x or KEY in x for x in lines)


def test_a_generation_without_counters_has_no_token_count(logged) -> None:
    proxy, upstream, lines = logged
    upstream.answers["/v1/chat/completions"] = Answer(body=b'{"choices":[]}')
    upstream.answers["/api/generate"] = Answer(status=404, body=b'{"error":"model not found"}')
    h = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=proxy.url, timeout=10) as c:
        c.post("/v1/chat/completions", json={}, headers=h)
        c.post("/api/generate", json={}, headers=h)
    wait_for(lambda: len(lines) >= 2, "two request lines")
    a, b = sorted((parse_line(x) for x in lines), key=lambda r: r.time)
    assert (a.tokens_in, a.tokens_out) == (None, None)  # unknown, not zero
    assert (b.status, b.tokens_out) == (404, 0)  # failed: nothing generated


# -- property: nothing the caller sends reaches the line ------------------------------------------
EXAMPLES = min(int(os.environ.get("OMC_PROPERTY_EXAMPLES", "200")), 60)
SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8, max_size=24).map(lambda s: "zq" + s)
PATHS = sorted({*ROUTES} - {"(other)"} | {"/v1/models/codellama:7b", "/api/blobs/sha256:ab"})


@st.composite
def hostile_requests(draw):
    secrets = draw(st.lists(SECRET, min_size=5, max_size=5, unique=True))
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"]))
    path = draw(st.one_of(st.sampled_from(PATHS), st.just("/" + secrets[0]), st.just("/v1/models/" + secrets[0]),
                          st.just("/api/blobs/" + secrets[0])))
    key = draw(st.sampled_from([KEY, secrets[1], None]))
    return secrets, method, path, key


@pytest.fixture(scope="module")
def shared():
    lines: list[str] = []
    with RecordingUpstream() as upstream, ServedProxy(proxy_settings(upstream.host), request_log=lines.append) as proxy:
        yield proxy, upstream, lines


@given(req=hostile_requests())
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_no_byte_of_what_the_caller_sent_reaches_the_log_line(shared, req) -> None:
    proxy, upstream, lines = shared
    secrets, method, path, key = req
    lines.clear()
    for p in PATHS:  # the answer echoes the caller's words, as a model may
        upstream.answers[p] = Answer(body=json.dumps({"response": " ".join(secrets), "eval_count": 3}).encode())
    headers = {"X-Custom": secrets[2], "User-Agent": secrets[3], "Cookie": f"s={secrets[3]}"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    with httpx.Client(base_url=proxy.url, timeout=10) as c:
        c.request(method, path, params={"q": secrets[4]}, content=(" ".join(secrets)).encode(), headers=headers)
    wait_for(lambda: lines, "the request line")
    assert len(lines) == 1
    line = lines[0]
    rec = parse_line(line)
    assert rec is not None and rec.route in ROUTES
    for s in (*secrets, KEY, "127.0.0.1"):
        assert s not in line


def test_a_request_without_an_answer_is_logged_as_failed_or_left() -> None:
    import asyncio

    from ollama_modal.service.requestlog import RequestLog

    lines: list[str] = []

    async def crashes(scope, receive, send):
        raise RuntimeError("bug")

    async def caller_left(scope, receive, send):
        raise asyncio.CancelledError

    async def run(app) -> None:
        scope = {"type": "http", "method": "POST", "path": "/api/chat", "raw_path": b"/api/chat", "headers": []}
        with pytest.raises(BaseException):
            await RequestLog(app, emit=lines.append)(scope, None, None)

    asyncio.run(run(crashes))
    asyncio.run(run(caller_left))
    assert [(r.status, r.tokens_out) for r in map(parse_line, lines)] == [(500, 0), (499, 0)]

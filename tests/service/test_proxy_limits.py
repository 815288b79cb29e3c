"""Body size limit, cookies, /readyz against odd answers, CORS, and the retry of a request that
met a stale pooled upstream connection. The real proxy app, a recording upstream on a socket."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from ollama_modal.service import proxy as proxy_mod
from ollama_modal.service.proxy import create_app

from .conftest import KEY, MODEL, ServedProxy, auth, proxy_settings, wait_for
from .upstream import Answer, RecordingUpstream, raw_request, request_bytes

ORIGIN = "https://app.example.com"


# -- item 4: body size limit ---------------------------------------------------------------
@pytest.fixture
def small(upstream):
    with ServedProxy(proxy_settings(upstream.host, max_body_bytes=4096)) as p:
        yield p


def test_a_declared_length_over_the_limit_is_413_before_any_body_is_read(small, upstream):
    head = (b"POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + KEY.encode()
            + b"\r\nContent-Length: 1073741824\r\n\r\n")
    r = raw_request(small.port, head)  # the body is never sent: the answer must not wait for it
    assert r.status == 413
    assert r.json()["error"]["code"] == "body_too_large" and "4096" in r.json()["error"]["message"]
    assert upstream.requests() == [] and upstream.connections == 0


def test_a_chunked_body_over_the_limit_is_413_and_never_completes_upstream(small, upstream):
    with socket.create_connection(("127.0.0.1", small.port), timeout=10) as s:
        s.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + KEY.encode()
                  + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"x" * 1024
        answer = b""
        try:
            for _ in range(64):
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy stopped reading: fine
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert upstream.requests() == []  # what started upstream was cut off, never completed
    assert upstream.body_bytes <= 4096 + 2048


def test_a_body_at_the_limit_passes_whole(small, upstream):
    body = json.dumps({"model": MODEL, "prompt": "x" * (4096 - 40)}).encode()[:4096]
    r = raw_request(small.port, request_bytes("POST", b"/api/generate", {"Authorization": f"Bearer {KEY}"}, body))
    assert r.status == 200
    assert upstream.requests()[0].body == body


def test_the_body_streams_to_the_upstream_before_the_caller_has_sent_it_all(proxy, upstream):
    # If the proxy held the whole body first, the upstream would see nothing until the end.
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as s:
        s.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + KEY.encode()
                  + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"y" * 65536
        for _ in range(4):
            s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        wait_for(lambda: upstream.body_bytes >= 65536, "the upstream to receive body bytes while the caller still sends")
        assert upstream.requests() == []  # still in progress
        s.sendall(b"0\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    (seen,) = upstream.requests()
    assert len(seen.body) == 4 * 65536


# -- item 5: no cookie jar -----------------------------------------------------------------
def test_a_cookie_set_by_the_upstream_is_never_sent_on_another_request(proxy, upstream):
    upstream.answers["/api/tags"] = Answer(headers=[("Set-Cookie", "session=caller-a; Path=/")])
    a = httpx.get(f"http://127.0.0.1:{proxy.port}/api/tags", headers=auth())
    assert a.status_code == 200 and a.headers["set-cookie"] == "session=caller-a; Path=/"  # relayed to its caller
    httpx.get(f"http://127.0.0.1:{proxy.port}/api/version", headers=auth())
    httpx.post(f"http://127.0.0.1:{proxy.port}/api/chat", headers=auth(), json={"model": MODEL})
    assert [s.header("cookie") for s in upstream.requests()] == [None, None, None]


# -- item 6: /readyz against any answer ----------------------------------------------------
@pytest.mark.parametrize("ps, version", [
    (Answer(body=b"not json"), Answer()),
    (Answer(body=b"[1, 2]"), Answer()),
    (Answer(body=b'{"models": "codellama:7b"}'), Answer()),
    (Answer(body=b'{"models": [1, "a", null, {"name": 5}, {"model": ["x"]}]}'), Answer()),
    (Answer(body=b"null"), Answer()),
    (Answer(body=b'"text"'), Answer()),
    (Answer(status=500, body=b'{"error": "boom"}'), Answer()),
    (Answer(body=b'{"models": [{"name": "codellama:7b"}]}'), Answer(body=b"<html>")),
    (Answer(body=b'{"models": [{"name": "codellama:7b"}]}'), Answer(status=404, body=b"")),
    (Answer(body=b"\xff\xfe"), Answer()),
    (Answer(body=b'{"models": []}'), Answer()),
])
def test_readyz_is_503_with_a_json_reason_for_any_odd_answer(proxy, upstream, ps, version):
    upstream.answers["/api/ps"], upstream.answers["/api/version"] = ps, version
    r = httpx.get(f"http://127.0.0.1:{proxy.port}/readyz")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["ready"] is False and body["model"] == MODEL and isinstance(body["reason"], str)


def test_readyz_reports_odd_fields_of_a_loaded_model_as_null(proxy, upstream):
    upstream.answers["/api/ps"] = Answer(body=b'{"models": [{"name": "codellama:7b", "size_vram": "big"}]}')
    upstream.answers["/api/version"] = Answer(body=b'{"version": {"x": 1}}')
    r = httpx.get(f"http://127.0.0.1:{proxy.port}/readyz")
    assert r.status_code == 200
    assert r.json() == {"ready": True, "model": MODEL, "size_vram": None, "ollama_version": None}


async def test_readyz_is_503_when_the_upstream_never_answers(monkeypatch):
    monkeypatch.setattr(proxy_mod, "HEALTH_TIMEOUT_S", 0.2)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        app = create_app(proxy_settings(f"127.0.0.1:{silent.getsockname()[1]}"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as c:
            r = await c.get("/readyz")
    assert r.status_code == 503 and "did not answer within" in r.json()["reason"]


# -- item 7: CORS --------------------------------------------------------------------------
@pytest.fixture
def cors_proxy(upstream):
    with ServedProxy(proxy_settings(upstream.host, cors_origins=(ORIGIN,))) as p:
        yield p


def preflight(port: int, origin: str, method: str = "POST", headers: str = "authorization, content-type") -> httpx.Response:
    return httpx.options(f"http://127.0.0.1:{port}/v1/chat/completions", headers={
        "Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})


def test_an_allowed_origin_gets_its_preflight_without_a_key(cors_proxy, upstream):
    r = preflight(cors_proxy.port, ORIGIN)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    allowed_headers = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in r.headers
    assert upstream.requests() == []


def test_an_allowed_origin_can_read_answers_and_errors(cors_proxy, upstream):
    ok = httpx.post(f"http://127.0.0.1:{cors_proxy.port}/v1/chat/completions", headers={**auth(), "Origin": ORIGIN}, json={})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    denied = httpx.post(f"http://127.0.0.1:{cors_proxy.port}/v1/chat/completions", headers={"Origin": ORIGIN}, json={})
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://app.example.com.evil.com", "http://app.example.com",
                                    "https://app.example.com:8443", "null", "*"])
def test_other_origins_get_no_cors_headers_and_need_a_key(cors_proxy, upstream, origin):
    r = preflight(cors_proxy.port, origin)
    assert r.status_code == 401
    assert not any(k.startswith("access-control-") for k in r.headers)
    r = httpx.post(f"http://127.0.0.1:{cors_proxy.port}/v1/chat/completions", headers={**auth(), "Origin": origin}, json={})
    assert r.status_code == 200
    assert not any(k.startswith("access-control-") for k in r.headers)


def test_without_cors_origins_a_preflight_is_an_ordinary_request(proxy, upstream):
    r = preflight(proxy.port, ORIGIN)
    assert r.status_code == 401 and not any(k.startswith("access-control-") for k in r.headers)


def test_cors_never_answers_with_a_wildcard(cors_proxy):
    for r in (preflight(cors_proxy.port, ORIGIN), preflight(cors_proxy.port, ORIGIN, "GET", "x-stainless-os")):
        assert r.headers.get("access-control-allow-origin") == ORIGIN


# -- item 13: stale pooled connections -----------------------------------------------------
def test_a_request_on_a_connection_the_upstream_closed_is_retried_once_on_a_fresh_one(capfd):
    with RecordingUpstream(mode="stale") as up, ServedProxy(proxy_settings(up.host)) as p:
        with httpx.Client(base_url=f"http://127.0.0.1:{p.port}", headers=auth()) as c:
            statuses = [c.post("/api/chat", json={"model": MODEL, "i": i}).status_code for i in range(6)]
            statuses += [c.get("/api/tags").status_code for _ in range(3)]
        assert statuses == [200] * 9
        assert [json.loads(s.body)["i"] for s in up.requests()[:6]] == list(range(6))  # each once, in order
    assert "retrying on a fresh connection" in capfd.readouterr().err


def test_streams_from_a_server_that_closes_after_each_response_never_502(capfd):
    with RecordingUpstream(mode="close_after_stream") as up, ServedProxy(proxy_settings(up.host)) as p:
        with httpx.Client(base_url=f"http://127.0.0.1:{p.port}", headers=auth()) as c:
            for i in range(20):
                with c.stream("POST", "/v1/chat/completions", json={"model": MODEL, "stream": True, "i": i}) as r:
                    assert r.status_code == 200
                    events = [line for line in r.iter_lines() if line.startswith("data: ")]
                assert len(events) == 3
        assert len(up.requests()) == 20


async def test_a_body_that_was_streamed_and_not_kept_is_not_replayed(monkeypatch):
    monkeypatch.setattr(proxy_mod, "REPLAY_LIMIT", 8)
    with RecordingUpstream(mode="stale") as up:
        app = create_app(proxy_settings(up.host))
        first = await _asgi(app, [b'{"a": 1}'])
        assert first[0] == 200  # opened the pooled connection
        # The same request again, its body in two parts (16 bytes, over the kept 8): the pooled
        # connection is stale, and the body cannot be sent again, so the answer is 502.
        again = await _asgi(app, [b'{"a": 1, ', b'"b": 22}'])
        assert again[0] == 502 and json.loads(again[1])["error"]["code"] == "upstream_unavailable"
        # A body that fits the kept part is replayed: 200.
        monkeypatch.setattr(proxy_mod, "REPLAY_LIMIT", 1024)
        assert (await _asgi(app, [b'{"a": 1}']))[0] == 200
        third = await _asgi(app, [b'{"a": 1, ', b'"b": 22}'])
        assert third[0] == 200
        assert [s.body for s in up.requests()] == [b'{"a": 1}', b'{"a": 1}', b'{"a": 1, "b": 22}']


async def _asgi(app, parts: list[bytes]) -> tuple[int, bytes]:
    """Call the ASGI app with the body in ``parts`` (one receive() message each)."""
    messages = [{"type": "http.request", "body": b, "more_body": i < len(parts) - 1} for i, b in enumerate(parts)]
    done = threading.Event()
    sent: list[dict] = []

    async def receive():
        if messages:
            return messages.pop(0)
        import anyio

        while not done.is_set():
            await anyio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/chat", "raw_path": b"/api/chat", "query_string": b"", "root_path": "",
             "headers": [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

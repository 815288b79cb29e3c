"""What must keep holding on the wire: smuggling shapes never reach the upstream as a second
request, and keys never leave the proxy (raw bytes to uvicorn running the real proxy app in
front of a recording upstream)."""

from __future__ import annotations

import pytest

from ollama_modal.service.routes import allowed

from .conftest import KEY
from .upstream import raw_request

AUTH = f"Authorization: Bearer {KEY}\r\n".encode()
SMUGGLED = b"POST /api/pull HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


def head(extra: bytes, target: bytes = b"/api/chat") -> bytes:
    return b"POST " + target + b" HTTP/1.1\r\nHost: proxy.test\r\nConnection: close\r\n" + AUTH + extra + b"\r\n"


@pytest.mark.parametrize("data", [
    # CL.TE and TE.CL: a second request hidden behind conflicting framing
    head(b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n") + b"0\r\n\r\n" + SMUGGLED,
    head(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n") + b"5c\r\n" + SMUGGLED + b"\r\n0\r\n\r\n",
    # obfuscated Transfer-Encoding
    head(b"Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n") + b"0\r\n\r\n" + SMUGGLED,
    head(b"Transfer-Encoding: chunked, identity\r\n") + b"0\r\n\r\n" + SMUGGLED,
    head(b"Transfer-Encoding : chunked\r\n") + b"0\r\n\r\n" + SMUGGLED,
    head(b"Content-Length: 2\r\nContent-Length: 60\r\n") + b"{}" + SMUGGLED,
    # bad chunk sizes
    head(b"Transfer-Encoding: chunked\r\n") + b"fffffffffffffffff\r\n{}\r\n0\r\n\r\n" + SMUGGLED,
    head(b"Transfer-Encoding: chunked\r\n") + b"-2\r\n{}\r\n0\r\n\r\n" + SMUGGLED,
    head(b"Transfer-Encoding: chunked\r\n") + b"0x2\r\n{}\r\n0\r\n\r\n" + SMUGGLED,
    head(b"Transfer-Encoding: chunked\r\n") + b"2\r\n{}XX0\r\n\r\n" + SMUGGLED,
    head(b"Transfer-Encoding: chunked\r\n") + b"2\n{}\n0\n\n" + SMUGGLED,
    # a well-framed body that merely contains a request: forwarded as an opaque body
    head(b"Content-Length: %d\r\n" % (len(SMUGGLED) + 2)) + b"{}" + SMUGGLED,
    head(b"Transfer-Encoding: chunked\r\n") + b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n",
])
def test_smuggling_shapes_never_reach_the_upstream_as_a_second_request(proxy, upstream, data):
    raw_request(proxy.port, data, timeout=2)  # some shapes leave the body open
    seen = upstream.requests()
    assert len(seen) <= 1, [(s.method, s.target) for s in seen]
    for s in seen:
        assert (s.method, s.target) == ("POST", b"/api/chat")
        assert allowed(s.method, s.target.decode())
    assert upstream.connections <= 1


def test_pipelined_requests_are_each_checked(proxy, upstream):
    # Two requests on one connection: the second has no key and names a blocked path.
    first = b"POST /api/chat HTTP/1.1\r\nHost: proxy.test\r\n" + AUTH + b"Content-Length: 2\r\n\r\n{}"
    data = first + b"POST /v1/models/../../api/pull HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    r = raw_request(proxy.port, data)
    assert r.raw.count(b"HTTP/1.1 200") == 1 and b"HTTP/1.1 401" in r.raw
    assert [(s.method, s.target) for s in upstream.requests()] == [("POST", b"/api/chat")]


def test_keys_never_reach_the_upstream_logs_or_answers(proxy, upstream, capfd):
    wrong = "omc-wrong-key-that-must-not-echo"
    sent = [
        head(b"Content-Length: 2\r\nX-Api-Key: " + KEY.encode() + b"\r\nModal-Secret: " + KEY.encode() + b"\r\n") + b"{}",
        head(b"Content-Length: 2\r\n", b"/v1/models/../../api/pull") + b"{}",
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + wrong.encode() + b"\r\n\r\n",
        b"GET /api/tags HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + wrong.encode() + b"\r\n\r\n",
        b"GET /api/tags HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic " + KEY.encode() + b"\r\n\r\n",
        head(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n") + b"zz\r\n",
    ]
    answers = [raw_request(proxy.port, d) for d in sent]
    out, err = capfd.readouterr()
    for secret in (KEY, wrong):
        assert all(a is None or secret.encode() not in a.raw for a in answers)
        assert secret not in out and secret not in err
        for s in upstream.requests():
            assert secret not in repr(s.headers) and secret.encode() not in s.body
    assert all(s.header("authorization") is None for s in upstream.requests())
    assert len(upstream.requests()) == 1


def test_key_compares_are_constant_time_and_never_short_circuit(monkeypatch):
    import hmac

    from ollama_modal.service import auth as auth_mod

    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth_mod.hmac, "compare_digest", recording)
    checker = auth_mod.KeyChecker(["k-one", "k-two", "k-three"])
    for header, ok in [("Bearer k-one", True), ("Bearer k-three", True), ("Bearer nope", False), (None, False), ("Basic k-one", False)]:
        calls.clear()
        assert checker.check(header) is ok
        assert len(calls) == 3  # every key compared, whichever matched (or none)


def test_a_caller_leaving_mid_body_cancels_the_upstream_request(proxy, upstream):
    import socket

    from .conftest import wait_for

    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(head(b"Transfer-Encoding: chunked\r\n") + b"8\r\n{\"a\": 1,\r\n")
        wait_for(lambda: upstream.body_bytes >= 8, "the first body bytes to reach the upstream")
    wait_for(lambda: upstream.truncated == 1, "the upstream to see its request cut off")
    assert upstream.requests() == []

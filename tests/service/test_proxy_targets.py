"""The canonical request target and the allow-list, sent as raw bytes to uvicorn running the
real proxy in front of a recording upstream (what arrives upstream is what was forwarded)."""

from __future__ import annotations

import pytest

from ollama_modal.service.routes import ALLOWED, TargetError, canonical_target

from .conftest import KEY, MODEL
from .upstream import raw_request, request_bytes

BODY = b'{"model": "codellama:7b"}'


def send(proxy, method: str, target: bytes, key: str | None = KEY, body: bytes = b"", headers: dict | None = None):
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    return raw_request(proxy.port, request_bytes(method, target, h, body))


# -- item 1: dot segments and encodings -----------------------------------------------------
@pytest.mark.parametrize("target", [
    b"/v1/models/../../api/pull", b"/v1/models/%2e%2e/%2e%2e/api/pull", b"/v1/models/%2E%2E/%2E%2E/api/pull",
    b"/v1/models/.%2e/%2E./api/pull", b"/api/tags/../pull", b"/api/./pull", b"/v1/chat/../../api/delete",
    b"/api/show/../create", b"/api/tags/../copy", b"/api/tags/../push", b"/api/tags/../blobs/sha256:abc",
])
def test_dot_segments_cannot_reach_model_changing_endpoints(proxy, upstream, target):
    r = send(proxy, "POST", target, body=BODY)
    assert r.status == 403, (target, r.raw)
    assert r.json()["error"]["code"] == "endpoint_blocked"
    assert upstream.requests() == []


@pytest.mark.parametrize("target, problem", [
    (b"/v1/models/..%2f..%2fapi/pull", "encoded"), (b"/v1/models/..%2F..%2Fapi%2Fpull", "encoded"),
    (b"/api%2fpull", "encoded"), (b"/api%5cpull", "encoded"), (b"/api\\pull", "backslash"),
    (b"/api/tags%00", "control"), (b"/api/tags%0a", "control"), (b"/../api/tags", "root"),
    (b"/api/../../api/tags", "root"), (b"/%2e%2e/api/tags", "root"), (b"/api/tags%", "percent"),
    (b"/api/tags%zz", "percent"), (b"/api/%ff", "UTF-8"),
])
def test_ambiguous_targets_are_400_and_never_forwarded(proxy, upstream, target, problem):
    r = send(proxy, "GET", target)
    assert r is not None and r.status == 400, (target, r and r.raw)
    if r.body:  # uvicorn itself refuses some targets before the app sees them
        assert r.json()["error"]["code"] == "invalid_path"
        assert problem in r.json()["error"]["message"]
    assert upstream.requests() == []


@pytest.mark.parametrize("target, forwarded", [
    (b"/v1/x/../chat/completions", b"/v1/chat/completions"),
    (b"/v1/./chat/completions", b"/v1/chat/completions"),
    (b"/v1/%63hat/completions", b"/v1/chat/completions"),
    (b"/api/x/%2e%2e/chat", b"/api/chat"),
    (b"/api/chat?x=1", b"/api/chat?x=1"),
])
def test_the_decided_path_is_exactly_the_forwarded_path(proxy, upstream, target, forwarded):
    r = send(proxy, "POST", target, body=BODY)
    assert r.status == 200, r.raw
    (seen,) = upstream.requests()
    assert (seen.method, seen.target) == ("POST", forwarded)
    assert seen.body == BODY


@pytest.mark.parametrize("target", [b"/api//tags", b"//api/tags", b"/api/tags/", b"/v1/models/", b"/v1/models/a/b", b"/API/tags"])
def test_nothing_is_collapsed_silently(proxy, upstream, target):
    r = send(proxy, "GET", target)
    assert r.status == 404 and r.json()["error"]["code"] == "not_found"
    assert upstream.requests() == []


def test_model_info_keeps_its_encoded_name(proxy, upstream):
    assert send(proxy, "GET", b"/v1/models/codellama%3a7b").status == 200
    assert send(proxy, "GET", b"/v1/models/hf.co%40x").status == 200
    assert [s.target for s in upstream.requests()] == [b"/v1/models/codellama:7b", b"/v1/models/hf.co@x"]


@pytest.mark.parametrize("raw, path, forwarded", [
    (b"/a/b/../c", "/a/c", b"/a/c"), (b"/a/b/..", "/a/", b"/a/"), (b"/a/.", "/a/", b"/a/"), (b"/", "/", b"/"),
    (b"/a%20b", "/a b", b"/a%20b"), (b"/%E2%82%AC", "/\u20ac", b"/%E2%82%AC"), (b"/a//b", "/a//b", b"/a//b"),
])
def test_canonical_target(raw, path, forwarded):
    t = canonical_target(raw)
    assert (t.path, t.raw) == (path, forwarded)
    assert canonical_target(t.raw) == t  # canonical is a fixed point


@pytest.mark.parametrize("raw", [b"", b"*", b"http://x/api/tags", b"/..", b"/a/%2f", b"/a\x00", b"/\xc3\xa9"])
def test_canonical_target_refuses(raw):
    with pytest.raises(TargetError):
        canonical_target(raw)


def test_a_server_that_decoded_the_path_already_is_not_decoded_twice():
    assert canonical_target(b"/api/%2e%2e/x", decoded=True).path == "/api/%2e%2e/x"
    assert canonical_target(b"/api/%2e%2e/x", decoded=True).raw == b"/api/%252e%252e/x"
    with pytest.raises(TargetError):
        canonical_target(b"/api/../../x", decoded=True)


# -- item 3: methods -----------------------------------------------------------------------
@pytest.mark.parametrize("method, target, allow", [
    ("DELETE", b"/api/tags", "GET, HEAD"), ("PUT", b"/api/show", "POST"), ("TRACE", b"/api/version", "GET, HEAD"),
    ("GET", b"/api/chat", "POST"), ("PATCH", b"/v1/chat/completions", "POST"), ("POST", b"/v1/models", "GET"),
    ("DELETE", b"/v1/models/codellama:7b", "GET"), ("OPTIONS", b"/api/generate", "POST"), ("POST", b"/api/ps", "GET"),
])
def test_known_path_with_another_method_is_405_with_allow(proxy, upstream, method, target, allow):
    r = send(proxy, method, target)
    assert r.status == 405, r.raw
    assert r.headers["allow"] == allow
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert upstream.requests() == []


def test_every_allowed_pair_is_forwarded_as_is(proxy, upstream):
    pairs = [(m, p) for p, ms in ALLOWED.items() for m in ms] + [("GET", f"/v1/models/{MODEL}")]
    for method, path in pairs:
        r = send(proxy, method, path.encode(), body=BODY if method == "POST" else b"")
        assert r.status == 200, (method, path, r.raw)
    assert [(s.method, s.target.decode()) for s in upstream.requests()] == pairs
    assert {"/v1/responses", "/v1/messages"} <= set(ALLOWED)


def test_health_paths_are_exact_and_answer_other_methods_with_405(proxy, upstream):
    r = send(proxy, "POST", b"/healthz", key=None)
    assert r.status == 405 and r.headers["allow"] == "GET, HEAD"
    assert send(proxy, "GET", b"/healthz", key=None).status == 200
    # Spelled any other way it is an ordinary path: a key first, then 404.
    assert send(proxy, "GET", b"/%68ealthz", key=None).status == 401
    assert send(proxy, "GET", b"/healthz/", key=None).status == 401
    assert send(proxy, "GET", b"/%68ealthz").status == 404


def test_the_key_is_checked_before_the_target_is_read(proxy, upstream):
    for target in (b"/v1/models/../../api/pull", b"/api%2fpull", b"/nope", b"/api/tags%00"):
        r = send(proxy, "POST", target, key=None, body=BODY)
        assert r.status == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert upstream.requests() == []

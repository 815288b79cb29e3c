"""Property: whatever method and request target a caller sends, the upstream only ever receives
an allow-listed (method, path), exactly in canonical form, and every path except the two
health endpoints needs a key.

Requests go as raw bytes to uvicorn running the real proxy in front of a recording upstream.
Deterministic (derandomized); OMC_PROPERTY_EXAMPLES sets the example count (default 200).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ollama_modal.service.routes import ALLOWED, BLOCKED, TargetError, allowed, canonical_target

from .conftest import KEY, ServedProxy, proxy_settings
from .upstream import RecordingUpstream, raw_request, request_bytes

EXAMPLES = int(os.environ.get("OMC_PROPERTY_EXAMPLES", "200"))

METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "Post"]
PIECES = [
    "api", "v1", "pull", "push", "delete", "create", "copy", "blobs", "sha256:ab", "chat", "completions",
    "generate", "tags", "show", "ps", "version", "embed", "embeddings", "models", "messages", "responses",
    "healthz", "readyz", "codellama:7b", "..", ".", "", "%2e%2e", "%2E%2e", ".%2e", "%2e", "%2f", "%2F", "%5c",
    "%5C", "%00", "%0d%0a", "%25", "%252e", "%", "%g1", "%c3%a9", "%ff", "\\", "\x00", "\u00e9", "\u2025",
    "..;", ";", "?", "#", "@", "%3f", "%23", "~", "%7e", "%20", "%09",
]


BASES = [*ALLOWED, "/v1/models/codellama:7b", *BLOCKED, "/api/blobs/sha256:ab", "/healthz", "/readyz", "/", "/api/status"]


@st.composite
def requests(draw) -> tuple[str, bytes]:
    """(method, request target)."""
    method = draw(st.one_of(st.sampled_from(METHODS), st.from_regex(r"[A-Za-z]{1,9}", fullmatch=True)))
    if draw(st.sampled_from(["mutated", "mutated", "mutated", "free"])) == "free":  # any pieces in any order
        segments = draw(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), min_size=0, max_size=7))
    else:  # a real path, mutated: what an attacker starts from
        base = draw(st.sampled_from(BASES))
        if draw(st.sampled_from([True, True, False])):
            method = draw(st.sampled_from(ALLOWED.get(base, ("POST", "GET"))))
        segments = base.split("/")[1:]
        for _ in range(draw(st.integers(0, 3))):
            op = draw(st.sampled_from(["piece", "detour", "detour", "dot", "encode", "encode", "double", "noise"]))
            i = draw(st.integers(0, len(segments)))
            if op == "piece":
                segments.insert(i, draw(st.sampled_from(PIECES)))
            elif op == "detour":  # "x/.." in any spelling: resolves to nothing
                segments[i:i] = [draw(st.sampled_from(["x", "v1", "api", "models", "codellama:7b", "%61pi"])),
                                 draw(st.sampled_from(["..", "%2e%2e", ".%2E", "%2E.", "%2E%2E"]))]
            elif op == "dot":
                segments.insert(i, draw(st.sampled_from([".", "%2e", "%2E"])))
            elif op == "double":
                segments.insert(i, "")
            elif op == "encode" and any(segments):
                j = draw(st.sampled_from([k for k, seg in enumerate(segments) if seg]))
                seg = segments[j]
                c = draw(st.integers(0, len(seg) - 1))
                code = f"%{ord(seg[c]):02X}" if ord(seg[c]) < 128 else seg[c]
                segments[j] = seg[:c] + (code.lower() if draw(st.booleans()) else code) + seg[c + 1:]
            elif op == "noise":
                segments.insert(i, draw(st.text(max_size=3)))
    path = "/" + "/".join(segments)
    prefix = draw(st.sampled_from(["", "", "", "", "", "", "", "/", "//", "http://proxy.test", "*"]))
    query = draw(st.sampled_from(["", "", "", "?x=1", "?a=%2e%2e/api/pull", "?%00"]))
    text = ("*" if prefix == "*" and not segments else prefix + path) + query
    # CR and LF frame the request line itself; the smuggling tests cover them.
    return method, text.replace("\r", "").replace("\n", "").encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def stack():
    with RecordingUpstream() as upstream, ServedProxy(proxy_settings(upstream.host)) as proxy:
        yield upstream, proxy


def forwarded_since(upstream, mark: int):
    return upstream.requests()[mark:]


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests())
def test_upstream_only_sees_allow_listed_canonical_requests(stack, request):
    upstream, proxy = stack
    method, target = request
    body = b'{"model": "codellama:7b"}'

    # With a key: anything forwarded is allowed, canonical, and the target's own canonical form.
    mark = len(upstream.requests())
    r = raw_request(proxy.port, request_bytes(method, target, {"Authorization": f"Bearer {KEY}"}, body))
    new = forwarded_since(upstream, mark)
    health = target.partition(b"?")[0] in (b"/healthz", b"/readyz")
    for seen in new:
        path = seen.target.partition(b"?")[0]
        assert allowed(seen.method, path.decode()), (method, target, seen.method, seen.target)
        assert canonical_target(path).raw == path
        if not health:
            assert seen.method == method
            assert path == canonical_target(target.partition(b"?")[0]).raw
    if new and not health:
        assert r is not None and r.status == 200
    event("health" if health else "forwarded" if new else f"refused {r.status if r else 'no answer'}")

    # Without a key: 401 from the app (or a refusal by the HTTP server itself), nothing forwarded.
    mark = len(upstream.requests())
    r = raw_request(proxy.port, request_bytes(method, target, {}, body))
    if health:
        return
    assert forwarded_since(upstream, mark) == []
    assert r is not None
    if r.status != 401:
        assert r.status == 400 and b'"error"' not in r.body, (method, target, r.raw)  # refused by uvicorn


def test_the_generator_reaches_forwarding_and_refusals(stack):
    """Guard against a vacuous property: the pieces do produce each outcome."""
    for raw, ok in [(b"/api/x/../tags", True), (b"/v1/models/%2e%2e/%2e%2e/api/pull", False), (b"/a%2f", None)]:
        try:
            t = canonical_target(raw)
        except TargetError:
            assert ok is None
            continue
        assert allowed("GET", t.path) is ok

"""The proxy served by uvicorn in front of the real runtime and the fake `ollama serve`."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from ollama_modal.service.process import OllamaProcess
from ollama_modal.service.proxy import create_app
from ollama_modal.service.routes import decide
from ollama_modal.service.settings import ServiceSettings

from .conftest import KEY, MODEL, ServedApp, auth, fake_stats, free_port, place_model, wait_for

GENERATE = {"model": MODEL, "prompt": "def fib(n):"}


# -- auth ------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers, message", [
    ({}, "Missing API key"),
    ({"Authorization": "Bearer wrong-key"}, "Invalid API key"),
    ({"Authorization": f"Basic {KEY}"}, "Invalid API key"),
    ({"Authorization": "Bearer"}, "Invalid API key"),
    ({"Authorization": f"Bearer {KEY}x"}, "Invalid API key"),
])
def test_missing_or_bad_key_is_401_in_openai_format(served, headers, message):
    r = httpx.post(served.url + "/v1/chat/completions", json={"model": MODEL}, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"error": {"message": r.json()["error"]["message"], "type": "invalid_request_error",
                                  "param": None, "code": "invalid_api_key"}}
    assert r.json()["error"]["message"].startswith(message)
    assert KEY not in r.text


def test_every_configured_key_is_accepted_during_rotation(service_env, store, make_runtime, monkeypatch):
    monkeypatch.setenv("OMC_API_KEYS", "new-key,\nold-key\n")
    place_model(store)
    rt = make_runtime()
    rt.start()
    with ServedApp(rt.asgi_app()) as s:
        for key, status in [("new-key", 200), ("old-key", 200), ("older-key", 401), ("new-key,old-key", 401)]:
            assert httpx.get(s.url + "/api/tags", headers=auth(key)).status_code == status, key


def test_health_endpoints_need_no_key(served):
    assert httpx.get(served.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(served.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "model": MODEL, "size_vram": 4_100_000_000, "ollama_version": "0.12.6"}


@pytest.mark.parametrize("mode", ["proxy", "none"])
async def test_proxy_and_none_modes_do_not_check_keys(service_env, store, monkeypatch, mode):
    monkeypatch.setenv("OMC_AUTH", mode)
    monkeypatch.delenv("OMC_API_KEYS")
    settings = ServiceSettings.from_env()
    settings.check_serving()  # no key needed in these modes
    place_model(store)
    proc = OllamaProcess(settings)
    proc.spawn()
    try:
        proc.wait_ready(time.monotonic() + 20)
        app = create_app(settings, proc)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as c:
            assert (await c.get("/api/tags")).status_code == 200
    finally:
        proc.stop()


# -- routing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [
    ("POST", "/api/pull"), ("POST", "/api/push"), ("DELETE", "/api/delete"), ("POST", "/api/create"),
    ("POST", "/api/copy"), ("POST", "/api/blobs/sha256:abc"), ("HEAD", "/api/blobs/sha256:abc"),
])
def test_model_changing_endpoints_are_403(served, method, path):
    r = httpx.request(method, served.url + path, headers=auth(), json={"model": MODEL} if method != "HEAD" else None)
    assert r.status_code == 403
    if method != "HEAD":
        assert r.json()["error"]["code"] == "endpoint_blocked"
    assert not any(req["path"] == path for req in fake_stats(ServiceSettings.from_env())["requests"])


@pytest.mark.parametrize("path", ["/", "/api/unknown", "/v2/chat", "/api/tagsx", "/v1/models/", "/fake/stats"])
def test_other_paths_are_404(served, path):
    r = httpx.get(served.url + path, headers=auth())
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method, path, expected", [
    ("GET", "/v1/models/codellama:7b", "allow"), ("POST", "/api/show", "allow"), ("POST", "/api/blobs", "block"),
    ("POST", "/api/pull/", "unknown"), ("GET", "/healthz", "unknown"), ("GET", "/v1/models/a/b", "unknown"),
    ("DELETE", "/api/tags", "method"), ("GET", "/api/chat", "method"), ("HEAD", "/api/tags", "allow"),
])
def test_decide(method, path, expected):
    assert decide(method, path).verdict == expected


def test_host_is_rewritten_and_the_key_is_not_forwarded(served):
    r = httpx.get(served.url + "/api/tags?x=1", headers={
        **auth(), "Host": "me--omc-ollama.modal.run", "X-Trace": "t1", "Connection": "keep-alive, X-Hop", "X-Hop": "1"})
    assert r.status_code == 200
    assert r.json()["models"][0]["name"] == MODEL
    settings = ServiceSettings.from_env()
    seen = [q for q in fake_stats(settings)["requests"] if q["path"] == "/api/tags?x=1"][-1]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == settings.upstream_url.split("://")[1]
    assert "authorization" not in headers and "x-hop" not in headers
    assert headers["x-trace"] == "t1"
    # Without the rewrite, Ollama refuses the request.
    direct = httpx.get(settings.upstream_url + "/api/tags", headers={"Host": "me--omc-ollama.modal.run"})
    assert direct.status_code == 403


def test_model_info_and_embeddings_pass_through(served):
    h = auth()
    assert httpx.get(served.url + f"/v1/models/{MODEL}", headers=h).json()["id"] == MODEL
    assert httpx.get(served.url + "/v1/models/nope:1b", headers=h).status_code == 404
    assert httpx.get(served.url + "/api/version", headers=h).json() == {"version": "0.12.6"}
    emb = httpx.post(served.url + "/v1/embeddings", headers=h, json={"model": MODEL, "input": ["a", "b"]}).json()
    assert len(emb["data"]) == 2
    assert len(httpx.post(served.url + "/api/embed", headers=h, json={"model": MODEL, "input": "a"}).json()["embeddings"]) == 1
    assert httpx.post(served.url + "/api/show", headers=h, json={"model": MODEL}).status_code == 200


# -- streaming -------------------------------------------------------------------------------
def test_ndjson_arrives_token_by_token(served):
    settings = ServiceSettings.from_env()
    headers = {**auth(), "X-Fake-Ollama-Token-Delay": "0.25"}
    with httpx.stream("POST", served.url + "/api/generate", headers=headers, json=GENERATE) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = r.iter_lines()
        first = json.loads(next(lines))
        assert first["response"] == "tok0 "
        # The first token reached us while the upstream was still generating the rest.
        assert fake_stats(settings)["active"] == 1
        rest = [json.loads(line) for line in lines if line]
    assert [x["response"] for x in rest[:-1]] == ["tok1 ", "tok2 ", "tok3 ", "tok4 "]
    assert rest[-1]["done"] is True


def test_client_disconnect_mid_stream_closes_the_upstream(served):
    settings = ServiceSettings.from_env()
    headers = {**auth(), "X-Fake-Ollama-Tokens": "400", "X-Fake-Ollama-Token-Delay": "0.05"}
    with httpx.stream("POST", served.url + "/api/generate", headers=headers, json=GENERATE) as r:
        lines = r.iter_lines()
        next(lines), next(lines)
    stats = wait_for(lambda: (s := fake_stats(settings))["disconnects"] >= 1 and s["active"] == 0 and s, "the fake to see the disconnect")
    assert stats["streams_done"] == 0  # generation stopped early, it did not run to the end


async def test_many_concurrent_streams_arrive_interleaved(served):
    n = 10
    pace = {"X-Fake-Ollama-Tokens": "6", "X-Fake-Ollama-Token-Delay": "0.25"}
    arrivals: list[tuple[int, int]] = []

    async def one(client: httpx.AsyncClient, i: int) -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": f"q{i}"}], "stream": True}
        async with client.stream("POST", "/v1/chat/completions", headers={**auth(), **pace}, json=body) as r:
            assert r.status_code == 200
            k = 0
            async for line in r.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    arrivals.append((i, k))
                    k += 1

    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=served.url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(one(client, i) for i in range(n)))
    order = {i: [pos for pos, (s, _) in enumerate(arrivals) if s == i] for i in range(n)}
    assert all(len(p) == 7 for p in order.values())  # 6 tokens + the finish chunk
    # Every stream had started before any stream finished: they ran side by side.
    assert max(p[0] for p in order.values()) < min(p[-1] for p in order.values())
    assert fake_stats(ServiceSettings.from_env())["max_active"] >= n


# -- upstream failures -----------------------------------------------------------------------
async def test_unreachable_upstream_is_502(monkeypatch):
    settings = ServiceSettings(model=MODEL, ollama_host=f"127.0.0.1:{free_port()}", api_keys=(KEY,))
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as c:
        r = await c.post("/api/generate", headers=auth(), json=GENERATE)
        assert r.status_code == 502
        assert r.json()["error"]["code"] == "upstream_unavailable"
        assert (await c.get("/healthz")).status_code == 503
        ready = await c.get("/readyz")
        assert ready.status_code == 503 and "did not answer" in ready.json()["reason"]


async def test_upstream_timeout_is_504(runtime):
    settings = ServiceSettings.from_env()
    fast = ServiceSettings(**{**settings.__dict__, "request_timeout": 0.5})
    app = create_app(fast, runtime.process)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as c:
        r = await c.post("/api/generate", headers={**auth(), "X-Fake-Ollama-Ttft": "5"}, json={**GENERATE, "stream": False})
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "upstream_timeout"


async def test_readyz_is_503_until_the_model_is_loaded(runtime):
    httpx.post(runtime.settings.upstream_url + "/api/generate", json={"model": MODEL, "keep_alive": 0}).raise_for_status()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.asgi_app()), base_url="http://proxy") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"ready": False, "model": MODEL, "reason": f"model {MODEL} is not loaded", "state": "loading"}


def test_client_leaving_before_the_answer_cancels_the_upstream_request(served):
    settings = ServiceSettings.from_env()
    headers = {**auth(), "X-Fake-Ollama-Ttft": "30"}  # a long prompt evaluation, nothing sent yet
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(served.url + "/api/generate", headers=headers, json={**GENERATE, "stream": False}, timeout=0.5)
    stats = wait_for(lambda: (s := fake_stats(settings))["disconnects"] >= 1 and s, "the fake to see the request cancelled")
    assert stats["active"] == 0


def test_create_app_refuses_bearer_without_keys():
    from ollama_modal.service.errors import ServiceConfigError

    with pytest.raises(ServiceConfigError, match="refusing to serve"):
        create_app(ServiceSettings(model=MODEL, auth="bearer", api_keys=()))


def test_the_runtime_serves_one_app(runtime):
    assert runtime.asgi_app() is runtime.asgi_app()


@pytest.mark.parametrize("app_built", ["before the snapshot", "after the restore"])
def test_a_restored_snapshot_accepts_the_keys_of_the_secret_at_restore(service_env, store, make_runtime, monkeypatch, app_built):
    """Modal updates the environment (the Secret's current values) when it restores a memory
    snapshot; keys read before the snapshot must not outlive an `omc keys rotate`."""
    monkeypatch.setenv("OMC_API_KEYS", "old-key")
    place_model(store)
    rt = make_runtime()  # what the rendered @modal.enter(snap=True) does
    rt.start(phase="snapshot")
    early = rt.asgi_app() if app_built == "before the snapshot" else None
    monkeypatch.setenv("OMC_API_KEYS", "new-key")  # rotated, then a container restored
    rt.start(phase="restore")  # @modal.enter(snap=False)
    app = rt.asgi_app()
    assert early is None or app is early
    with ServedApp(app) as s:
        assert httpx.get(s.url + "/api/tags", headers=auth("new-key")).status_code == 200
        assert httpx.get(s.url + "/api/tags", headers=auth("old-key")).status_code == 401


def test_a_restore_without_any_key_refuses_to_serve(service_env, store, make_runtime, monkeypatch):
    from ollama_modal.service.errors import ServiceConfigError

    place_model(store)
    rt = make_runtime()
    rt.start(phase="snapshot")
    monkeypatch.setenv("OMC_API_KEYS", "")
    with pytest.raises(ServiceConfigError, match="refusing to serve"):
        rt.start(phase="restore")

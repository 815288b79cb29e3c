"""The container side of a Modal Server: omc's proxy listens on the port itself, opened only
after the model is loaded, with auth and the allow-list as on a web function."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from ollama_modal.service.errors import StartupError
from ollama_modal.service.http_server import accepts, serve_in_thread

from .conftest import KEY, MODEL, auth, free_port, place_model


def test_port_opens_only_after_the_model_is_loaded(make_runtime, store) -> None:
    place_model(store)
    rt = make_runtime()
    port = free_port()
    assert not accepts("127.0.0.1", port)
    rt.start()
    assert not accepts("127.0.0.1", port)  # start() alone never opens the server's port
    loaded = httpx.get(rt.settings.upstream_url + "/api/ps", timeout=5).json()["models"]
    assert [m["name"] for m in loaded] == [MODEL]  # the model is in memory before anyone can connect
    rt.serve_http(port=port, host="127.0.0.1")
    assert accepts("127.0.0.1", port)  # serve_http returns only once the port accepts
    assert rt.serve_http(port=port, host="127.0.0.1") is rt._http  # idempotent


def test_server_path_keeps_auth_and_the_allow_list(runtime) -> None:
    port = free_port()
    runtime.serve_http(port=port, host="127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.post("/v1/chat/completions", json={"model": MODEL, "messages": []}).status_code == 401
        assert c.post("/v1/chat/completions", json={"model": MODEL, "messages": []}, headers=auth("wrong")).status_code == 401
        assert c.post("/api/pull", json={"model": "x"}, headers=auth()).status_code == 403
        r = c.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
            headers=auth(),
        )
        assert r.status_code == 200 and "data:" in r.text
        assert c.get("/readyz").json()["ready"] is True


def test_stop_closes_the_port_then_the_child(runtime) -> None:
    port = free_port()
    runtime.serve_http(port=port, host="127.0.0.1")
    runtime.stop()
    assert not accepts("127.0.0.1", port)
    assert not runtime.process.alive


def test_a_taken_port_is_a_startup_error(runtime) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(StartupError, match="could not listen"):
            serve_in_thread(runtime.asgi_app(), port, "127.0.0.1", timeout=10)


def test_http_server_is_imported_lazily() -> None:
    """The web-function image has no uvicorn: importing the runtime must not need it."""
    code = (
        "import sys, ollama_modal.service.runtime, ollama_modal.service.http_server\n"
        "assert 'uvicorn' not in sys.modules, 'uvicorn imported eagerly'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_server_image_pins_the_tested_uvicorn() -> None:
    from importlib.metadata import version

    from ollama_modal.service import SERVER_PIP_PACKAGES

    assert SERVER_PIP_PACKAGES == [f"uvicorn=={version('uvicorn')}"]
    assert KEY  # the fixtures' key is what auth() sends

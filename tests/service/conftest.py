"""Fixtures for the container service: the fake `ollama serve` as a real child process,
the real runtime/supervisor/proxy, and uvicorn on a free loopback port."""

from __future__ import annotations

import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ollama_modal.service.names import manifest_path
from ollama_modal.service.runtime import ContainerRuntime
from ollama_modal.service.settings import ServiceSettings
from tests.fakes.ports import free_port  # noqa: F401  (re-exported to the tests)

FAKE_OLLAMA = Path(__file__).resolve().parents[1] / "fakes" / "fake_ollama.py"
MODEL = "codellama:7b"
KEY = "omc-test-key-1"


def place_model(store: Path, name: str = MODEL) -> Path:
    """Put a model's manifest in the store, as a finished pull leaves it."""
    path = manifest_path(store, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"schemaVersion": 2, "layers": []}')
    return path


def wait_for(predicate, what: str, limit: float = 15.0):
    """Poll until predicate() is truthy; the limit only bounds a hang, it asserts nothing about speed."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    return d


@pytest.fixture
def ollama_port() -> int:
    return free_port()


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch, store: Path, ollama_port: int) -> dict[str, str]:
    """The container environment, with the fake as OMC_OLLAMA_BIN. Tests add FAKE_OLLAMA_* knobs."""
    env = {
        "OMC_MODEL": MODEL,
        "OMC_OLLAMA_BIN": f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_OLLAMA))}",
        "OLLAMA_HOST": f"127.0.0.1:{ollama_port}",
        "OLLAMA_MODELS": str(store),
        "OMC_STARTUP_TIMEOUT": "30",
        "OMC_AUTH": "bearer",
        "OMC_API_KEYS": KEY,
        "OMC_WARMUP": "1",
        "OMC_REQUEST_TIMEOUT": "30",
    }
    for var in list(os.environ):
        if var.startswith("FAKE_OLLAMA_"):
            monkeypatch.delenv(var)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


class Exits:
    """Watchdog callback that records instead of exiting the test process."""

    def __init__(self) -> None:
        self.calls: list[tuple[int | None, list[str]]] = []
        self.event = threading.Event()

    def __call__(self, returncode: int | None, tail: list[str]) -> None:
        self.calls.append((returncode, tail))
        self.event.set()


@pytest.fixture
def exits() -> Exits:
    return Exits()


@pytest.fixture
def phase_lines() -> list[str]:
    return []


@pytest.fixture
def make_runtime(service_env, exits, phase_lines):
    made: list[ContainerRuntime] = []

    def make() -> ContainerRuntime:
        rt = ContainerRuntime.from_env(on_child_exit=exits, emit=phase_lines.append)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.stop()


@pytest.fixture
def runtime(make_runtime, store) -> ContainerRuntime:
    """A started runtime (model present in the store, preloaded, warmed up)."""
    place_model(store)
    rt = make_runtime()
    rt.start()
    return rt


class ServedApp:
    """``app`` under uvicorn in a thread, on a listening socket handed over to it (no free-port race)."""

    def __init__(self, app) -> None:
        import uvicorn

        from tests.fakes.ports import bound_socket

        self.sock = bound_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        wait_for(lambda: self.server.started, "uvicorn to start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def served(runtime) -> Iterator[ServedApp]:
    """The runtime's proxy, served by uvicorn on a free port."""
    with ServedApp(runtime.asgi_app()) as s:
        yield s


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def fake_stats(settings: ServiceSettings) -> dict:
    return httpx.get(settings.upstream_url + "/fake/stats", timeout=5).json()


@pytest.fixture
def upstream():
    """A recording upstream (see upstream.py) in keep-alive mode."""
    from .upstream import RecordingUpstream

    with RecordingUpstream() as u:
        yield u


def proxy_settings(upstream_host: str, **overrides) -> ServiceSettings:
    return ServiceSettings(**{"model": MODEL, "ollama_host": upstream_host, "api_keys": (KEY,), "request_timeout": 30.0, **overrides})


class ServedProxy(ServedApp):
    def __init__(self, settings: ServiceSettings, request_log=None) -> None:
        from ollama_modal.service.proxy import create_app

        super().__init__(create_app(settings, request_log=request_log))


@pytest.fixture
def proxy(upstream) -> Iterator[ServedProxy]:
    """The real proxy app under uvicorn, in front of the recording upstream (no ollama child)."""
    with ServedProxy(proxy_settings(upstream.host)) as p:
        yield p

"""pytest fixture ``modal_server``: a fresh fake Modal control plane per test, with the real SDK
pointed at it and its process-wide caches cleared before and after.

Register it from tests/conftest.py with ``pytest_plugins = ["tests.fakes.modal_fixture"]``.

Typical use::

    def test_switch_warm(omc, modal_server):
        modal_server.state.put_secret("omc-api-keys", "main", {"OMC_API_KEYS": "k"})
        modal_server.state.function_handlers["pull_model"] = lambda state, **kw: {}
        omc("deploy", "--profile", "a10g-balanced", "--yes")
        modal_server.servicer.reset_records()
        omc("switch-warm", "always-on", "--yes")
        (req,) = modal_server.calls("FunctionUpdateSchedulingParams")
        assert "AppPublish" not in modal_server.methods()

Faults: ``modal_server.fail("AppPublish", "UNAVAILABLE", times=None)``; ``delay(method, s)``.
While the fixture is active, any name lookup other than loopback raises ``NetworkBlocked``.
"""

from __future__ import annotations

import socket
from typing import Any, Iterator

import pytest

from .modal_server import FakeModalServer

TOKEN_ID = "ak-test"
TOKEN_SECRET = "as-test"
ENVIRONMENT = "main"


def reset_modal_client() -> None:
    """Forget what the SDK caches per process: the env client (bound to one server URL),
    the environment lookups, and the user config file read at import time."""
    import modal.config
    from modal._environments import ENVIRONMENT_CACHE
    from modal._utils.async_utils import synchronizer
    from modal.client import _Client

    client = _Client._client_from_env
    _Client._client_from_env = None
    if client is not None:
        try:
            synchronizer._translate_out(client).close()
        except Exception:  # noqa: BLE001 - a client of a stopped server may fail to close cleanly
            pass
    ENVIRONMENT_CACHE.clear()
    modal.config._user_config = {}


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class NetworkBlocked(OSError):
    pass


def block_non_local_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection starts with a name lookup (asyncio too): refuse all but loopback, so a
    code path that would reach Modal, PyPI or telemetry fails loudly instead of leaving the box."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            raise NetworkBlocked(f"tests may only reach 127.0.0.1; blocked a lookup of {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def modal_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeModalServer]:
    block_non_local_lookups(monkeypatch)
    server = FakeModalServer().start()
    monkeypatch.setenv("MODAL_SERVER_URL", server.url)
    monkeypatch.setenv("MODAL_TOKEN_ID", TOKEN_ID)
    monkeypatch.setenv("MODAL_TOKEN_SECRET", TOKEN_SECRET)
    monkeypatch.setenv("MODAL_ENVIRONMENT", ENVIRONMENT)
    reset_modal_client()
    try:
        yield server
    finally:
        reset_modal_client()
        server.stop()

"""Failures become RemoteError (exit 3) with a message naming the action and a hint."""

from __future__ import annotations

import sys

import pytest
from grpclib import Status
from modal_proto import api_pb2

from ollama_modal.errors import RemoteError

APP = "omc-ollama"


def _remote_error(fn, *args, **kw) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        fn(*args, **kw)
    assert info.value.exit_code == 3
    return info.value


def test_missing_credentials_say_how_to_log_in(backend, modal_server, monkeypatch):
    monkeypatch.delenv("MODAL_TOKEN_ID")
    monkeypatch.delenv("MODAL_TOKEN_SECRET")

    err = _remote_error(backend.app_info, APP)

    assert "no Modal credentials" in err.message
    assert err.hint == "run `modal token new` or set MODAL_TOKEN_ID/MODAL_TOKEN_SECRET"
    assert modal_server.methods() == []  # refused before anything was sent


def test_rejected_token(backend, modal_server):
    modal_server.fail("AppGetOrCreate", Status.UNAUTHENTICATED, message="Invalid token")

    err = _remote_error(backend.app_info, APP)

    assert "rejected the credentials" in err.message and "Invalid token" in err.message
    assert "modal token new" in err.hint


def test_permission_denied_names_the_environment(modal_server):
    from ollama_modal.adapters.modal_backend import ModalBackend

    modal_server.fail("AppList", "PERMISSION_DENIED", message="no access to environment prod")

    err = _remote_error(ModalBackend(environment="prod").list_apps)

    assert "denied permission while listing apps in environment 'prod'" in err.message
    assert "--env" in err.hint


def test_not_found_from_the_server(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(), APP)
    modal_server.fail("AppDeploymentHistory", Status.NOT_FOUND, message="App gone")

    err = _remote_error(backend.history, APP)

    assert err.message.startswith("not found while reading the deployment history of omc-ollama")


def test_a_transient_failure_is_retried_by_the_sdk(backend, modal_server, app_file, api_secret):
    modal_server.fail("AppPublish", Status.UNAVAILABLE, times=1)

    out = backend.deploy_file(app_file(), APP)

    assert out.version == 1
    assert modal_server.servicer.failed_calls == [("AppPublish", "UNAVAILABLE")]
    assert len(modal_server.calls("AppPublish")) == 2


@pytest.mark.parametrize("status", [Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED])
def test_a_lasting_outage_fails_the_deploy_cleanly(backend, modal_server, app_file, api_secret, status):
    modal_server.fail("FunctionCreate", status, times=None)

    err = _remote_error(backend.deploy_file, app_file(), APP)

    assert "Modal is unreachable or failing while deploying omc-ollama" in err.message
    assert "retry" in err.hint
    assert "omc_app" not in sys.modules
    # The SDK told the server the deploy failed; nothing was published.
    (disconnect,) = modal_server.calls("AppDisconnect") or modal_server.calls("AppClientDisconnect")
    assert disconnect.reason == api_pb2.APP_DISCONNECT_REASON_DEPLOYMENT_EXCEPTION
    assert modal_server.calls("AppPublish") == []
    assert backend.app_info(APP) is None


def test_a_slow_answer_still_succeeds(backend, modal_server, app_file, api_secret):
    modal_server.delay("AppGetByDeploymentName", 0.2)
    assert backend.deploy_file(app_file(), APP).version == 1


def test_server_gone_before_the_first_call_fails_the_connection_check(backend, modal_server):
    modal_server.stop()

    err = _remote_error(backend.app_info, APP)

    assert err.message == f"cannot reach Modal at {modal_server.url}: connection refused"
    assert "MODAL_SERVER_URL" in err.hint


def test_server_gone_after_the_connection_check(backend, modal_server, monkeypatch):
    import modal._utils.async_utils

    assert backend.app_info(APP) is None  # reached once: not checked again in this process
    # The SDK retries a refused connection 18 times (about a minute); its test hook shortens that.
    monkeypatch.setattr(modal._utils.async_utils, "RETRY_N_ATTEMPTS_OVERRIDE", 2)
    from tests.fakes.modal_fixture import reset_modal_client

    reset_modal_client()  # a fresh connection, as a later command in the same process would open
    modal_server.stop()

    err = _remote_error(backend.app_info, APP)

    assert "unreachable" in err.message and "retry" in err.hint


def test_unimplemented_rpcs_are_listed(modal_server):
    from ollama_modal.adapters.modal_backend import ModalBackend

    be = ModalBackend()
    with pytest.raises(RemoteError, match="does not implement AppGetTimeRangeStats"):
        with be._remote("reading stats"):
            be._rpc("AppGetTimeRangeStats", api_pb2.AppGetTimeRangeStatsRequest())
    assert modal_server.servicer.unimplemented == ["AppGetTimeRangeStats"]


def test_only_loopback_is_reachable_during_tests(modal_server):
    import socket

    from tests.fakes.modal_fixture import NetworkBlocked

    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.modal.com", 443)
    assert socket.getaddrinfo("127.0.0.1", modal_server.port)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(111, "refused"), "unreachable"),
        (PermissionError(13, "denied: /models"), None),  # a local bug, not an outage
        (ValueError("x"), None),
    ],
)
def test_only_sdk_and_connection_errors_are_translated(exc, expected):
    from ollama_modal.adapters.modal_backend import translate_error

    err = translate_error(exc, "deploying x")
    assert (expected in err.message) if expected else err is None

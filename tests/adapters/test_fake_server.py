"""The fake control plane itself: create semantics, listing, fault bookkeeping."""

from __future__ import annotations

import modal
import pytest
from grpclib import Status
from modal.exception import AlreadyExistsError, NotFoundError


def test_secret_create_semantics_match_modal(modal_server):
    modal.Secret.objects.create("s1", {"A": "1"})
    with pytest.raises(AlreadyExistsError):
        modal.Secret.objects.create("s1", {"A": "2"})
    modal.Secret.objects.create("s1", {"A": "3"}, allow_existing=True)  # kept as is
    assert modal_server.state.secrets[("main", "s1")].env_dict == {"A": "1"}

    modal.Secret._create_deployed("s1", {"B": "4"}, overwrite=True)
    assert modal_server.state.secrets[("main", "s1")].env_dict == {"B": "4"}

    with pytest.raises(NotFoundError):
        modal.Secret.from_name("missing").hydrate()
    with pytest.raises(NotFoundError, match="missing keys: C"):
        modal.Secret.from_name("s1", required_keys=["C"]).hydrate()


def test_secret_listing(modal_server):
    modal.Secret.objects.create("b", {"K": "v"})
    modal.Secret.objects.create("a", {"K": "v"})
    assert sorted(s.name for s in modal.Secret.objects.list()) == ["a", "b"]


def test_fault_counts_and_names(modal_server):
    modal_server.fail("AppList", "NOT_FOUND", times=2)
    for _ in range(2):
        with pytest.raises(NotFoundError):
            modal.experimental.list_deployed_apps()
    assert modal.experimental.list_deployed_apps() == []
    assert modal_server.servicer.failed_calls == [("AppList", "NOT_FOUND"), ("AppList", "NOT_FOUND")]
    assert modal_server.methods() == ["AppList", "AppList", "AppList"]

    modal_server.fail("AppList", Status.NOT_FOUND, times=None)
    modal_server.servicer.clear_faults()
    assert modal.experimental.list_deployed_apps() == []


def test_each_test_gets_a_fresh_server_and_client(modal_server):
    from modal.client import _Client

    assert modal_server.methods() == []
    modal.experimental.list_deployed_apps()
    assert _Client._client_from_env is not None
    assert _Client._client_from_env.server_url == modal_server.url


def test_unnamed_secrets_are_not_listed(modal_server):
    app = modal.App("x")

    @app.function(secrets=[modal.Secret.from_dict({"K": "v"})], serialized=True)
    def f():  # pragma: no cover - never runs here
        pass

    app.deploy(name="x")

    assert modal.Secret.objects.list() == []
    assert len(modal_server.state.anonymous_secrets) == 1


def test_credentials_and_client_version_travel_in_headers(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(), "omc-ollama")

    headers = modal_server.servicer.last_metadata("AppPublish")
    assert headers["x-modal-token-id"] == "ak-test"
    assert not any("secret" in k for k in headers)  # never recorded
    assert backend.history("omc-ollama")[0].client_version == modal.__version__

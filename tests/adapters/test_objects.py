"""Secrets, volumes and billing rates through ModalBackend."""

from __future__ import annotations

import pytest
from modal_proto import api_pb2

from ollama_modal.errors import RemoteError

MANIFEST = "manifests/registry.ollama.ai/library/qwen2.5/0.5b"


def test_secret_create_then_exists(backend, modal_server):
    assert backend.secret_exists("omc-api-keys") is False

    backend.create_secret("omc-api-keys", {"OMC_API_KEYS": "omc-abc"})

    assert backend.secret_exists("omc-api-keys") is True
    creates = [r for r in modal_server.calls("SecretGetOrCreate") if r.env_dict]
    assert [(r.deployment_name, r.object_creation_type, dict(r.env_dict)) for r in creates] == [
        ("omc-api-keys", api_pb2.OBJECT_CREATION_TYPE_CREATE_FAIL_IF_EXISTS, {"OMC_API_KEYS": "omc-abc"})
    ]


def test_secret_create_refuses_to_clobber(backend, modal_server):
    backend.create_secret("omc-api-keys", {"OMC_API_KEYS": "old"})

    with pytest.raises(RemoteError) as info:
        backend.create_secret("omc-api-keys", {"OMC_API_KEYS": "new"})

    assert info.value.exit_code == 3 and "already exists" in info.value.message
    assert "omc keys rotate" in (info.value.hint or "")
    assert modal_server.state.secrets[("main", "omc-api-keys")].env_dict == {"OMC_API_KEYS": "old"}


def test_secret_overwrite_replaces_the_key_and_keeps_others(backend, modal_server):
    modal_server.state.put_secret("omc-api-keys", "main", {"OMC_API_KEYS": "old", "OTHER": "x"})

    backend.create_secret("omc-api-keys", {"OMC_API_KEYS": "new,old"}, overwrite=True)

    assert modal_server.state.secrets[("main", "omc-api-keys")].env_dict == {"OMC_API_KEYS": "new,old", "OTHER": "x"}
    assert modal_server.calls("SecretUpdate")


def test_secret_overwrite_creates_a_missing_one(backend, modal_server):
    backend.create_secret("omc-api-keys", {"OMC_API_KEYS": "k"}, overwrite=True)
    assert modal_server.state.secrets[("main", "omc-api-keys")].env_dict == {"OMC_API_KEYS": "k"}


def test_secret_in_another_environment(modal_server):
    from ollama_modal.adapters.modal_backend import ModalBackend

    modal_server.state.add_environment("dev")
    ModalBackend(environment="dev").create_secret("omc-api-keys", {"OMC_API_KEYS": "k"})

    assert ("dev", "omc-api-keys") in modal_server.state.secrets
    assert ModalBackend().secret_exists("omc-api-keys") is False


def test_volume_has_path(backend, modal_server):
    assert backend.volume_has_path("omc-models", MANIFEST) is False  # no volume at all

    vol = modal_server.state.volume("omc-models", "main", create=True)
    assert backend.volume_has_path("omc-models", MANIFEST) is False  # empty volume

    vol.files[MANIFEST] = 512
    vol.files["blobs/sha256-abc"] = 397_000_000
    assert backend.volume_has_path("omc-models", MANIFEST) is True
    assert backend.volume_has_path("omc-models", "manifests/registry.ollama.ai/library") is True
    assert backend.volume_has_path("omc-models", "manifests/registry.ollama.ai/library/llama3/8b") is False
    assert not modal_server.calls("VolumeGetOrCreate")[0].object_creation_type  # lookups never create


def test_billing_rates(backend, modal_server):
    modal_server.state.billing_rates = {"gpu.a10": "0.000306", "cpu": "0.0000131"}

    assert backend.billing_rates() == {"gpu.a10": 0.000306, "cpu": 0.0000131}
    assert "WorkspaceBillingRates" in modal_server.methods()

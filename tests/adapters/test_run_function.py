"""run_function: one function of the app file in an ephemeral app (model pull before deploy)."""

from __future__ import annotations

import sys

import pytest
from modal_proto import api_pb2

from ollama_modal.errors import ConfigError, RemoteError

MANIFEST = "manifests/registry.ollama.ai/library/qwen2.5/0.5b"


def _pull(state, model: str = "qwen2.5:0.5b") -> dict:
    """What the container's pull_model does to the Volume."""
    state.volume("omc-models", "main", create=True).files[MANIFEST] = 512
    return {"model": model}


def test_pull_runs_in_an_ephemeral_app_and_fills_the_volume(backend, modal_server, app_file, api_secret):
    modal_server.state.function_handlers["pull_model"] = _pull
    modal_server.state.log_lines[:] = ["pulling manifest", "success"]
    progress: list[str] = []

    assert backend.volume_has_path("omc-models", MANIFEST) is False
    result = backend.run_function(app_file(), "pull_model", on_progress=progress.append, model="qwen2.5:0.5b")

    assert result == {"model": "qwen2.5:0.5b"}
    assert backend.volume_has_path("omc-models", MANIFEST) is True
    (create,) = modal_server.calls("AppCreate")
    assert create.app_state == api_pb2.APP_STATE_EPHEMERAL
    (call,) = modal_server.calls("FunctionMap")
    assert call.function_id == modal_server.state.apps[create_app_id(modal_server)].function_ids["pull_model"]
    assert "pulling manifest" in " ".join(progress)  # the app's logs were forwarded
    assert backend.app_info("omc-ollama") is None  # nothing was deployed
    assert "omc_app" not in sys.modules


def create_app_id(modal_server) -> str:
    (app,) = modal_server.state.apps.values()
    return app.app_id


def test_a_failing_remote_function_is_a_remote_error(backend, modal_server, app_file, api_secret):
    def fail(state, **kw):
        raise RuntimeError("pull failed: model 'nope' not found")

    modal_server.state.function_handlers["pull_model"] = fail

    with pytest.raises(RemoteError) as info:
        backend.run_function(app_file(), "pull_model")

    assert info.value.message.startswith("running pull_model failed on Modal")
    assert "model 'nope' not found" in info.value.message
    assert modal_server.state.apps[create_app_id(modal_server)].state == api_pb2.APP_STATE_STOPPED


def test_unknown_function_is_a_config_error(backend, modal_server, app_file):
    with pytest.raises(ConfigError, match="no modal.Function named `pull`"):
        backend.run_function(app_file(), "pull")
    assert modal_server.methods() == []

"""Lifecycle tests run against the fake control plane, with Modal's side of the model pull faked."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def pulls(modal_server) -> list[dict[str, Any]]:
    """What a Modal container running `pull_model` would do: write the model's manifest to the volume."""
    calls: list[dict[str, Any]] = []

    def pull_model(state, model: str = "codellama:7b") -> dict[str, Any]:
        name, _, tag = model.partition(":")
        volume = state.volume("omc-ollama-models", state.env(""), True)
        volume.files[f"manifests/registry.ollama.ai/library/{name}/{tag or 'latest'}"] = 512
        calls.append({"model": model})
        return {"model": model, "pulled": True}

    modal_server.state.function_handlers["pull_model"] = pull_model
    return calls

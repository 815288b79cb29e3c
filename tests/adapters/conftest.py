"""Adapter tests run the real modal SDK against the fake control plane."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from tests.fakes.modal_fixture import modal_server  # noqa: F401 - fixture
from tests.fakes.modal_server import FakeModalServer

from .sample_app import app_source


@pytest.fixture
def backend(modal_server: FakeModalServer):  # noqa: F811
    from ollama_modal.adapters.modal_backend import ModalBackend

    return ModalBackend()


@pytest.fixture
def app_file(tmp_path: Path) -> Callable[..., Path]:
    """Write the sample app (with overrides) to a fresh folder; returns its path."""
    counter = iter(range(1000))

    def write(**overrides: object) -> Path:
        d = tmp_path / f"deploy{next(counter)}"
        d.mkdir()
        path = d / "omc_app.py"
        path.write_text(app_source(**overrides), encoding="utf-8")
        return path

    return write


@pytest.fixture
def api_secret(modal_server: FakeModalServer) -> None:  # noqa: F811
    """The Secret the sample app references (omc creates it before deploying)."""
    modal_server.state.put_secret("omc-api-keys", "main", {"OMC_API_KEYS": "omc-test-key"})

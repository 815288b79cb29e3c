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


MOUNTED_PACKAGE = "omc_mounted_src"


@pytest.fixture
def mounted_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small package for the app to mount instead of ``ollama_modal``: the working tree may be
    edited while a test uploads it (the SDK then aborts: "modified during build process"), and
    it keeps uploads small. Tests about the real package mount pass local_source="ollama_modal"."""
    pkg = tmp_path / "mounted" / MOUNTED_PACKAGE
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("VERSION = 1\n", encoding="utf-8")
    (pkg / "server.py").write_text("def main() -> None:\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(pkg.parent))
    return pkg


@pytest.fixture
def app_file(tmp_path: Path, mounted_package: Path) -> Callable[..., Path]:
    """Write the sample app (with overrides) to a fresh folder; returns its path."""
    counter = iter(range(1000))

    def write(**overrides: object) -> Path:
        d = tmp_path / f"deploy{next(counter)}"
        d.mkdir()
        path = d / "omc_app.py"
        path.write_text(app_source(**{"local_source": MOUNTED_PACKAGE, **overrides}), encoding="utf-8")
        return path

    return write


@pytest.fixture
def api_secret(modal_server: FakeModalServer) -> None:  # noqa: F811
    """The Secret the sample app references (omc creates it before deploying)."""
    modal_server.state.put_secret("omc-api-keys", "main", {"OMC_API_KEYS": "omc-test-key"})

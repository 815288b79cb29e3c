"""Shared fixtures: every test runs in an empty directory with a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.fakes.modal_fixture"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No OMC_*/MODAL_* settings leak in; output is deterministic; cwd is a fresh folder."""
    for var in list(os.environ):
        if var.startswith(("OMC_", "MODAL_")) and var != "OMC_UPDATE_GOLDEN":
            monkeypatch.delenv(var)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("MODAL_CONFIG_PATH", str(tmp_path / ".modal.toml"))
    monkeypatch.setenv("OMC_STATE_DIR", str(tmp_path / ".omc-state"))
    monkeypatch.setenv("OMC_CACHE_DIR", str(tmp_path / ".omc-cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def omc(runner: CliRunner):
    """Run `omc ARGS...` in-process; returns the click Result (stdout and stderr separate)."""
    from ollama_modal.cli import app

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    d = tmp_path / "profiles"
    d.mkdir(exist_ok=True)
    return d

"""Generated documentation is current: regenerate with `python -m ollama_modal.docgen docs`."""

from __future__ import annotations

import pytest

from ollama_modal.docgen import generate

from .conftest import REPO


def test_generated_docs_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    for path, expected in generate(REPO / "docs").items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.relative_to(REPO)} is stale: run `python -m ollama_modal.docgen docs`"
        )

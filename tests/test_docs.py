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


def test_check_flags_a_stale_file_and_write_fixes_it(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import shutil

    from ollama_modal.docgen import main

    docs = tmp_path / "docs"
    shutil.copytree(REPO / "docs", docs)
    (docs / "commands.md").write_text("# hand-edited\n", encoding="utf-8")
    assert main(["--check", str(docs)]) == 1
    assert "commands.md is out of date" in capsys.readouterr().err
    assert (docs / "commands.md").read_text(encoding="utf-8") == "# hand-edited\n"
    assert main([str(docs)]) == 0
    assert main(["--check", str(docs)]) == 0

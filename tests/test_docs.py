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


def _doc_files() -> list:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    import re

    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@pytest.mark.parametrize("doc", _doc_files(), ids=lambda p: p.name)
def test_every_relative_link_resolves(doc) -> None:
    """Markdown links (and anchors) to files of the repository, and `*.md` paths named in code
    spans, point at something that exists."""
    import re

    text = doc.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)  # examples in code blocks are not links
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md":
            headings = re.findall(r"^#+\s+(.*)$", dest.read_text(encoding="utf-8"), flags=re.M)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(f"{target}: no heading with that anchor")
    for path in re.findall(r"`([\w./-]+\.md)`", prose):
        if not ((doc.parent / path).exists() or (REPO / path).exists()):
            broken.append(f"`{path}`: no such file")
    assert not broken, f"{doc.relative_to(REPO)}: " + "; ".join(broken)


def test_a_key_documented_as_required_is_set_in_every_builtin_profile() -> None:
    """docs/profiles.md calls a key required only if a profile file cannot do without it."""
    import re
    import tomllib

    text = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    top = text.split("### Top level", 1)[1].split("\n###", 1)[0]  # keys of a profile file itself
    required = re.findall(r"^\| `(\w+)` \| [^|]+ \| required \|", top, flags=re.M)
    assert "| `description` |" in top  # the section was found
    builtins = sorted((REPO / "profiles").glob("*.toml"))
    for key in required:
        missing = [p.name for p in builtins if key not in tomllib.loads(p.read_text(encoding="utf-8"))]
        assert not missing, f"docs/profiles.md marks `{key}` required, but {', '.join(missing)} do not set it"


def test_the_endpoint_url_form_names_the_environment_suffix() -> None:
    """Outside the default environment Modal puts `-<suffix>` after the workspace: a URL
    placeholder without it sends users of other environments to the wrong host."""
    import re

    files = [*_doc_files(), *sorted((REPO / "src" / "ollama_modal").rglob("*.py"))]
    wrong = [
        f"{p.relative_to(REPO)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"<workspace>--\S*\.modal\.run", line)  # web endpoints (Servers' modal.direct URLs differ)
    ]
    assert not wrong, "write https://<workspace>[-<environment suffix>]--<label>.modal.run: " + ", ".join(wrong)

"""A profile is data: no profile value can become code in the rendered module."""

from __future__ import annotations

import ast
from pathlib import Path

from ollama_modal.config import resolve
from ollama_modal.render import render

from .test_render import load_module


def _hostile_profile(profiles_dir: Path, marker: Path) -> str:
    payload = f'""" + str(__import__("pathlib").Path({str(marker)!r}).write_text("pwned")) + """'
    (profiles_dir / "evil.toml").write_text(
        'extends = "a10g-balanced"\n'
        f"name = {_toml('n' + payload[:100])}\n"
        f"description = {_toml(payload)}\n"
    )
    return "evil"


def _toml(s: str) -> str:
    import tomli_w

    return tomli_w.dumps({"v": s}).strip().removeprefix("v = ")


def test_triple_quotes_in_description_do_not_execute(profiles_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    profile = resolve(_hostile_profile(profiles_dir, marker)).profile
    source = render(profile).source
    path = tmp_path / "evil_app.py"
    path.write_text(source)
    module = load_module(path)
    assert not marker.exists(), "importing the rendered module ran profile text as code"
    assert profile.description in module.__doc__
    tree = ast.parse(source)
    assert ast.get_docstring(tree) == module.__doc__


def test_renderer_is_safe_even_for_values_validation_would_refuse(tmp_path: Path) -> None:
    """Validation refuses newlines in names; the renderer does not rely on it."""
    marker = tmp_path / "pwned"
    code = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('1')"
    base = resolve("a10g-balanced").profile
    evil = base.model_copy(update={"name": f"\n{code}\n", "description": f'\n"""\n{code}\n"""\r{code}\u2028{code}'})
    path = tmp_path / "evil_app.py"
    path.write_text(render(evil).source)
    module = load_module(path)
    assert not marker.exists()
    assert evil.description in module.__doc__


HOSTILE = ['"""', "'''", "\\", '\\"', "\n", "\r", "\x00", "\x7f", "\u2028", "\ud800", "{}", "$(id)", "`id`", "é😀", "# x\nimport os"]


def test_py_literal_round_trips_and_stays_on_one_printable_line() -> None:
    from ollama_modal.pyliteral import py_literal

    value = {"s": HOSTILE, "n": [0, -1, 2**70, 1.5, -0.0, None, True, False], "nested": {"k": {"": [[]]}}}
    text = py_literal(value)
    assert ast.literal_eval(text) == value
    assert text.isascii() and text.isprintable() and "\n" not in text
    for s in HOSTILE:
        assert ast.literal_eval(py_literal(s)) == s


def test_py_literal_refuses_what_has_no_literal() -> None:
    import math

    import pytest

    from ollama_modal.pyliteral import py_literal

    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            py_literal(bad)
    for bad in (object(), b"bytes", {1, 2}, Path("/x"), {("tuple",): 1}):
        with pytest.raises(TypeError):
            py_literal(bad)


def test_shell_commands_quote_profile_values() -> None:
    import shlex

    from ollama_modal.render import ollama_install_command, pull_command

    assert shlex.split(pull_command("a; rm -rf / #"))[-1] == "a; rm -rf / #"
    words = shlex.split(ollama_install_command("1.2.3$(id)"))
    assert "https://github.com/ollama/ollama/releases/download/v1.2.3$(id)/ollama-linux-amd64.tar.zst" in words

"""The one way profile values enter generated Python source: as literals, never as text.

A rendered Modal module is code that runs on the deploying machine and in every container,
while a profile is data that teams share. Every renderer therefore writes each profile value
through :func:`py_literal` (and shell words through :func:`shell_word`), never inside
hand-written quotes, comments or docstrings:

    lines.append(f"MODEL = {py_literal(profile.model.name)}")
    lines.append(py_literal(f"Ollama serving {profile.model.name}"))  # a docstring, too

:func:`py_literal` is total over the types a validated profile holds (``str``, ``bool``,
``int``, finite ``float``, ``None`` and ``list``/``tuple``/``dict`` of them) and refuses
anything else with ``TypeError`` (``ValueError`` for NaN/infinity, which have no literal).
Its output is one line of printable ASCII whose ``ast.literal_eval`` equals the input (tuples
come back as lists), so it is also safe inside a ``#`` comment.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

__all__ = ["py_literal", "shell_word"]


_SHORT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _char(c: str) -> str:
    if c in _SHORT:
        return _SHORT[c]
    if " " <= c <= "~":
        return c
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _string(text: str) -> str:
    # Only printable ASCII stays as it is; everything else (quotes, backslashes, NUL, line
    # breaks including U+2028, lone surrogates, astral characters) becomes an escape that
    # Python reads back as exactly the same code point.
    return '"' + "".join(_char(c) for c in text) + '"'


def py_literal(value: Any) -> str:
    """A deterministic Python literal for ``value`` (double-quoted strings, sorted nothing).

    >>> py_literal({"a": [1, 2.5, None, True]})
    '{"a": [1, 2.5, None, True]}'
    """
    if isinstance(value, str):
        return _string(str(value))
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(int(value))  # int() drops subclasses (IntEnum) whose repr is not a literal
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no Python literal; refuse non-finite numbers before rendering")
        return repr(float(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    raise TypeError(f"no Python literal for a {type(value).__name__}; convert it to str, int, float, bool, list or dict first")


def _key(key: Any) -> str:
    if not isinstance(key, (str, int, float)) and key is not None:
        raise TypeError(f"dict key of type {type(key).__name__} has no literal form here")
    return py_literal(key)


def shell_word(value: str) -> str:
    """One argument of a shell command line, quoted so the shell reads exactly ``value``."""
    if not isinstance(value, str):
        raise TypeError(f"shell arguments are strings, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("a shell argument cannot contain NUL")
    return shlex.quote(value)

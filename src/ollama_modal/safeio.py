"""Reading the user's files and naming the user's paths: one place, with limits.

Every file omc reads on the user's behalf (profiles, ``bench --prompts``, saved results) goes
through :func:`read_text` and :func:`loads_json` / :func:`loads_toml`, and every file it writes
at the user's request is checked by :func:`check_output_file`. Whatever the input (a missing
or unreadable file, a directory, a name too long for the OS, bytes that are not UTF-8, a file
of gigabytes, nesting deep enough to exhaust the parser's recursion, integers of thousands of
digits, NaN/Infinity in JSON), the result is an :class:`~ollama_modal.errors.OmcError` with
exit code 2 whose message names the file (or flag), never a traceback. Callers choose the
error class (``UsageError`` for command-line inputs, ``ConfigError`` for profiles).
"""

from __future__ import annotations

import errno
import json
import math
from pathlib import Path
from typing import Any

from .errors import OmcError, UsageError

#: Largest input file read whole (prompts, profiles, saved results).
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: Deepest nesting of lists/objects accepted in JSON or TOML input.
MAX_NESTING = 32
#: Longest integer (in digits) accepted in JSON input; Python refuses > 4300 with a bare ValueError.
MAX_INT_DIGITS = 30
#: Longest path or name echoed in a message.
SHOWN_MAX = 120


def shown(text: object, limit: int = SHOWN_MAX) -> str:
    """``repr`` of a user's string for a message, cut to ``limit`` characters."""
    s = str(text)
    return repr(s) if len(s) <= limit else repr(s[:limit]) + f"... ({len(s)} characters)"


def cut(text: object, limit: int = SHOWN_MAX) -> str:
    """A user's string for a table or message line: as it is when short, else cut with its length."""
    s = str(text)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} characters)"


def _os_problem(e: OSError) -> str:
    if e.errno == errno.ENOENT:
        return "does not exist"
    if e.errno == errno.ENAMETOOLONG:
        return "has a name too long for the file system"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read (permission denied)"
    if e.errno == errno.EISDIR:
        return "is a directory, not a file"
    return f"cannot be read ({e.strerror or e})"


def read_text(
    path: str | Path, *, what: str, error: type[OmcError] = UsageError, hint: str | None = None, max_bytes: int | None = None
) -> str:
    """The UTF-8 text of a regular file (at most ``max_bytes``, default MAX_INPUT_BYTES), or
    ``error`` naming ``what`` and the file."""
    max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    p = Path(path)
    label = f"{what} {shown(p)}"
    try:
        if "\x00" in str(p):
            raise OSError(errno.EINVAL, "the path contains a NUL character")
        if p.is_dir():
            raise OSError(errno.EISDIR, "is a directory")
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"{label} {_os_problem(e)}", hint=hint) from None
    if len(data) > max_bytes:
        raise error(f"{label} is larger than {max_bytes // (1024 * 1024)} MiB", hint=hint or "use a smaller file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise error(
            f"{label} is not UTF-8 text (byte 0x{data[e.start]:02x} on line {line})",
            hint=hint or "save the file as UTF-8",
        ) from None


class _Refused(ValueError):
    pass


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is too large")
    return value


def _constant(text: str) -> Any:
    raise _Refused(f"{text} is not a JSON number")


def depth(value: Any, limit: int = MAX_NESTING) -> int:
    """Nesting depth of lists/dicts, counted without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _null(text: str) -> None:
    return None


def loads_json(text: str, *, where: str, error: type[OmcError] = UsageError, hint: str | None = None,
               non_finite_as_null: bool = False) -> Any:
    """Parse one JSON document; ``where`` (e.g. ``file:line``) starts every message.

    ``NaN``/``Infinity`` (not JSON) are refused, or with ``non_finite_as_null`` read as null:
    for files omc itself wrote before its JSON was strict (``jsonio``)."""
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_null if non_finite_as_null else _constant)
    except RecursionError:
        raise error(f"{where}: nested too deeply (at most {MAX_NESTING} levels)", hint=hint) from None
    except json.JSONDecodeError as e:
        raise error(f"{where}: not valid JSON ({e.msg} at column {e.colno})", hint=hint) from None
    except ValueError as e:  # _Refused, or int() refusing a huge literal
        raise error(f"{where}: {e}", hint=hint) from None
    if depth(value) > MAX_NESTING:
        raise error(f"{where}: nested too deeply (at most {MAX_NESTING} levels)", hint=hint)
    return value


def loads_toml(text: str, *, where: str, error: type[OmcError]) -> dict[str, Any]:
    """Parse a TOML document; errors start with ``where`` (the file)."""
    import tomllib

    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _toml_error(error, where, f"TOML syntax error: {e}", "fix the TOML syntax at that line") from None
    except RecursionError:
        raise _toml_error(error, where, f"nested too deeply (at most {MAX_NESTING} levels)", None) from None
    except ValueError as e:  # Python refuses integers of more than 4300 digits
        problem = "an integer with too many digits" if "digits" in str(e) else str(e)
        raise _toml_error(error, where, f"TOML value refused: {problem}", None) from None
    if depth(value) > MAX_NESTING:
        raise _toml_error(error, where, f"nested too deeply (at most {MAX_NESTING} levels)", None)
    return value


def _toml_error(error: type[OmcError], where: str, problem: str, hint: str | None) -> OmcError:
    from .errors import ConfigError

    if issubclass(error, ConfigError):
        return error(f"{where}: {problem.split(':')[0]}", [f"{where}: {problem}"], hint=hint)
    return error(f"{where}: {problem}", hint=hint)


def check_output_file(path: Path, *, flag: str, create_parents: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot become a file (exit 2 naming ``flag``)."""
    hint = f"give {flag} a file name, e.g. {flag} out{path.suffix or '.txt'}"
    text = str(path)
    if text in ("", ".") or path.name in ("", ".", ".."):
        raise UsageError(f"{flag} {shown(text)} is not a file name", hint=hint)
    try:
        if path.is_dir():
            raise UsageError(f"{flag} {shown(text)} is a directory", hint=hint)
        if path.exists() and not path.is_file():
            # Files are replaced atomically (rename over the target): that would replace a
            # device such as /dev/null or a FIFO with a plain file.
            raise UsageError(f"{flag} {shown(text)} is not a regular file", hint=hint)
        parent = path.parent
        if not create_parents and not parent.is_dir():
            raise UsageError(f"{flag} {shown(text)}: the directory {shown(str(parent))} does not exist", hint="create it first, or write elsewhere")
    except OSError as e:
        raise UsageError(f"{flag} {shown(text)} {_os_problem(e).replace('cannot be read', 'cannot be used')}", hint=hint) from None
    return path


def write_problem(flag: str, path: Path, e: OSError) -> UsageError:
    """The message for an output file that could not be written."""
    return UsageError(f"{flag}: cannot write {shown(str(path))}: {e.strerror or e}", hint="check the path and its directory's permissions")

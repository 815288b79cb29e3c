"""Writing JSON that every reader reads: one helper for every file, log line and record omc writes.

Python's ``json`` writes a non-finite float as a bare ``NaN``/``Infinity``, which is not JSON
(RFC 8259): ``jq``, browsers and most languages refuse the whole line. Here a non-finite
number becomes ``null``, whose meaning wherever omc writes JSON is "no finite value" (nothing
measured, or a ratio with nothing to divide by), and the text is then dumped with
``allow_nan=False`` so nothing else non-finite can slip through. Stdlib only: the container
code uses it too.

``--json`` on stdout (``cli.output.print_json``) is stricter still: a non-finite number there
is refused as a bug, since inputs are checked to be finite where they enter.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (dicts, lists and tuples walked)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``value`` (``json.dumps`` arguments other than ``allow_nan``)."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)


def write_atomic(path: Path, value: Any, **kwargs: Any) -> None:
    """Replace ``path`` with the strict JSON of ``value``, atomically."""
    from .fsutil import atomic_write_text

    atomic_write_text(Path(path), dumps(value, **kwargs))


def append_line_atomic(path: Path, value: Any, **kwargs: Any) -> str:
    """Add the strict JSON of ``value`` as one line at the end of ``path`` (a JSON Lines file),
    atomically: the file is rewritten through a temporary one, so a crash, a full disk or
    Ctrl-C leaves it as it was, never with half a line. Returns the line written."""
    from .fsutil import atomic_write_text

    path = Path(path)
    line = dumps(value, **kwargs)
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    if old and not old.endswith("\n"):
        old += "\n"
    atomic_write_text(path, old + line + "\n")
    return line

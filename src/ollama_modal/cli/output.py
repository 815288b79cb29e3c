"""Output helpers: data to stdout, messages and progress to stderr."""

from __future__ import annotations

import json
import math
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

# markup=False: what omc prints holds users' values (names, paths, Modal's messages), and rich
# would read "[/x]" in one as a closing tag and fail. Styling goes through rich.text.Text.
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
# Piped tables are not cut to 80 columns: scripts and CI logs read them whole.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False)


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout, or nothing.

    JSON has no NaN or Infinity (Python's ``json`` would write them as bare words no other
    parser reads). Inputs are checked to be finite where they enter, so a non-finite number
    here is a bug: it is refused as an internal error (exit 1) naming where it sits, and
    nothing is printed, rather than turned into ``null`` that a script would take for "no value".
    """
    try:
        text = json.dumps(data, indent=2, sort_keys=False, default=str, allow_nan=False)
    except ValueError:
        from ..errors import OmcError

        where = _non_finite_path(data) or "(unknown)"
        raise OmcError(
            f"internal error: the --json output has a non-finite number at {where}; nothing was printed",
            hint="run again without --json to see the table, and report it",
        ) from None
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _non_finite_path(data: Any, path: str = "") -> str | None:
    """Where the first NaN/infinity sits, e.g. ``levels[0].ttft_ms.p50``."""
    if isinstance(data, float) and not math.isfinite(data):
        return path or "(top level)"
    if isinstance(data, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in data.items())
    elif isinstance(data, (list, tuple)):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(data))
    else:
        return None
    for sub, value in items:
        found = _non_finite_path(value, sub)
        if found:
            return found
    return None


def print_text(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


COLUMN_GAP = 3  # " │ " between columns (no outer edge)


def table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None, *, optional: Sequence[str] = ()
) -> None:
    """A table on stdout. On a terminal, ``optional`` columns, in the order given, are left out
    while the table would be wider than it (an 80-column one, say), so that what remains reads
    whole instead of every cell folding mid-word; stderr names what was left out. Piped output
    keeps every column."""
    from rich.cells import cell_len

    cells = [["" if v is None else str(v) for v in r] for r in rows]
    keep = list(range(len(columns)))

    def natural_width() -> int:
        widths = [max([cell_len(columns[i]), *(max((cell_len(x) for x in r[i].splitlines()), default=0) for r in cells)]) for i in keep]
        return sum(widths) + COLUMN_GAP * (len(widths) - 1)

    hidden: list[str] = []
    for name in optional:
        if not out.is_terminal or natural_width() <= out.width or name not in columns:
            continue
        keep.remove(columns.index(name))
        hidden.append(name)
    t = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for i in keep:
        t.add_column(columns[i], overflow="fold")
    for r in cells:
        # Text, not markup: cells hold users' values (paths, names, error messages), and a
        # "[/x]" in one would be read as a closing tag.
        t.add_row(*(Text(r[i]) for i in keep))
    out.print(t)
    if hidden:
        err.print(f"({', '.join(hidden)}: not shown at this width; see a wider terminal or --json)")


def info(message: str) -> None:
    err.print(message, markup=False)


def warn(message: str) -> None:
    err.print(Text.assemble(("warning:", "yellow"), " ", message))


def working(message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr while something slow runs; nothing when stderr is not a terminal (CI logs)."""
    return err.status(Text(message)) if err.is_terminal else nullcontext()


def usd(x: float) -> str:
    return f"${x:,.2f}"


def load_profile(ref: str, overrides: dict | None = None):
    """Resolve a profile for a command, showing its warnings (tight fit, unknown size) on stderr."""
    from ..config import resolve

    resolved = resolve(ref, overrides)
    for w in resolved.warnings:
        warn(w)
    return resolved

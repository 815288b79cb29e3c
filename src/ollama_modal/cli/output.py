"""Output helpers: data to stdout, messages and progress to stderr."""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

err = Console(stderr=True, highlight=False, soft_wrap=True)
# Piped tables are not cut to 80 columns: scripts and CI logs read them whole.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def print_text(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    t = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    out.print(t)


def info(message: str) -> None:
    err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}")


def working(message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr while something slow runs; nothing when stderr is not a terminal (CI logs)."""
    return err.status(message) if err.is_terminal else nullcontext()


def usd(x: float) -> str:
    return f"${x:,.2f}"


def load_profile(ref: str, overrides: dict | None = None):
    """Resolve a profile for a command, showing its warnings (tight fit, unknown size) on stderr."""
    from ..config import resolve

    resolved = resolve(ref, overrides)
    for w in resolved.warnings:
        warn(w)
    return resolved

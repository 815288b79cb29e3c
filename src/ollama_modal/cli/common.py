"""Helpers shared by the commands that talk to Modal."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from ..errors import UsageError

AppOpt = Annotated[
    Optional[str],
    typer.Option("--app", help="Modal app name (default: the profiles' app, or the only omc-managed app).", envvar="OMC_APP"),
]
EnvOpt = Annotated[
    Optional[str],
    typer.Option("--env", help="Modal environment (default: MODAL_ENVIRONMENT or the workspace default)."),
]


def backend(environment: str | None = None) -> Any:
    """The Modal adapter; imported here so `modal` loads only for commands that need it."""
    from ..adapters.modal_backend import ModalBackend
    from . import output

    # Looked up at each call, so the spinner follows output.err (a terminal or not).
    return ModalBackend(environment=environment, waiting=lambda message: output.working(message))


def confirm(question: str, yes: bool) -> None:
    """Ask on the terminal; refuse without one unless --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question} Refusing without a terminal to confirm.", hint="pass --yes to go ahead")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def progress_printer() -> Any:
    from .output import err

    def show(message: str) -> None:
        err.print(f"[dim]·[/dim] {message}", highlight=False)

    return show

"""Helpers shared by the commands that talk to Modal."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from ..errors import EXIT_DECLINED, UsageError

AppOpt = Annotated[
    Optional[str],
    typer.Option("--app", help="Modal app name (default: the profiles' app, or the only omc-managed app).", envvar="OMC_APP"),
]
def _environment(value: Optional[str]) -> Optional[str]:
    # Checked here, before Modal or a local file sees it (key files are named after it).
    from ..config.names import environment_name

    if value is not None:
        try:
            environment_name(value)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="'--env'") from None
    return value


EnvOpt = Annotated[
    Optional[str],
    typer.Option("--env", help="Modal environment (default: MODAL_ENVIRONMENT or the workspace default).", callback=_environment),
]


def backend(environment: str | None = None) -> Any:
    """The Modal adapter; imported here so `modal` loads only for commands that need it."""
    from ..adapters.modal_backend import ModalBackend
    from . import output

    # Looked up at each call, so the spinner follows output.err (a terminal or not).
    return ModalBackend(environment=environment, waiting=lambda message: output.working(message))


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, yes: bool) -> None:
    """Ask on the terminal; refuse without one unless --yes.

    Not confirmed (no terminal, "no", Ctrl-D or Ctrl-C at the prompt): nothing changed, exit 2."""
    if yes:
        return
    if not stdin_is_terminal():
        raise UsageError(f"{question} Refusing without a terminal to confirm: nothing changed.", hint="pass --yes to go ahead")
    try:
        agreed = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        agreed = False
    if not agreed:
        from .output import info

        info("nothing changed")
        raise typer.Exit(EXIT_DECLINED)


def progress_printer() -> Any:
    from .output import err

    def show(message: str) -> None:
        from rich.text import Text

        err.print(Text.assemble(("·", "dim"), f" {message}"), highlight=False)

    return show

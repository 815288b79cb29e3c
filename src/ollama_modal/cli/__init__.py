"""The `omc` command line. Thin: parse, call the library, print.

Errors are handled once, in :class:`OmcGroup`: an :class:`~ollama_modal.errors.OmcError`
becomes a message on stderr and its exit code; anything else is an internal error
(exit 1) with a traceback only under ``--debug`` / ``OMC_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

try:  # typer >= 0.29 vendors click; earlier releases use click itself.
    from typer.exceptions import TyperException as _CliError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import ClickException as _CliError  # type: ignore[assignment,no-redef]

from .. import __version__
from ..errors import EXIT_INTERNAL, ConfigError, OmcError
from . import context


class OmcGroup(TyperGroup):
    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _CliError):
            raise
        except OmcError as e:
            _report(e)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            from .output import err

            err.print(
                "interrupted: no local file was left half-written; if a deploy was under way, "
                "check what Modal has with `omc status` or `omc history`",
                markup=False,
            )
            raise typer.Exit(130) from None
        except Exception as e:  # noqa: BLE001 - the one place internal errors are reported
            if _debug(ctx):
                raise
            from .output import err

            from rich.text import Text

            # Text, not markup: the exception's message may hold a user's value such as "[/x]".
            err.print(Text.assemble(("internal error:", "red"), f" {type(e).__name__}: {e}"))
            err.print("run again with --debug (or OMC_DEBUG=1) for the traceback, and report it", markup=False)
            raise typer.Exit(EXIT_INTERNAL) from None


def _debug(ctx: typer.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False)) or os.environ.get(context.DEBUG_ENV, "") not in ("", "0")


def _report(e: OmcError) -> None:
    from .output import err

    err.print(f"error: {e.message}", markup=False)
    if isinstance(e, ConfigError):
        for line in e.problems:
            if line not in e.message:
                err.print(f"  {line}", markup=False)
    if e.hint:
        err.print(f"hint: {e.hint}", markup=False)


app = typer.Typer(
    cls=OmcGroup,
    name="omc",
    help="Run Ollama on Modal GPUs; switch GPU tier and warm-keeping policy from TOML profiles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"omc {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", envvar=context.DEBUG_ENV, help="Show tracebacks for internal errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = context.AppContext(debug=debug)


def _register() -> None:
    from . import lifecycle, profiles, render

    app.add_typer(profiles.app, name="profiles")
    render.register(app)
    lifecycle.register(app)


_register()


def main() -> None:
    app(prog_name="omc")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

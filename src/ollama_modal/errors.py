"""One error hierarchy; the CLI maps each class to an exit code in one place."""

from __future__ import annotations


class OmcError(Exception):
    """Base class. ``exit_code`` is what the process exits with."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class UsageError(OmcError):
    """Bad command-line input. Nothing was sent to Modal."""

    exit_code = 2


class ConfigError(OmcError):
    """A profile is invalid. Nothing was sent to Modal.

    ``problems`` holds one line per problem, each naming the file, key and fix.
    """

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or []


class RemoteError(OmcError):
    """Modal (or the deployed endpoint) failed or refused."""

    exit_code = 3


class NotDeployed(RemoteError):
    """The app a command acts on is not deployed: the same message and exit code (3) from every
    command (``status`` reports it as data; ``status --check`` as a failed check, 4)."""

    def __init__(self, app: str, environment: str | None = None) -> None:
        env = f" in environment {environment!r}" if environment else ""
        super().__init__(f"app {app!r} is not deployed{env}", hint="deploy it first: omc deploy --profile NAME")
        self.app = app


class CheckFailed(OmcError):
    """A check the user asked for failed (``status --check``, bench thresholds)."""

    exit_code = 4


EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_REMOTE = 3
EXIT_CHECK = 4
# A confirmation that was declined (or impossible without a terminal): nothing changed.
EXIT_DECLINED = EXIT_USAGE

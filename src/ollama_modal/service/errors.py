"""Errors raised inside the container. They subclass omc's hierarchy (stdlib-only module)."""

from __future__ import annotations

from ..errors import ConfigError, OmcError


class ServiceConfigError(ConfigError):
    """The container's environment is incomplete or contradictory; nothing was started."""


class StartupError(OmcError):
    """``ollama serve`` did not come up, or the model did not load, within the budget."""

    def __init__(self, message: str, *, phase: str, output: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.phase = phase
        self.output = output or []


class PullError(OmcError):
    """Pulling a model into the store failed (error line, broken stream, or server failure)."""

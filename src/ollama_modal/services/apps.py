"""Which app a command acts on when ``--app`` is not given."""

from __future__ import annotations

from typing import Any

from .. import tags as T
from ..config.models import DEFAULT_APP_NAME
from ..errors import UsageError


def pick_app(backend: Any, explicit: str | None) -> str:
    """``--app`` wins; else the built-in profiles' app if deployed; else the only omc-managed app."""
    if explicit:
        return explicit
    managed = [a for a in backend.list_apps() if (a.tags or {}).get(T.MANAGED) == "1"]
    names = sorted({a.name for a in managed})
    if DEFAULT_APP_NAME in names or not names:
        return DEFAULT_APP_NAME
    if len(names) == 1:
        return names[0]
    raise UsageError(
        f"several omc-managed apps in this environment: {', '.join(names)}",
        hint="choose one with --app NAME",
    )

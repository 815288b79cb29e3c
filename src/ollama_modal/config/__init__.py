"""Profiles: schema, loading, overrides and validation.

Names are imported lazily so that commands which never validate a profile (and the
profile-list cache hit path) do not pay for importing pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .discovery import list_profiles

if TYPE_CHECKING:
    from .loader import Origin, ResolvedProfile, resolve
    from .models import Profile

__all__ = ["Origin", "Profile", "ResolvedProfile", "list_profiles", "resolve"]


def __getattr__(name: str) -> Any:
    if name in ("Origin", "ResolvedProfile", "resolve"):
        from . import loader

        return getattr(loader, name)
    if name == "Profile":
        from .models import Profile

        return Profile
    raise AttributeError(name)

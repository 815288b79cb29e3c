"""Write a resolved profile back as a standalone TOML file (no ``extends``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from .loader import Key, ResolvedProfile
from .models import Profile


def profile_dict(profile: Profile) -> dict[str, Any]:
    # TOML has no null: unset optional values are left out and load back as their default.
    return profile.model_dump(mode="json", exclude_none=True)


def to_toml(profile: Profile) -> str:
    return tomli_w.dumps(profile_dict(profile))


def _leaves(data: dict[str, Any], prefix: Key = ()) -> list[tuple[Key, Any]]:
    out: list[tuple[Key, Any]] = []
    for k, v in data.items():
        if isinstance(v, dict):
            out.extend(_leaves(v, prefix + (k,)))
        else:
            out.append((prefix + (k,), v))
    return out


def origin_label(origin: Any) -> str:
    """An origin in a few words: ``built-in parts/base.toml``, ``profiles/x.toml`` (relative to
    the working directory when under it), ``env OMC_GPU``, ``flag --gpu``, ``default``."""
    import os

    from .loader import builtin_dir

    kind, _, source = str(origin).partition(":")
    if kind != "file":
        return f"{kind} {source}".strip()
    path = Path(source)
    try:
        return f"built-in {path.resolve().relative_to(builtin_dir().resolve()).as_posix()}"
    except ValueError:
        pass
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else source
    except (OSError, ValueError):
        return source


def origin_rows(resolved: ResolvedProfile) -> list[tuple[str, str, Any]]:
    """(origin, dotted key, value) for every leaf, like `git config --show-origin`."""
    rows = []
    for key, value in _leaves(profile_dict(resolved.profile)):
        origin = resolved.origin(key)
        # A list-of-tables (schedule) is recorded at the list's key.
        rows.append((str(origin), ".".join(key), value))
    return rows

"""Create profiles on disk: `omc profiles new` and `omc profiles init`."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import ConfigError, UsageError
from ..fsutil import atomic_write_text
from .discovery import looks_like_path, search_dirs
from .loader import Key, builtin_dir, find_profile, project_dir, resolve

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")  # matched whole (fullmatch)


def create_profile(
    name: str,
    *,
    base: str,
    description: str | None,
    directory: Path | None,
    force: bool,
    changes: dict[Key, tuple[Any, Any]],
) -> Path:
    if not NAME_RE.fullmatch(name):
        from ..safeio import shown

        raise UsageError(
            f"profile name {shown(name)} is not valid", hint="use 1-63 lowercase letters, digits, '.', '-' and '_', starting with a letter or digit"
        )
    target_dir = directory or project_dir() or Path("profiles")
    path = target_dir / f"{name}.toml"
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it, or choose another name")
    taken = _existing(name)
    if taken is not None and not force:
        raise UsageError(
            f"a profile named {name!r} already exists ({taken})",
            hint=f"choose another name, e.g. {name}-custom (a file of the same name would replace it: pass --force for that)",
        )
    if not base.endswith(".toml") and base == name:
        raise UsageError(
            f"profile {name!r} cannot extend itself (--from {base})",
            hint="choose another name, or extend another profile with --from",
        )
    found = find_profile(base)  # a clear error for a missing base, before anything is written
    doc: dict[str, Any] = {"description": description or f"{base} with changes"}
    # `extends` holds names only (config.discovery.find_parent): a path base is written as its
    # name in the directory that holds it, which must be one omc looks in.
    doc["extends"] = _name_of(found, target_dir) if looks_like_path(base) else base
    for key, (value, _origin) in sorted(changes.items()):
        table = doc
        for part in key[:-1]:
            table = table.setdefault(part, {})
        table[key[-1]] = value
    text = tomli_w.dumps(doc)
    # Validate the new file before it replaces anything.
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / f"{name}.toml"
        probe.write_text(text, encoding="utf-8")
        try:
            resolve(str(probe))
        except ConfigError as e:
            raise ConfigError(
                f"the new profile {name!r} would be invalid", [p.replace(str(probe), str(path)) for p in e.problems] or [e.message]
            ) from None
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}", hint="check --dir and its permissions") from None
    return path


def _name_of(path: Path, target_dir: Path) -> str:
    from ..safeio import shown

    real = path.resolve()
    roots = [target_dir, *search_dirs()]
    for root in roots:
        try:
            rel = real.relative_to(root.resolve())
        except (OSError, ValueError):
            continue
        return rel.with_suffix("").as_posix()
    raise UsageError(
        f"--from {shown(str(path))}: a profile extends only profiles omc finds by name, and this file is outside "
        + ", ".join(str(r) for r in roots),
        hint=f"copy it into {target_dir} and pass its name to --from",
    )


def _existing(name: str) -> str | None:
    """Where a profile of this name is found now ("built-in" or its file), or None."""
    try:
        found = find_profile(name)
    except ConfigError:
        return None
    try:
        found.resolve().relative_to(builtin_dir().resolve())
        return "built-in"
    except ValueError:
        return str(found)


def copy_builtins(directory: Path, *, force: bool) -> tuple[list[Path], list[Path]]:
    src = builtin_dir()
    written: list[Path] = []
    skipped: list[Path] = []
    for f in sorted(src.rglob("*.toml")):
        dest = directory / f.relative_to(src)
        if dest.exists() and not force:
            skipped.append(dest)
            continue
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
        except OSError as e:
            raise UsageError(f"cannot write {dest}: {e.strerror or e}", hint="check --dir and its permissions") from None
        written.append(dest)
    return written, skipped

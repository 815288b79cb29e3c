"""Find profile files, resolve ``extends``, apply overrides, validate.

Precedence, highest first: CLI flag > environment (``OMC_*``) > the profile file > what it
extends (later entries of an ``extends`` list win) > schema defaults. Every leaf value
remembers where it came from, for ``omc profiles show --origin`` and for error messages
that point at the right file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, UsageError
from .discovery import (  # noqa: F401  (re-exported)
    PARTS_DIR,
    PROFILES_DIR_ENV,
    ProfileEntry,
    builtin_dir,
    find_parent,
    find_profile,
    list_profiles,
    looks_like_path,
    project_dir,
    search_dirs,
)
from .errors import format_validation_errors, legacy_key_problems, line_of
from .models import Profile
from .origins import Key, Origin  # noqa: F401  (re-exported)

#: A profile is a few hundred bytes; anything near this is not one.
MAX_PROFILE_BYTES = 1024 * 1024


@dataclass
class ResolvedProfile:
    profile: Profile
    path: Path | None  # the profile's own file
    files: list[Path]  # every file read, parents first
    origins: dict[Key, Origin]
    warnings: list[str] = field(default_factory=list)

    def origin(self, key: Key) -> Origin:
        return self.origins.get(key, Origin("default"))


def read_toml(path: Path) -> dict[str, Any]:
    """A profile file's table; every failure (unreadable, not UTF-8, bad TOML, too deep) is a ConfigError."""
    from ..safeio import loads_toml, read_text

    text = read_text(path, what="profile file", error=ConfigError, max_bytes=MAX_PROFILE_BYTES)
    return loads_toml(text, where=str(path), error=ConfigError)


def _flatten(data: dict[str, Any], prefix: Key = ()) -> dict[Key, Any]:
    out: dict[Key, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(_flatten(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


def _set(data: dict[str, Any], key: Key, value: Any) -> None:
    for part in key[:-1]:
        data = data.setdefault(part, {})
    data[key[-1]] = value


def _load_chain(path: Path, stack: tuple[Path, ...], problems: list[str]) -> tuple[dict[str, Any], dict[Key, Origin], list[Path]]:
    """Merge a file over everything it extends. Returns data, origins and files read."""
    real = path.resolve()
    if real in stack:
        chain = " -> ".join(str(p) for p in (*stack, real))
        raise ConfigError(f"{path}: extends cycle: {chain}", [f"{path}: extends: cycle {chain}; remove one of the links"])
    raw = read_toml(path)
    problems.extend(legacy_key_problems(path, raw))
    _drop_legacy(raw)
    parents = raw.pop("extends", [])
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ConfigError(f"{path}: extends must be a profile name or a list of names", hint='e.g. extends = ["parts/base", "parts/gpu-a10g"]')
    data: dict[str, Any] = {}
    origins: dict[Key, Origin] = {}
    files: list[Path] = []
    for parent in parents:
        try:
            parent_path = find_parent(parent, relative_to=path.parent)
        except ConfigError as e:
            line = line_of(path, ("extends",))
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: extends: {e.message}", [f"{where}: extends: {e.message}"], hint=e.hint) from None
        pdata, porigins, pfiles = _load_chain(parent_path, stack + (real,), problems)
        for key, value in _flatten(pdata).items():
            _set(data, key, value)
        origins.update(porigins)
        files.extend(f for f in pfiles if f not in files)
    # The profile's own name is never inherited.
    data.pop("name", None)
    for key, value in _flatten(raw).items():
        _set(data, key, value)
        origins[key] = Origin("file", str(path))
    files.append(path)
    return data, origins, files


def resolve(ref: str, overrides: dict[Key, tuple[Any, Origin]] | None = None) -> ResolvedProfile:
    """Load, merge, override and validate one profile. Raises ConfigError listing every problem."""
    from .fit import check_fit
    from .settings import env_overrides

    path = find_profile(ref)
    problems: list[str] = []
    data, origins, files = _load_chain(path, (), problems)
    data.setdefault("name", path.stem)
    origins.setdefault(("name",), Origin("file", str(path)))
    layered = {**env_overrides(), **(overrides or {})}
    for key, (value, origin) in layered.items():
        _set(data, key, value)
        origins[key] = origin
    # A shorthand sets one key through another ("H100:2" in gpu.type sets gpu.count): the
    # derived key comes from wherever the shorthand came from (a flag, not the profile file).
    gpu_type = (data.get("gpu") or {}).get("type") if isinstance(data.get("gpu"), dict) else None
    if isinstance(gpu_type, str) and ":" in gpu_type and ("gpu", "type") in origins:
        origins[("gpu", "count")] = origins[("gpu", "type")]
    try:
        profile = Profile.model_validate(data)
    except ValidationError as e:
        problems += format_validation_errors(e, origins, default_file=path)
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s)", problems)
    errors, warnings = check_fit(profile)
    if errors:
        lines = [f"{_where(origins, key, path)}: {m}" for key, m in errors]
        raise ConfigError(f"{path}: the model does not fit the GPU", lines)
    return ResolvedProfile(profile, path, files, origins, warnings)


def with_gpu(resolved: ResolvedProfile, types: list[str], count: int, origin: Origin, *, hint: str | None = None) -> ResolvedProfile:
    """``resolved`` with its GPU replaced by ``types`` (ranked) x ``count``, validated and fit-checked again."""
    from .fit import check_fit

    data = resolved.profile.model_dump(mode="json")
    data["gpu"] = {"type": types[0], "count": count, "fallback": list(types[1:])}
    try:
        profile = Profile.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{origin}: invalid GPU", format_validation_errors(e, {}, default_file=Path(str(origin))), hint=hint) from None
    errors, warnings = check_fit(profile)
    if errors:
        raise ConfigError(f"{origin}: the model does not fit the GPU", [m for _key, m in errors], hint=hint)
    origins = {**resolved.origins, ("gpu", "type"): origin, ("gpu", "count"): origin, ("gpu", "fallback"): origin}
    return ResolvedProfile(profile, resolved.path, resolved.files, origins, warnings)


def _drop_legacy(raw: dict[str, Any]) -> None:
    """Old Modal names are reported once, by legacy_key_problems, not again as unknown keys."""
    from .errors import LEGACY_KEYS

    for key in list(raw):
        if isinstance(raw[key], dict):
            _drop_legacy(raw[key])
        elif key in LEGACY_KEYS:
            del raw[key]


def _where(origins: dict[Key, Origin], key: Key, default: Path) -> str:
    o = origins.get(key)
    if o and o.kind == "file":
        line = line_of(Path(o.source), key)
        return f"{o.source}:{line} {'.'.join(key)}" if line else f"{o.source} {'.'.join(key)}"
    if o and o.kind in ("env", "flag"):
        return f"{o} {'.'.join(key)}"
    return f"{default} {'.'.join(key)}"


def load_file_strict(path: Path) -> None:
    """Raise UsageError when a path is not a readable file (for commands taking paths)."""
    if not path.is_file():
        raise UsageError(f"{path} is not a file")

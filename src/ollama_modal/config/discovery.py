"""Where profiles live and how a name finds its file. Light: no pydantic, so listing stays fast."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

PROFILES_DIR_ENV = "OMC_PROFILES_DIR"
#: Sub-folder of a profiles directory holding fragments (GPU tiers, warm policies, base).
PARTS_DIR = "parts"


def builtin_dir() -> Path:
    """Built-in profiles: shipped in the wheel, or the repository's ``profiles/`` in a source checkout."""
    packaged = Path(str(resources.files("ollama_modal") / "_profiles"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "profiles"


def project_dir() -> Path | None:
    env = os.environ.get(PROFILES_DIR_ENV)
    if env:
        return Path(env)
    local = Path("profiles")
    return local if local.is_dir() else None


def search_dirs() -> list[Path]:
    dirs = [d for d in (project_dir(), builtin_dir()) if d is not None]
    out: list[Path] = []
    for d in dirs:
        try:
            usable = d.is_dir() and all(d.resolve() != o.resolve() for o in out)
        except (OSError, ValueError) as e:  # a name too long for the file system, a NUL byte
            from ..safeio import shown

            raise ConfigError(
                f"profiles directory {shown(str(d))} cannot be used: {getattr(e, 'strerror', None) or e}",
                hint=f"check {PROFILES_DIR_ENV}",
            ) from None
        if usable:
            out.append(d)
    return out


def looks_like_path(ref: str) -> bool:
    return ref.endswith(".toml") or os.sep in ref and not ref.startswith(PARTS_DIR + "/")


#: Longer references are refused before touching the file system (ENAMETOOLONG and worse).
MAX_REF_CHARS = 1024


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def find_profile(ref: str, relative_to: Path | None = None) -> Path:
    """A profile name (``a10g-balanced``, ``parts/warm-economy``) or a path to a .toml file."""
    from ..safeio import shown

    if not ref or len(ref) > MAX_REF_CHARS or not ref.isprintable():
        raise ConfigError(
            f"profile {shown(ref)} is not a profile name or path",
            hint=f"give a profile name or a path to a .toml file (printable, at most {MAX_REF_CHARS} characters)",
        )
    if looks_like_path(ref):
        p = Path(ref)
        if not p.is_absolute() and relative_to is not None and not _is_file(p):
            p = relative_to / p
        if not _is_file(p):
            raise ConfigError(f"profile file {shown(ref)} does not exist", hint="check the path, or pass a profile name")
        return p
    dirs = ([relative_to] if relative_to else []) + search_dirs()
    for d in dirs:
        candidate = d / f"{ref}.toml"
        if _is_file(candidate):
            return candidate
    raise _not_found(ref, search_dirs())


def _not_found(ref: str, dirs: list[Path]) -> ConfigError:
    import difflib

    from ..safeio import shown

    names = sorted(p.name for p in list_profiles())
    close = difflib.get_close_matches(ref, names, n=3) if len(ref) <= 200 else []
    hint = f"did you mean {', '.join(close)}?" if close else "run `omc profiles list` to see the profiles"
    return ConfigError(f"no profile named {shown(ref)} in {', '.join(str(d) for d in dirs)}", hint=hint)


#: What ``extends`` may name: a profile or part as ``omc`` finds it by name, e.g. ``a10g-balanced``
#: or ``parts/gpu-a10g`` (segments of letters, digits, ``.``, ``-``, ``_``, not starting with a dot).
EXTENDS_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_][A-Za-z0-9._-]{0,127}){0,7}")
EXTENDS_HINT = (
    "name a profile or part that omc finds by name, such as \"a10g-balanced\" or \"parts/gpu-a10g\": "
    f"a file NAME.toml in this profile's directory, in ${PROFILES_DIR_ENV} (or ./profiles) or among the built-ins "
    "(no paths, no '..', no .toml; copy a file from elsewhere into the profiles directory to build on it)"
)


def find_parent(ref: object, relative_to: Path) -> Path:
    """The file an ``extends`` entry names: only a profile name, looked up in the extending
    file's directory and the profile directories (``search_dirs``), and only a file that
    stays inside the directory it was found in once symlinks are followed.

    A path, a ``..`` segment or a symlink out of those directories is refused (``ConfigError``
    whose message the caller prefixes with the file and key), so a profile cannot make omc read
    another file on the machine.
    """
    from ..safeio import shown

    if not isinstance(ref, str) or not EXTENDS_NAME_RE.fullmatch(ref) or ref.endswith(".toml"):
        raise ConfigError(f"{shown(str(ref))} is not a profile name", hint=EXTENDS_HINT)
    roots = [relative_to, *search_dirs()]
    for root in roots:
        candidate = root / f"{ref}.toml"
        if not _is_file(candidate):
            continue
        try:
            inside = candidate.resolve().is_relative_to(root.resolve())
        except (OSError, RuntimeError):  # a symlink loop
            inside = False
        if not inside:
            raise ConfigError(
                f"{shown(ref)} is a link to a file outside the profiles directory {shown(str(root))}",
                hint="copy that file into the profiles directory instead of linking to it",
            )
        return candidate
    raise _not_found(ref, roots)


@dataclass(frozen=True)
class ProfileEntry:
    name: str
    path: Path
    source: str  # "project" or "builtin"


def list_profiles() -> list[ProfileEntry]:
    """Top-level profiles; a project's file shadows a built-in of the same name."""
    seen: dict[str, ProfileEntry] = {}
    proj = project_dir()
    for d in search_dirs():
        source = "project" if proj is not None and d.resolve() == proj.resolve() else "builtin"
        for p in sorted(d.glob("*.toml")):
            seen.setdefault(p.stem, ProfileEntry(p.stem, p, source))
    return sorted(seen.values(), key=lambda e: e.name)

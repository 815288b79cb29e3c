"""Rows for `omc profiles list`, with a cache so that listing does not re-validate unchanged files.

Validating means importing pydantic and building the schema, which costs more than the rest
of the command together. A row is reused only while every file its profile was built from
(the profile and everything it extends) has the same size and modification time, the
``OMC_*`` overrides are the same and omc's version is the same; otherwise it is rebuilt.

The cache records a SHA-256 digest of the ``OMC_*`` environment, never the values: the
environment holds secrets (``OMC_API_KEY``, ``OMC_API_KEYS``) that must not be written to disk.
A file that cannot be read or validated becomes an ``error`` row; the others are listed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import __version__, jsonio
from .discovery import list_profiles

CACHE_DIR_ENV = "OMC_CACHE_DIR"


def cache_path() -> Path:
    base = os.environ.get(CACHE_DIR_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "omc")
    return Path(base) / "profiles-list.json"


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _context() -> dict[str, Any]:
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("OMC_") and k not in (CACHE_DIR_ENV, "OMC_DEBUG"))
    digest = hashlib.sha256(jsonio.dumps(env).encode("utf-8", "surrogatepass")).hexdigest()
    return {"version": __version__, "env_sha256": digest}


def _load_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("context") == _context() else {}


def _fresh(entry: dict[str, Any]) -> bool:
    return all(_stamp(f) == stamp for f, stamp in entry.get("files", {}).items())


def _build_row(path: Path) -> tuple[dict[str, Any], list[str]]:
    from ..errors import OmcError
    from ..pricing import always_on_monthly, idle_floor_monthly
    from .loader import resolve

    try:
        r = resolve(str(path))
    except OmcError as e:  # unreadable, not UTF-8, bad TOML, invalid: listed as such
        problems = getattr(e, "problems", [])
        return {"error": problems[0] if len(problems) == 1 else e.message}, [str(path)]
    p = r.profile
    row = {
        "description": p.description,
        "gpu": p.gpu.type,
        "gpu_count": p.gpu.count,
        "policy": p.warm.policy,
        "scaledown_window": p.warm.scaledown_window,
        "min_containers": p.warm.min_containers,
        "max_containers": p.warm.max_containers,
        "model": p.model.name,
        "always_on_usd_per_month": round(always_on_monthly(p), 2),
        "idle_floor_usd_per_month": round(idle_floor_monthly(p), 2),
    }
    return row, [str(f) for f in r.files]


def profile_rows() -> list[dict[str, Any]]:
    cache = _load_cache()
    cached: dict[str, Any] = cache.get("rows", {})
    rows: list[dict[str, Any]] = []
    new_cache: dict[str, Any] = {}
    dirty = False
    for entry in list_profiles():
        key = str(entry.path.resolve())
        hit = cached.get(key)
        if hit is None or not _fresh(hit):
            row, files = _build_row(entry.path)
            hit = {"row": row, "files": {f: _stamp(f) for f in files}}
            dirty = True
        new_cache[key] = hit
        rows.append({"name": entry.name, "source": entry.source, "path": str(entry.path), **hit["row"]})
    if dirty or set(new_cache) != set(cached):
        _save({"context": _context(), "rows": new_cache})
    return rows


def _save(data: dict[str, Any]) -> None:
    from ..fsutil import atomic_write_text

    try:
        atomic_write_text(cache_path(), jsonio.dumps(data))
    except OSError:
        pass  # a read-only home must not break listing

"""Turn validation failures into one line per problem: file:line key: what is wrong; the fix."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from .origins import Key, Origin

#: Names from older Modal releases that now raise DeprecationError at import time.
LEGACY_KEYS: dict[str, tuple[str, str]] = {
    "container_idle_timeout": ("scaledown_window", "warm.scaledown_window"),
    "keep_warm": ("min_containers", "warm.min_containers"),
    "concurrency_limit": ("max_containers", "warm.max_containers"),
    "allow_concurrent_inputs": ("max_inputs", "server.max_inputs (Modal's @modal.concurrent)"),
}


def line_of(path: Path, key: tuple[str, ...]) -> int | None:
    """1-based line where ``key`` is set in a TOML file, found by scanning tables and keys.

    tomllib reports no positions for valid documents; a scan is enough for the flat tables
    profiles use (``[table]`` headers, ``key = value`` and ``table.key = value`` lines).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    table: tuple[str, ...] = ()
    want = tuple(str(k) for k in key if not isinstance(k, int))
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    assign = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+)\s*=")
    best: int | None = None
    for i, text in enumerate(lines, 1):
        m = header.match(text)
        if m:
            table = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            if table == want:
                best = best or i
            continue
        m = assign.match(text)
        if m:
            full = table + tuple(p.strip().strip('"') for p in m.group(1).split("."))
            if full == want:
                return i
            if want and full[: len(want)] == want and best is None:
                best = i
    return best


def legacy_key_problems(path: Path, raw: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[str]:
    """Explain Modal's renamed parameters wherever they appear in a profile file."""
    problems: list[str] = []
    for key, value in raw.items():
        here = prefix + (key,)
        if isinstance(value, dict):
            problems.extend(legacy_key_problems(path, value, here))
            continue
        if key not in LEGACY_KEYS:
            continue
        new, where = LEGACY_KEYS[key]
        line = line_of(path, here)
        loc = f"{path}:{line}" if line else str(path)
        dotted = ".".join(here)
        if key == "container_idle_timeout" and "scaledown_window" in raw:
            keep = raw["scaledown_window"]
            problems.append(
                f"{loc} {dotted}: `container_idle_timeout = {value}` and `scaledown_window = {keep}` are the same "
                f"setting (Modal renamed container_idle_timeout to scaledown_window, and a module setting both no "
                f"longer imports); keep `scaledown_window = {keep}` under [warm] and delete container_idle_timeout"
            )
        elif key == "allow_concurrent_inputs":
            problems.append(
                f"{loc} {dotted}: Modal replaced allow_concurrent_inputs with @modal.concurrent; "
                f"set `max_inputs = {value}` under [server] instead"
            )
        else:
            problems.append(
                f"{loc} {dotted}: Modal renamed {key} to {new} (the old name is now an error); "
                f"write `{new} = {value}` as {where} instead"
            )
    return problems


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model that ``loc`` points into (for did-you-mean)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            break
        ann = field.annotation
        sub = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is None:
            for a in getattr(ann, "__args__", ()):  # list[WarmWindow]
                for b in getattr(a, "__args__", (a,)):
                    if isinstance(b, type) and issubclass(b, BaseModel):
                        sub = b
        if sub is None:
            break
        current = sub
    return list(getattr(current, "model_fields", {}))


def format_validation_errors(err: ValidationError, origins: dict[Key, Origin], default_file: Path) -> list[str]:
    from .models import Profile

    out: list[str] = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = tuple(str(p) for p in loc)
        dotted = ".".join(key) or "(profile)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            parent = loc[:-1]
            allowed = _fields_at(Profile, parent)
            close = difflib.get_close_matches(str(loc[-1]), allowed + list(LEGACY_KEYS), n=1)
            if close and close[0] in LEGACY_KEYS:
                fix = f"did you mean `{LEGACY_KEYS[close[0]][1]}` (Modal's old name for it is {close[0]})?"
            elif close:
                fix = f"did you mean `{close[0]}`?"
            else:
                fix = f"allowed keys: {', '.join(allowed)}"
            msg = f"unknown key; {fix}"
        elif e["type"] in ("less_than_equal", "greater_than_equal") and key[-1:] == ("scaledown_window",):
            msg += " (Modal accepts 2..3600 seconds)"
        if "input" in e and e["type"] not in ("extra_forbidden", "missing", "value_error") and not isinstance(e["input"], dict):
            shown = repr(e["input"])
            msg = f"{shown if len(shown) <= 120 else shown[:120] + '...'}: {msg}"
        out.append(f"{_locate(origins, key, default_file)} {dotted}: {msg}")
    return out


def _locate(origins: dict[Key, Origin], key: tuple[str, ...], default_file: Path) -> str:
    # The error may sit on a table (model validator) rather than a leaf: find the closest origin.
    o = origins.get(key)
    if o is None:
        # Prefer the most specific source among the table's keys: flag, env, then the profile's own file.
        under = [v for k, v in origins.items() if k[: len(key)] == key]
        rank = {"flag": 0, "env": 1}
        under.sort(key=lambda v: (rank.get(v.kind, 2), v.source != str(default_file)))
        o = under[0] if under else None
    if o is None or o.kind == "default":
        return str(default_file)
    if o.kind == "file":
        line = line_of(Path(o.source), key)
        return f"{o.source}:{line}" if line else o.source
    return f"({o})"

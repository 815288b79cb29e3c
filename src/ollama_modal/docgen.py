"""Generate the reference parts of docs/ from the code: ``python -m ollama_modal.docgen``.

docs/profiles.md embeds the schema reference and the built-in matrix; docs/commands.md is
every command's ``--help``. A test regenerates both and fails when the files are stale.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

BEGIN = "<!-- BEGIN GENERATED: {} -->"
END = "<!-- END GENERATED: {} -->"


def _type_name(ann: Any) -> str:
    origin = get_origin(ann)
    args = get_args(ann)
    if ann is type(None):
        return "none"
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(ann, getattr(ann, "__name__", str(ann)))


def _default(field: Any) -> str:
    from .config.models import FILE_DEFAULT

    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if FILE_DEFAULT in extra:
        return str(extra[FILE_DEFAULT])
    if field.is_required():
        return "required"
    d = field.default
    if d is None:
        return "-"
    if isinstance(d, BaseModel):
        return ""
    if isinstance(d, bool):
        return f"`{str(d).lower()}`"
    if isinstance(d, str):
        return f'`"{d}"`'
    return f"`{d}`"


def _constraints(field: Any) -> str:
    out = []
    for m in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v}")
    return f" ({', '.join(out)})" if out else ""


def schema_reference() -> str:
    from .config.models import Profile, WarmWindow

    lines: list[str] = []

    def table(model: type[BaseModel], heading: str) -> None:
        lines.extend([f"### {heading}", "", "| key | type | default | description |", "|---|---|---|---|"])
        for name, field in model.model_fields.items():
            desc = (field.description or "").replace("|", "\\|") + _constraints(field)
            lines.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {desc} |")
        lines.append("")

    top = {n: f for n, f in Profile.model_fields.items() if not (isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel))}
    lines.extend(["### Top level", "", "| key | type | default | description |", "|---|---|---|---|"])
    for name, field in top.items():
        lines.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {field.description} |")
    lines.append("| `extends` | string or list of string | - | Profiles this file builds on, in order; later ones and the file itself win. Names only (`a10g-balanced`, `parts/gpu-a10g`), found in this file's directory, the profiles directory or the built-ins: no paths, no `..`, no links out of those directories. Only in files: a resolved profile has none. |")
    lines.append("")
    for name, field in Profile.model_fields.items():
        if name in top:
            continue
        table(field.annotation, f"[{name}] — {field.description}")
    table(WarmWindow, "[[warm.schedule]] — one scheduled warm window")
    return "\n".join(lines)


def matrix_table() -> str:
    from .config import list_profiles, resolve
    from .pricing import always_on_monthly

    rows = ["| profile | GPU | scaledown_window | min_containers | one container always on, $/month |", "|---|---|---|---|---|"]
    for e in list_profiles():
        p = resolve(str(e.path)).profile
        rows.append(
            f"| `{e.name}` | {p.gpu.type} | {p.warm.scaledown_window} s | {p.warm.min_containers} | {always_on_monthly(p):,.0f} |"
        )
    return "\n".join(rows)


def env_table() -> str:
    from .config.settings import ENV_KEYS

    rows = ["| variable | profile key |", "|---|---|"]
    rows += [f"| `{var}` | `{'.'.join(key)}` |" for var, key in ENV_KEYS.items()]
    rows.append("| `OMC_PROFILES_DIR` | where project profiles live (default `./profiles`) |")
    return "\n".join(rows)


def commands_reference() -> str:
    import typer

    from .cli import app

    root = typer.main.get_command(app)
    out: list[str] = []

    def walk(cmd: typer.core.TyperCommand, path: list[str]) -> None:
        ctx = typer.Context(cmd, info_name=" ".join(path), terminal_width=100, max_content_width=100, help_option_names=["-h", "--help"])
        out.extend([f"## `{' '.join(path)}`", "", "```text", cmd.get_help(ctx).rstrip(), "```", ""])
        if isinstance(cmd, typer.core.TyperGroup):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])

    walk(root, ["omc"])
    return "\n".join(out)


def _replace(text: str, name: str, body: str) -> str:
    b, e = BEGIN.format(name), END.format(name)
    if b not in text or e not in text:
        raise SystemExit(f"markers for {name!r} missing")
    head, rest = text.split(b, 1)
    _, tail = rest.split(e, 1)
    return f"{head}{b}\n{body.rstrip()}\n{e}{tail}"


def generate(docs: Path) -> dict[Path, str]:
    """The expected content of each generated file."""
    profiles = docs / "profiles.md"
    text = profiles.read_text(encoding="utf-8")
    for name, body in (("schema", schema_reference()), ("matrix", matrix_table()), ("env", env_table())):
        text = _replace(text, name, body)
    commands = (
        "# Command reference\n\n"
        "Generated from `omc --help` by `python -m ollama_modal.docgen`; do not edit by hand.\n\n" + commands_reference() + "\n"
    )
    return {profiles: text, docs / "commands.md": commands}


def main(argv: list[str] | None = None) -> int:
    import os

    # Help text wraps by terminal width: fix it so the output is the same everywhere.
    os.environ["COLUMNS"] = "100"
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m ollama_modal.docgen",
        description="Regenerate the profile and command references in a docs folder.",
    )
    parser.add_argument("docs", nargs="?", default="docs", type=Path, help="the docs folder (default: docs)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, content in generate(args.docs).items():
        if args.check:
            if path.read_text(encoding="utf-8") != content:
                stale.append(path)
            continue
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    for path in stale:
        print(f"{path} is out of date: run python -m ollama_modal.docgen {args.docs}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())

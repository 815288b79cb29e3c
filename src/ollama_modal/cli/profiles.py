"""`omc profiles ...`: list, show, validate, new, init."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import options as o

app = typer.Typer(help="List, inspect, validate and create profiles.", no_args_is_help=True)


@app.command("list")
def list_cmd(json_: o.JsonOpt = False) -> None:
    """Every profile with its GPU, warm policy, model and what one always-on container costs per month."""
    from ..config.listing import profile_rows
    from .output import print_json, table, usd

    rows = profile_rows()
    if json_:
        print_json(rows)
        return
    table(
        ["profile", "gpu", "policy", "scaledown", "min", "model", "always-on $/mo", "idle floor $/mo", "source"],
        [
            [r["name"], "invalid", "", "", "", r["error"], "", "", r["source"]]
            if "error" in r
            else [
                r["name"],
                r["gpu"] + (f" x{r['gpu_count']}" if r["gpu_count"] > 1 else ""),
                r["policy"] or "-",
                f"{r['scaledown_window']} s",
                r["min_containers"],
                r["model"],
                usd(r["always_on_usd_per_month"]),
                usd(r["idle_floor_usd_per_month"]),
                r["source"],
            ]
            for r in rows
        ],
        optional=["source", "policy", "always-on $/mo"],
    )


@app.command("show")
@o.with_overrides
def show_cmd(
    profile: Annotated[str, typer.Argument(help="Profile name or path to a .toml file.")],
    json_: o.JsonOpt = False,
    origin: Annotated[bool, typer.Option("--origin", help="Show where each value came from (default, file, env, flag).")] = False,
    overrides: o.Overrides = None,
) -> None:
    """The fully resolved profile as a standalone TOML file (no `extends`)."""
    from ..config.serialize import origin_rows, profile_dict, to_toml
    from .output import load_profile, print_json, print_text

    resolved = load_profile(profile, overrides)
    if json_:
        data = profile_dict(resolved.profile)
        if origin:
            data = {"profile": data, "origins": {k: o_ for o_, k, _ in origin_rows(resolved)}}
        print_json(data)
    elif origin:
        import tomli_w

        from ..config.serialize import origin_label
        from .output import out

        # `key = value  # where it came from`: the keys line up on the left like the TOML they
        # are; an origin that does not fit the line goes on its own comment line above.
        rows = [(origin_label(src), f"{key} = {tomli_w.dumps({'v': value}).strip().removeprefix('v = ')}") for src, key, value in origin_rows(resolved)]
        width = min(max(len(line) for _, line in rows), out.width - 4 - max(len(src) for src, _ in rows))
        for src, line in rows:
            print_text(f"{line:<{width}}  # {src}" if len(line) <= width else f"# {src}\n{line}")
    else:
        print_text(to_toml(resolved.profile))


@app.command("validate")
def validate_cmd(
    profiles: Annotated[Optional[list[str]], typer.Argument(help="Profile names or paths (default: every profile).")] = None,
    json_: o.JsonOpt = False,
) -> None:
    """Validate profiles and report every problem at once; exit 2 if any is invalid."""
    from ..config import list_profiles, resolve
    from ..errors import ConfigError
    from ..safeio import cut
    from .output import err, print_json, warn

    refs = profiles or [str(e.path) for e in list_profiles()]
    results = []
    for ref in refs:
        try:
            r = resolve(ref)
        except ConfigError as e:
            problems = e.problems or [e.message + (f" ({e.hint})" if e.hint else "")]
            results.append({"profile": ref, "valid": False, "problems": problems, "warnings": []})
        else:
            results.append({"profile": ref, "valid": True, "problems": [], "warnings": r.warnings})
    bad = [r for r in results if not r["valid"]]
    if json_:
        print_json(results)
    else:
        for r in results:
            if r["valid"]:
                err.print(f"ok       {cut(r['profile'])}", markup=False)
                for w in r["warnings"]:
                    warn(w)
            else:
                err.print(f"invalid  {cut(r['profile'])}", markup=False)
                for line in r["problems"]:
                    err.print(f"  {line}", markup=False)
    if bad:
        raise ConfigError(f"{len(bad)} of {len(results)} profile(s) invalid", [])


@app.command("new")
@o.with_overrides
def new_cmd(
    name: Annotated[str, typer.Argument(help="Name of the new profile (file NAME.toml).")],
    from_: Annotated[str, typer.Option("--from", help="Profile to extend, e.g. a10g-balanced.")] = "a10g-balanced",
    description: Annotated[Optional[str], typer.Option("--description", help="One line for `omc profiles list`.")] = None,
    directory: Annotated[Optional[Path], typer.Option("--dir", help="Where to write (default: OMC_PROFILES_DIR or ./profiles).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    overrides: o.Overrides = None,
) -> None:
    """Create a profile that extends another, with the given changes; it is validated before it is written."""
    from ..config.newprofile import create_profile
    from .output import info

    path = create_profile(
        name,
        base=from_,
        description=description,
        directory=directory,
        force=force,
        changes=overrides,
    )
    info(f"wrote {path}; check it with `omc profiles show {name}`")


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Option("--dir", help="Where to copy the built-in profiles.")] = Path("profiles"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Copy the built-in profiles into ./profiles to customise them."""
    from ..config.newprofile import copy_builtins
    from .output import info

    written, skipped = copy_builtins(directory, force=force)
    info(f"copied {len(written)} file(s) to {directory}" + (f"; kept {len(skipped)} existing (use --force)" if skipped else ""))


@app.command("schema")
def schema_cmd() -> None:
    """The JSON schema of a profile file, for editor completion and validation (e.g. Taplo, VS Code)."""
    from ..config.models import Profile
    from .output import print_json

    schema = Profile.model_json_schema()
    # Files may set `extends`, and may leave out what the loader fills in (FILE_DEFAULT), and
    # every other key (a file only says what differs from what it extends).
    schema["properties"]["extends"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "Profiles or parts this file builds on, in order.",
    }
    schema["required"] = []
    print_json(schema)

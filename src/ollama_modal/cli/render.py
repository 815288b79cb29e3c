"""`omc render`: print or write the Modal app module for a profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import options as o


def register(app: typer.Typer) -> None:
    app.command("render")(render_cmd)


@o.with_overrides
def render_cmd(
    profile: o.ProfileOpt,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the module to FILE instead of stdout.")] = None,
    overrides: o.Overrides = None,
) -> None:
    """Render the Modal app module for a profile (deploy it with `modal deploy FILE` or `omc deploy`)."""
    from ..fsutil import atomic_write_text
    from ..render import render
    from ..safeio import check_output_file, write_problem
    from .output import info, load_profile, print_text

    if output is not None:
        check_output_file(output, flag="--output", create_parents=True)
    resolved = load_profile(profile, overrides)
    rendered = render(resolved.profile)
    if output is None:
        print_text(rendered.source)
        return
    try:
        atomic_write_text(output, rendered.source)
    except OSError as e:
        raise write_problem("--output", output, e) from None
    info(f"wrote {output} (profile {resolved.profile.name}, config hash {rendered.config_hash})")

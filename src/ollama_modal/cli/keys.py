"""`omc keys show|rotate`: the endpoint's API keys (auth = "bearer")."""

from __future__ import annotations

from typing import Annotated

import typer

from . import options as o
from .common import EnvOpt, backend, confirm

app = typer.Typer(help="Show and rotate the endpoint's API keys.", no_args_is_help=True)


def _profile_secret(profile: str) -> tuple[str, str | None]:
    from ..config import resolve

    p = resolve(profile).profile
    return p.server.api_key_secret, p.app.environment


@app.command("show")
def show_cmd(
    profile: o.ProfileOpt = "a10g-balanced",
    show: Annotated[bool, typer.Option("--show", help="Print the keys themselves (they are masked otherwise).")] = False,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """The keys this machine knows for the profile's Secret, newest (active) first."""
    from ..errors import UsageError
    from ..services import keys
    from .output import print_json, print_text

    secret, environment = _profile_secret(profile)
    ring = keys.load(secret, env or environment)
    if ring is None:
        raise UsageError(
            f"no key for Secret {secret!r} is stored on this machine",
            hint="keys are kept where they were created (Modal cannot read Secrets back); run `omc keys rotate` here to make a new one",
        )
    if json_:
        print_json(ring.to_json(show))
    else:
        for k in ring.to_json(show)["keys"]:
            print_text(k)


@app.command("rotate")
def rotate_cmd(
    profile: o.ProfileOpt = "a10g-balanced",
    drop_old: Annotated[bool, typer.Option("--drop-old", help="Remove the previous key (after clients moved to the new one).")] = False,
    yes: o.YesOpt = False,
    show: Annotated[bool, typer.Option("--show", help="Print the new key.")] = False,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """Add a new key beside the current one (both work), or drop the old one."""
    from ..services import keys
    from .output import info, print_json, warn

    secret, environment = _profile_secret(profile)
    environment = env or environment
    if not drop_old and keys.load(secret, environment) is None:
        warn("this machine does not know the current key: after rotation only the new key works in new containers")
    confirm(f"{'Drop the old key of' if drop_old else 'Add a new key to'} Secret {secret}?", yes)
    ring = keys.rotate(backend(environment), secret, environment, drop_old=drop_old)
    if json_:
        print_json(ring.to_json(show))
    else:
        info(f"Secret {secret} now holds {len(ring.keys)} key(s); new containers pick it up. Active key: {ring.to_json(show)['active']}")

"""`omc keys show|rotate`: the endpoint's API keys (auth = "bearer": omc's keys in a Modal
Secret) or Modal proxy tokens (auth = "proxy": workspace tokens Modal's proxy checks)."""

from __future__ import annotations

from typing import Annotated

import typer

from . import options as o
from .common import EnvOpt, backend, confirm

app = typer.Typer(help="Show and rotate the endpoint's API keys (auth = \"bearer\") or Modal proxy tokens (auth = \"proxy\").", no_args_is_help=True)


def _auth(profile: str):
    """The resolved profile, refusing ``auth = "none"`` (it has no keys)."""
    from ..config import resolve
    from ..errors import UsageError

    p = resolve(profile).profile
    if p.server.auth == "none":
        raise UsageError(f"profile {p.name!r} has auth = \"none\": the endpoint has no keys",
                         hint="set server.auth = \"bearer\" (omc's keys) or \"proxy\" (Modal proxy tokens) and deploy")
    return p


def _show_proxy(p, show: bool, json_: bool, env: str | None) -> None:
    from ..errors import UsageError
    from ..services import proxy_tokens as pt
    from .output import print_json, print_text

    ring = pt.load_ring(p, env)
    listed = pt.in_workspace(backend(env or p.app.environment), p)
    if ring is None and not listed:
        raise UsageError(f"no Modal proxy token named {pt.token_name(p)!r} exists", hint="`omc keys rotate` creates one")
    if json_:
        data = ring.to_json(show) if ring is not None else {"keys": [], "active": None}
        print_json({"auth": "proxy", "token_name": pt.token_name(p), "keys": data["keys"], "active": data["active"],
                    "workspace_tokens": [t.to_json() for t in listed]})
        return
    for k in (ring.to_json(show)["keys"] if ring is not None else []):
        print_text(k)
    held = {pt.token_id(k) for k in (ring.keys if ring else [])}
    from .output import err

    for t in listed:
        where = "held here" if t.token_id in held else "secret not on this machine"
        err.print(f"proxy token {t.token_id} ({t.name}, created {t.created_at or '?'}): {where}", highlight=False)


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

    p = _auth(profile)
    if p.server.auth == "proxy":
        _show_proxy(p, show, json_, env)
        return
    secret, environment = p.server.api_key_secret, p.app.environment
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

    p = _auth(profile)
    if p.server.auth == "proxy":
        from ..services import proxy_tokens as pt

        environment = env or p.app.environment
        what = f"Delete the previous Modal proxy token {pt.token_name(p)} (clients using it lose access at once)" if drop_old else f"Create a new Modal proxy token {pt.token_name(p)}"
        confirm(f"{what}?", yes)
        ring, deleted = pt.rotate(backend(environment), p, environment, drop_old=drop_old)
        if json_:
            print_json({"auth": "proxy", "token_name": pt.token_name(p), "deleted": deleted, **{k: v for k, v in ring.to_json(show).items() if k in ("keys", "active")}})
        else:
            done = f"deleted proxy token {deleted}" if deleted else "created a new proxy token; the previous one keeps working"
            info(f"{done}. Active: {ring.to_json(show)['active']} (send it as Authorization: Bearer <token>)")
        return
    secret, environment = p.server.api_key_secret, env or p.app.environment
    if not drop_old and keys.load(secret, environment) is None:
        warn("this machine does not know the current key: after rotation only the new key works in new containers")
    confirm(f"{'Drop the old key of' if drop_old else 'Add a new key to'} Secret {secret}?", yes)
    ring = keys.rotate(backend(environment), secret, environment, drop_old=drop_old)
    if json_:
        print_json(ring.to_json(show))
    else:
        info(f"Secret {secret} now holds {len(ring.keys)} key(s); new containers pick it up. Active key: {ring.to_json(show)['active']}")

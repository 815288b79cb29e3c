"""`omc logs`, `omc history`, `omc rollback`, `omc stop`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import options as o
from .common import AppOpt, EnvOpt, backend, confirm


def logs_cmd(
    app: AppOpt = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming new lines.")] = False,
    env: EnvOpt = None,
) -> None:
    """Print the app's logs (container start phases included)."""
    import sys

    from ..services.apps import pick_app

    from .output import info

    be = backend(env)
    name = pick_app(be, app)
    seen = 0
    try:
        for line in be.logs(name, follow=follow):
            seen += 1
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    if not seen and not follow:
        info(f"no log lines from {name} yet (containers log once they start; `omc logs --follow` waits for them)")


def history_cmd(app: AppOpt = None, json_: o.JsonOpt = False, env: EnvOpt = None) -> None:
    """Deployments of the app, newest first."""
    from ..services.apps import pick_app
    from .. import tags as T
    from ..services.ops import history
    from .output import print_json, table

    be = backend(env)
    name = pick_app(be, app)
    rows = history(be, name)
    if json_:
        print_json(rows)
        return
    table(
        ["version", "", "deployed at", "by", "tag", "profile", "gpu", "config"],
        [
            [r.get("version"), "current" if r.get("current") else "", r.get("deployed_at"), r.get("deployed_by"), r.get("tag"),
             (r.get("tags") or {}).get("omc-profile"), T.gpu_display((r.get("tags") or {}).get("omc-gpu")), (r.get("tags") or {}).get("omc-config-hash")]
            for r in rows
        ],
    )


def rollback_cmd(
    version: Annotated[Optional[int], typer.Argument(min=1, help="Version to return to (default: the previous one).")] = None,
    app: AppOpt = None,
    yes: o.YesOpt = False,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """Return the app to an earlier deployment (its image and settings); live warm settings are re-applied."""
    from ..services.apps import pick_app
    from ..services.ops import rollback
    from .output import info, print_json, warn

    be = backend(env)
    name = pick_app(be, app)
    target = rollback.plan(be, name, version)
    confirm(f"Roll {name} back from v{target.current} to v{target.version}?", yes)
    result = rollback.execute(be, target)
    if not result["settings_known"]:
        warn(
            f"omc kept no record of v{target.version}'s settings (it keeps the last few deployments): "
            "`omc status` reports them as unknown until the next `omc deploy`"
        )
    if json_:
        print_json(result)
    else:
        now = f" (now v{result['deployed_version']})" if result["deployed_version"] is not None else ""
        info(f"{name} rolled back to v{target.version}{now}")


def stop_cmd(app: AppOpt = None, yes: o.YesOpt = False, env: EnvOpt = None) -> None:
    """Stop the app: no container keeps running or billing; the URL stops answering until the next deploy."""
    from ..services.apps import pick_app
    from .output import info

    be = backend(env)
    name = pick_app(be, app)
    if be.app_info(name) is None:
        from ..errors import NotDeployed

        raise NotDeployed(name, env)
    confirm(f"Stop {name}? Its endpoint stops answering until the next deploy.", yes)
    be.stop(name)
    info(f"stopped {name}")

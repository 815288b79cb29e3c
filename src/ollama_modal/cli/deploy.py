"""`omc deploy`: plan, confirm, deploy."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import options as o
from .common import EnvOpt, backend, confirm, progress_printer


@o.with_overrides
def deploy_cmd(
    profile: o.ProfileOpt,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show the plan only; change nothing. With Modal credentials the plan is a diff against the deployed "
            "app (read-only calls); without, the offline plan (nothing is sent to Modal).",
        ),
    ] = False,
    yes: o.YesOpt = False,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
    tag: Annotated[Optional[str], typer.Option("--tag", help="Deployment tag recorded by Modal (e.g. a git SHA).")] = None,
    overrides: o.Overrides = None,
) -> None:
    """Deploy a profile: show a field-level plan against what runs and its idle cost, ask, deploy.

    A GPU put in place by `omc switch-gpu` stays (undo with `omc switch-gpu --reset`, or name
    `--gpu`), and so do live warm settings from `omc switch-warm`; the plan says so.
    """
    from ..config.loader import Origin
    from ..errors import RemoteError
    from ..services import deploy as svc
    from ..services.credentials import NO_CREDENTIALS_HINT, has_credentials
    from .output import info, load_profile, print_json, warn
    from .plan_view import show_plan, show_result

    ov = dict(overrides)
    if env:
        ov[("app", "environment")] = (env, Origin("flag", "--env"))
    resolved = load_profile(profile, ov)
    if resolved.profile.server.auth == "none":
        warn("auth = \"none\": anyone who finds the URL can use the endpoint (and your GPU budget)")

    credentials = has_credentials()
    if dry_run or not credentials:
        # With credentials a dry run reads what is deployed (read-only lookups), so the plan is a
        # diff against the live app, with its GPU switch and live warm settings.
        plan = svc.plan(resolved, backend(resolved.profile.app.environment) if credentials else None)
        if json_:
            print_json({"dry_run": True, **plan.to_json()})
        else:
            show_plan(plan, to_stdout=True)
        if not dry_run:
            if yes:
                raise RemoteError("no Modal credentials found, so nothing was deployed", hint=NO_CREDENTIALS_HINT)
            info(f"No Modal credentials found: this was the plan only. To deploy, {NO_CREDENTIALS_HINT}.")
        return

    be = backend(resolved.profile.app.environment)
    plan = svc.plan(resolved, be)
    if not json_:
        show_plan(plan, to_stdout=False)
    if not plan.unchanged:
        what = "Deploy" if not plan.deployed else "Redeploy"
        url = " and change its URL" if plan.primitive_change else ""
        confirm(f"{what} {plan.app_name} with profile {plan.profile.name}{url}?", yes)
    result = svc.execute(plan, be, tag=tag, progress=progress_printer())
    if json_:
        print_json(result.to_json())
    else:
        show_result(result)

"""`omc switch-gpu` and `omc switch-warm`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..config.limits import MAX_CONTAINERS_LIMIT, SCALEDOWN_MAX, SCALEDOWN_MIN
from . import options as o
from .common import AppOpt, EnvOpt, backend, confirm, progress_printer


def switch_gpu_cmd(
    gpu: Annotated[
        Optional[str],
        typer.Argument(help="GPU type, or a ranked fallback list: h100,a100-80gb. `a100` is the A100-80GB, as in the a100-* profiles."),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Undo the switch: back to the profile's own GPU.")] = False,
    app: AppOpt = None,
    profile: Annotated[Optional[str], typer.Option("--profile", "-p", help="Profile to use instead of the one the app records.")] = None,
    yes: o.YesOpt = False,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """Redeploy what runs on another GPU. The URL, warm settings and live overrides stay.

    The switch is recorded on the app as deliberate: `omc status` shows it and `status --check`
    passes, and later `omc deploy --profile ...` runs keep the switched GPU (their plan says so)
    until `omc switch-gpu --reset` or a deploy with `--gpu`.
    """
    from ..pricing import always_on_monthly
    from ..services import deploy as svc
    from ..services.apps import pick_app
    from ..services.switch import plan_gpu_switch
    from .output import err, print_json, usd, warn
    from .plan_view import show_plan, show_result

    be = backend(env)
    name = pick_app(be, app)
    plan = plan_gpu_switch(be, name, gpu, profile, reset=reset)
    for w in plan.resolved.warnings:
        warn(w)
    from .. import tags as T

    old_gpu = T.gpu_display(T.read(plan.deployed_tags or {}, T.GPU)) or "?"
    if not json_:
        show_plan(plan, to_stdout=False)
        err.print(f"always-on cost per container: {usd(always_on_monthly(plan.profile))}/month on {', '.join(plan.profile.gpu.types)}", highlight=False)
    if not plan.unchanged:
        what = " (the profile's own GPU)" if reset else ""
        confirm(f"Move {name} from {old_gpu} to {', '.join(plan.profile.gpu.types)}{what}?", yes)
    result = svc.execute(plan, be, progress=progress_printer())
    if json_:
        print_json({**result.to_json(), "previous_gpu": old_gpu})
    else:
        show_result(result)


def switch_warm_cmd(
    policy: Annotated[Optional[str], typer.Argument(help="Warm policy: economy, balanced, always-on, or your parts/warm-NAME.toml.")] = None,
    scaledown_window: Annotated[Optional[int], o.number("--scaledown-window", help="Seconds idle containers stay up.", ge=SCALEDOWN_MIN, le=SCALEDOWN_MAX)] = None,
    min_containers: Annotated[Optional[int], o.number("--min-containers", help="Containers always up.", ge=0, le=MAX_CONTAINERS_LIMIT)] = None,
    max_containers: Annotated[Optional[int], o.number("--max-containers", help="Upper bound on containers.", ge=1, le=MAX_CONTAINERS_LIMIT)] = None,
    buffer_containers: Annotated[Optional[int], o.number("--buffer-containers", help="Extra warm containers while busy.", ge=0, le=MAX_CONTAINERS_LIMIT)] = None,
    scaleup_window: Annotated[
        Optional[int], o.number("--scaleup-window", help="Modal Servers only: seconds of sustained demand before another container starts.", ge=1, le=3600)
    ] = None,
    target_inputs: Annotated[
        Optional[int], o.number("--target-inputs", help="Modal Servers only: concurrent requests per container the autoscaler aims for (at most max_inputs).", ge=1, le=1000)
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Drop live overrides: back to the deployed profile's values.")] = False,
    app: AppOpt = None,
    yes: o.YesOpt = False,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """Change warm-keeping live (no redeploy, no restart). omc re-applies it after every deploy."""
    from ..pricing import always_on_monthly, rates_for
    from ..services.apps import pick_app
    from ..services.switch import apply_warm_switch, plan_warm_switch
    from .output import err, print_json, table, usd, warn

    values = {
        k: v
        for k, v in dict(
            scaledown_window=scaledown_window,
            min_containers=min_containers,
            max_containers=max_containers,
            buffer_containers=buffer_containers,
            scaleup_window=scaleup_window,
            target_inputs=target_inputs,
        ).items()
        if v is not None
    }
    be = backend(env)
    name = pick_app(be, app)
    sw = plan_warm_switch(be, name, policy, values, reset=reset)
    if not json_:
        shown = lambda k, v: ("no limit" if k == "max_containers" else "-") if v is None else v  # noqa: E731
        table(["setting", "now", "new"], [[k, shown(k, sw.before.get(k)), shown(k, sw.after.get(k))] for k in sw.after])
    before_min, after_min = sw.before.get("min_containers") or 0, sw.after.get("min_containers") or 0
    if after_min != before_min and not json_:
        cost = sw.idle_cost
        change = f"idle cost {usd(cost['before'])}/month -> {usd(cost['after'])}/month" if cost else "the idle cost changes"
        err.print(f"{change} (min_containers {before_min} -> {after_min}; traffic adds to it)", highlight=False)
    if sw.primitive == "server" and after_min == 0 and before_min != 0:
        warn(
            "this app serves as a Modal Server: with min_containers=0, requests that arrive while no container is up "
            "get 503 (a web function would hold them); redeploy with server.primitive = \"function\" to scale to zero"
        )
    if sw.after == sw.before and sw.live_overrides == {}:
        progress_printer()("nothing changes")
    else:
        confirm(f"Apply these warm settings to {name} now?", yes)
        apply_warm_switch(be, sw)
    if json_:
        print_json(sw.to_json())

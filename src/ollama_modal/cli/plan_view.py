"""Rendering of plans and results for people (JSON has its own models)."""

from __future__ import annotations

from typing import Any

from .. import tags as T
from .output import err, out, table, usd


def show_plan(plan: Any, *, to_stdout: bool) -> None:
    console = out if to_stdout else err
    p = plan.profile
    state = {None: "not checked", "deployed": "deployed", "stopped": "stopped (this deploy starts it again)"}.get(plan.state, "not deployed")
    console.print(f"app {plan.app_name} · profile {p.name} · config {plan.rendered.config_hash} · currently {state}", highlight=False)
    if plan.unchanged:
        console.print("no changes: the deployed app matches this profile", highlight=False)
    else:
        rows = [[c.field, c.deployed if c.deployed is not None else "-", c.desired] for c in plan.changes if c.changed or not plan.deployed]
        from rich.table import Table

        t = Table(show_edge=False, header_style="bold", pad_edge=False)
        for col in ("field", "deployed", "desired"):
            t.add_column(col)
        for r in rows:
            t.add_row(*[str(x) for x in r])
        console.print(t)
    if plan.gpu_switch:
        console.print(
            f"GPU switch stays in force: {T.gpu_display(plan.gpu_switch)} instead of the profile's "
            f"{T.gpu_display(plan.profile_gpu)} (undo with `omc switch-gpu --reset`)",
            highlight=False,
        )
    choice = plan.choice
    what = "a Modal Server" if choice.kind == "server" else "a web function"
    console.print(f"serves as {what}: {choice.reason}", highlight=False)
    if plan.primitive_change:
        old, new = plan.primitive_change
        from rich.text import Text

        console.print(
            Text.assemble(
                ("the endpoint URL changes", "bold"),
                f": the app moves from a {old} to a {new} deployment; "
                f"the new URL looks like {plan.profile_url_note}, and clients must move to it",
            ),
            highlight=False,
        )
    if plan.live_overrides:
        console.print(
            f"live warm settings stay in force after deploy: {T.settings_text(plan.live_overrides)} (clear with `omc switch-warm --reset`)",
            highlight=False,
        )
    console.print(
        f"idle cost of the warm policy: {usd(plan.idle_cost_per_month)}/month ({_idle_basis(plan)}); "
        f"one container always on: {usd(plan.always_on_per_month)}/month",
        highlight=False,
    )


def _idle_basis(plan: Any) -> str:
    p = plan.profile
    live = plan.live_overrides.get("min_containers") if "min_containers" in plan.live_overrides else None
    base = f"min_containers={live or 0} (live, from `omc switch-warm`)" if "min_containers" in plan.live_overrides else f"min_containers={p.warm.min_containers}"
    if p.warm.schedule:
        n = len(p.warm.schedule)
        return f"{base}, {n} warm window{'s' if n > 1 else ''}: {plan.idle_min_containers:.2f} containers on average"
    return base


def show_result(result: Any) -> None:
    data = result.to_json()
    verb = "unchanged" if data["skipped"] else "deployed"
    table(
        ["app", "status", "version", "gpu", "scaledown", "min", "url"],
        [[data["app_name"], verb, data["deployed_version"], data["gpu"], data["scaledown_window"], data["min_containers"], data["url"]]],
    )

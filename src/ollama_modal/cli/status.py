"""`omc status`: a readable summary, a JSON document, or a CI gate (`--check`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import options as o
from .common import AppOpt, EnvOpt, backend


def status_cmd(
    app: AppOpt = None,
    profile: Annotated[
        Optional[str], typer.Option("--profile", "-p", help="Local profile to compare with what runs (default: the one the app records).")
    ] = None,
    json_: o.JsonOpt = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 4 when not deployed, unhealthy or drifted (a CI gate).")] = False,
    no_health: Annotated[bool, typer.Option("--no-health", help="Skip the endpoint health request.")] = False,
    env: EnvOpt = None,
) -> None:
    """What runs: profile, GPU, effective warm policy, containers, endpoint health and drift."""
    from ..config import resolve
    from ..errors import CheckFailed, ConfigError
    from ..services.apps import pick_app
    from ..services.status import collect
    from .output import err, print_json, table, warn

    be = backend(env)
    name = pick_app(be, app)
    local = None
    info_profile = profile
    if info_profile is None:
        info = be.app_info(name)
        info_profile = (info.tags or {}).get("omc-profile") if info else None
    if info_profile:
        try:
            local = resolve(info_profile).profile
        except ConfigError as e:
            if profile:
                raise
            warn(f"cannot compare with the local profile {info_profile!r}: {e.message}")
    st = collect(be, name, local, check_endpoint=not no_health)
    if json_:
        print_json(st.to_json())
    else:
        if not st.deployed:
            err.print(f"{name}: not deployed", highlight=False)
        else:
            def warm(k: str) -> str:
                v = st.warm.get(k)
                mark = " (live)" if k in st.live_overrides else ""
                return f"{v}{mark}"

            health = st.health
            h = "ready" if health.get("ready") else ("skipped" if health.get("skipped") else f"NOT READY {health.get('error') or health.get('reason') or health.get('status_code') or ''}")
            rows = [
                ["app", f"{st.app} ({st.app_id}) v{st.deployed_version} {st.deployed_at or ''}"],
                ["profile", st.profile],
                ["gpu", st.gpu],
                ["model", st.model],
                ["url", st.url],
                ["warm", ", ".join(f"{k}={warm(k)}" for k in ("scaledown_window", "min_containers", "max_containers", "buffer_containers"))],
                ["containers", f"{st.containers} running, backlog {st.backlog}"],
                *(
                    [["schedule", _window_text(st.active_window)]]
                    if st.active_window is not None
                    else []
                ),
                ["health", h + (f" · {health.get('model')} · {health.get('size_vram')} B VRAM · ollama {health.get('ollama_version')}" if health.get("ready") else "")],
                ["drift", "not checked (no local profile)" if not st.drift_checked else ("none" if not st.drift else "; ".join(f"{d['field']}: {d['deployed']} -> {d['local']}" for d in st.drift))],
            ]
            table(["", ""], rows)
        for p in st.problems:
            warn(p)
    if check and not st.ok:
        reasons = []
        if not st.deployed:
            reasons.append("not deployed")
        elif not st.healthy:
            reasons.append("endpoint not ready")
        if st.drift:
            reasons.append("drifted from the local profile")
        if not st.settings_known:
            reasons.append("settings unknown since a rollback (run `omc deploy`)")
        raise CheckFailed(f"status check failed: {', '.join(reasons)}")


def _window_text(active: dict) -> str:
    w = active.get("window")
    now = f"in a warm window ({w['start']}-{w['end']} {w['timezone']}, min_containers={w['min_containers']})" if w else "outside the warm windows"
    nxt = active.get("next_change")
    return now + (f"; next change {nxt}" if nxt else "")

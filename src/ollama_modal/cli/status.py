"""`omc status`: a readable summary, a JSON document, or a CI gate (`--check`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import options as o
from .common import AppOpt, EnvOpt, backend

#: The longest --wait: an hour, Modal's largest server.startup_timeout.
MAX_WAIT_S = 3600


def status_cmd(
    app: AppOpt = None,
    profile: Annotated[
        Optional[str], typer.Option("--profile", "-p", help="Local profile to compare with what runs (default: the one the app records).")
    ] = None,
    json_: o.JsonOpt = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 4 when not deployed, stopped, unhealthy or drifted (a CI gate). Drift: against the local profile "
            "(with a deliberate `omc switch-gpu` and live warm settings taken into account), and what Modal runs "
            "against what omc recorded at deploy time (used alone when the profile is not found here).",
        ),
    ] = False,
    no_health: Annotated[bool, typer.Option("--no-health", help="Skip the endpoint health request.")] = False,
    wait: Annotated[
        Optional[float],
        o.number(
            "--wait",
            help="Seconds to wait for the endpoint's /readyz to answer ready, asking again with backoff through a cold "
            "start (container start and model load); error answers end the wait early. 0 = one request. "
            "Default: 3 x omc's cold-start estimate for the profile, at least 60 s, at most server.startup_timeout + 30 s.",
            ge=0,
            le=MAX_WAIT_S,
            metavar="SECONDS",
        ),
    ] = None,
    env: EnvOpt = None,
) -> None:
    """What runs: profile, GPU, effective warm policy, containers, endpoint health and drift."""
    from .. import tags as T
    from ..config import resolve
    from ..errors import CheckFailed, ConfigError, UsageError
    from ..services.apps import pick_app
    from ..services.status import collect, default_wait
    from .output import err, print_json, table, warn

    if no_health and wait is not None:
        raise UsageError("--wait and --no-health exclude each other", hint="drop --no-health to wait for the endpoint, or drop --wait")
    be = backend(env)
    name = pick_app(be, app)
    local = None
    info_profile = profile
    if info_profile is None:
        info = be.app_info(name)
        info_profile = T.read(info.tags or {}, T.PROFILE) if info else None
    if info_profile:
        try:
            local = resolve(info_profile).profile
        except ConfigError as e:
            if profile:
                raise
            warn(
                f"cannot compare with the local profile {info_profile!r}: {e.message}; comparing what runs with what "
                "omc recorded at deploy time instead (run from the repository that holds the profile, or pass --profile NAME|PATH)"
            )
    if wait is None:
        wait_s, basis = default_wait(local)
    else:
        wait_s, basis = float(wait), f"{wait:g} s (--wait)"
    st = collect(be, name, local, check_endpoint=not no_health, wait_s=wait_s, progress=_Progress(basis))
    if json_:
        print_json(st.to_json())
    else:
        if not st.deployed:
            what = f"stopped{' at ' + st.stopped_at if st.stopped_at else ''}" if st.state == "stopped" else "not deployed"
            err.print(f"{name}: {what}", highlight=False)
        else:
            table(["", ""], _rows(st, info_profile if local is None else None))
        for p in st.problems:
            warn(p)
    if check and not st.ok:
        reasons = []
        if st.state == "stopped":
            reasons.append("stopped (deploy it again with `omc deploy --profile NAME`)")
        elif not st.deployed:
            reasons.append("not deployed")
        elif not st.healthy:
            reasons.append(_not_ready_text(st.health))
        if st.drift:
            reasons.append("drifted from the local profile")
        if st.runtime_drift:
            reasons.append("what Modal runs differs from what omc deployed (" + ", ".join(d["field"] for d in st.runtime_drift) + ")")
        if not st.settings_known:
            reasons.append("settings unknown (run `omc deploy --profile NAME`)")
        elif st.deployed and not st.drift_checked:
            reasons.append("drift not checked: no local profile and Modal's report unavailable (pass --profile NAME|PATH)")
        raise CheckFailed(f"status check failed: {', '.join(reasons)}")


class _Progress:
    """Waiting for /readyz: a line on stderr when the answer changes and every 15 s."""

    EVERY_S = 15.0

    def __init__(self, basis: str) -> None:
        self.basis, self.last_text, self.last_at = basis, None, None

    def __call__(self, probe, elapsed: float, limit: float) -> None:  # noqa: ANN001 - services.status.Probe
        from .output import info

        if self.last_at is None:
            info(f"the endpoint is not ready yet; waiting up to {self.basis}")
        elif probe.text == self.last_text and elapsed - self.last_at < self.EVERY_S:
            return
        self.last_text, self.last_at = probe.text, elapsed
        what = "still starting" if probe.kind == "starting" else "error answer"
        info(f"  {elapsed:4.0f} s of {limit:g} s: {what}: {probe.text}")


def _not_ready_text(health: dict) -> str:
    detail = health.get("reason") or health.get("error") or health.get("status_code") or ""
    if health.get("state") == "starting":
        return f"endpoint not ready: {detail} (a cold start longer than the wait: raise --wait)"
    return f"endpoint not ready: broken ({detail})" if detail else "endpoint not ready"


def _rows(st, missing_profile: str | None) -> list[list[str]]:
    def warm(k: str) -> str:
        v = st.warm.get(k)
        mark = " (live)" if k in st.live_overrides else ""
        return f"{'none' if v is None else v}{mark}"

    health = st.health
    if health.get("ready"):
        h = "ready" + (f" (after {health['time_to_ready_s']:g} s)" if (health.get("time_to_ready_s") or 0) >= 1 else "")
    elif health.get("skipped"):
        h = "skipped"
    else:
        h = f"NOT READY {health.get('reason') or health.get('error') or health.get('status_code') or ''}".rstrip()
    gpu = st.gpu or "-"
    if st.gpu_switch:
        was = f" instead of the profile's {st.gpu_switch['profile_gpu']}" if st.gpu_switch.get("profile_gpu") else ""
        gpu += f" (switched with `omc switch-gpu`{was}; undo: omc switch-gpu --reset)"
    if not st.drift_checked:
        drift = "not checked (Modal's report unavailable and no local profile)"
    elif st.drift:
        drift = "; ".join(f"{d['field']}: {d['deployed']} -> {d['local']}" for d in st.drift)
    elif st.drift_basis == "recorded":
        drift = f"none against what omc recorded at deploy (local profile {missing_profile!r} not found: pass --profile NAME|PATH to compare)" if missing_profile else "none against what omc recorded at deploy"
    else:
        drift = "none"
    rows = [
        ["app", f"{st.app} ({st.app_id}) v{st.deployed_version} {st.deployed_at or ''}".rstrip()],
        ["profile", st.profile or "-"],
        ["gpu", gpu],
        ["model", st.model or "-"],
        ["url", st.url or "-"],
        ["serves as", "a Modal Server" if st.primitive == "server" else "a web function"],
        ["warm", ", ".join(f"{k}={warm(k)}" for k in st.warm)],
        ["containers", f"{st.containers} running, backlog {st.backlog}" if st.containers is not None else "unknown"],
        *([["requests", _requests_text(st.requests)]] if st.requests is not None else []),
        *([["schedule", _window_text(st.active_window)]] if st.active_window is not None else []),
        ["health", h + (f" · {health.get('model')} · {health.get('size_vram')} B VRAM · ollama {health.get('ollama_version')}" if health.get("ready") else "")],
        ["drift", drift],
    ]
    if st.runtime_drift:
        rows.append(["modal runs", "; ".join(f"{d['field']}={d['running']} (omc recorded {d['recorded']})" for d in st.runtime_drift)])
    return rows


def _requests_text(r: dict) -> str:
    """A Modal Server's last hour: count by status, latency percentiles, container starts."""
    codes = ", ".join(f"{code}: {n}" for code, n in r["by_status"].items()) or "none"
    unit = r.get("latency_unit") or ""
    latency = " ".join(f"{k} {v:g}" for k, v in r["latency"].items())
    text = f"{r['requests']} in the last hour ({codes})"
    if latency:
        text += f" · latency {latency} {unit}"
    return text + f" · {r['containers_started']} container starts, {r['container_errors']} errors"


def _window_text(active: dict) -> str:
    w = active.get("window")
    now = f"in a warm window ({w['start']}-{w['end']} {w['timezone']}, min_containers={w['min_containers']})" if w else "outside the warm windows"
    nxt = active.get("next_change")
    return now + (f"; next change {nxt}" if nxt else "")

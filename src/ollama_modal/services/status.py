"""`omc status`: what runs, how it is configured, whether it is healthy, whether it drifted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import tags as T
from ..render import CLASS_NAME, WEB_METHOD

READY_TIMEOUT_S = 3.0


@dataclass
class Status:
    app: str
    deployed: bool
    app_id: str | None = None
    profile: str | None = None
    gpu: str | None = None
    model: str | None = None
    url: str | None = None
    deployed_version: int | None = None
    deployed_at: str | None = None
    omc_version: str | None = None
    config_hash: str | None = None
    warm: dict[str, Any] = field(default_factory=dict)  # effective values
    warm_profile: dict[str, Any] = field(default_factory=dict)
    live_overrides: dict[str, Any] = field(default_factory=dict)
    active_window: dict[str, Any] | None = None
    containers: int | None = None
    backlog: int | None = None
    health: dict[str, Any] = field(default_factory=dict)
    drift: list[dict[str, Any]] = field(default_factory=list)
    drift_checked: bool = False
    settings_known: bool = True  # False after rolling back to a version omc kept no record of
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Ready per /readyz; a skipped check (--no-health) does not fail the gate."""
        return bool(self.health.get("ready")) or bool(self.health.get("skipped"))

    @property
    def ok(self) -> bool:
        return self.deployed and self.healthy and not self.drift and self.settings_known

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "deployed": self.deployed,
            "app_id": self.app_id,
            "profile": self.profile,
            "gpu": self.gpu,
            "model": self.model,
            "url": self.url,
            "deployed_version": self.deployed_version,
            "deployed_at": self.deployed_at,
            "omc_version": self.omc_version,
            "config_hash": self.config_hash,
            "warm": self.warm,
            "warm_profile": self.warm_profile,
            "live_overrides": self.live_overrides,
            "active_window": self.active_window,
            "containers": self.containers,
            "backlog": self.backlog,
            "health": self.health,
            "healthy": self.healthy,
            "drift": self.drift,
            "drift_checked": self.drift_checked,
            "settings_known": self.settings_known,
            "ok": self.ok,
            "problems": self.problems,
        }


def _int(v: str | None) -> int | None:
    return None if v in (None, "none") else int(v)


def check_health(url: str, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
    """GET /readyz on the endpoint (no key needed)."""
    import httpx

    try:
        r = httpx.get(url.rstrip("/") + "/readyz", timeout=timeout)
    except httpx.TimeoutException:
        return {"ready": False, "error": f"no answer from /readyz within {timeout:g} s"}
    except httpx.HTTPError as e:
        return {"ready": False, "error": f"/readyz unreachable: {e}"}
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code != 200:
        return {"ready": False, "status_code": r.status_code, **({"reason": body.get("reason")} if isinstance(body, dict) else {})}
    return {"ready": bool(body.get("ready", True)), **{k: body.get(k) for k in ("model", "size_vram", "ollama_version")}}


def collect(backend: Any, app: str, local_profile: Any | None, *, check_endpoint: bool = True) -> Status:
    """Gather everything; independent remote calls run concurrently."""
    info = backend.app_info(app)
    if info is None:
        return Status(app=app, deployed=False, problems=[f"app {app!r} is not deployed"])
    tags = dict(info.tags or {})
    st = Status(
        app=app,
        deployed=True,
        app_id=info.app_id,
        profile=tags.get(T.PROFILE),
        gpu=tags.get(T.GPU),
        model=tags.get("omc-model"),
        deployed_version=getattr(info, "version", None),
        deployed_at=str(getattr(info, "deployed_at", "") or "") or None,
        omc_version=tags.get(T.VERSION),
        config_hash=tags.get(T.CONFIG_HASH),
    )
    if tags.get(T.MANAGED) != "1":
        st.problems.append("the app carries no omc tags (deployed by hand?): profile, drift and live settings are unknown")
    if tags.get(T.CONFIG_HASH) == T.UNKNOWN:
        st.config_hash, st.settings_known = None, False
        st.problems.append(
            f"rolled back to v{tags.get(T.ROLLED_BACK_TO, '?')}, whose settings omc kept no record of: "
            "profile and drift are unknown until the next `omc deploy`"
        )
    st.warm_profile = {k: _int(tags.get("omc-" + k.replace("_", "-"))) for k in T.WARM_KEYS}
    st.live_overrides = T.live_overrides(tags)

    with ThreadPoolExecutor(max_workers=4) as pool:
        f_url = pool.submit(backend.web_url, app, CLASS_NAME, WEB_METHOD)
        f_stats = pool.submit(backend.current_stats, app, CLASS_NAME)
        f_auto = pool.submit(backend.autoscaler_settings, app, CLASS_NAME)
        try:
            st.url = f_url.result()
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            st.problems.append(f"endpoint URL unavailable: {e}")
        f_health = pool.submit(check_health, st.url) if (check_endpoint and st.url) else None
        try:
            stats = f_stats.result()
            st.backlog, st.containers = stats.backlog, stats.num_total_runners
        except Exception as e:  # noqa: BLE001
            st.problems.append(f"container stats unavailable: {e}")
        try:
            auto = f_auto.result()
            st.warm = {k: getattr(auto, k, None) for k in T.WARM_KEYS}
        except Exception as e:  # noqa: BLE001
            st.warm = {**st.warm_profile, **st.live_overrides}
            st.problems.append(f"autoscaler settings unavailable: {e}")
        if f_health is not None:
            st.health = f_health.result()
        elif not check_endpoint:
            st.health = {"ready": None, "skipped": True}
    if local_profile is not None and local_profile.warm.schedule:
        from datetime import datetime, timezone

        from ..warm_schedule import active_window, next_change

        windows = [w.model_dump(mode="json") for w in local_profile.warm.schedule]
        now = datetime.now(timezone.utc)
        base = st.live_overrides.get("min_containers", local_profile.warm.min_containers) or 0
        change = next_change(windows, base, now)
        st.active_window = {"window": active_window(windows, now), "next_change": change.isoformat() if change else None}
    if local_profile is not None:
        st.drift_checked = True
        from ..render import config_hash

        if config_hash(local_profile) != st.config_hash:
            st.drift = [
                {"field": c.field, "deployed": c.deployed, "local": c.desired}
                for c in T.diff(local_profile, tags)
                if c.changed
            ] or [{"field": "config_hash", "deployed": st.config_hash, "local": config_hash(local_profile)}]
    return st

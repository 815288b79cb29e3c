"""`omc status`: what runs, how it is configured, whether it is healthy, whether it drifted."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import primitives as P
from .. import tags as T

READY_TIMEOUT_S = 3.0


@dataclass
class Status:
    app: str
    deployed: bool
    state: str = "deployed"  # "deployed", "stopped" (by `omc stop` or Modal), "not_deployed"
    app_id: str | None = None
    profile: str | None = None
    gpu: str | None = None  # what runs, as Modal reports it (else as omc recorded it)
    model: str | None = None
    url: str | None = None
    deployed_version: int | None = None
    deployed_at: str | None = None
    stopped_at: str | None = None
    omc_version: str | None = None
    config_hash: str | None = None
    warm: dict[str, Any] = field(default_factory=dict)  # effective values
    warm_profile: dict[str, Any] = field(default_factory=dict)
    live_overrides: dict[str, Any] = field(default_factory=dict)
    gpu_switch: dict[str, Any] | None = None  # a deliberate `omc switch-gpu`: {"gpu", "profile_gpu"}
    gpu_recorded: str | None = None  # the GPU omc recorded at deploy time
    active_window: dict[str, Any] | None = None
    containers: int | None = None
    backlog: int | None = None
    health: dict[str, Any] = field(default_factory=dict)
    drift: list[dict[str, Any]] = field(default_factory=list)
    drift_checked: bool = False
    drift_basis: str | None = None  # "local_profile", or "recorded" (what omc recorded at deploy time)
    runtime_drift: list[dict[str, Any]] = field(default_factory=list)  # what Modal runs vs what omc recorded
    settings_known: bool = True  # False after rolling back to a version omc kept no record of
    primitive: str | None = None  # "function" or "server"
    requests: dict[str, Any] | None = None  # a Modal Server's last hour (RequestStats.to_json)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Ready per /readyz; a skipped check (--no-health) does not fail the gate."""
        return bool(self.health.get("ready")) or bool(self.health.get("skipped"))

    @property
    def ok(self) -> bool:
        return (
            self.deployed and self.healthy and self.drift_checked and not self.drift and not self.runtime_drift
            and self.settings_known
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "deployed": self.deployed,
            "state": self.state,
            "app_id": self.app_id,
            "profile": self.profile,
            "gpu": self.gpu,
            "gpu_recorded": self.gpu_recorded,
            "gpu_switch": self.gpu_switch,
            "model": self.model,
            "url": self.url,
            "deployed_version": self.deployed_version,
            "deployed_at": self.deployed_at,
            "stopped_at": self.stopped_at,
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
            "drift_basis": self.drift_basis,
            "runtime_drift": self.runtime_drift,
            "settings_known": self.settings_known,
            "primitive": self.primitive,
            "requests": self.requests,
            "ok": self.ok,
            "problems": self.problems,
        }


def _int(v: str | None) -> int | None:
    return None if v in (None, "none") else int(v)


def check_health(url: str, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
    """One GET /readyz on the endpoint (no key needed): what ``wait_ready(url, 0)`` reports."""
    return wait_ready(url, 0.0, probe_timeout=timeout)


@dataclass(frozen=True)
class Probe:
    """One /readyz answer, classified: ``ready``; ``starting`` (a cold start is under way: a held
    request that did not finish yet, Modal's 503 while no container is up, the model still
    loading); or ``error`` (an answer that a cold start does not explain)."""

    kind: str
    text: str
    fields: dict[str, Any]


def probe_ready(client: Any, url: str, timeout: float, headers: dict[str, str] | None = None) -> Probe:
    import httpx

    try:
        r = client.get(url.rstrip("/") + "/readyz", timeout=timeout, headers=headers)
    except httpx.TimeoutException:
        return Probe("starting", f"no answer within {timeout:g} s (Modal holds a request through a cold start)",
                     {"error": f"no answer from /readyz within {timeout:g} s"})
    except httpx.HTTPError as e:
        return Probe("error", f"/readyz unreachable: {e}", {"error": f"/readyz unreachable: {e}"})
    try:
        body = r.json()
    except ValueError:
        body = None
    fields: dict[str, Any] = {"status_code": r.status_code}
    reason = body.get("reason") if isinstance(body, dict) else None
    if isinstance(reason, str):
        fields["reason"] = reason
    if r.status_code == 200 and isinstance(body, dict):
        if body.get("ready", True) is True:
            return Probe("ready", "ready", {k: body.get(k) for k in ("model", "size_vram", "ollama_version")})
        return Probe("starting", f"not ready yet: {reason or 'no reason given'}", fields)
    if r.status_code == 503 and isinstance(body, dict):
        # omc's proxy: "loading" while the model loads, "down" when `ollama serve` exited (the
        # container then exits and Modal replaces it). Older deployments say neither.
        if body.get("state") == "down":
            return Probe("error", f"503: {reason or 'ollama serve is down'}", fields)
        return Probe("starting", f"503: {reason or 'not ready yet'}", fields)
    if r.status_code == 503:  # Modal's own answer: a Server with no container up (one is starting)
        text = " ".join(r.text.split())[:200]
        if text:
            fields["reason"] = text
        return Probe("starting", "503 from Modal: no container is up yet", fields)
    if r.status_code == 429:  # a Modal Server at its max_concurrency: up, busy
        return Probe("starting", "429: the containers are at their concurrency limit", fields)
    if "reason" not in fields:
        text = " ".join(r.text.split())[:200]
        if text:
            fields["reason"] = text
    return Probe("error", f"{r.status_code}: {fields.get('reason') or 'unexpected answer'}", fields)


#: While waiting, one held request lasts at most this long (then progress is reported and it is
#: sent again): a web function holds a request through the cold start.
PROBE_TIMEOUT_S = 10.0
#: Pauses between requests that were answered at once (a Modal Server's 503): 0.5 s doubling to 5 s.
BACKOFF_S = (0.5, 5.0)
#: Error answers in a row (no "starting" answer between them) that end the wait as broken.
ERRORS_BEFORE_BROKEN = 3


def wait_ready(
    url: str,
    wait_s: float,
    *,
    probe_timeout: float = READY_TIMEOUT_S,
    progress: Callable[[Probe, float, float], None] | None = None,
    headers: dict[str, str] | None = None,
    client: Any = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll GET /readyz until ready or ``wait_s`` seconds have passed (0: one request).

    The answer is ``health`` in ``omc status --json``: ``ready``; ``state`` ("ready",
    "starting": still in a cold start when the wait ended, or "broken": error answers
    ``ERRORS_BEFORE_BROKEN`` times in a row, or at once when ``wait_s`` is 0); ``waited_s``;
    ``time_to_ready_s`` (null unless ready); ``attempts``; ``wait_s``; and the last answer's
    ``status_code``/``reason``/``error`` or, when ready, ``model``, ``size_vram``, ``ollama_version``.
    """
    import httpx

    own = client is None
    if own:
        client = httpx.Client(follow_redirects=True)  # Modal answers a request held > 150 s with a 303 to wait on
    began = clock()
    deadline = began + max(0.0, wait_s)
    attempts = errors = 0
    pause = BACKOFF_S[0]
    try:
        while True:
            remaining = deadline - clock()
            timeout = probe_timeout if wait_s <= 0 else max(probe_timeout, min(PROBE_TIMEOUT_S, remaining))
            sent = clock()
            probe = probe_ready(client, url, timeout, headers)
            attempts += 1
            now = clock()
            errors = errors + 1 if probe.kind == "error" else 0
            if probe.kind == "ready":
                state = "ready"
            elif errors >= ERRORS_BEFORE_BROKEN or (wait_s <= 0 and probe.kind == "error"):
                state = "broken"
            elif now >= deadline:
                state = "starting" if probe.kind == "starting" else "broken"
            else:
                if progress is not None:
                    progress(probe, now - began, wait_s)
                if now - sent < pause:  # answered at once: back off before asking again
                    sleep(min(pause - (now - sent), max(0.0, deadline - now)))
                    pause = min(pause * 2, BACKOFF_S[1])
                continue
            waited = round(now - began, 3)
            out: dict[str, Any] = {"ready": state == "ready", **probe.fields, "state": state, "waited_s": waited,
                                   "time_to_ready_s": waited if state == "ready" else None, "attempts": attempts,
                                   "wait_s": wait_s}
            if state == "starting":
                out["reason"] = f"still starting after {waited:g} s: {probe.text}"
            return out
    finally:
        if own:
            client.close()


def default_wait(profile: Any | None) -> tuple[float, str]:
    """How long ``omc status`` waits for /readyz unless ``--wait`` says: long enough for a cold
    start of ``profile`` (container start and model load, ``cost.coldstart``) with room to spare,
    never longer than the container may take to start (``server.startup_timeout``)."""
    if profile is None:
        return DEFAULT_WAIT_S, f"{DEFAULT_WAIT_S:g} s (the deployed profile is not known here)"
    try:
        from ..cost.coldstart import estimate_cold_start
        from .costplan import model_bytes

        est = estimate_cold_start(profile.gpu.model, model_bytes(profile), store=profile.model.store,
                                  gpu_count=profile.gpu.count, warmup=profile.server.warmup).total_s
    except Exception:  # noqa: BLE001 - an unknown model size: the start-up budget alone
        est = None
    limit = float(profile.server.startup_timeout) + STARTUP_MARGIN_S
    if est is None:
        return limit, f"{limit:g} s (server.startup_timeout + {STARTUP_MARGIN_S:g} s)"
    wait = float(min(limit, max(MIN_WAIT_S, math.ceil(COLD_START_FACTOR * est))))
    return wait, f"{wait:g} s ({COLD_START_FACTOR:g} x the estimated cold start of {est:.0f} s, at least {MIN_WAIT_S:g} s, at most server.startup_timeout + {STARTUP_MARGIN_S:g} s)"


#: Defaults of `omc status --wait` (see default_wait).
COLD_START_FACTOR = 3.0
MIN_WAIT_S = 60.0
STARTUP_MARGIN_S = 30.0
DEFAULT_WAIT_S = 180.0


def collect(
    backend: Any, app: str, local_profile: Any | None, *, check_endpoint: bool = True, wait_s: float = 0.0,
    progress: Callable[[Probe, float, float], None] | None = None,
) -> Status:
    """Gather everything; independent remote calls run concurrently.

    Drift is checked against ``local_profile`` when there is one (with a recorded GPU switch
    applied), and in any case what Modal runs (GPU, autoscaler) is compared with what omc
    recorded at deploy time, so a failed or hand-made change shows.
    """
    info = backend.app_info(app)
    if info is None:
        stopped = backend.stopped_app(app)
        if stopped is not None:
            when = f"since {stopped.stopped_at}" if stopped.stopped_at else "recently"
            return Status(
                app=app, deployed=False, state="stopped", app_id=stopped.app_id, deployed_version=stopped.version,
                stopped_at=stopped.stopped_at,
                problems=[f"app {app!r} was stopped ({when}): deploy it again with `omc deploy --profile NAME`"],
            )
        return Status(app=app, deployed=False, state="not_deployed", problems=[f"app {app!r} is not deployed"])
    tags = dict(info.tags or {})
    st = Status(
        app=app,
        deployed=True,
        app_id=info.app_id,
        profile=T.read(tags, T.PROFILE),
        gpu=T.gpu_display(T.read(tags, T.GPU)),
        gpu_recorded=T.gpu_display(T.read(tags, T.GPU)),
        model=T.read(tags, T.MODEL),
        deployed_version=getattr(info, "version", None),
        deployed_at=str(getattr(info, "deployed_at", "") or "") or None,
        omc_version=T.read(tags, T.VERSION),
        config_hash=tags.get(T.CONFIG_HASH),
    )
    if tags.get(T.MANAGED) != "1":
        st.settings_known = False
        st.problems.append("the app carries no omc tags (deployed by hand?): profile, drift and live settings are unknown")
    if tags.get(T.CONFIG_HASH) == T.UNKNOWN:
        st.config_hash, st.settings_known = None, False
        st.problems.append(
            f"rolled back to v{tags.get(T.ROLLED_BACK_TO, '?')}, whose settings omc kept no record of: "
            "profile and drift are unknown until the next `omc deploy`"
        )
    prim = P.of_tags(tags)
    st.primitive = prim.kind
    keys = [k for k in T.LIVE_KEYS if k in prim.live_keys]
    st.warm_profile = {k: _int(T.read(tags, "omc-" + k.replace("_", "-"))) for k in keys}
    st.live_overrides = T.live_overrides(tags)
    switch = T.gpu_switch(tags)
    if switch:
        st.gpu_switch = {"gpu": T.gpu_display(switch), "profile_gpu": T.gpu_display(T.gpu_text(local_profile)) if local_profile else None}

    running_gpus: list[str] | None = None
    auto_ok = False
    served = backend.served(app, prim)
    with ThreadPoolExecutor(max_workers=5) as pool:
        f_url = pool.submit(served.url)
        f_stats = pool.submit(served.current_stats)
        f_auto = pool.submit(served.autoscaler_settings)
        f_gpus = pool.submit(served.gpus)
        f_requests = pool.submit(served.request_stats) if not prim.holds_requests_when_cold else None
        try:
            st.url = f_url.result()
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            st.problems.append(f"endpoint URL unavailable: {e}")
        headers, no_token = _proxy_auth(tags, app, local_profile)
        f_health = pool.submit(wait_ready, st.url, wait_s, progress=progress, headers=headers) if (check_endpoint and st.url) else None
        try:
            stats = f_stats.result()
            st.backlog, st.containers = stats.backlog, stats.num_total_runners
        except Exception as e:  # noqa: BLE001
            st.problems.append(f"container stats unavailable: {e}")
        try:
            auto = f_auto.result()
            st.warm = {k: getattr(auto, k, None) for k in keys}
            auto_ok = True
        except Exception as e:  # noqa: BLE001
            st.warm = {**st.warm_profile, **st.live_overrides}
            st.problems.append(f"autoscaler settings unavailable: {e}")
        try:
            running_gpus = f_gpus.result()
            st.gpu = ", ".join(running_gpus) if running_gpus else "none (CPU)"
        except Exception as e:  # noqa: BLE001
            st.problems.append(f"the GPU Modal runs is unavailable: {e}")
        if f_requests is not None:
            try:
                req = f_requests.result()
                st.requests = req.to_json() if req is not None else None
            except Exception as e:  # noqa: BLE001
                st.problems.append(f"request statistics unavailable: {e}")
        if f_health is not None:
            st.health = f_health.result()
            if no_token and st.health.get("status_code") in (401, 403):
                st.health["reason"] = no_token
        elif not check_endpoint:
            st.health = {"ready": None, "skipped": True, "state": "skipped"}
    if not prim.holds_requests_when_cold and st.warm.get("min_containers") == 0:
        st.problems.append(
            "this Modal Server can scale to zero (min_containers=0): requests that arrive while no container is up "
            "get 503; keep min_containers >= 1 or deploy with server.primitive = \"function\""
        )
    schedule = _recorded_schedule(tags)
    if local_profile is not None and local_profile.warm.schedule:
        schedule = [w.model_dump(mode="json") for w in local_profile.warm.schedule]
    if schedule:
        from datetime import datetime, timezone

        from ..warm_schedule import active_window, next_change

        now = datetime.now(timezone.utc)
        base = st.live_overrides.get("min_containers", st.warm_profile.get("min_containers")) or 0
        change = next_change(schedule, base, now)
        st.active_window = {"window": active_window(schedule, now), "next_change": change.isoformat() if change else None}

    if st.settings_known:
        st.runtime_drift = runtime_drift(tags, running_gpus, st.warm if auto_ok else None, _recorded_schedule(tags))
        if running_gpus is not None and auto_ok:
            st.drift_checked, st.drift_basis = True, "recorded"
    if local_profile is not None and st.settings_known:
        st.drift_checked, st.drift_basis = True, "local_profile"
        st.drift = local_drift(local_profile, tags, st.config_hash)
    return st


def _proxy_auth(tags: dict[str, str], app: str, local_profile: Any | None) -> tuple[dict[str, str] | None, str | None]:
    """With ``auth = "proxy"`` Modal's proxy answers 401 to a request without a workspace proxy
    token, /readyz included: send this machine's token for the app (``services.proxy_tokens``).
    Returns the headers, and what to say when there is no token here."""
    if T.read(tags, "omc-auth") != "proxy":
        return None, None
    from ..config.names import PROXY_TOKEN_RING_PREFIX
    from ..errors import OmcError
    from .keys import load

    env = local_profile.app.environment if local_profile is not None else None
    try:
        ring = load(PROXY_TOKEN_RING_PREFIX + app, env)
    except OmcError:
        ring = None
    if ring is None or not ring.keys:
        return None, ("the endpoint takes Modal proxy auth (auth = \"proxy\") and this machine holds no proxy token for "
                      f"app {app!r}: run `omc keys rotate` here to make one, or skip the request with --no-health")
    return {"Authorization": f"Bearer {ring.keys[0]}"}, None


def local_drift(local_profile: Any, tags: dict[str, str], deployed_hash: str | None) -> list[dict[str, Any]]:
    """Differences between the local profile (with a recorded GPU switch applied) and what omc deployed."""
    from ..config.loader import Origin, ResolvedProfile, with_gpu
    from ..errors import ConfigError
    from ..render import config_hash

    desired = local_profile
    switch = T.gpu_switch(tags)
    if switch and switch != T.gpu_text(local_profile):
        types, count = T.parse_gpu(switch)
        try:
            desired = with_gpu(ResolvedProfile(local_profile, None, [], {}), types, count, Origin("flag", "switch-gpu")).profile
        except ConfigError as e:
            return [{"field": "gpu", "deployed": T.gpu_display(switch), "local": f"the local profile does not fit it: {e.message}"}]
    if config_hash(desired) == deployed_hash:
        return []
    return [
        {"field": c.field, "deployed": c.deployed, "local": c.desired}
        for c in T.diff(desired, tags)
        if c.changed
    ] or [{"field": "config_hash", "deployed": deployed_hash, "local": config_hash(desired)}]


def _recorded_schedule(tags: dict[str, str]) -> list[dict[str, Any]] | None:
    import json

    raw = T.read(tags, T.WARM_SCHEDULE)
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, list) and value else None


def runtime_drift(
    tags: dict[str, str], running_gpus: list[str] | None, warm: dict[str, Any] | None, schedule: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """What Modal reports running against what omc recorded (profile values, live overrides, schedule).

    ``None`` for a reading that failed: that part is not compared.
    """
    out: list[dict[str, Any]] = []
    recorded_gpu = T.read(tags, T.GPU)
    if running_gpus is not None and recorded_gpu is not None:
        if _gpu_key(",".join(running_gpus)) != _gpu_key(recorded_gpu):
            out.append({"field": "gpu", "recorded": T.gpu_display(recorded_gpu), "running": ", ".join(running_gpus) or "none"})
    if warm is not None:
        expected = {k: _int(T.read(tags, "omc-" + k.replace("_", "-"))) for k in T.WARM_KEYS}
        expected.update(T.live_overrides(tags))
        for key in T.WARM_KEYS:
            want, have = expected.get(key), warm.get(key)
            if key in ("min_containers", "buffer_containers"):
                want, have = want or 0, have or 0
            allowed = {want}
            if key == "min_containers" and schedule:
                allowed = _scheduled_minimums(schedule, want)
            if have not in allowed:
                shown = " or ".join(str(a) for a in sorted(allowed, key=str))
                out.append({"field": key, "recorded": shown, "running": have})
    return out


def _scheduled_minimums(schedule: list[dict[str, Any]], base: int) -> set[int]:
    """min_containers the schedule may have set lately (it runs every few minutes, so both sides of a change)."""
    from datetime import datetime, timedelta, timezone

    from ..warm_schedule import desired_min_containers

    now = datetime.now(timezone.utc)
    return {desired_min_containers(schedule, base, now - timedelta(minutes=m)) for m in (0, 6)}


def _gpu_key(text: str) -> tuple[tuple[str, ...], int]:
    from ..catalog import lookup_gpu

    types, count = T.parse_gpu(text)
    return tuple((g.name if (g := lookup_gpu(t)) else t.upper()) for t in types), count

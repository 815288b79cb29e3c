"""`omc switch-gpu` (redeploy on another GPU, same URL) and `omc switch-warm` (live, no redeploy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .. import primitives as P
from .. import tags as T
from ..config.loader import Origin, find_profile, read_toml, resolve
from ..config.models import WarmPolicy
from ..errors import ConfigError, NotDeployed, UsageError
from . import deploy


def deployed_tags(backend: Any, app: str) -> dict[str, str]:
    info = backend.app_info(app)
    if info is None:
        raise NotDeployed(app, getattr(backend, "environment", None))
    tags = dict(info.tags or {})
    if tags.get(T.MANAGED) != "1":
        raise UsageError(
            f"app {app!r} was not deployed by omc (it has no omc tags)",
            hint="deploy it once with `omc deploy --profile NAME`; omc then knows its profile",
        )
    return tags


def plan_gpu_switch(
    backend: Any, app: str, gpu: str | None, profile_ref: str | None = None, *, reset: bool = False
) -> deploy.DeployPlan:
    """The deployed profile (from the app's tags) with only the GPU replaced (``reset``: its own GPU).

    The switch is recorded on the app; later deploys keep it until ``omc switch-gpu --reset``.
    """
    tags = deployed_tags(backend, app)
    ref = profile_ref or T.read(tags, T.PROFILE)
    if not ref:
        raise UsageError(f"app {app!r} does not record its profile", hint="pass --profile NAME")
    if reset == (gpu is not None):
        raise UsageError(
            "name a GPU or pass --reset, not both" if reset else "no GPU given",
            hint="e.g. omc switch-gpu a100, omc switch-gpu h100,a100-80gb, or omc switch-gpu --reset",
        )
    overrides: dict[tuple[str, ...], tuple[Any, Origin]] = {}
    # Keep what runs: the deployed model and warm values, even if the local file changed since.
    model = T.read(tags, T.MODEL)
    if model:
        overrides[("model", "name")] = (model, Origin("flag", "deployed model"))
    for key in T.WARM_KEYS:
        raw = T.read(tags, "omc-" + key.replace("_", "-"))
        if raw is not None:
            overrides[("warm", key)] = (None if raw == "none" else int(raw), Origin("flag", f"deployed {key}"))
    try:
        resolved = resolve(ref, overrides)
    except ConfigError as e:
        if "no profile named" in e.message:
            raise UsageError(
                f"app {app!r} was deployed from profile {ref!r}, which is not found here",
                hint="run from the repository that holds it, or pass --profile NAME|PATH",
            ) from None
        raise
    if reset:
        return deploy.plan(resolved, backend, gpu_switch=None)
    first, *fallback = [g.strip() for g in gpu.split(",") if g.strip()] or [""]
    if not first:
        raise UsageError("no GPU given", hint="e.g. omc switch-gpu a100 or omc switch-gpu h100,a100-80gb")
    flag = Origin("flag", "switch-gpu")
    try:
        switched = resolve(ref, {**overrides, ("gpu", "type"): (first, flag), ("gpu", "fallback"): (fallback, flag)})
    except ConfigError as e:
        # The profile itself resolved above: what fails now is the GPU the user named.
        raise ConfigError(
            f"switch-gpu {gpu}: not a GPU setting omc can deploy", e.problems or [e.message],
            hint=e.hint or "e.g. omc switch-gpu a100, omc switch-gpu h100:2 or omc switch-gpu h100,a100-80gb",
        ) from None
    return deploy.plan(resolved, backend, gpu_switch=T.gpu_text(switched.profile))


@dataclass
class WarmSwitch:
    app: str
    before: dict[str, int | None]
    after: dict[str, int | None]
    live_overrides: dict[str, int | None]
    policy: str | None
    primitive: str = P.FUNCTION
    idle_cost: dict[str, float] | None = None  # USD per month, "before" and "after"; None: unknown GPU

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "policy": self.policy,
            "before": self.before,
            "after": self.after,
            "live_overrides": self.live_overrides,
            "primitive": self.primitive,
            "idle_cost_usd_per_month": self.idle_cost,
            **{k: v for k, v in self.after.items()},
        }


def policy_values(policy: str) -> dict[str, Any]:
    """The [warm] table of ``parts/warm-POLICY.toml`` (project profiles first, then built-ins)."""
    try:
        path = find_profile(f"parts/warm-{policy}")
    except ConfigError:
        raise UsageError(
            f"unknown warm policy {policy!r}",
            hint="built-in policies: economy, balanced, always-on; add your own as profiles/parts/warm-NAME.toml",
        ) from None
    warm = dict(read_toml(path).get("warm", {}))
    warm.pop("schedule", None)
    return {k: v for k, v in warm.items() if k in T.WARM_KEYS}


def plan_warm_switch(
    backend: Any, app: str, policy: str | None, values: dict[str, int | None], *, reset: bool = False
) -> WarmSwitch:
    tags = deployed_tags(backend, app)
    prim = P.of_tags(tags)
    server_only = sorted(k for k in values if k not in prim.live_keys)
    if server_only:
        flags = ", ".join("--" + k.replace("_", "-") for k in server_only)
        raise UsageError(
            f"{flags}: only a Modal Server takes this live; app {app!r} serves as a web function",
            hint="deploy a profile with server.primitive = \"server\" (or min_containers >= 1 with \"auto\") first",
        )
    keys = [k for k in T.LIVE_KEYS if k in prim.live_keys]
    profile_values = {k: _int(T.read(tags, f"omc-{k.replace('_', '-')}")) for k in keys}
    current_live = T.live_overrides(tags)
    before = {**profile_values, **{k: v for k, v in current_live.items() if k in keys}}
    requested = {**(policy_values(policy) if policy else {}), **values}
    if reset:
        requested = {**profile_values, **requested}
    if not requested:
        raise UsageError("nothing to change", hint="name a policy (economy, balanced, always-on) or pass --scaledown-window/--min-containers/...")
    after = {**before, **requested}
    _validate(after, _int(T.read(tags, "omc-max-inputs")))
    # Record as overrides whatever differs from the deployed profile values.
    live = {k: v for k, v in after.items() if v != profile_values.get(k)}
    return WarmSwitch(app, before, after, live, policy, prim.kind, idle_cost(tags, before, after))


def idle_cost(tags: dict[str, str], before: dict[str, int | None], after: dict[str, int | None]) -> dict[str, float] | None:
    """The monthly idle cost before and after, as the deploy plan and `omc cost` count it
    (``pricing.idle_floor_monthly``, the same rates): one container of the GPU that runs (a
    deliberate switch included) in the region it is pinned to, always on, times the month's mean
    min_containers (the recorded warm schedule included); the price overrides of the deployed
    profile when it is found here. None when the GPU is not known."""
    import json

    from ..config.models import Profile
    from ..pricing import idle_floor_monthly

    gpu = T.gpu_switch(tags) or T.read(tags, T.GPU)
    if not gpu:
        return None
    types, count = T.parse_gpu(gpu)
    try:
        schedule = json.loads(T.read(tags, T.WARM_SCHEDULE) or "[]")
        region = json.loads(T.read(tags, T.REGION) or "null")
        profile = Profile.model_validate(
            {"name": "deployed", "gpu": {"type": types[0], "count": count, "fallback": types[1:]}, "warm": {"schedule": schedule},
             "app": {"region": region}, "prices": _local_prices(tags)}
        )
    except (ValueError, ValidationError):
        return None
    return {
        "before": round(idle_floor_monthly(profile, live_min=before.get("min_containers") or 0), 2),
        "after": round(idle_floor_monthly(profile, live_min=after.get("min_containers") or 0), 2),
    }


def _local_prices(tags: dict[str, str]) -> dict[str, float]:
    """The deployed profile's price overrides (not deployed, so not recorded): from the profile
    of that name here, if there is one."""
    name = T.read(tags, T.PROFILE)
    if not name:
        return {}
    try:
        return resolve(name).profile.prices.model_dump(exclude_none=True)
    except ConfigError:
        return {}


def _validate(after: dict[str, int | None], max_inputs: int | None) -> None:
    """The profile schema's rules, in omc's words, before anything is sent to Modal."""
    lines: list[str] = []
    try:
        WarmPolicy.model_validate({k: v for k, v in after.items() if k in WarmPolicy.model_fields})
    except ValidationError as e:
        lines = [f"{'.'.join(str(p) for p in err['loc']) or 'warm'}: {err['msg'].removeprefix('Value error, ')}" for err in e.errors()]
    target = after.get("target_inputs")
    if target is not None and (target < 1 or (max_inputs is not None and target > max_inputs)):
        lines.append(f"target_inputs: must be between 1 and max_inputs ({max_inputs}), the container's hard cap")
    if lines:
        raise ConfigError("invalid warm settings", lines)


def apply_warm_switch(backend: Any, sw: WarmSwitch) -> WarmSwitch:
    changed = {k: v for k, v in sw.after.items() if v != sw.before.get(k)}
    if changed:
        backend.served(sw.app, P.PRIMITIVES[sw.primitive]).update_autoscaler(**changed)
    info = backend.app_info(sw.app)
    backend.set_tags(sw.app, T.with_live_overrides(dict(info.tags or {}), sw.live_overrides))
    return sw


def _int(v: str | None) -> int | None:
    return None if v in (None, "none") else int(v)

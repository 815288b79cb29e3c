"""Plan and deploy a profile.

The plan is pure: a profile, its rendered module and (optionally) the tags of what runs give a
field-level diff and the idle cost of the warm policy. Execution goes through the Modal
adapter only after the plan was shown and confirmed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import primitives as P
from .. import tags as T
from ..config.loader import Origin, ResolvedProfile, with_gpu
from ..pricing import always_on_monthly, idle_containers
from ..render import PULL_FUNCTION, Rendered, render, render_pull_app

Progress = Callable[[str], None]


@dataclass
class DeployPlan:
    resolved: ResolvedProfile
    rendered: Rendered
    checked_remote: bool  # False for --dry-run: nothing was asked of Modal
    deployed_tags: dict[str, str] | None  # None: not deployed (or not checked)
    changes: list[T.FieldChange]
    live_overrides: dict[str, int | None] = field(default_factory=dict)
    gpu_switch: str | None = None  # a deliberate `omc switch-gpu` kept in force (Modal's GPU spec text)
    profile_gpu: str | None = None  # the profile's own GPU, which the switch replaces
    stopped: bool = False  # not deployed because it was stopped (`omc stop`): the deploy starts it again

    @property
    def state(self) -> str | None:
        """"deployed", "stopped", "not_deployed"; None when Modal was not asked (offline plan)."""
        if not self.checked_remote:
            return None
        return "deployed" if self.deployed else ("stopped" if self.stopped else "not_deployed")

    @property
    def desired_tags(self) -> dict[str, str]:
        """The tags that describe what this plan deploys (the rendered ones plus the GPU switch)."""
        return T.with_gpu_switch(self.rendered.tags, self.gpu_switch)

    @property
    def profile(self):
        return self.resolved.profile

    @property
    def app_name(self) -> str:
        return self.profile.app.name

    @property
    def deployed(self) -> bool:
        return self.deployed_tags is not None

    @property
    def choice(self) -> P.Choice:
        """The serving primitive this profile deploys as, and why."""
        return P.choose(self.profile)

    @property
    def primitive_change(self) -> tuple[str, str] | None:
        """(deployed, new) when the deploy moves the app to the other primitive: its URL changes."""
        if not self.deployed_tags or T.MANAGED not in self.deployed_tags:
            return None
        before = P.of_tags(self.deployed_tags).kind
        return (before, self.choice.kind) if before != self.choice.kind else None

    @property
    def profile_url_note(self) -> str:
        return P.for_profile(self.profile).url_note(self.profile)

    @property
    def unchanged(self) -> bool:
        """Everything omc deploys is identical to what runs: nothing to rebuild."""
        if not self.deployed_tags:
            return False
        running = T.deployed_part(self.deployed_tags)
        return running == self.desired_tags

    @property
    def idle_min_containers(self) -> float:
        """Containers kept up with no traffic, averaged over a month: the profile's min_containers or
        the live override in force (which the deploy re-applies), raised by the warm schedule's windows."""
        live = (self.live_overrides["min_containers"] or 0) if "min_containers" in self.live_overrides else None
        return idle_containers(self.profile, live)

    @property
    def idle_cost_per_month(self) -> float:
        return always_on_monthly(self.profile) * self.idle_min_containers

    @property
    def always_on_per_month(self) -> float:
        return always_on_monthly(self.profile)

    def to_json(self) -> dict[str, Any]:
        p = self.profile
        return {
            "app": self.app_name,
            "profile": p.name,
            "config_hash": self.rendered.config_hash,
            "checked_remote": self.checked_remote,
            "deployed": self.deployed if self.checked_remote else None,
            "state": self.state,
            "unchanged": self.unchanged,
            "changes": [
                {"field": c.field, "deployed": c.deployed, "desired": c.desired}
                for c in self.changes
                if c.changed or not self.deployed
            ],
            "gpu": p.gpu.modal_spec,
            "primitive": self.choice.kind,
            "primitive_reason": self.choice.reason,
            "primitive_change": (
                {"from": self.primitive_change[0], "to": self.primitive_change[1], "url_changes": True}
                if self.primitive_change
                else None
            ),
            "scaledown_window": p.warm.scaledown_window,
            "min_containers": p.warm.min_containers,
            "live_overrides": self.live_overrides,
            "gpu_switch": {"gpu": T.gpu_display(self.gpu_switch), "profile_gpu": T.gpu_display(self.profile_gpu)} if self.gpu_switch else None,
            "idle_cost_usd_per_month": round(self.idle_cost_per_month, 2),
            "idle_min_containers": round(self.idle_min_containers, 3),
            "always_on_usd_per_month": round(self.always_on_per_month, 2),
            "warnings": self.resolved.warnings,
        }


KEEP = object()  # plan(): keep the GPU switch recorded on the app, if any

SWITCH_RESET_HINT = "undo the GPU switch with `omc switch-gpu --reset`, or switch to a GPU the model fits"


def plan(resolved: ResolvedProfile, backend: Any | None, *, gpu_switch: Any = KEEP) -> DeployPlan:
    """``backend=None`` plans offline (dry run): nothing is sent to Modal.

    A GPU put in place by ``omc switch-gpu`` stays (like a live warm override) unless the
    profile's GPU is given on the command line (``--gpu``) or ``gpu_switch`` says otherwise
    (a GPU spec text to switch to, or None for the profile's own GPU).
    """
    deployed_tags: dict[str, str] | None = None
    stopped = False
    if backend is not None:
        info = backend.app_info(resolved.profile.app.name)
        deployed_tags = dict(info.tags) if info is not None else None
        stopped = info is None and backend.stopped_app(resolved.profile.app.name) is not None
    own_gpu = T.gpu_text(resolved.profile)
    if gpu_switch is KEEP:
        gpu_switch = T.gpu_switch(deployed_tags) if resolved.origin(("gpu", "type")).kind != "flag" else None
    if gpu_switch is not None and gpu_switch != own_gpu:
        types, count = T.parse_gpu(gpu_switch)
        resolved = with_gpu(resolved, types, count, Origin("flag", "switch-gpu"), hint=SWITCH_RESET_HINT)
    else:
        gpu_switch = None
    rendered = render(resolved.profile)
    live = T.live_overrides(deployed_tags or {})
    return DeployPlan(
        resolved, rendered, backend is not None, deployed_tags, T.diff(resolved.profile, deployed_tags), live,
        gpu_switch=gpu_switch, profile_gpu=own_gpu if gpu_switch else None, stopped=stopped,
    )


@dataclass
class DeployResult:
    app_name: str
    app_id: str | None
    url: str | None
    profile: str
    gpu: str | list[str]
    scaledown_window: int
    min_containers: int
    config_hash: str
    deployed_version: int | None
    skipped: bool
    live_overrides: dict[str, int | None]
    secret_created: bool = False
    proxy_token_created: bool = False
    model_pulled: bool = False
    gpu_switch: str | None = None
    primitive: str = P.FUNCTION

    def to_json(self) -> dict[str, Any]:
        from .. import __version__

        return {
            "app_name": self.app_name,
            "app_id": self.app_id,
            "url": self.url,
            "profile": self.profile,
            "gpu": self.gpu,
            "scaledown_window": self.live_overrides.get("scaledown_window", self.scaledown_window),
            "min_containers": self.live_overrides.get("min_containers", self.min_containers),
            "profile_scaledown_window": self.scaledown_window,
            "profile_min_containers": self.min_containers,
            "live_overrides": self.live_overrides,
            "gpu_switch": T.gpu_display(self.gpu_switch),
            "config_hash": self.config_hash,
            "deployed_version": self.deployed_version,
            "skipped": self.skipped,
            "secret_created": self.secret_created,
            "proxy_token_created": self.proxy_token_created,
            "model_pulled": self.model_pulled,
            "primitive": self.primitive,
            "omc_version": __version__,
        }


def execute(
    p: DeployPlan,
    backend: Any,
    *,
    tag: str | None = None,
    progress: Progress = lambda _m: None,
) -> DeployResult:
    """Deploy the rendered module, re-apply live warm overrides and tag the app."""
    from .keys import ensure_secret

    profile = p.profile
    result = DeployResult(
        app_name=p.app_name,
        app_id=None,
        url=None,
        profile=profile.name,
        gpu=profile.gpu.modal_spec,
        scaledown_window=profile.warm.scaledown_window,
        min_containers=profile.warm.min_containers,
        config_hash=p.rendered.config_hash,
        deployed_version=None,
        skipped=False,
        live_overrides=p.live_overrides,
        gpu_switch=p.gpu_switch,
        primitive=p.choice.kind,
    )
    served = backend.served(p.app_name, P.for_profile(profile))
    if p.unchanged:
        info = backend.app_info(p.app_name)
        result.skipped = True
        result.app_id = getattr(info, "app_id", None)
        result.deployed_version = getattr(info, "version", None)
        result.url = served.url()
        progress("configuration unchanged: nothing to deploy")
        return result

    if profile.server.auth == "bearer":
        result.secret_created = ensure_secret(backend, profile, progress)
    elif profile.server.auth == "proxy":
        from .proxy_tokens import ensure_token

        result.proxy_token_created = ensure_token(backend, profile, progress)
    if profile.model.store == "volume":
        result.model_pulled = ensure_model_in_volume(backend, p, progress)

    with tempfile.TemporaryDirectory(prefix="omc-deploy-") as tmp:
        module = Path(tmp) / f"{_module_name(p.app_name)}.py"
        module.write_text(p.rendered.source, encoding="utf-8")
        progress(f"deploying {p.app_name} ({profile.name} on {', '.join(profile.gpu.types)})")
        outcome = backend.deploy_file(module, p.app_name, environment=profile.app.environment, tag=tag, on_progress=progress)
    result.app_id = outcome.app_id
    result.deployed_version = getattr(outcome, "version", None)
    result.url = _first_url(outcome) or served.url()

    # Modal resets autoscaler overrides on deploy: put the live ones back, then record them.
    # Settings only a Modal Server takes live are dropped when the app becomes a web function.
    live = {k: v for k, v in p.live_overrides.items() if k in P.for_profile(profile).live_keys}
    dropped = {k: v for k, v in p.live_overrides.items() if k not in live}
    if dropped:
        progress(f"dropped live settings a web function does not take: {T.settings_text(dropped)}")
    result.live_overrides = live
    if live:
        progress(f"re-applying live warm settings: {T.settings_text(live)}")
        served.update_autoscaler(**live)
    # Record what runs, the live overrides, and a snapshot of this version for `omc rollback`
    # (keeping the snapshots of earlier versions, whatever Modal did with the tag set).
    backend.set_tags(p.app_name, T.after_deploy(p.desired_tags, live, p.deployed_tags or {}, result.deployed_version))
    return result


def _module_name(app_name: str) -> str:
    return "omc_" + "".join(c if c.isalnum() else "_" for c in app_name)


def _first_url(outcome: Any) -> str | None:
    urls = getattr(outcome, "web_urls", None) or {}
    if isinstance(urls, dict):
        return next(iter(urls.values()), None)
    return getattr(outcome, "web_url", None)


def manifest_path(model: str) -> str:
    """Where Ollama stores a model's manifest inside its model directory."""
    name, _, tag = model.partition(":")
    tag = tag or "latest"
    parts = name.split("/")
    if len(parts) == 1:
        host, ns, repo = "registry.ollama.ai", "library", parts[0]
    elif len(parts) == 2:
        host, ns, repo = "registry.ollama.ai", parts[0], parts[1]
    else:
        host, ns, repo = parts[0], "/".join(parts[1:-1]), parts[-1]
    return f"manifests/{host}/{ns}/{repo}/{tag}"


def ensure_model_in_volume(backend: Any, p: DeployPlan, progress: Progress) -> bool:
    """Pull the model into the Volume before the app is published; containers only read it.

    The pull runs in a minimal ephemeral app (image, volume, one CPU function), never the
    whole app: that would register the GPU class and, with min_containers, start GPUs."""
    profile = p.profile
    path = manifest_path(profile.model.name)
    if backend.volume_has_path(profile.model.volume, path):
        progress(f"model {profile.model.name} already in volume {profile.model.volume}")
        return False
    progress(f"pulling {profile.model.name} into volume {profile.model.volume} (once; later deploys reuse it)")
    with tempfile.TemporaryDirectory(prefix="omc-pull-") as tmp:
        module = Path(tmp) / f"{_module_name(p.app_name)}_pull.py"
        module.write_text(render_pull_app(profile), encoding="utf-8")
        backend.run_function(module, PULL_FUNCTION, environment=profile.app.environment, on_progress=progress)
    return True

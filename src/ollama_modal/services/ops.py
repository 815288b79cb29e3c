"""Rollback: choose the target deployment, roll back, put live warm settings back."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from .. import primitives as P
from .. import tags as T
from ..errors import UsageError


@dataclass
class RollbackTarget:
    app: str
    current: int
    version: int


def _plan(backend: Any, app: str, version: int | None) -> RollbackTarget:
    history = sorted(backend.history(app), key=lambda d: d.version, reverse=True)
    if not history:
        raise UsageError(f"app {app!r} has no deployments", hint="deploy it first: omc deploy --profile NAME")
    current = history[0].version
    versions = {d.version for d in history}
    if version is None:
        older = [d.version for d in history if d.version < current]
        if not older:
            raise UsageError(f"app {app!r} has only one deployment (v{current}): nothing to roll back to")
        version = older[0]
    if version not in versions:
        raise UsageError(f"app {app!r} has no version {version}", hint=f"versions: {', '.join(f'v{v}' for v in sorted(versions))}")
    if version == current:
        raise UsageError(f"v{version} is already the current deployment")
    return RollbackTarget(app, current, version)


def _execute(backend: Any, target: RollbackTarget) -> dict[str, Any]:
    info_before = backend.app_info(target.app)
    before = dict(info_before.tags or {}) if info_before else {}
    live = T.live_overrides(before)
    new_version = backend.rollback(target.app, target.version)
    after = backend.get_tags(target.app)
    described, known = restored_tags(before, after, target.version)
    # A rollback is a deploy: Modal drops live autoscaler overrides, so re-apply ours (to the
    # primitive that version serves with; settings it cannot take live are dropped).
    prim = P.of_tags(described if known else after)
    live = {k: v for k, v in live.items() if k in prim.live_keys}
    if live:
        backend.served(target.app, prim).update_autoscaler(**live)
    backend.set_tags(target.app, T.after_deploy(described, live, before, new_version if known else None))
    return {
        "app": target.app,
        "from_version": target.current,
        "to_version": target.version,
        "deployed_version": new_version,
        "settings_known": known,
        "live_overrides": live,
    }


def restored_tags(before: dict[str, str], after: dict[str, str], version: int) -> tuple[dict[str, str], bool]:
    """The tags describing ``version`` once it runs again, and whether omc knows them.

    omc's own snapshot of that version comes first. Without one, tags that changed across the
    rollback were put back by Modal and describe the old version; tags that did not change may
    describe the newer one, so the settings are marked unknown (status then reports drift until
    the next ``omc deploy``).
    """
    recorded = T.snapshot_of(before, version)
    if recorded is not None:
        return recorded, True
    now, then = T.deployed_part(after), T.deployed_part(before)
    if now.get(T.CONFIG_HASH) and now.get(T.CONFIG_HASH) != then.get(T.CONFIG_HASH):
        return now, True
    return {T.MANAGED: "1", T.CONFIG_HASH: T.UNKNOWN, T.ROLLED_BACK_TO: str(version)}, False


rollback = SimpleNamespace(plan=_plan, execute=_execute)


def history(backend: Any, app: str) -> list[dict[str, Any]]:
    """Deployments, newest first, each with the omc tags that describe it where omc knows them.

    The current version's come from the app; earlier ones from omc's snapshots (the last few
    deployments), else ``tags`` is None.
    """
    deployments = backend.history(app)
    current = next((d for d in deployments if d.current and d.tags is not None), None)
    tags = dict(current.tags) if current is not None else {}
    return [
        {**d.to_json(), "tags": _decoded(T.deployed_part(tags) if d is current else T.snapshot_of(tags, d.version))}
        for d in deployments
    ]


def _decoded(tags: dict[str, str] | None) -> dict[str, str] | None:
    return None if tags is None else T.recorded(tags)

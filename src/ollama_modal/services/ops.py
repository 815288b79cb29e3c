"""Rollback: choose the target deployment, roll back, put live warm settings back."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from .. import tags as T
from ..errors import UsageError
from ..render import CLASS_NAME


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
    live = T.live_overrides(dict(info_before.tags or {})) if info_before else {}
    backend.rollback(target.app, target.version)
    # A rollback is a deploy: Modal drops live autoscaler overrides, so re-apply ours.
    if live:
        backend.update_autoscaler(target.app, CLASS_NAME, **live)
    return {"app": target.app, "from_version": target.current, "to_version": target.version, "live_overrides": live}


rollback = SimpleNamespace(plan=_plan, execute=_execute)

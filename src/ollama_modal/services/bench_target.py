"""What `omc bench` talks to: the deployed app's URL, key, GPU and model size, or a URL given."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from .. import primitives as P
from .. import tags as T
from ..config.modelsize import estimate_model
from ..errors import RemoteError, UsageError

API_KEY_ENV = "OMC_API_KEY"


@dataclass
class Target:
    url: str
    api_key: str | None
    model: str | None
    gpu: str | None
    gpu_count: int
    model_bytes: int | None
    app: str | None = None
    primitive: str | None = None  # "server": Modal answers 503 while no container is up


def from_app(backend: Any, app: str, api_key: str | None, model: str | None) -> Target:
    from . import keys
    from .switch import deployed_tags

    tags = deployed_tags(backend, app)
    prim = P.of_tags(tags)
    url = backend.served(app, prim).url()
    if not url:
        raise RemoteError(f"app {app!r} has no web endpoint", hint="redeploy it with omc deploy")
    deployed_model = T.read(tags, T.MODEL) or None
    gpu_types, gpu_count = T.parse_gpu(T.read(tags, T.GPU) or "")
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV)
    if api_key is None and T.read(tags, "omc-auth") == "proxy":
        api_key = _proxy_token_for(tags)  # Modal's proxy takes Authorization: Bearer wk-….ws-…
    if api_key is None and T.read(tags, "omc-auth") == "bearer":
        ring = _ring_for(tags, keys)
        if ring is None:
            raise UsageError(
                "no API key for this endpoint on this machine",
                hint=f"pass --api-key or set {API_KEY_ENV} (the key is shown by `omc keys show --show` where it was created)",
            )
        api_key = ring.keys[0]
    size = estimate_model(deployed_model) if deployed_model else None
    return Target(
        url=url,
        api_key=api_key,
        model=model or deployed_model,
        gpu=gpu_types[0] if gpu_types else None,
        gpu_count=gpu_count,
        model_bytes=int(size.weights_bytes) if size and size.weights_bytes else None,
        app=app,
        primitive=prim.kind,
    )


def _proxy_token_for(tags: dict[str, str]) -> str | None:
    """This machine's proxy token for the deployed profile's app, if it holds one."""
    profile = T.read(tags, T.PROFILE)
    if not profile:
        return None
    try:
        from ..config import resolve
        from . import proxy_tokens

        ring = proxy_tokens.load_ring(resolve(profile).profile)
    except Exception:  # noqa: BLE001 - the profile may not exist here; then pass --api-key
        return None
    return ring.keys[0] if ring else None


def _ring_for(tags: dict[str, str], keys: Any) -> Any:
    """The local key ring of the Secret named by the deployed profile (default name otherwise)."""
    from ..config.models import DEFAULT_SECRET

    secret = DEFAULT_SECRET
    profile = T.read(tags, T.PROFILE)
    if profile:
        try:
            from ..config import resolve

            secret = resolve(profile).profile.server.api_key_secret
        except Exception:  # noqa: BLE001 - the profile may not exist here; the default name is the best guess
            pass
    return keys.load(secret, None)


def make_cold(backend: Any, app: str, wait_s: float = 180.0, poll_s: float = 2.0):
    """Callables for bench.measure_cold_start: drain the app's containers, read its logs, restore."""
    from .switch import deployed_tags

    served = backend.served(app, P.of_tags(deployed_tags(backend, app)))
    saved = served.autoscaler_settings()

    def ensure_no_containers() -> bool:
        # Scale to zero as fast as Modal allows, wait for the last container to go.
        served.update_autoscaler(min_containers=0, buffer_containers=0, scaledown_window=2)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if served.current_stats().num_total_runners == 0:
                return True
            time.sleep(poll_s)
        return False

    def fetch_phase_lines() -> list[str]:
        return list(backend.logs(app, follow=False))

    def restore() -> None:
        served.update_autoscaler(
            min_containers=saved.min_containers,
            max_containers=saved.max_containers,
            buffer_containers=saved.buffer_containers,
            scaledown_window=saved.scaledown_window,
        )

    return ensure_no_containers, fetch_phase_lines, restore

"""Workspace proxy tokens for ``auth = "proxy"``: Modal's proxy checks them, not omc's proxy.

A token is a ``wk-…`` id and a ``ws-…`` secret; callers send ``Authorization: Bearer wk-….ws-…``
(an OpenAI client's ``api_key``) or ``Modal-Key``/``Modal-Secret`` headers. Modal shows the
secret only when the token is created, so omc keeps the combined ``wk-….ws-…`` value in the same
private local key store as bearer keys (``services.keys``, file mode 0600), newest first.

omc names its tokens ``omc-<app>``. Rotation mirrors bearer keys: ``rotate`` creates a new token
and keeps the previous one working; ``rotate --drop-old`` deletes the previous token in Modal
(every client using it loses access at once). Tokens are workspace-wide: on workspaces with
RBAC, allow them in the app's environment (``modal workspace proxy-tokens allow``).
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import UsageError
from .keys import KeyRing, load


def token_name(profile: Any) -> str:
    return f"omc-{profile.app.name}"


def ring_name(profile: Any) -> str:
    """The local key store's name for the app's proxy tokens (never a Modal Secret)."""
    from ..config.names import PROXY_TOKEN_RING_PREFIX

    return PROXY_TOKEN_RING_PREFIX + profile.app.name


def token_id(value: str) -> str:
    return value.partition(".")[0]


def load_ring(profile: Any, environment: str | None = None) -> KeyRing | None:
    return load(ring_name(profile), environment or profile.app.environment)


def _create(backend: Any, profile: Any, environment: str | None, keep: list[str]) -> KeyRing:
    tid, secret = backend.create_proxy_token(token_name(profile))
    ring = KeyRing(ring_name(profile), environment, [f"{tid}.{secret}", *keep])
    try:
        ring.save()
    except OSError:
        backend.delete_proxy_token(tid)  # a token whose secret nobody kept is only a liability
        raise
    return ring


def ensure_token(backend: Any, profile: Any, progress: Callable[[str], None]) -> bool:
    """At deploy: create the app's proxy token unless this machine or the workspace has one. True if created."""
    env = profile.app.environment
    if load_ring(profile, env) is not None:
        return False
    existing = [t for t in backend.list_proxy_tokens() if t.name == token_name(profile)]
    if existing:
        progress(
            f"the workspace has a proxy token named {token_name(profile)} ({existing[0].token_id}), but this machine "
            "does not hold its secret; `omc keys rotate` makes a new one here"
        )
        return False
    _create(backend, profile, env, [])
    progress(f"created Modal proxy token {token_name(profile)}; see it with `omc keys show --show`")
    return True


def rotate(backend: Any, profile: Any, environment: str | None, *, drop_old: bool) -> tuple[KeyRing, str | None]:
    """A new token beside the current one, or (``drop_old``) delete the previous one. Returns the
    ring and the id of the token deleted in Modal (None when nothing was deleted)."""
    env = environment or profile.app.environment
    ring = load_ring(profile, env)
    if not drop_old:
        return _create(backend, profile, env, ring.keys[:1] if ring else []), None
    if ring is None or len(ring.keys) < 2:
        raise UsageError("there is no old proxy token to drop", hint="`omc keys rotate` first adds a new token beside the old one")
    old = token_id(ring.keys[1])
    backend.delete_proxy_token(old)
    ring.keys = ring.keys[:1]
    ring.save()
    return ring, old


def in_workspace(backend: Any, profile: Any) -> list[Any]:
    """The workspace's tokens named for this app (ids and dates; Modal never returns secrets)."""
    return [t for t in backend.list_proxy_tokens() if t.name == token_name(profile)]

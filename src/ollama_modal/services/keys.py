"""API keys for ``auth = "bearer"``: a Modal Secret (``OMC_API_KEYS``) plus a private local copy.

Modal's API cannot read a Secret's values back, so the machine that creates or rotates a key
keeps it in ``$OMC_STATE_DIR`` (default ``~/.local/state/omc``), file mode 0600. Keys never
appear in rendered files, logs or JSON output unless asked for with ``--show``.

Rotation without downtime: ``rotate`` puts the new key first and keeps the old one, so both
are accepted (containers read the Secret at start, so running ones keep accepting the old key);
``rotate --drop-old`` removes the old key once every client uses the new one.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import jsonio
from ..errors import UsageError
from ..fsutil import atomic_write_text

SECRET_KEY = "OMC_API_KEYS"
STATE_DIR_ENV = "OMC_STATE_DIR"
KEY_PREFIX = "omc-"


def state_dir() -> Path:
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "omc"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def mask(key: str) -> str:
    return key[:8] + "…" + key[-4:] if len(key) > 16 else "…"


@dataclass
class KeyRing:
    secret: str
    environment: str | None
    keys: list[str]  # newest first

    @property
    def path(self) -> Path:
        return _path(self.secret, self.environment)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_text(self.path, jsonio.dumps({"secret": self.secret, "environment": self.environment, "keys": self.keys}))
        os.chmod(self.path, 0o600)

    def to_json(self, show: bool) -> dict[str, Any]:
        return {
            "secret": self.secret,
            "environment": self.environment,
            "keys": self.keys if show else [mask(k) for k in self.keys],
            "active": self.keys[0] if show else mask(self.keys[0]),
        }


def _path(secret: str, environment: str | None) -> Path:
    """The key file of ``secret`` in ``environment``. Both names become part of a file name, so
    they are checked here against Modal's name rules (``config.names``), whoever passed them:
    a name with a path in it can never point outside the key store."""
    from ..config.names import environment_name, key_store_name
    from ..safeio import shown

    try:
        key_store_name(secret)
    except ValueError as e:
        raise UsageError(f"cannot use the local key store for Secret {shown(secret)}: {e}",
                         hint="set server.api_key_secret in the profile to a valid Modal Secret name") from None
    if environment is not None:
        try:
            environment_name(environment)
        except ValueError as e:
            raise UsageError(f"cannot use the local key store for environment {shown(environment)}: {e}",
                             hint="pass --env NAME or set app.environment to a valid Modal environment name") from None
    return state_dir() / "keys" / f"{environment or 'default'}--{secret}.json"


def load(secret: str, environment: str | None) -> KeyRing | None:
    path = _path(secret, environment)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read the local key store: {e}", hint="delete the file and run `omc keys rotate`") from None
    return KeyRing(secret, environment, list(data.get("keys", [])))


def ensure_secret(backend: Any, profile: Any, progress: Callable[[str], None]) -> bool:
    """Create the profile's Secret with a strong random key if it does not exist. True if created."""
    name, env = profile.server.api_key_secret, profile.app.environment
    if backend.secret_exists(name):
        return False
    ring = KeyRing(name, env, [new_key()])
    ring.save()  # locally first: a key that exists only in Modal could never be shown
    backend.create_secret(name, {SECRET_KEY: ring.keys[0]})
    progress(f"created Modal Secret {name} with a new API key; see it with `omc keys show --show`")
    return True


def rotate(backend: Any, secret: str, environment: str | None, *, drop_old: bool) -> KeyRing:
    ring = load(secret, environment)
    if drop_old:
        if ring is None or len(ring.keys) < 2:
            raise UsageError("there is no old key to drop", hint="`omc keys rotate` first adds a new key beside the old one")
        ring.keys = ring.keys[:1]
    else:
        ring = KeyRing(secret, environment, [new_key(), *(ring.keys[:1] if ring else [])])
    ring.save()
    backend.create_secret(secret, {SECRET_KEY: ",".join(ring.keys)}, overwrite=True)
    return ring

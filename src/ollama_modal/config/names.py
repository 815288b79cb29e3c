"""Modal's naming rules, matched whole (light: no pydantic, so the CLI can check flags early).

From the installed SDK's ``modal/_utils/name_utils.py``: object names (Secrets, Volumes) are
at most 64 letters, digits, ``.``, ``-``, ``_`` and must not look like an App ID; environment
names start with a letter or digit. ``re.fullmatch`` is used throughout: the SDK's own ``$``
would also accept a trailing newline.
"""

from __future__ import annotations

import re

MODAL_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MODAL_APP_ID_RE = re.compile(r"ap-[A-Za-z0-9]{22}")
# Periods are allowed because the SDK still resolves existing environments that have them.
ENVIRONMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: omc's rule for app names (Modal's, starting with a letter or digit).
APP_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
#: The local key store keeps an app's Modal proxy tokens under this prefix and the app's name.
PROXY_TOKEN_RING_PREFIX = "proxy-token--"


def modal_object_name(v: str, what: str) -> str:
    """Modal's rule for Secret and Volume names (also refuses names made only of dots)."""
    if not MODAL_NAME_RE.fullmatch(v) or set(v) <= {"."}:
        raise ValueError(f"{v[:80]!r} is not a valid Modal {what} name; use 1-64 letters, digits, '.', '-' or '_' (not only dots)")
    if MODAL_APP_ID_RE.fullmatch(v):
        raise ValueError(f"{v!r} looks like a Modal App ID; choose another {what} name")
    return v


def environment_name(v: str) -> str:
    if not ENVIRONMENT_RE.fullmatch(v):
        raise ValueError(
            f"{v[:80]!r} is not a Modal environment name; use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit"
        )
    return v


def key_store_name(v: str) -> str:
    """A name the local key store puts in a file name: a Modal Secret's name, or
    ``proxy-token--APP`` for an app's proxy tokens. Neither can hold a path separator or be
    ``.``/``..``, so the file stays in the key store's directory."""
    rest = v[len(PROXY_TOKEN_RING_PREFIX):] if v.startswith(PROXY_TOKEN_RING_PREFIX) else None
    if rest is not None and APP_NAME_RE.fullmatch(rest):
        return v
    return modal_object_name(v, "Secret")

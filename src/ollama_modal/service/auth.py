"""Bearer-key check for ``auth = "bearer"``: constant time, every key compared."""

from __future__ import annotations

import hmac
from collections.abc import Iterable


class KeyChecker:
    """Accepts ``Authorization: Bearer <key>`` for any configured key (two during a rotation)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys: list[bytes] = []
        self.replace(keys)

    def replace(self, keys: Iterable[str]) -> None:
        """Accept these keys from now on (a restored memory snapshot brings the Secret's
        current values). One assignment: a request checks against the old or the new set."""
        encoded = [k.encode() for k in keys if k]
        if not encoded:
            raise ValueError("KeyChecker needs at least one key")
        self._keys = encoded

    def __repr__(self) -> str:  # never show keys
        return f"KeyChecker({len(self._keys)} keys)"

    def check(self, authorization: str | None) -> bool:
        token = bearer_token(authorization)
        presented = (token or "").encode()
        ok = False
        # Compare against every key without short-circuiting, so timing says nothing
        # about which key (or how many) matched.
        for key in self._keys:
            ok |= hmac.compare_digest(presented, key)
        return ok and token is not None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()

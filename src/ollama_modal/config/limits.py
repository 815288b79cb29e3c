"""Numeric limits shared by the profile schema and the command line (light: no pydantic)."""

from __future__ import annotations

#: Modal's limit on scaledown_window, checked client-side by the SDK (InvalidError).
SCALEDOWN_MIN, SCALEDOWN_MAX = 2, 3600
#: Generous bounds on container counts, so a typo cannot ask for (or simulate) a billion containers.
MAX_CONTAINERS_LIMIT = 10_000

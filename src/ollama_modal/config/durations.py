"""Ollama-style durations: ``-1`` (forever), ``300`` (seconds), ``5m``, ``1h30m``."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(value: str | int | float) -> float:
    """Seconds, or ``math.inf`` for a negative value (Ollama's "keep forever")."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as '30m', seconds, or -1 for forever, not true/false")
    if isinstance(value, (int, float)):
        return math.inf if value < 0 else float(value)
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return math.inf if number < 0 else number
    if text.startswith("-"):
        return math.inf
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration; write e.g. '30m', '1h', '300' (seconds) or '-1' (forever)")
    return sum(float(n) * _UNIT[u] for n, u in parts)

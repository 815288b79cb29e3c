"""Ollama-style durations: ``-1`` (forever), ``300`` (seconds), ``5m``, ``1h30m``.

Only what Ollama itself reads the same way is accepted: a whole number of seconds (Ollama
parses unit-less values as integers and silently falls back to its default otherwise) or a
Go duration made of ``ms``/``s``/``m``/``h`` parts. NaN, infinity, exponents, underscores
and surrounding whitespace are refused, so the value written into OLLAMA_KEEP_ALIVE is
exactly the one checked here.
"""

from __future__ import annotations

import math
import re

_SECONDS = re.compile(r"-?\d{1,12}")
_DURATION = re.compile(r"-?(?:\d{1,12}(?:\.\d{1,9})?(?:ms|s|m|h))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_FIX = "write e.g. '30m', '1h', '300' (whole seconds) or '-1' (forever)"


def parse_duration(value: str | int | float) -> float:
    """Seconds, or ``math.inf`` for a negative value (Ollama's "keep forever"). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"must be a duration, not true/false; {_FIX}")
    if isinstance(value, int):
        return math.inf if value < 0 else float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration; {_FIX}")
        return math.inf if value < 0 else value
    if not isinstance(value, str):
        raise ValueError(f"must be a duration, not a {type(value).__name__}; {_FIX}")
    if _SECONDS.fullmatch(value):
        seconds = int(value)
        return math.inf if seconds < 0 else float(seconds)
    if not _DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration; {_FIX}")
    if value.startswith("-"):
        return math.inf
    return sum(float(n) * _UNIT[u] for n, u in _PART.findall(value))

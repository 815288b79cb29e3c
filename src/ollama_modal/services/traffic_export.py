"""`omc traffic`: a deployed app's real requests as a trace `omc cost --trace` reads.

Both serving primitives answer through one interface, the served handle's
``requests(start, end, limit)`` (``adapters/modal_served.py``): a Modal Server from Modal's
request history (``ServerRequestFetch``: timestamp, route, duration, status; kept 7 days), a
web function from the one log line per request its proxy writes (time, route, status,
duration, token counts; read back through Modal's app logs, at most 30 days back). Neither
holds a body, client address or key.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import primitives as P
from ..errors import UsageError

#: Modal's request history answers at most this many rows per query; longer spans are split.
CHUNK_LIMIT = 20000
#: What a Modal Server's request history covers (the shorter of the two primitives' limits).
MAX_SPAN = timedelta(days=7)
#: The longest span any primitive keeps: a web function's request log (each handle has its own limit).
LONGEST_SPAN = timedelta(days=30)
FIELDS = ("timestamp", "route", "status", "duration_s")
#: Written when every request has its output token count (the cost model then uses them).
TOKEN_FIELDS = ("input_tokens", "output_tokens")
SINCE_HINT = "write e.g. 90m, 6h or 2d (at most 7d for a Modal Server, 30d for a web function)"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """``90m``, ``6h``, ``2d`` (or plain seconds) -> seconds; UsageError naming --since otherwise."""
    import re

    m = re.fullmatch(r"\s*(\d{1,7}(?:\.\d{1,3})?)\s*([smhd]?)\s*", text or "")
    if not m:
        raise UsageError(f"--since {text[:40]!r} is not a duration", hint=SINCE_HINT)
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def window(since: float, until: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) for the last ``since`` seconds, at most the 30 days the longest history keeps
    (each primitive's own limit is checked by :func:`export`)."""
    end = until or datetime.now(timezone.utc)
    if since <= 0 or timedelta(seconds=since) > LONGEST_SPAN:
        raise UsageError("--since must be more than 0 and at most 30d (a web function's request log; "
                         "a Modal Server's request history: 7d)", hint=SINCE_HINT)
    return end - timedelta(seconds=since), end


def export(backend: Any, app: str, start: datetime, end: datetime) -> list[Any]:
    """Every request in [start, end), oldest first, fetched in pages of CHUNK_LIMIT."""
    from .switch import deployed_tags

    served = backend.served(app, P.of_tags(deployed_tags(backend, app)))
    kept = getattr(served, "history", MAX_SPAN)  # a handle that states no limit is held to a Server's
    if end - start > kept:
        raise UsageError(f"--since reaches back more than {kept.days}d for app {app!r}: "
                         f"{getattr(served, 'history_source', '') or 'that is as far as its request history goes'}",
                         hint=f"ask for at most {kept.days}d")
    rows: list[Any] = []
    cursor = start
    while cursor < end:
        page = served.requests(cursor, end, CHUNK_LIMIT)
        rows += page
        if len(page) < CHUNK_LIMIT:
            break
        last = datetime.fromisoformat(page[-1].timestamp)
        cursor = last + timedelta(microseconds=1)  # the next page starts after the last row seen
    return rows


def has_tokens(rows: list[Any]) -> bool:
    """Every request has its output token count (then the trace carries the token columns)."""
    return bool(rows) and all(getattr(r, "output_tokens", None) is not None for r in rows)


def to_csv(rows: list[Any]) -> str:
    """The trace: FIELDS, plus TOKEN_FIELDS when every row has an output token count (a trace
    with the column set on some rows only is refused by ``omc cost --trace``)."""
    tokens = has_tokens(rows)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(FIELDS + TOKEN_FIELDS if tokens else FIELDS)
    for r in rows:
        row = [r.timestamp, r.route, r.status, r.duration_s]
        if tokens:
            row += ["" if r.input_tokens is None else r.input_tokens, r.output_tokens]
        w.writerow(row)
    return out.getvalue()


def as_traffic(rows: list[Any]) -> Any:
    """The rows as ``cost.traffic.Traffic``, read exactly as ``omc cost --trace`` reads the file
    ``omc traffic -o`` writes (so every column the export carries counts the same way)."""
    import dataclasses
    import tempfile
    from pathlib import Path

    from ..cost.traffic import load_trace

    with tempfile.TemporaryDirectory(prefix="omc-traffic-") as tmp:
        path = Path(tmp) / "trace.csv"
        path.write_text(to_csv(rows), encoding="utf-8")
        traffic = load_trace(path)
    return dataclasses.replace(traffic, source="the app's request history")

"""`omc traffic`: a deployed app's real requests as a trace `omc cost --trace` reads.

For an app served as a Modal Server the rows come from Modal's request history
(``ServerRequestFetch``: timestamp, route, duration, status; nothing else is kept: no body,
client or key). Web-function deployments have no such history; exporting their traffic from
the logs is not built yet (the command says so).
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
MAX_SPAN = timedelta(days=7)  # what Modal's request history covers
FIELDS = ("timestamp", "route", "status", "duration_s")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """``90m``, ``6h``, ``2d`` (or plain seconds) -> seconds; UsageError naming --since otherwise."""
    import re

    m = re.fullmatch(r"\s*(\d{1,7}(?:\.\d{1,3})?)\s*([smhd]?)\s*", text or "")
    if not m:
        raise UsageError(f"--since {text[:40]!r} is not a duration", hint="write e.g. 90m, 6h or 2d (at most 7d)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def window(since: float, until: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) for the last ``since`` seconds, at most the 7 days Modal keeps."""
    end = until or datetime.now(timezone.utc)
    if since <= 0 or timedelta(seconds=since) > MAX_SPAN:
        raise UsageError("--since must be more than 0 and at most 7d (Modal keeps a Server's request history for 7 days)")
    return end - timedelta(seconds=since), end


def export(backend: Any, app: str, start: datetime, end: datetime) -> list[Any]:
    """Every request in [start, end), oldest first, fetched in pages of CHUNK_LIMIT."""
    from .switch import deployed_tags

    served = backend.served(app, P.of_tags(deployed_tags(backend, app)))
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


def to_csv(rows: list[Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(FIELDS)
    for r in rows:
        w.writerow([r.timestamp, r.route, r.status, r.duration_s])
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

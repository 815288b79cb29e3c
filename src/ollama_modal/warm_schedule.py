"""Scheduled warm windows: which window is in force, and applying it in the deployed app.

Stdlib only (plus `modal` inside the container for :func:`apply_schedule`): the rendered app
runs this every 5 minutes as a Modal scheduled function; `omc status` and the cost model use
the same rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from . import jsonio

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LIVE_MIN_TAG = "omc-live-min-containers"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def window_active(window: dict[str, Any], now: datetime) -> bool:
    """Is ``window`` (days, start, end, timezone) in force at the aware datetime ``now``?"""
    local = now.astimezone(ZoneInfo(window.get("timezone", "UTC")))
    minute = local.hour * 60 + local.minute
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    start, end = _minutes(window["start"]), _minutes(window["end"])
    days = window["days"]
    if start < end:
        return today in days and start <= minute < end
    # Crosses midnight (or start == end: the whole day from start on, through to start next day).
    return (today in days and minute >= start) or (yesterday in days and minute < end)


def active_window(windows: list[dict[str, Any]], now: datetime | None = None) -> dict[str, Any] | None:
    """The window in force with the highest min_containers, or None."""
    now = now or datetime.now(timezone.utc)
    active = [w for w in windows if window_active(w, now)]
    return max(active, key=lambda w: w.get("min_containers", 1)) if active else None


def desired_min_containers(windows: list[dict[str, Any]], base_min: int, now: datetime | None = None) -> int:
    w = active_window(windows, now)
    return max(base_min, int(w.get("min_containers", 1))) if w else base_min


def next_change(windows: list[dict[str, Any]], base_min: int, now: datetime, horizon_hours: int = 24 * 8) -> datetime | None:
    """When desired min_containers next changes (minute resolution), for status output."""
    current = desired_min_containers(windows, base_min, now)
    t = now.replace(second=0, microsecond=0)
    for _ in range(horizon_hours * 60):
        t += timedelta(minutes=1)
        if desired_min_containers(windows, base_min, t) != current:
            return t
    return None


def apply_schedule(app_name: str, cls_name: str, windows: list[dict[str, Any]], base_min: int, primitive: str = "function") -> int:
    """Inside the deployed app: set min_containers for the window in force. Returns the value set.

    A live override of min_containers (`omc switch-warm`) replaces the profile's base value.
    ``primitive`` is how the app serves: "function" (a class) or "server" (a Modal Server).
    """
    import modal

    app = modal.App.lookup(app_name)
    tags = app.get_tags()
    if LIVE_MIN_TAG in tags and tags[LIVE_MIN_TAG] != "none":
        base_min = int(tags[LIVE_MIN_TAG])
    value = desired_min_containers(windows, base_min)
    if primitive == "server":
        modal.Server.from_name(app_name, cls_name).autoscaler.update(min_containers=value)
    else:
        cls = modal.Cls.from_name(app_name, cls_name)
        cls.hydrate()
        cls._get_class_service_function().autoscaler.update(min_containers=value)
    print(jsonio.dumps({"event": "omc.schedule", "min_containers": value, "window": active_window(windows)}), flush=True)
    return value

"""``omc cost --actual``: what Modal billed a deployed app, day by day and by resource, beside
what omc predicts for the same days, and the prediction's error.

The bill comes from Modal's workspace billing report (one row per object and day). A row is
this app's when its object id is the deployed app's (Modal keeps the id across deploys), or,
for an app id omc no longer sees (the app was stopped and deployed anew), when its omc tags
name the same profile and its description the same app name. The prediction simulates the
deployed profile (as recorded on the app's tags, live warm overrides and a GPU switch
included) for each billed day. A day the app's request history covers whole (Modal keeps a
Server's for 7 days; ``traffic_export.export`` reads it) is simulated on that day's real
requests; any other day with no requests at all (the idle cost of the warm policy). Each day
says which, and the result says why the others are not observed (history older than Modal
keeps it, or none kept for the app's serving primitive).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .. import tags as T
from ..errors import NotDeployed, UsageError

DAY = 86400
#: The longest period one report covers (Modal's own CLI has no limit; a year bounds the work).
MAX_DAYS = 366
CENT = Decimal("0.000001")
#: The tag columns asked for: enough to tell omc's apps and their profiles apart.
TAG_COLUMNS = [T.MANAGED, T.CODEC, T.PROFILE]


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="First day billed, 00:00 UTC (inclusive).")
    end: datetime = Field(description="00:00 UTC after the last day (exclusive).")
    text: str = Field(description="The period as the user gave it.")

    @property
    def days(self) -> list[date]:
        n = (self.end - self.start).days
        return [(self.start + timedelta(days=i)).date() for i in range(n)]


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def _parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date", hint=f"give {flag} as YYYY-MM-DD (UTC), e.g. {flag} 2026-11-01") from None


def period(for_: str | None, start: str | None, end: str | None, *, today: date | None = None) -> Period:
    """Whole UTC days: ``--for`` (``last N days``, ``last week``, ``yesterday``, ``this month``,
    ``last month``) or ``--start``/``--end`` dates (end exclusive, default today). Default: the last 7 days.
    Modal bills whole days only, so today (still running) is never part of a period."""
    today = today or datetime.now(timezone.utc).date()
    if for_ is not None and (start is not None or end is not None):
        raise UsageError("give --for or --start/--end, not both")
    if start is not None or end is not None:
        if start is None:
            raise UsageError("--end needs --start", hint="e.g. --start 2026-11-01 --end 2026-12-01")
        first = _parse_day(start, "--start")
        last = _parse_day(end, "--end") if end is not None else today
        if last > today:
            raise UsageError(f"--end {last} is in the future", hint=f"Modal bills whole days: the latest end is today ({today})")
        text = f"{first} to {last} (exclusive)"
    else:
        text = (for_ or "last 7 days").strip().lower()
        m = re.fullmatch(r"last (\d{1,4}) days?", text)
        if m:
            first, last = today - timedelta(days=int(m.group(1))), today
        elif text == "last week":
            first, last = today - timedelta(days=7), today
        elif text == "yesterday":
            first, last = today - timedelta(days=1), today
        elif text == "this month":
            first, last = today.replace(day=1), today
        elif text == "last month":
            last = today.replace(day=1)
            first = (last - timedelta(days=1)).replace(day=1)
        else:
            raise UsageError(
                f"--for {for_!r} is not a period omc knows",
                hint='use "last N days", "last week", "yesterday", "this month" or "last month", or --start/--end dates',
            )
    if first >= last:
        raise UsageError(f"the period {text} holds no whole day", hint="the start must be before the end (and before today)")
    if (last - first).days > MAX_DAYS:
        raise UsageError(f"the period {text} spans {(last - first).days} days; at most {MAX_DAYS} per report")
    return Period(start=_midnight(first), end=_midnight(last), text=text)


class ActualDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str = Field(description="The day (UTC), YYYY-MM-DD.")
    billed_usd: Decimal = Field(description="What Modal billed the app that day.")
    predicted_usd: Decimal = Field(description="What omc predicts for that day.")
    billed_by_resource: dict[str, Decimal] = Field(description="The bill by resource as Modal names them (CPU, Memory, a GPU...).")
    predicted_by_resource: dict[str, Decimal] = Field(description="The prediction by resource: gpu, cpu, memory.")
    traffic_observed: bool = Field(
        default=False, description="True: predicted on the day's real requests; false: the idle cost (no request history for the day)."
    )
    requests: Optional[int] = Field(default=None, description="Requests the history holds for the day (null: not observed).")


class ActualCost(BaseModel):
    """The JSON of ``omc cost --actual``: a contract, keys are not renamed."""

    model_config = ConfigDict(extra="forbid")

    app: str
    app_id: str
    profile: Optional[str] = Field(description="The profile recorded on the app.")
    start: str = Field(description="First day, ISO 8601 UTC (inclusive).")
    end: str = Field(description="Day after the last, ISO 8601 UTC (exclusive).")
    period: str
    billed_usd: Decimal
    predicted_usd: Decimal
    error_pct: Optional[float] = Field(description="(predicted - billed) / billed x 100; null when nothing was billed.")
    billed_by_resource: dict[str, Decimal]
    traffic_observed: bool = Field(
        description="True: at least one day is predicted on the app's real requests; false: every day is the idle cost "
        "of the warm policy, no requests."
    )
    prediction: str = Field(description="What the prediction rests on.")
    billing_rows: int = Field(description="Report rows attributed to the app.")
    days: list[ActualDay]
    observed_days: int = Field(default=0, description="Days predicted on the real requests (days[].traffic_observed).")
    requests: int = Field(default=0, description="Real requests simulated, over the observed days.")
    observed_error_pct: Optional[float] = Field(
        default=None, description="The error over the observed days only; null when none was observed or nothing billed on them."
    )
    history_from: Optional[str] = Field(
        default=None, description="Oldest time the app's request history covers (ISO 8601 UTC); null when it keeps none."
    )
    unobserved: Optional[str] = Field(default=None, description="Why the other days are not observed (null: every day is).")


def _money(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(CENT)


def deployed_profile(tags: dict[str, str], app: str) -> Any:
    """The profile as it runs: the recorded profile with the deployed model, warm values,
    concurrency (max_inputs, target_inputs), live overrides and GPU switch put back (the local
    file may have changed since the deploy)."""
    from ..config.loader import Origin, resolve
    from ..errors import ConfigError

    ref = T.read(tags, T.PROFILE)
    if not ref:
        raise UsageError(f"app {app!r} was not deployed by omc (it records no profile)", hint="deploy it with `omc deploy --profile NAME`")
    deployed = Origin("flag", "deployed app")
    overrides: dict[tuple[str, ...], tuple[Any, Origin]] = {}
    if model := T.read(tags, T.MODEL):
        overrides[("model", "name")] = (model, deployed)
    for key in T.WARM_KEYS:
        raw = T.read(tags, "omc-" + key.replace("_", "-"))
        if raw is not None:
            overrides[("warm", key)] = (None if raw == "none" else int(raw), deployed)
    for key in ("max_inputs", "target_inputs"):  # the deployed concurrency (the Server's hard cap and target)
        raw = T.read(tags, "omc-" + key.replace("_", "-"))
        if raw is not None and raw != "none":
            overrides[("server", key)] = (int(raw), deployed)
    for key, value in T.live_overrides(tags).items():
        if key in T.WARM_KEYS:
            overrides[("warm", key)] = (value, Origin("flag", "live override"))
        elif key == "target_inputs":
            overrides[("server", key)] = (value, Origin("flag", "live override"))
    if switch := T.gpu_switch(tags):
        first, *fallback = [g.split(":")[0].strip() for g in switch.split(",") if g.strip()]
        overrides[("gpu", "type")] = (first, deployed)
        overrides[("gpu", "fallback")] = (fallback, deployed)
    try:
        return resolve(ref, overrides).profile
    except ConfigError as e:
        if "no profile named" in e.message:
            raise UsageError(
                f"app {app!r} was deployed from profile {ref!r}, which is not found here",
                hint="run from the repository that holds it",
            ) from None
        raise


def _belongs(row: Any, app: str, app_id: str, profile: str | None) -> bool:
    if row.object_id == app_id:
        return True
    tags = row.tags or {}
    return (
        tags.get(T.MANAGED) == "1" and profile is not None and T.read(tags, T.PROFILE) == profile and row.description == app
    )


def predict_days(profile: Any, days: list[date], observed: Any = None, live_rates: dict[str, float] | None = None,
                 observed_days: set[date] | None = None) -> list[dict[str, Decimal]]:
    """Per day: the predicted cost by resource (gpu, cpu, memory). ``observed`` (a
    ``cost.traffic.Traffic``, any ``start``) is cut into days; the days in ``observed_days``
    (default: every day, when ``observed`` is given) are simulated on their requests, the others
    with no requests."""
    import numpy as np

    from ..cost.simulator import simulate
    from ..cost.traffic import Traffic
    from .costplan import prepare

    out = []
    for day in days:
        start = _midnight(day).timestamp()
        if observed is not None and (observed_days is None or day in observed_days):
            traffic = day_traffic(observed, day)
        else:
            traffic = Traffic(np.empty(0), DAY, start)
        inputs = prepare(profile, traffic, live_rates=live_rates)
        r = simulate(traffic, inputs.service, inputs.policy, inputs.machine, inputs.cold_start_s)
        seconds = r.simulated_container_seconds
        m = inputs.machine
        out.append({
            "gpu": _money(seconds * m.gpu_per_second),
            "cpu": _money(seconds * m.cpu_per_second),
            "memory": _money(seconds * m.memory_per_second),
        })
    return out


def day_traffic(observed: Any, day: date) -> Any:
    """The requests of one UTC day of ``observed``, as a day-long Traffic starting at its midnight."""
    from ..cost.traffic import Traffic

    start = _midnight(day).timestamp()
    offset = start - observed.start
    keep = (observed.times >= offset) & (observed.times < offset + DAY)
    tokens = observed.output_tokens[keep] if observed.output_tokens is not None else None
    return Traffic(observed.times[keep] - offset, DAY, start, tokens, observed.source)


class History(BaseModel):
    """What the app's request history gives for a period: the days it covers whole, their
    requests as Traffic, and why the other days are not covered."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    covered: list[date]
    traffic: Any = None
    since: Optional[datetime] = None
    reason: Optional[str] = None


def observed_history(backend: Any, app: str, span: Period, now: datetime | None = None) -> History:
    """The app's real requests on the days of ``span`` its request history covers whole.

    Modal keeps a Server's request history for ``traffic_export.MAX_SPAN``; a day that began
    before that is not covered (part of it is gone). A primitive without a history (export
    refuses with a UsageError) covers no day. A failing fetch is a RemoteError (exit 3)."""
    from . import traffic_export

    now = now or datetime.now(timezone.utc)
    kept = now - traffic_export.MAX_SPAN
    days = span.days
    covered = [d for d in days if _midnight(d) >= kept]
    old = [d for d in days if d not in covered]
    old_reason = (
        f"{_days_text(old)}: older than the {traffic_export.MAX_SPAN.days} days Modal keeps the request history "
        f"(it reaches back to {kept.isoformat(timespec='minutes')})" if old else None
    )
    if not covered:
        return History(covered=[], since=kept, reason=old_reason)
    first = _midnight(covered[0])
    try:
        rows = traffic_export.export(backend, app, first, span.end)
    except UsageError as e:  # no history kept for this primitive
        return History(covered=[], since=None, reason=f"{_days_text(days)}: {e.message}")
    traffic = traffic_export.as_traffic(rows) if rows else None
    return History(covered=covered, traffic=traffic, since=kept, reason=old_reason)


def _days_text(days: list[date]) -> str:
    if not days:
        return ""
    if len(days) == 1:
        return days[0].isoformat()
    return f"{days[0].isoformat()} to {days[-1].isoformat()} ({len(days)} days)"


def _error(predicted: Decimal, billed: Decimal) -> Optional[float]:
    return None if billed == 0 else round(float((predicted - billed) / billed * 100), 1)


def actual_cost(
    backend: Any,
    app: str,
    span: Period,
    *,
    observed: Any = None,
    live_rates: dict[str, float] | None = None,
    history: bool = True,
    now: datetime | None = None,
) -> ActualCost:
    """The bill of ``app`` over ``span`` beside the prediction (see the module docstring).

    ``observed`` (Traffic) is used for every day instead of the app's request history;
    ``history=False`` reads no history (every day is the idle cost)."""
    info = backend.app_info(app)
    if info is None:
        raise NotDeployed(app, backend.environment)
    profile = deployed_profile(info.tags, app)
    recorded = T.read(info.tags, T.PROFILE)
    rows = [r for r in backend.billing_report(span.start, span.end, TAG_COLUMNS) if _belongs(r, app, info.app_id, recorded)]
    days = span.days
    if observed is not None:
        seen = History(covered=list(days), traffic=observed)
    elif history:
        seen = observed_history(backend, app, span, now)
    else:
        seen = History(covered=[], reason=f"{_days_text(days)}: the request history was not read")
    covered = set(seen.covered)
    if seen.traffic is None and covered:  # the history covers these days and holds no request
        seen.traffic = _no_requests(span)
    predicted = predict_days(profile, days, seen.traffic, live_rates, covered)
    counts = {d: int(day_traffic(seen.traffic, d).times.size) for d in covered} if seen.traffic is not None else {}
    billed: dict[date, Decimal] = {d: Decimal(0) for d in days}
    billed_res: dict[date, dict[str, Decimal]] = {d: {} for d in days}
    for r in rows:
        d = r.interval_start.astimezone(timezone.utc).date()
        if d not in billed:  # Modal rounds the start down to its interval; nothing else lies outside
            continue
        billed[d] += r.cost
        for k, v in r.cost_by_resource.items():
            billed_res[d][k] = billed_res[d].get(k, Decimal(0)) + v
    out_days = [
        ActualDay(date=d.isoformat(), billed_usd=billed[d], predicted_usd=sum(p.values(), Decimal(0)),
                  billed_by_resource=dict(sorted(billed_res[d].items())), predicted_by_resource=p,
                  traffic_observed=d in covered, requests=counts.get(d))
        for d, p in zip(days, predicted)
    ]
    total_billed = sum((d.billed_usd for d in out_days), Decimal(0))
    total_predicted = sum((d.predicted_usd for d in out_days), Decimal(0))
    by_resource: dict[str, Decimal] = {}
    for d in out_days:
        for k, v in d.billed_by_resource.items():
            by_resource[k] = by_resource.get(k, Decimal(0)) + v
    obs = [d for d in out_days if d.traffic_observed]
    requests = sum(d.requests or 0 for d in obs)
    idle = (f"{profile.name}'s idle cost: the containers the warm policy keeps up (min_containers, warm windows), "
            "no requests")
    if not obs:
        basis = f"{idle}; no traffic was observed for this period"
    elif len(obs) == len(out_days):
        basis = f"{profile.name} simulated on the observed traffic: {requests:,} requests on {len(obs)} days"
    else:
        basis = (f"{profile.name} simulated on the observed traffic on {len(obs)} of {len(out_days)} days "
                 f"({requests:,} requests); the other days: {idle}")
    return ActualCost(
        app=app, app_id=info.app_id, profile=recorded, start=span.start.isoformat(), end=span.end.isoformat(), period=span.text,
        billed_usd=total_billed, predicted_usd=total_predicted, error_pct=_error(total_predicted, total_billed),
        billed_by_resource=dict(sorted(by_resource.items())),
        traffic_observed=bool(obs), prediction=basis, billing_rows=len(rows), days=out_days,
        observed_days=len(obs), requests=requests,
        observed_error_pct=_error(sum((d.predicted_usd for d in obs), Decimal(0)), sum((d.billed_usd for d in obs), Decimal(0))) if obs else None,
        history_from=seen.since.isoformat(timespec="seconds") if seen.since is not None else None,
        unobserved=None if len(obs) == len(out_days) else seen.reason,
    )


def _no_requests(span: Period) -> Any:
    import numpy as np

    from ..cost.traffic import Traffic

    return Traffic(np.empty(0), (span.end - span.start).total_seconds(), span.start.timestamp())

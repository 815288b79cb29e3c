"""``omc cost --actual``: what Modal billed a deployed app, day by day and by resource, beside
what omc predicts for the same days, and the prediction's error.

The bill comes from Modal's workspace billing report (one row per object and day). A row is
this app's when its object id is the deployed app's (Modal keeps the id across deploys), or,
for an app id omc no longer sees (the app was stopped and deployed anew), when its omc tags
name the same profile and its description the same app name. The prediction simulates the
deployed profile (as recorded on the app's tags, live warm overrides and a GPU switch
included) for each billed day: on the observed traffic when it is given, otherwise with no
requests at all (the idle cost of the warm policy), and the result says so.
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
    traffic_observed: bool = Field(description="False: the prediction is the idle cost of the warm policy, no requests.")
    prediction: str = Field(description="What the prediction rests on.")
    billing_rows: int = Field(description="Report rows attributed to the app.")
    days: list[ActualDay]


def _money(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(CENT)


def deployed_profile(tags: dict[str, str], app: str) -> Any:
    """The profile as it runs: the recorded profile with the deployed model, warm values, live
    overrides and GPU switch put back (the local file may have changed since the deploy)."""
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
    for key, value in T.live_overrides(tags).items():
        if key in T.WARM_KEYS:
            overrides[("warm", key)] = (value, Origin("flag", "live override"))
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


def predict_days(profile: Any, days: list[date], observed: Any = None, live_rates: dict[str, float] | None = None) -> list[dict[str, Decimal]]:
    """Per day: the predicted cost by resource (gpu, cpu, memory). ``observed`` (a
    ``cost.traffic.Traffic`` whose ``start`` is the first day's midnight) is cut into days;
    without it each day has no requests."""
    import numpy as np

    from ..cost.simulator import simulate
    from ..cost.traffic import Traffic
    from .costplan import prepare

    out = []
    for i, day in enumerate(days):
        start = _midnight(day).timestamp()
        if observed is not None:
            offset = start - observed.start
            keep = (observed.times >= offset) & (observed.times < offset + DAY)
            tokens = observed.output_tokens[keep] if observed.output_tokens is not None else None
            traffic = Traffic(observed.times[keep] - offset, DAY, start, tokens, observed.source)
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


def actual_cost(
    backend: Any,
    app: str,
    span: Period,
    *,
    observed: Any = None,
    live_rates: dict[str, float] | None = None,
) -> ActualCost:
    """The bill of ``app`` over ``span`` beside the prediction (see the module docstring)."""
    info = backend.app_info(app)
    if info is None:
        raise NotDeployed(app, backend.environment)
    profile = deployed_profile(info.tags, app)
    recorded = T.read(info.tags, T.PROFILE)
    rows = [r for r in backend.billing_report(span.start, span.end, TAG_COLUMNS) if _belongs(r, app, info.app_id, recorded)]
    days = span.days
    predicted = predict_days(profile, days, observed, live_rates)
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
                  billed_by_resource=dict(sorted(billed_res[d].items())), predicted_by_resource=p)
        for d, p in zip(days, predicted)
    ]
    total_billed = sum((d.billed_usd for d in out_days), Decimal(0))
    total_predicted = sum((d.predicted_usd for d in out_days), Decimal(0))
    by_resource: dict[str, Decimal] = {}
    for d in out_days:
        for k, v in d.billed_by_resource.items():
            by_resource[k] = by_resource.get(k, Decimal(0)) + v
    error = None if total_billed == 0 else round(float((total_predicted - total_billed) / total_billed * 100), 1)
    basis = (
        f"{profile.name} simulated on the observed traffic" if observed is not None
        else f"{profile.name}'s idle cost: no traffic was observed for this period, so the prediction "
             "counts only the containers the warm policy keeps up (min_containers, warm windows)"
    )
    return ActualCost(
        app=app, app_id=info.app_id, profile=recorded, start=span.start.isoformat(), end=span.end.isoformat(), period=span.text,
        billed_usd=total_billed, predicted_usd=total_predicted, error_pct=error, billed_by_resource=dict(sorted(by_resource.items())),
        traffic_observed=observed is not None, prediction=basis, billing_rows=len(rows), days=out_days,
    )

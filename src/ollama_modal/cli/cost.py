"""`omc cost` and `omc recommend`: the bill and the cold starts for a traffic shape, before deploying."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import options as o
from .common import EnvOpt

from ..cost.limits import MAX_DAYS, MAX_RPM, MAX_SECONDS  # upper bounds of the traffic flags, kept with the model

RpmOpt = Annotated[Optional[float], o.number("--rpm", help="Mean requests per minute (Poisson arrivals).", gt=0, le=MAX_RPM)]
PatternOpt = Annotated[
    Optional[str], typer.Option("--pattern", help="Daily shape: business-hours, or 24 comma-separated hourly weights.")
]
TraceOpt = Annotated[Optional[Path], typer.Option("--trace", help="CSV or JSONL of request timestamps (and output_tokens).")]
DaysOpt = Annotated[float, o.number("--days", help="Days of traffic to simulate (the bill is scaled to 30 days).", gt=0, le=MAX_DAYS)]
ServiceOpt = Annotated[
    Optional[float],
    o.number("--service-seconds", help="Seconds per request (default: output tokens / the GPU's decode speed).", ge=0, le=MAX_SECONDS),
]
TokensOpt = Annotated[
    Optional[float], o.number("--output-tokens", help="Output tokens per request when the traffic has none (256).", gt=0, le=1_000_000)
]
ColdOpt = Annotated[Optional[float], o.number("--cold-start-seconds", help="Override the estimated cold start.", ge=0, le=MAX_SECONDS)]
LiveOpt = Annotated[bool, typer.Option("--live-prices", help="Use the workspace's current rates (needs Modal credentials).")]


FromAppOpt = Annotated[
    bool, typer.Option("--from-app", help="Use the deployed app's real requests (a Modal Server's history or a web function's request log, see `omc traffic`) as the trace.")
]
SinceOpt = Annotated[str, typer.Option("--since", help="With --from-app: how far back, e.g. 6h, 2d (at most 7d for a Modal Server, 30d for a web function).")]
AppFromOpt = Annotated[
    Optional[str], typer.Option("--app", help="With --from-app or --actual: the deployed app (default: the omc-managed one).")
]


def _traffic(rpm, pattern, trace, days, from_app: bool = False, app: str | None = None, since: str = "7d", env: str | None = None):
    from ..services.costplan import TrafficSpec, build_traffic

    if from_app:
        return _app_traffic(rpm, pattern, trace, app, since, env)
    spec = TrafficSpec(rpm=rpm, pattern=pattern, trace=trace, days=days)
    return build_traffic(spec), spec.describe()


def _app_traffic(rpm, pattern, trace, app, since, env):
    """The deployed app's requests of the last ``since``, read as a trace (`omc traffic`)."""
    from ..errors import UsageError
    from ..services.apps import pick_app
    from ..services.traffic_export import as_traffic, export, parse_since, window
    from .common import backend

    if rpm is not None or pattern or trace is not None:
        raise UsageError("--from-app replaces --rpm, --pattern and --trace; give one or the other")
    start, end = window(parse_since(since))
    be = backend(env)
    name = pick_app(be, app)
    rows = export(be, name, start, end)
    if not rows:
        raise UsageError(f"app {name!r} answered no requests in the last {since}", hint="try a longer --since, or --rpm N")
    return as_traffic(rows), f"{len(rows)} requests {name} answered in the last {since}"


def _progress(status, message: str):
    """Day-by-day progress on the terminal's spinner line (None off a terminal: nothing shown)."""
    if status is None:
        return None
    return lambda t: status.update(f"{message}: day {t / 86400:,.0f}")


def _live(live: bool, env: str | None):
    if not live:
        return None
    from ..services.costplan import normalise_live_rates
    from .common import backend

    return normalise_live_rates(backend(env).billing_rates())


def cost_cmd(
    compare: Annotated[Optional[list[str]], typer.Argument(help="With --compare: more profiles to put side by side.")] = None,
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile to cost.", envvar="OMC_PROFILE")] = "a10g-balanced",
    compare_flag: Annotated[bool, typer.Option("--compare", help="Compare --profile with the profiles given as arguments.")] = False,
    rpm: RpmOpt = None,
    pattern: PatternOpt = None,
    trace: TraceOpt = None,
    days: DaysOpt = 7.0,
    service_seconds: ServiceOpt = None,
    output_tokens: TokensOpt = None,
    cold_start_seconds: ColdOpt = None,
    live_prices: LiveOpt = False,
    from_app: FromAppOpt = False,
    app: AppFromOpt = None,
    since: SinceOpt = "7d",
    plot: Annotated[
        Optional[Path],
        typer.Option("--plot", help="Write a PNG of cost and cold-start share against scaledown_window (with --actual: "
                     "predicted against billed cost per day)."),
    ] = None,
    actual: Annotated[
        bool,
        typer.Option("--actual", help="What Modal billed the deployed app, by day and resource, beside omc's prediction for the "
                     "same days (on the app's real requests where its request history covers the day, else the idle "
                     "cost) and its error (needs billing-report access: a Team or Enterprise plan)."),
    ] = False,
    for_: Annotated[
        Optional[str],
        typer.Option("--for", help='With --actual: "last N days" (default: last 7 days), "last week", "yesterday", '
                     '"this month" or "last month" (whole UTC days).'),
    ] = None,
    start: Annotated[Optional[str], typer.Option("--start", help="With --actual: first day, YYYY-MM-DD (UTC).")] = None,
    end: Annotated[Optional[str], typer.Option("--end", help="With --actual: day after the last, YYYY-MM-DD (UTC; default today).")] = None,
    client_retry: Annotated[
        bool,
        typer.Option(
            "--client-retry/--no-client-retry",
            help="Profiles served as a Modal Server answer 503 while no container is up: assume clients retry "
            "(served late) or not (failed).",
        ),
    ] = True,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """Monthly cost (GPU, CPU, memory), billed container-seconds, cold-start share and latency for a traffic shape."""
    from ..config import resolve
    from ..errors import UsageError
    from ..services.costplan import cost_for
    from .output import info, print_json, table, usd, warn, working

    if actual:
        if compare or compare_flag or rpm is not None or pattern or trace is not None or from_app:
            raise UsageError("--actual costs the deployed app on the days Modal billed (on its request history where Modal "
                             "keeps one): it takes no --compare, --rpm, --pattern, --trace or --from-app",
                             hint="omc cost --actual [--for \"last month\" | --start DAY --end DAY] [--app NAME]")
        return _actual_cmd(app, env, for_, start, end, plot, live_prices, json_)
    if for_ is not None or start is not None or end is not None:
        raise UsageError("--for, --start and --end go with --actual", hint="omc cost --actual --for \"last month\"")
    if compare and not compare_flag:
        raise UsageError(f"unexpected arguments {compare}", hint="to compare profiles: omc cost --profile A --compare B C")
    if plot is not None:
        from ..safeio import check_output_file

        check_output_file(plot, flag="--plot")
    names = [profile, *(compare or [])]
    from ..cost.alloc import reuse_big_allocations

    reuse_big_allocations()
    traffic, text = _traffic(rpm, pattern, trace, days, from_app, app, since, env)
    live = _live(live_prices, env)
    reports = []
    for name in names:
        r = resolve(name)
        for w in r.warnings:
            warn(w)
        with working(f"simulating {name} on {text}") as status:
            reports.append(
                cost_for(r.profile, traffic, traffic_text=text, service_seconds=service_seconds, output_tokens=output_tokens,
                         progress=_progress(status, f"simulating {name} on {text}"),
                         cold_start_seconds=cold_start_seconds, live_rates=live, client_retry=client_retry)
            )
    if plot is not None:
        from ..services.costplan import plot as plot_sweep

        from ..safeio import write_problem

        with working(f"simulating scaledown windows for {plot}"):
            try:
                plot_sweep(resolve(profile).profile, traffic, plot, title=f"{profile}: {text}", service_seconds=service_seconds,
                           output_tokens=output_tokens, cold_start_seconds=cold_start_seconds, live_rates=live)
            except OSError as e:
                raise write_problem("--plot", plot, e) from None
        info(f"wrote {plot}")
    if json_:
        print_json(reports[0].to_json() if len(reports) == 1 else [r.to_json() for r in reports])
        return
    rows = []
    for rep in reports:
        d = rep.result
        rows.append([
            rep.profile, usd(d.monthly_cost_usd), usd(d.gpu_cost_usd), f"{d.container_seconds / 3600:,.0f} h",
            f"{100 * d.cold_start_fraction:.1f}%", f"{d.latency_s['p50']:.1f} s", f"{d.latency_s['p95']:.1f} s",
            f"{d.latency_s['p99']:.1f} s", f"{100 * d.idle_fraction:.0f}%", f"{d.cold_start_s:.0f} s",
        ])
    table(["profile", "$/month", "GPU $", "billed/month", "cold starts", "p50", "p95", "p99", "idle share", "cold start"], rows)
    info(f"traffic: {text}; {reports[0].rates.source}; latency includes cold-start waits and queueing")
    for rep in reports:
        u = rep.unavailable
        if u is not None and u.rejected_requests:
            share = f"{u.rejected_requests} requests ({100 * u.rejected_requests / max(1, u.total_requests):.2f}%)"
            cap = resolve(rep.profile).profile.server.max_inputs
            if u.client_retry:
                info(f"{rep.profile} serves as a Modal Server: {share} arrive while every ready container runs its "
                     f"max_inputs ({cap}) and get 429 (a Server does not queue); retried, they are served about when "
                     "the latency above says")
            else:
                warn(f"{rep.profile} serves as a Modal Server: {share} arrive while every ready container runs its "
                     f"max_inputs ({cap}) and fail with 429 (a Server does not queue; clients that do not retry); raise "
                     "server.max_inputs, set server.target_inputs below it, or keep more containers up")
        if u is None or not u.requests:
            continue
        share = f"{u.requests} requests ({100 * u.fraction:.2f}%)"
        if u.client_retry:
            waits = u.retry_wait_s
            info(f"{rep.profile} serves as a Modal Server: {share} arrive while no container is up and get 503; "
                 f"retried every {u.retry_interval_s:g} s they are served after p50 {waits['p50']:.0f} s, "
                 f"max {waits['max']:.0f} s (latency above is the web function's hold, which a retrying client matches)")
        else:
            warn(f"{rep.profile} serves as a Modal Server: {share} arrive while no container is up and fail with 503 "
                 "(clients that do not retry); keep min_containers >= 1 or use server.primitive = \"function\"")


def _actual_cmd(app, env, for_, start, end, plot, live_prices, json_) -> None:
    from ..services.actual import actual_cost, period
    from ..services.apps import pick_app
    from .common import backend
    from .output import info, print_json, table, warn

    span = period(for_, start, end)  # bad input: exit 2 before anything is sent
    if plot is not None:
        from ..safeio import check_output_file

        check_output_file(plot, flag="--plot")
    be = backend(env)
    live = _live(live_prices, env)
    rep = actual_cost(be, pick_app(be, app), span, live_rates=live)
    if plot is not None:
        from ..cost.plot import plot_actual
        from ..safeio import write_problem

        try:
            plot_actual([d.date for d in rep.days], [float(d.predicted_usd) for d in rep.days], [float(d.billed_usd) for d in rep.days],
                        plot, title=f"{rep.app} ({rep.profile}): predicted vs billed, {span.text}")
        except OSError as e:
            raise write_problem("--plot", plot, e) from None
        info(f"wrote {plot}")
    if json_:
        print_json(rep.model_dump(mode="json"))
        return
    def basis(d) -> str:  # noqa: ANN001 - an ActualDay
        return f"observed: {_n(d.requests, 'request')}" if d.traffic_observed else "idle cost *"

    rows = [[d.date, f"${d.billed_usd:,.2f}", f"${d.predicted_usd:,.2f}", basis(d),
             ", ".join(f"{k} ${v:,.2f}" for k, v in d.billed_by_resource.items()) or "-"] for d in rep.days]
    rows.append(["total", f"${rep.billed_usd:,.2f}", f"${rep.predicted_usd:,.2f}",
                 f"{rep.observed_days} of {len(rep.days)} days observed",
                 ", ".join(f"{k} ${v:,.2f}" for k, v in rep.billed_by_resource.items()) or "-"])
    table(["day (UTC)", "billed", "predicted", "predicted on", "billed by resource"], rows, title=f"{rep.app}: {span.text}",
          optional=["billed by resource"])
    error = "n/a (nothing billed)" if rep.error_pct is None else f"{rep.error_pct:+.1f}%"
    info(f"prediction error: {error}; {rep.billing_rows} billing rows of app {rep.app} ({rep.app_id})")
    if rep.observed_days:
        obs_error = "n/a (nothing billed on them)" if rep.observed_error_pct is None else f"{rep.observed_error_pct:+.1f}%"
        info(f"predicted from real traffic: {_n(rep.observed_days, 'day')}, {_n(rep.requests, 'request')} from the app's request "
             f"history; error on those days: {obs_error}")
    if rep.unobserved:
        warn(f"* idle cost only (no requests simulated) on {rep.unobserved}")
    if rep.traffic_observed:
        info(f"prediction: {rep.prediction}")
    else:
        warn(f"prediction: {rep.prediction}")


def _n(count: int | None, noun: str) -> str:
    return f"{count or 0:,} {noun}{'' if count == 1 else 's'}"


def recommend_cmd(
    p95_latency_s: Annotated[
        float, o.number("--p95-latency-s", help="Latency goal: p95 seconds per request, cold starts included.", gt=0, le=MAX_SECONDS)
    ],
    budget_usd: Annotated[
        Optional[float], o.number("--budget-usd", help="Monthly budget; settings above it are rejected.", ge=0, le=1e12)
    ] = None,
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile whose model and server settings to keep.", envvar="OMC_PROFILE")] = "a10g-balanced",
    rpm: RpmOpt = None,
    pattern: PatternOpt = None,
    trace: TraceOpt = None,
    days: DaysOpt = 7.0,
    service_seconds: ServiceOpt = None,
    output_tokens: TokensOpt = None,
    write: Annotated[Optional[str], typer.Option("--write", help="Save the choice as a new profile NAME in ./profiles.")] = None,
    from_app: FromAppOpt = False,
    app: AppFromOpt = None,
    since: SinceOpt = "7d",
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """The cheapest GPU x scaledown_window x min_containers (x the profile's schedule) meeting a p95 latency goal."""
    from ..config import resolve
    from ..config.fit import check_fit
    from ..config.loader import Origin
    from ..cost.recommend import explain, recommend
    from ..cost.service import ServiceModel
    from ..errors import CheckFailed, UsageError
    from ..pricing import rates_for
    from ..services.costplan import model_bytes
    from .output import info, print_json, table, usd, working

    base = resolve(profile).profile
    from ..cost.alloc import reuse_big_allocations

    reuse_big_allocations()
    traffic, text = _traffic(rpm, pattern, trace, days, from_app, app, since, env)
    if not hasattr(traffic, "times"):
        raise UsageError(f"recommend searches traffic held in memory; {text} is too long for that",
                         hint="use fewer --days or a lower --rpm (at most ~4 million requests), or omc cost for the long span")

    def fits(gpu) -> bool:
        try:
            candidate = resolve(profile, {("gpu", "type"): (gpu.name, Origin("flag", "recommend")), ("gpu", "fallback"): ([], Origin("flag"))}).profile
        except Exception:  # noqa: BLE001 - a misfit is simply not a candidate
            return False
        return not check_fit(candidate)[0]

    schedules = {"none": ()}
    if base.warm.schedule:
        from ..cost.schedule import WarmWindow

        schedules["profile"] = tuple(WarmWindow(tuple(w.days), w.start, w.end, w.timezone, w.min_containers) for w in base.warm.schedule)
    svc = ServiceModel(service_seconds=service_seconds, **({"output_tokens": output_tokens} if output_tokens is not None else {}))
    with working(f"searching GPU x scaledown_window x min_containers on {text}"):
        rec = recommend(
            traffic, model_bytes=model_bytes(base), p95_goal_s=p95_latency_s, fits=fits, concurrency=base.server.max_inputs,
            schedules=schedules, budget_usd=budget_usd, service=svc, gpu_count=base.gpu.count,
            rates=lambda g: rates_for(base.model_copy(update={"gpu": base.gpu.model_copy(update={"type": g.name})})),
            max_containers=base.warm.max_containers, buffer_containers=base.warm.buffer_containers,
        )
    if json_:
        print_json({**rec.to_dict(), "traffic": text})
    else:
        table(
            ["gpu", "scaledown", "min", "schedule", "$/month", "p95", "cold starts", "meets goal"],
            [[c.gpu, f"{c.scaledown_window} s", c.min_containers, c.schedule, usd(c.monthly_cost_usd), f"{c.latency_p95_s:.1f} s",
              f"{100 * c.cold_start_fraction:.1f}%", "yes" if c.ok else "no"] for c in rec.candidates[:10]],
        )
        info(explain(rec, traffic))
    if rec.choice is None:
        raise CheckFailed("no setting meets the latency goal" + (" within the budget" if budget_usd is not None else ""))
    if write:
        from ..config.newprofile import create_profile

        c = rec.choice
        changes = {
            ("gpu", "type"): (c.gpu, Origin("flag")),
            ("warm", "scaledown_window"): (c.scaledown_window, Origin("flag")),
            ("warm", "min_containers"): (c.min_containers, Origin("flag")),
        }
        path = create_profile(write, base=profile, description=f"recommended for {text}, p95 <= {p95_latency_s:g} s",
                              directory=None, force=False, changes=changes)
        info(f"wrote {path}")

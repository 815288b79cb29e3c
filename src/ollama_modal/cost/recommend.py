"""Find the cheapest GPU tier and warm-keeping setting that meets a p95 latency goal.

Search space: GPU tiers the model fits x scaledown windows x min_containers x (optionally)
schedules. Branch and bound keeps it fast: every candidate gets a cheap lower bound on its
bill, candidates are simulated cheapest-bound first, and the search stops once the best
setting found so far costs no more than the next bound. Arrivals are generated once and
shared; per GPU the service times and the no-wait concurrency are computed once.

The bound for a candidate (billed container-seconds) is the largest of:
* min_containers x span (always up);
* total service seconds / concurrency (a container serves at most that many at once);
* the length of the union of [a_i, a_i + s_min + W]: the container serving request i is up
  from its arrival until at least W after it finishes.

Busy traffic (several containers at once) sends most candidates through the per-request event
loop, so a long span is searched in two stages: every candidate is first simulated on a few
short stretches of the span (screen.py) and kept only if its share of requests slower than
the goal there is near 5% or below and its cost near the cheapest one clearly meeting the
goal there (margins from the sample's size: screen_margins); the survivors are then simulated on the whole span, cheapest on the
sample first, with the same bounds, and the choice is made on those exact full-span results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from .. import catalog
from ..pricing import Rates
from .bounds import NoWaitBilling
from .coldstart import estimate_cold_start
from .schedule import WarmWindow
from .screen import Stretch, stretches
from .service import ServiceModel, service_times
from .simulator import Machine, Policy, SimResult, min_changes, price, usage_with
from .traffic import Traffic
from .usage import GiveUp, PoolSettings

DEFAULT_WINDOWS = (2, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600)
DEFAULT_MIN_CONTAINERS = (0, 1, 2)
#: Traffic above 2x this many requests is screened on stretches holding about this many.
SCREEN_REQUESTS = 30_000
#: The no-wait bound is summed in another order than a simulation's bill: scaled down by this
#: so that a rounding error never makes it exceed the bill it bounds.
_ROUNDING = 1 - 1e-9


def screen_margins(requests: int, concurrency: int) -> tuple[float, float]:
    """(slow-share margin in points, relative cost margin) for a sample of ``requests``.

    Requests come in clumps (up to max_inputs wait for one cold start), so the sample counts
    as requests / max_inputs independent ones, n_eff. A candidate survives with at most
    5% + 4 standard errors of a 5% share (at least half a point) of its requests slower than
    the goal; it clearly meets the goal with at most 5% minus that. Its cost may be up to
    2 / sqrt(n_eff) (at least 1%) above the cheapest clearly meeting it: about two relative
    standard errors of the sample's load, which every candidate shares.
    """
    n_eff = max(1.0, requests / max(1, concurrency))
    return max(0.005, 4 * math.sqrt(0.05 * 0.95 / n_eff)), max(0.01, 2 / math.sqrt(n_eff))


@dataclass(frozen=True)
class Candidate:
    gpu: str
    scaledown_window: int
    min_containers: int
    schedule: str  # "none" or the name the caller gave a schedule
    monthly_cost_usd: float
    latency_p95_s: float
    cold_start_fraction: float
    idle_fraction: float
    meets_goal: bool
    within_budget: bool
    cold_start_s: float
    method: str

    @property
    def ok(self) -> bool:
        return self.meets_goal and self.within_budget

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recommendation:
    choice: Candidate | None
    candidates: list[Candidate]  # simulated ones, ranked: acceptable by cost, then the rest by p95
    explanation: str
    p95_goal_s: float
    budget_usd: float | None
    evaluated: int
    pruned: int
    lowest_bound_usd: float = 0.0  # the smallest lower bound of any candidate, monthly
    stopped_early: int = 0  # simulations stopped once they could no longer win (cost or p95)
    stopped_for_cost: int = 0  # ...of which because they cost more than the best so far or the budget
    results: dict[tuple[str, int, int, str], SimResult] = field(default_factory=dict, repr=False)
    screened: int = 0  # candidates simulated on the sample stretches (0: no screening, one stage)
    screened_out: int = 0  # ...of which discarded there (clearly dearer or slower), counted in `pruned`

    def to_dict(self) -> dict[str, Any]:
        return {
            "choice": self.choice.to_dict() if self.choice else None,
            "candidates": [c.to_dict() for c in self.candidates],
            "explanation": self.explanation,
            "p95_goal_s": self.p95_goal_s,
            "budget_usd": self.budget_usd,
            "evaluated": self.evaluated,
            "pruned": self.pruned,
            "lowest_bound_usd": self.lowest_bound_usd,
            "stopped_early": self.stopped_early,
            "stopped_for_cost": self.stopped_for_cost,
            "screened": self.screened,
            "screened_out": self.screened_out,
        }


class _UnionOfFixedIntervals:
    """|union of [a_i, a_i + L]| inside [0, span] for any L >= ``shortest``, in O(log n).

    The union is ``sum(min(gap, L)) + min(L, tail)`` over the gaps between arrivals; gaps no
    longer than ``shortest`` count whole for every L asked, so only the longer ones are kept
    and sorted (on busy traffic a small share of them)."""

    def __init__(self, a: np.ndarray, span: float, shortest: float = 0.0) -> None:
        gaps = np.diff(a)
        long_ = gaps > shortest
        self.shortest = shortest
        self.whole = float(gaps.sum(where=~long_))  # the short gaps, counted whole
        self.gaps = np.sort(gaps[long_])
        del gaps, long_
        self.cum = np.concatenate(([0.0], np.cumsum(self.gaps)))
        self.tail = span - float(a[-1]) if a.size else 0.0
        self.n = a.size

    def __call__(self, length: float) -> float:
        if self.n == 0:
            return 0.0
        if length < self.shortest:
            raise ValueError("the union is kept for lengths of at least `shortest` only")
        k = int(np.searchsorted(self.gaps, length, side="left"))  # gaps shorter than L count whole
        return float(self.whole + self.cum[k] + length * (self.gaps.size - k) + min(length, self.tail))


@dataclass
class _Gpu:
    """A GPU tier of the search. Its service times (one number per request) are made when a
    simulation needs them and only the last GPU's are kept: nine tiers' arrays of a busy
    month would be ~190 MB."""

    model: catalog.GpuModel
    make_service: Callable[[], np.ndarray]
    machine: Machine
    cold_start: float
    arrivals: np.ndarray
    service_total: float = 0.0
    service_min: float = 0.0
    service_max: float = 0.0

    _last: ClassVar[list[Any]] = [None, None]  # (tier, service times) of the last one used
    _slow: dict[float, int] = field(default_factory=dict)

    def slow_service(self, goal: float) -> int:
        """How many requests' service time alone is longer than ``goal``."""
        if goal not in self._slow:
            self._slow[goal] = int(np.count_nonzero(self.service > goal))
        return self._slow[goal]

    @property
    def service(self) -> np.ndarray:
        if _Gpu._last[0] is not self:
            _Gpu._last[:] = [None, None]  # free the previous array before making the next
            _Gpu._last[:] = [self, self.make_service()]
        return _Gpu._last[1]


def _rates_for(rates: Callable[[catalog.GpuModel], Rates] | Mapping[str, Rates] | None, gpu: catalog.GpuModel) -> Rates:
    if rates is None:
        return Rates(gpu_per_second=gpu.price_per_second)
    if callable(rates):
        return rates(gpu)
    return rates.get(gpu.name) or Rates(gpu_per_second=gpu.price_per_second)


def recommend(
    traffic: Traffic,
    *,
    model_bytes: float,
    p95_goal_s: float,
    fits: Callable[[catalog.GpuModel], bool] = lambda g: True,
    gpus: Iterable[str] | None = None,
    concurrency: int = 4,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    min_containers: Sequence[int] = DEFAULT_MIN_CONTAINERS,
    schedules: Mapping[str, Sequence[WarmWindow]] | None = None,
    budget_usd: float | None = None,
    service: ServiceModel = ServiceModel(),
    rates: Callable[[catalog.GpuModel], Rates] | Mapping[str, Rates] | None = None,
    cold_start: Callable[[catalog.GpuModel], float] | None = None,
    gpu_count: int = 1,
    max_containers: int | None = None,
    buffer_containers: int = 0,
    screen_requests: int | None = SCREEN_REQUESTS,
) -> Recommendation:
    """Cheapest (GPU, scaledown_window, min_containers, schedule) with p95 <= goal (and <= budget).

    ``schedules`` maps a name to warm windows, e.g. ``{"none": (), "profile": windows}``;
    by default no schedule is tried. ``cold_start`` returns seconds for a GPU (default: the
    estimate in coldstart.py with the weights on a Volume). Traffic of more than 2 x
    ``screen_requests`` requests is screened on stretches first (None: never screen).
    """
    if p95_goal_s <= 0:
        raise ValueError("the p95 goal must be positive")
    schedules = dict(schedules) if schedules else {"none": ()}
    names = list(gpus) if gpus is not None else list(catalog.GPUS)
    a, span = traffic.times, traffic.span
    scale = catalog.SECONDS_PER_MONTH / span

    tiers: list[_Gpu] = []
    for name in names:
        g = catalog.lookup_gpu(name)
        if g is None or not fits(g):
            continue
        def make(g: catalog.GpuModel = g) -> np.ndarray:
            return service_times(service, traffic.requests, g, model_bytes, gpu_count=gpu_count, output_tokens=traffic.output_tokens)

        cs = cold_start(g) if cold_start else estimate_cold_start(g, model_bytes, gpu_count=gpu_count).total_s
        tier = _Gpu(model=g, make_service=make, machine=Machine(_rates_for(rates, g), gpu_count), cold_start=cs, arrivals=a)
        svc = tier.service
        if svc.size:
            tier.service_total, tier.service_min, tier.service_max = float(svc.sum()), float(svc.min()), float(svc.max())
        tiers.append(tier)
    if not tiers:
        raise ValueError("no GPU tier fits the model; pick a smaller model or quantisation")
    if traffic.open_end and traffic.requests:
        # One span for every candidate: long enough to bill the last burst through the longest
        # window and cold start of the search.
        slowest = max(tiers, key=lambda g: g.service_max + g.cold_start)
        traffic = traffic.with_tail(slowest.service, max(windows), slowest.cold_start)
        a, span = traffic.times, traffic.span
        scale = catalog.SECONDS_PER_MONTH / span

    union = _UnionOfFixedIntervals(a, span, min(t.service_min for t in tiers) + min(windows, default=0))
    changes = {
        (sname, m): min_changes(Policy(scaledown_window=2, min_containers=m, schedule=tuple(wins)), traffic)
        for sname, wins in schedules.items() for m in min_containers
    }
    queue = []
    for t in tiers:
        service_total, service_min = t.service_total, t.service_min
        for sname in schedules:
            for m in min_containers:
                for w in windows:
                    bound = max(m * span, service_total / concurrency, union(service_min + w))
                    queue.append((bound * scale * t.machine.per_second, t.model.name, w, m, sname, t))
    queue.sort(key=lambda q: q[:5])

    def settings_for(t: _Gpu, w: int, m: int, sname: str, floor: Sequence[tuple[float, int]]) -> PoolSettings:
        """A candidate's settings on a span whose floor (min_containers and the schedule) is ``floor``."""
        policy = Policy(scaledown_window=w, concurrency=concurrency, min_containers=m, max_containers=max_containers,
                        buffer_containers=buffer_containers, schedule=tuple(schedules[sname]))
        return policy.pool_settings(t.cold_start, floor)

    sample = stretches(traffic, screen_requests) if screen_requests else None
    order, screened = queue, 0
    if sample is not None and sum(st.traffic.requests for st in sample) > 0:
        order, screened = _screen(queue, sample, schedules, min_containers, settings_for, p95_goal_s, budget_usd, concurrency)

    best: float = math.inf
    n = traffic.requests
    # p95 (linear interpolation) is above the goal once n - floor(0.95 (n - 1)) requests are.
    slow_cap = n - math.floor(0.95 * (n - 1)) if n else 1 << 62
    # Give up only on requests clearly slower than the goal: the fast path adds a wait and a
    # service time in another order than the final latencies, so a latency equal to the goal
    # (a p95 right at it) can differ by a rounding error. Giving up later is always safe.
    slow_at = p95_goal_s * (1 + 1e-9)
    stopped = stopped_cost = 0
    evaluated: list[Candidate] = []
    results: dict[tuple[str, int, int, str], SimResult] = {}
    tried: set[int] = set()

    def search(entries: Iterable[tuple[Any, ...]]) -> None:
        for entry in entries:
            if id(entry) in tried:
                continue
            tried.add(id(entry))
            consider(*entry)

    nowait: dict[str, NoWaitBilling] = {}

    def no_wait_bound(t: _Gpu, settings: PoolSettings) -> float:
        """Monthly $ the no-wait pool bills (bounds.py): a lower bound, for a constant floor."""
        if settings.constant_floor is None:
            return 0.0
        if t.model.name not in nowait:  # once per GPU, and only for GPUs whose candidates get this far
            nowait[t.model.name] = NoWaitBilling(a, t.service, span, settings.target, buffer_containers, max_containers)
        return (nowait[t.model.name].bill(settings) or 0.0) * _ROUNDING * scale * t.machine.per_second

    def consider(bound: float, _: str, w: int, m: int, sname: str, t: _Gpu) -> None:
        nonlocal best, stopped, stopped_cost
        if bound >= best or (budget_usd is not None and bound > budget_usd):
            return  # its bound already loses to the best full-span result or the budget
        if t.slow_service(slow_at) >= slow_cap:
            stopped += 1  # a latency is at least the service time: too slow whatever the setting
            return
        settings = settings_for(t, w, m, sname, changes[(sname, m)])
        if best < math.inf or budget_usd is not None:  # a closer bound, worth computing once something can be pruned
            bound = no_wait_bound(t, settings)
            if bound >= best or (budget_usd is not None and bound > budget_usd):
                return
        cap = min(best, budget_usd if budget_usd is not None else math.inf) / (scale * t.machine.per_second)
        usage = usage_with(traffic, t.service, settings.stopping(GiveUp(cap, slow_at, slow_cap)))
        if usage.gave_up:
            stopped += 1  # too slow, or dearer than the best so far / the budget: cannot be the answer
            stopped_cost += usage.gave_up == "cost"
            return
        res = price(usage, span, t.machine, traffic.requests, t.cold_start)
        results[(t.model.name, w, m, sname)] = res
        cand = Candidate(
            gpu=t.model.name, scaledown_window=w, min_containers=m, schedule=sname,
            monthly_cost_usd=res.monthly_cost_usd, latency_p95_s=res.latency_s["p95"],
            cold_start_fraction=res.cold_start_fraction, idle_fraction=res.idle_fraction,
            meets_goal=res.latency_s["p95"] <= p95_goal_s,
            within_budget=budget_usd is None or res.monthly_cost_usd <= budget_usd,
            cold_start_s=t.cold_start, method=res.method,
        )
        evaluated.append(cand)
        if cand.ok:
            best = min(best, cand.monthly_cost_usd)

    search(order)
    if screened and not any(c.ok for c in evaluated):
        # Nothing the screen kept works on the whole span: fall back to the one-stage search of
        # the rest, so a screen can never turn an answer into "no setting".
        search(queue)

    ranked = sorted(evaluated, key=lambda c: (not c.ok, c.monthly_cost_usd if c.ok else c.latency_p95_s, c.monthly_cost_usd))
    choice = ranked[0] if ranked and ranked[0].ok else None
    rec = Recommendation(choice, ranked, "", p95_goal_s, budget_usd, len(evaluated) + stopped,
                         len(queue) - len(evaluated) - stopped, queue[0][0] if queue else 0.0, stopped, stopped_cost, results,
                         screened=screened, screened_out=screened - len(order) if screened else 0)
    rec.explanation = explain(rec, traffic)
    return rec


def _screen(
    queue: list[tuple[Any, ...]], sample: list[Stretch], schedules: Mapping[str, Sequence[WarmWindow]],
    min_containers: Sequence[int], settings_for: Callable[..., PoolSettings], goal: float, budget: float | None,
    concurrency: int,
) -> tuple[list[tuple[Any, ...]], int]:
    """First stage: simulate candidates (bound order) on the stretches; return the survivors,
    cheapest on the sample first, and how many were simulated."""
    n = sum(st.traffic.requests for st in sample)
    scale = catalog.SECONDS_PER_MONTH / sum(st.traffic.span for st in sample)
    slow_margin, cost_margin = screen_margins(n, concurrency)
    slow_cap = math.floor((0.05 + slow_margin) * n) + 1  # this many slower than the goal: screened out
    # Stretches shift the times, so a latency equal to the goal on the whole span (a cold start
    # plus a service time) can come out a rounding error above it here.
    slow_at = goal * (1 + 1e-9)
    changes = {(sname, m, j): min_changes(Policy(scaledown_window=2, min_containers=m, schedule=tuple(wins)), st.traffic)
               for sname, wins in schedules.items() for m in min_containers for j, st in enumerate(sample)}
    per_gpu: dict[str, list[np.ndarray]] = {}
    nowait: dict[str, list[NoWaitBilling]] = {}  # per GPU and stretch
    slow_service: dict[str, int] = {}  # per GPU: sample requests whose service time alone is slower than the goal
    best = math.inf  # cheapest sample cost among candidates meeting the goal (and budget) there
    kept: list[tuple[float, tuple[Any, ...]]] = []
    simulated = 0
    for entry in queue:
        bound, _, w, m, sname, t = entry
        if budget is not None and bound > budget:
            break  # sorted by bound: exact, as in the one-stage search
        limit = min(best, budget if budget is not None else math.inf) * (1 + cost_margin)
        if bound > limit:
            break  # a lower bound on its full-span cost is already clearly above the sample's best
        on = [settings_for(t, w, m, sname, changes[(sname, m, j)]) for j in range(len(sample))]  # per stretch
        if t.model.name not in per_gpu:
            per_gpu[t.model.name] = [t.service[st.lo:st.hi].copy() for st in sample]  # copies: the month's array goes
            slow_service[t.model.name] = sum(int(np.count_nonzero(svc > slow_at)) for svc in per_gpu[t.model.name])
            nowait[t.model.name] = [NoWaitBilling(st.traffic.times, svc, st.traffic.span, on[0].target, on[0].buffer_containers,
                                                  on[0].max_containers) for st, svc in zip(sample, per_gpu[t.model.name])]
        cap = limit / (scale * t.machine.per_second)
        simulated += 1
        if slow_service[t.model.name] >= slow_cap:
            continue  # a latency is at least the service time: too many are slower than the goal anyway
        bills = [nw.bill(c) for nw, c in zip(nowait[t.model.name], on)]
        if all(b is not None for b in bills) and sum(bills) * _ROUNDING > cap:  # type: ignore[arg-type]
            continue  # the no-wait pool already bills more on the sample: it would give up on cost
        billed, slow, gave_up = 0.0, 0, False
        for st, svc, c in zip(sample, per_gpu[t.model.name], on):
            usage = usage_with(st.traffic, svc, c.stopping(GiveUp(cap - billed, slow_at, slow_cap - slow)))
            if usage.gave_up:
                gave_up = True  # clearly dearer or slower on the sample
                break
            billed += usage.container_seconds
            slow += int(np.count_nonzero(usage.latencies > slow_at))
        if gave_up:
            continue
        cost = billed * scale * t.machine.per_second
        if slow <= (0.05 - slow_margin) * n and (budget is None or cost <= budget):
            best = min(best, cost)  # clearly meets the goal: the reference for "clearly dearer"
        if slow < slow_cap:
            kept.append((cost, entry))
    limit = min(best, budget if budget is not None else math.inf) * (1 + cost_margin)
    survivors = sorted((c, e) for c, e in kept if c <= limit)
    return [e for _, e in survivors], simulated


def explain(rec: Recommendation, traffic: Traffic) -> str:
    days = traffic.span / 86400
    goal = f"p95 latency <= {rec.p95_goal_s:g} s"
    budget = f"${rec.budget_usd:,.2f}/month" if rec.budget_usd is not None else ""
    early = (f" ({rec.stopped_early} of them stopped early, once they were too slow or dearer than a better one)"
             if rec.stopped_early else "")
    settings = "setting" if rec.evaluated == 1 else "settings"
    searched = (f"{rec.evaluated} {settings} simulated over {days:.1f} days of traffic ({traffic.mean_rpm:.1f} requests/min)"
                f"{early}; {rec.pruned} more ruled out because a lower bound on their cost was already higher"
                + (" or over the budget" if budget else ""))
    if rec.screened:
        searched += (f" ({rec.screened_out} of them after a screen of {rec.screened} settings on stretches of the traffic "
                     f"found them clearly dearer or slower)")
    c = rec.choice
    if c is not None:
        sched = "" if c.schedule == "none" else f" with the {c.schedule} warm schedule"
        text = (f"{c.gpu} with scaledown_window {c.scaledown_window} s and min_containers {c.min_containers}{sched} is the "
                f"cheapest setting that meets {goal}: ${c.monthly_cost_usd:,.2f}/month, p95 {c.latency_p95_s:.1f} s, "
                f"{c.cold_start_fraction:.1%} of requests wait for a cold start (~{c.cold_start_s:.0f} s each) and "
                f"{c.idle_fraction:.0%} of the bill is idle time. {searched}.")
        runner_up = next((x for x in rec.candidates[1:] if x.ok and x.gpu != c.gpu), None)
        if runner_up:
            text += (f" The cheapest simulated setting on another GPU, {runner_up.gpu} (scaledown_window "
                     f"{runner_up.scaledown_window} s, min_containers {runner_up.min_containers}), costs "
                     f"${runner_up.monthly_cost_usd - c.monthly_cost_usd:,.2f} more.")
        return text
    if not rec.candidates and budget and rec.stopped_early and rec.stopped_for_cost == rec.stopped_early:
        return (f"No setting meets {goal} within {budget}: every one simulated went over the budget before the "
                f"end of the traffic. Raise the budget or relax the goal. {searched}.")
    if not rec.candidates and rec.stopped_early:
        return (f"No setting meets {goal}" + (f" within {budget}" if budget else "") + ": every one simulated had more "
                f"than 5% of requests slower than that or cost more than allowed. Keep containers warm (min_containers or a "
                f"schedule), raise max_inputs, use a faster GPU or a smaller model, or relax the goal. {searched}.")
    if not rec.candidates:
        return (f"No setting fits the budget of {budget}: even a lower bound on the cheapest one is "
                f"${rec.lowest_bound_usd:,.2f}/month. Raise the budget or lower the traffic. {searched}.")
    meets = [x for x in rec.candidates if x.meets_goal]
    if meets and budget:
        m = min(meets, key=lambda x: x.monthly_cost_usd)
        return (f"No setting meets {goal} within {budget}: the cheapest simulated one that meets the goal, "
                f"{m.gpu} with scaledown_window {m.scaledown_window} s and min_containers {m.min_containers}, costs "
                f"${m.monthly_cost_usd:,.2f}/month. Raise the budget or relax the goal. {searched}.")
    fastest = min(rec.candidates, key=lambda x: x.latency_p95_s)
    where = f" within {budget}" if budget else ""
    return (f"No setting meets {goal}{where}. The best p95 seen was {fastest.latency_p95_s:.1f} s ({fastest.gpu}, "
            f"scaledown_window {fastest.scaledown_window} s, min_containers {fastest.min_containers}; a cold start takes "
            f"~{fastest.cold_start_s:.0f} s). Keep containers warm (min_containers or a schedule), raise max_inputs, "
            f"use a faster GPU or a smaller model, or relax the goal. {searched}.")

"""recommend(): branch and bound must find what an exhaustive search finds."""

from __future__ import annotations

import numpy as np
import pytest

from ollama_modal import catalog
from ollama_modal.cost.coldstart import estimate_cold_start
from ollama_modal.cost.recommend import DEFAULT_WINDOWS, recommend
from ollama_modal.cost.schedule import WarmWindow
from ollama_modal.cost.service import ServiceModel, service_times
from ollama_modal.cost.simulator import Machine, Policy, simulate, usage_with
from ollama_modal.cost.traffic import poisson, shaped
from ollama_modal.pricing import Rates

MODEL = 3.8e9
SERVICE = ServiceModel(output_tokens=200)
OFFICE = (WarmWindow(("mon", "tue", "wed", "thu", "fri"), "08:00", "19:00"),)


def exhaustive(traffic, goal, budget=None, gpus=None, schedules=None, concurrency=4, windows=DEFAULT_WINDOWS):
    best = None
    for name in gpus or catalog.GPUS:
        g = catalog.GPUS[name]
        svc = service_times(SERVICE, traffic.requests, g, MODEL)
        cs = estimate_cold_start(g, MODEL).total_s
        for sname, wins in (schedules or {"none": ()}).items():
            for m in (0, 1, 2):
                for w in windows:
                    r = simulate(traffic, svc, Policy(w, concurrency, m, schedule=tuple(wins)), Machine(Rates(g.price_per_second)), cs)
                    ok = r.latency_s["p95"] <= goal and (budget is None or r.monthly_cost_usd <= budget)
                    if ok and (best is None or r.monthly_cost_usd < best[0]):
                        best = (r.monthly_cost_usd, name, w, m, sname)
    return best


@pytest.mark.parametrize("rpm,goal", [(0.5, 30.0), (0.5, 8.0), (4.0, 6.0)])
def test_matches_exhaustive_search(rpm: float, goal: float) -> None:
    traffic = poisson(rpm, 2 * 86400, seed=5)
    gpus = ["T4", "A10", "H100"]
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=goal, gpus=gpus, service=SERVICE)
    best = exhaustive(traffic, goal, gpus=gpus)
    assert rec.choice is not None and best is not None
    assert rec.choice.monthly_cost_usd == pytest.approx(best[0])
    assert rec.choice.latency_p95_s <= goal
    assert rec.evaluated + rec.pruned == len(gpus) * 3 * len(DEFAULT_WINDOWS)
    assert rec.pruned > 0  # the bound did some work
    assert rec.choice.gpu in rec.explanation and f"${rec.choice.monthly_cost_usd:,.2f}" in rec.explanation


def test_schedules_are_searched() -> None:
    traffic = shaped(2, 3 * 86400, seed=2)  # Monday to Wednesday: busy office hours, quiet nights
    schedules = {"none": (), "office-hours": OFFICE}
    windows = (2, 30, 300, 3600)
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=10, gpus=["T4"], schedules=schedules, service=SERVICE, windows=windows)
    best = exhaustive(traffic, 10, gpus=["T4"], schedules=schedules, windows=windows)
    assert rec.choice is not None and rec.choice.monthly_cost_usd == pytest.approx(best[0])
    assert {c.schedule for c in rec.candidates} <= set(schedules)


def test_fits_predicate_filters_gpus() -> None:
    traffic = poisson(1, 86400, seed=1)
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=60, fits=lambda g: g.vram_gb >= 80, service=SERVICE)
    assert rec.choice is not None and {c.gpu for c in rec.candidates} <= {"A100-80GB", "H100", "H200", "B200"}
    with pytest.raises(ValueError, match="no GPU tier fits"):
        recommend(traffic, model_bytes=MODEL, p95_goal_s=60, fits=lambda g: False)


def test_impossible_goal_and_budget() -> None:
    traffic = poisson(1, 86400, seed=1)
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=0.5, gpus=["T4"], service=SERVICE)
    assert rec.choice is None and rec.explanation.startswith("No setting meets p95 latency <= 0.5 s")
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=60, gpus=["T4"], budget_usd=1.0, service=SERVICE)
    assert rec.choice is None and rec.explanation.startswith("No setting fits the budget of $1.00/month")
    assert rec.candidates == [] and rec.lowest_bound_usd > 1.0
    # A budget between the bound and the real price: simulated, but over budget.
    cheapest = recommend(traffic, model_bytes=MODEL, p95_goal_s=60, gpus=["T4"], service=SERVICE).choice
    assert cheapest is not None
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=60, gpus=["T4"], service=SERVICE,
                    budget_usd=cheapest.monthly_cost_usd * 0.999)
    assert rec.choice is None and rec.evaluated > 0 and rec.stopped_for_cost > 0
    assert all(not c.within_budget for c in rec.candidates)
    assert "within $" in rec.explanation


def test_rates_override_changes_the_choice() -> None:
    traffic = poisson(0.5, 86400, seed=3)
    cheap_h100 = {"H100": Rates(gpu_per_second=0.00001)}
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=60, gpus=["T4", "H100"], rates=cheap_h100, service=SERVICE)
    assert rec.choice is not None and rec.choice.gpu == "H100"
    d = rec.to_dict()
    assert d["choice"]["gpu"] == "H100" and isinstance(d["candidates"], list) and "explanation" in d
    assert np.isfinite(d["choice"]["monthly_cost_usd"])


# --- two stages: screen on stretches, then the survivors on the whole span -------------------

SCREEN_GPUS = ["T4", "A10", "H100"]
SCREEN_WINDOWS = (2, 10, 30, 120, 600, 3600)


def all_results(traffic, concurrency, schedules=None):
    """Every candidate simulated on the whole span: {(gpu, w, m, schedule): (cost, p95)}."""
    out = {}
    for name in SCREEN_GPUS:
        g = catalog.GPUS[name]
        svc = service_times(SERVICE, traffic.requests, g, MODEL)
        cs = estimate_cold_start(g, MODEL).total_s
        for sname, wins in (schedules or {"none": ()}).items():
            for m in (0, 1, 2):
                for w in SCREEN_WINDOWS:
                    r = simulate(traffic, svc, Policy(w, concurrency, m, schedule=tuple(wins)), Machine(Rates(g.price_per_second)), cs)
                    out[(name, w, m, sname)] = (r.monthly_cost_usd, r.latency_s["p95"])
    return out


def cheapest(results, goal, budget=None):
    ok = [(c, k) for k, (c, p) in results.items() if p <= goal and (budget is None or c <= budget)]
    return min(ok) if ok else None


TWO_STAGE_CASES = [
    # (name, traffic, max_inputs, schedules)
    ("poisson busy", lambda: poisson(12, 86400, seed=11), 4, None),
    ("poisson busy, other seed", lambda: poisson(12, 86400, seed=12), 4, None),
    ("poisson light", lambda: poisson(3, 2 * 86400, seed=13), 4, None),
    ("poisson max_inputs 1", lambda: poisson(4, 86400, seed=14), 1, None),
    ("business hours with a schedule", lambda: shaped(6, 3 * 86400, seed=15), 4, {"none": (), "office-hours": OFFICE}),
]


@pytest.mark.parametrize("name,make,concurrency,schedules", TWO_STAGE_CASES, ids=[c[0] for c in TWO_STAGE_CASES])
def test_two_stage_matches_exhaustive_full_span(name, make, concurrency, schedules) -> None:
    traffic = make()
    results = all_results(traffic, concurrency, schedules)
    p95s = sorted({p for _, p in results.values()})
    cheapest_any = min(results.values())
    # Goals: loose, mid-range, and right at the cheapest setting's p95 (it just meets / just misses).
    goals = [max(p95s) * 1.01, p95s[len(p95s) // 2], cheapest_any[1], cheapest_any[1] * (1 - 1e-9)]
    for goal in goals:
        rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=goal, gpus=SCREEN_GPUS, service=SERVICE, concurrency=concurrency,
                        windows=SCREEN_WINDOWS, schedules=schedules, screen_requests=traffic.requests // 8)
        assert rec.screened > 0, "the traffic is long enough to be screened"
        want = cheapest(results, goal)
        if want is None:
            assert rec.choice is None
            continue
        assert rec.choice is not None, (name, goal)
        got = (rec.choice.gpu, rec.choice.scaledown_window, rec.choice.min_containers, rec.choice.schedule)
        assert rec.choice.monthly_cost_usd == pytest.approx(want[0], rel=1e-12), (name, goal, got, want)
        # The figures reported are the full-span ones, not the sample's.
        assert (rec.choice.monthly_cost_usd, rec.choice.latency_p95_s) == pytest.approx(results[got], rel=1e-12)
        assert rec.evaluated + rec.pruned == len(results)
        d = rec.to_dict()
        assert d["screened"] == rec.screened and d["screened_out"] <= rec.screened


def test_two_stage_with_budget_matches_exhaustive() -> None:
    traffic = poisson(12, 86400, seed=21)
    results = all_results(traffic, 4)
    goal = sorted(p for _, p in results.values())[len(results) // 2]
    best = cheapest(results, goal)
    assert best is not None
    for budget, expect in ((best[0] * 1.001, best[0]), (best[0] * 0.999, None)):
        rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=goal, gpus=SCREEN_GPUS, service=SERVICE, windows=SCREEN_WINDOWS,
                        budget_usd=budget, screen_requests=traffic.requests // 8)
        if expect is None:
            assert rec.choice is None
        else:
            assert rec.choice is not None and rec.choice.monthly_cost_usd == pytest.approx(expect, rel=1e-12)


def test_small_traffic_is_not_screened() -> None:
    traffic = poisson(1, 86400, seed=1)
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=60, gpus=["T4"], service=SERVICE)
    assert rec.screened == 0 and rec.screened_out == 0
    off = recommend(traffic, model_bytes=MODEL, p95_goal_s=60, gpus=["T4"], service=SERVICE, screen_requests=None)
    assert off.choice == rec.choice


def test_screen_margins_shrink_with_the_sample() -> None:
    from ollama_modal.cost.recommend import screen_margins

    small, large = screen_margins(1_000, 4), screen_margins(30_000, 4)
    assert small[0] > large[0] >= 0.005 and small[1] > large[1] >= 0.01
    assert large == pytest.approx((0.01006, 0.02309), abs=1e-4)


@pytest.mark.parametrize("screen", [None, 2000])
def test_a_tier_whose_service_time_misses_the_goal_is_never_simulated(monkeypatch, screen) -> None:
    """T4's service time (~4.5 s for 200 tokens) is above a 4 s goal for every request: the
    search rules it out without a simulation and still finds the exhaustive optimum."""
    import ollama_modal.cost.recommend as rmod

    traffic = poisson(4.0, 86400, seed=8)
    gpus = ["T4", "A10", "H100"]
    t4 = service_times(SERVICE, 1, catalog.GPUS["T4"], MODEL)[0]
    assert t4 > 4.0
    simulated: list[float] = []

    def spy(traffic, service, *args, **kw):
        simulated.append(float(service[0]))
        return usage_with(traffic, service, *args, **kw)

    monkeypatch.setattr(rmod, "usage_with", spy)
    rec = recommend(traffic, model_bytes=MODEL, p95_goal_s=4.0, gpus=gpus, service=SERVICE, screen_requests=screen)
    assert simulated and t4 not in simulated
    assert (rec.screened > 0) == (screen is not None)
    best = exhaustive(traffic, 4.0, gpus=gpus)
    assert rec.choice is not None and best is not None
    assert rec.choice.monthly_cost_usd == pytest.approx(best[0])
    assert all(c.gpu != "T4" for c in rec.candidates)
    assert rec.evaluated + rec.pruned == len(gpus) * 3 * len(DEFAULT_WINDOWS)

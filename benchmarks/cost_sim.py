"""Cost simulator speed: the vectorised path against a plain-Python per-request loop.

Scenario: 30 days of Poisson traffic at 60 requests/min (~2.6 M requests), codellama:7b
(3.8 GB of Q4 weights) on an A10, 128 output tokens per request, max_inputs 16, the
balanced warm policy (scaledown_window 300 s, min_containers 0).

* simulator: ``simulate`` (vectorised session path), median of --runs runs.
* baseline: the same computation as a plain-Python loop over requests with a heap
  (``method="events"``, the general path), run on the first --baseline-days days and scaled
  linearly to 30 days (its cost is per request); --baseline-days 30 runs it in full. Both are
  checked to give the same answer on the baseline's span.
* recommend: a full search (9 GPU tiers x 11 windows x min_containers 0..2) on the same month,
  p95 goal 5 s, at max_inputs 32 and 16.
* --heavy adds the economy policy at max_inputs 4 (bursts need several containers, so much of
  the month runs through the per-request loop) and a recommend search on it.
* --heavy also runs the heavy recommend case of ``omc recommend --rpm 60 --days 30
  --p95-latency-s 10`` with the default profile (max_inputs 4, codellama:7b, 256 output
  tokens, every GPU tier): the two-stage search (screen on stretches, survivors on the whole
  month) against the one-stage search (``screen_requests=None``) run on the first
  --recommend-baseline-days days and scaled linearly to 30 days (its cost is per request;
  --recommend-baseline-days 30 runs it in full). Both searches are also run on that shorter
  span, where the two-stage one screens too, and must choose the same setting.
  --recommend-only runs just this case.

Run: python benchmarks/cost_sim.py [--runs 3] [--baseline-days 3] [--heavy] [--recommend-only]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

from ollama_modal import catalog
from ollama_modal.cost.coldstart import estimate_cold_start
from ollama_modal.cost.recommend import recommend
from ollama_modal.cost.service import ServiceModel, service_times
from ollama_modal.cost.simulator import Machine, Policy, simulate
from ollama_modal.cost.traffic import Traffic, poisson
from ollama_modal.pricing import Rates

DAYS = 30
RPM = 60
MODEL_BYTES = 3.8e9


def timed(fn, runs: int = 1):  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def head(traffic: Traffic, days: float) -> Traffic:
    span = days * 86400
    return Traffic(traffic.times[traffic.times < span], span, traffic.start)


def same(a, b) -> bool:  # type: ignore[no-untyped-def]
    return (
        abs(a.monthly_cost_usd - b.monthly_cost_usd) <= 1e-6 * max(1.0, b.monthly_cost_usd)
        and a.cold_starts == b.cold_starts
        and np.allclose(a.latencies, b.latencies, rtol=1e-9)
    )


def compare(name: str, traffic: Traffic, gpu: str, service: ServiceModel, policy: Policy, runs: int, baseline_days: float) -> None:
    g = catalog.GPUS[gpu]
    machine = Machine(Rates(g.price_per_second))
    cs = estimate_cold_start(g, MODEL_BYTES).total_s
    svc = service_times(service, traffic.requests, g, MODEL_BYTES)
    t_fast, res = timed(lambda: simulate(traffic, svc, policy, machine, cs), runs)
    short = head(traffic, baseline_days)
    svc_short = svc[: short.requests]
    t_base, base = timed(lambda: simulate(short, svc_short, policy, machine, cs, method="events"))
    check = simulate(short, svc_short, policy, machine, cs)
    scaled = t_base * traffic.span / short.span
    print(f"[{name}] {traffic.requests:,} requests, {gpu}, max_inputs {policy.concurrency}, "
          f"scaledown_window {policy.scaledown_window:g} s: ${res.monthly_cost_usd:,.2f}/month, "
          f"p95 {res.latency_s['p95']:.2f} s, {res.cold_starts} cold starts, path: {res.method}")
    print(f"  simulator          {t_fast:8.3f} s   (median of {runs})")
    print(f"  per-request loop   {scaled:8.3f} s   ({t_base:.3f} s for {baseline_days:g} days, scaled to {DAYS})")
    print(f"  ratio simulator/loop {t_fast / scaled:.3f}x  ({scaled / t_fast:.1f}x faster); "
          f"same answer on the loop's span: {'yes' if same(check, base) else 'NO'}")


def heavy_recommend(traffic: Traffic, baseline_days: float) -> None:
    """The busy search: two stages on the month against one stage (scaled from a shorter span)."""
    kw = dict(model_bytes=MODEL_BYTES, p95_goal_s=10.0, concurrency=4, service=ServiceModel())

    def line(c) -> str:  # type: ignore[no-untyped-def]
        return "none" if c is None else f"{c.gpu} W={c.scaledown_window} s min={c.min_containers} ${c.monthly_cost_usd:,.2f} p95 {c.latency_p95_s:.2f} s"

    t_two, rec = timed(lambda: recommend(traffic, **kw))
    short = head(traffic, baseline_days)
    t_one, one = timed(lambda: recommend(short, screen_requests=None, **kw))
    t_two_short, two_short = timed(lambda: recommend(short, **kw))
    scaled = t_one * traffic.span / short.span
    print(f"[recommend heavy: {traffic.requests:,} requests, max_inputs 4, p95 <= 10 s, {len(catalog.GPUS)} GPU tiers]")
    print(f"  two stages, {DAYS} days  {t_two:8.3f} s   {rec.screened} screened ({rec.screened_out} out), "
          f"{rec.evaluated} on the whole span ({rec.stopped_early} stopped early); choice {line(rec.choice)}")
    print(f"  one stage, scaled    {scaled:8.3f} s   ({t_one:.3f} s for {baseline_days:g} days, scaled to {DAYS})")
    print(f"  ratio two/one {t_two / scaled:.3f}x ({scaled / t_two:.1f}x faster)")
    same_choice = one.choice == two_short.choice
    print(f"  on {baseline_days:g} days: one stage {t_one:.3f} s, two stages {t_two_short:.3f} s ({two_short.screened} screened); "
          f"same choice: {'yes' if same_choice else 'NO'} ({line(one.choice)})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline-days", type=float, default=3.0)
    ap.add_argument("--heavy", action="store_true")
    ap.add_argument("--recommend-only", action="store_true", help="run only the heavy recommend case")
    ap.add_argument("--recommend-baseline-days", type=float, default=2.0)
    args = ap.parse_args()

    t_gen, traffic = timed(lambda: poisson(RPM, DAYS * 86400, seed=1))
    print(f"traffic: {traffic.requests:,} Poisson arrivals over {DAYS} days in {t_gen:.3f} s")
    if args.recommend_only:
        heavy_recommend(traffic, args.recommend_baseline_days)
        return 0
    balanced = Policy(scaledown_window=300, concurrency=16)
    compare("balanced", traffic, "A10", ServiceModel(output_tokens=128), balanced, args.runs, args.baseline_days)

    for k in (32, 16):
        t_rec, rec = timed(lambda: recommend(traffic, model_bytes=MODEL_BYTES, p95_goal_s=5.0, concurrency=k,
                                             service=ServiceModel(output_tokens=128)))
        print(f"[recommend, max_inputs {k}] full search in {t_rec:.3f} s: {rec.evaluated} simulated "
              f"({rec.stopped_early} stopped early), {rec.pruned} pruned by the cost bound")
        print(f"  {rec.explanation}")

    if args.heavy:
        economy = replace(balanced, scaledown_window=10, concurrency=4)
        compare("economy, max_inputs 4", traffic, "T4", ServiceModel(output_tokens=256), economy, 1, args.baseline_days)
        t_rec, rec = timed(lambda: recommend(traffic, model_bytes=MODEL_BYTES, p95_goal_s=20.0, concurrency=4,
                                             service=ServiceModel(output_tokens=256)))
        print(f"[recommend, max_inputs 4] full search in {t_rec:.3f} s: {rec.evaluated} simulated "
              f"({rec.stopped_early} stopped early), {rec.pruned} pruned")
        print(f"  {rec.explanation}")
        heavy_recommend(traffic, args.recommend_baseline_days)
    return 0


if __name__ == "__main__":
    sys.exit(main())

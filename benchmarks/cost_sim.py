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

Run: python benchmarks/cost_sim.py [--runs 3] [--baseline-days 3] [--heavy]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline-days", type=float, default=3.0)
    ap.add_argument("--heavy", action="store_true")
    args = ap.parse_args()

    t_gen, traffic = timed(lambda: poisson(RPM, DAYS * 86400, seed=1))
    print(f"traffic: {traffic.requests:,} Poisson arrivals over {DAYS} days in {t_gen:.3f} s")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

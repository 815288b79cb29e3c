"""Cost model speed and accuracy: the vectorised pool model against the per-request reference loop.

Measured in the same run, on this machine:

* simulate: 30 days of Poisson traffic at 60 requests/min (~2.6 M requests) with the default
  profile's settings (a10g-balanced: A10, codellama:7b, max_inputs 4, scaledown_window 300 s,
  256 output tokens): the pool model (median of --runs, wall and CPU time) against the
  reference event loop (``method="events"``) on the first --baseline-days days, scaled
  linearly to 30 (its cost is per request; --baseline-days 30 runs it in full). Both are
  checked to agree on the baseline's span.
* commands as a user runs them: the installed ``omc`` in fresh processes, --command-runs times
  each, interleaved with ``omc --help`` (the start-up baseline, ratio printed), wall time
  (median and range), CPU time and peak RSS through /usr/bin/time:
  ``omc cost --profile a10g-balanced --rpm 60 --days 30`` and
  ``omc recommend --p95-latency-s 3.5 --rpm 60 --days 30``; with --long also
  ``omc cost --rpm 2 --days 3650`` (ten years, simulated a day at a time). The load average
  before and after is printed: on a shared machine wall times follow it. --baseline-omc PATH
  runs every command with another installed omc too (an earlier commit's), interleaved, and
  prints the ratio.
* --traces: loading 3 M-row traces (CSV with UNIX seconds, CSV with ISO times, JSONL).
* --accuracy: the matrix of tests/cost/test_accuracy.py, pool model against the reference:
  the largest relative differences in cost, container-seconds, cold-start share, and p95.

Run: python benchmarks/cost_sim.py [--runs 3] [--baseline-days 3] [--command-runs 5] [--only-commands]
     [--baseline-omc PATH] [--long] [--traces] [--accuracy]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ollama_modal import catalog
from ollama_modal.cost.alloc import reuse_big_allocations
from ollama_modal.cost.coldstart import estimate_cold_start
from ollama_modal.cost.service import ServiceModel, service_times
from ollama_modal.cost.simulator import Machine, Policy, simulate
from ollama_modal.cost.traffic import Traffic, poisson
from ollama_modal.pricing import Rates

DAYS = 30
RPM = 60
MODEL_BYTES = 3.8e9


def timed(fn, runs: int = 1):  # type: ignore[no-untyped-def]
    walls, cpus, out = [], [], None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def head(traffic: Traffic, days: float) -> Traffic:
    span = days * 86400
    return Traffic(traffic.times[traffic.times < span], span, traffic.start)


def command(args: list[str], omc: str | None = None) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MB, exit code) of one omc command as a user runs it:
    the installed console script (or ``omc``) in a fresh process, timed by /usr/bin/time."""
    omc = omc or shutil.which("omc") or "omc"
    timer = shutil.which("time") or "/usr/bin/time"
    with tempfile.TemporaryDirectory() as d:
        report = Path(d) / "time"
        t0 = time.perf_counter()
        r = subprocess.run([timer, "-f", "%U %S %M", "-o", str(report), omc, *args], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        try:
            user, system, rss = report.read_text().split()[-3:]
            cpu, mb = float(user) + float(system), int(rss) / 1024
        except (OSError, ValueError):
            cpu = mb = float("nan")
    return wall, cpu, mb, r.returncode


def simulate_month(runs: int, baseline_days: float) -> None:
    g = catalog.GPUS["A10"]
    traffic = poisson(RPM, DAYS * 86400, seed=1)
    svc = service_times(ServiceModel(), traffic.requests, g, MODEL_BYTES)
    cs = estimate_cold_start(g, MODEL_BYTES).total_s
    policy = Policy(scaledown_window=300, concurrency=4)
    machine = Machine(Rates(g.price_per_second))
    wall, cpu, res = timed(lambda: simulate(traffic, svc, policy, machine, cs), runs)
    short = head(traffic, baseline_days)
    b_wall, b_cpu, base = timed(lambda: simulate(short, svc[: short.requests], policy, machine, cs, method="events"))
    check = simulate(short, svc[: short.requests], policy, machine, cs, method="pool")
    scale = traffic.span / short.span
    same = (abs(check.monthly_cost_usd - base.monthly_cost_usd) <= 1e-9 * base.monthly_cost_usd
            and np.allclose(check.latencies, base.latencies, rtol=1e-9))
    print(f"[simulate] {traffic.requests:,} requests, A10, max_inputs 4, scaledown_window 300 s: "
          f"${res.monthly_cost_usd:,.2f}/month, p95 {res.latency_s['p95']:.2f} s, {res.cold_starts} cold starts, "
          f"method {res.method}")
    print(f"  pool model        wall {wall:6.3f} s  cpu {cpu:6.3f} s   (median of {runs})")
    print(f"  reference loop    wall {b_wall * scale:6.3f} s  cpu {b_cpu * scale:6.3f} s   "
          f"({b_wall:.3f} s for {baseline_days:g} days, scaled to {DAYS})")
    print(f"  ratio pool/reference: wall {wall / (b_wall * scale):.3f}x, cpu {cpu / (b_cpu * scale):.3f}x "
          f"({b_cpu * scale / cpu:.0f}x faster); same answer on the reference's span: {'yes' if same else 'NO'}")


#: The issue's goals for the commands as a user runs them (wall seconds on this machine, idle).
COMMANDS = [
    (["--help"], None),
    (["cost", "--profile", "a10g-balanced", "--rpm", "60", "--days", "30", "--json"], 1.5),
    (["recommend", "--p95-latency-s", "3.5", "--rpm", "60", "--days", "30", "--json"], 5.0),
]


def commands(long: bool, runs: int, baseline: str | None = None) -> None:
    """Each command ``runs`` times in fresh processes, interleaved (so load changes hit them all
    alike); median and range of wall time, median CPU time, largest peak RSS. ``omc --help``
    is the start-up floor in the same run; with ``baseline`` (another installed omc, e.g. an
    earlier commit's) every command also runs with it, interleaved, and the ratio is printed."""
    cases = list(COMMANDS)
    if long:
        cases.append((["cost", "--rpm", "2", "--days", "3650", "--json"], None))
    tools = [("omc", None)] + ([("baseline", baseline)] if baseline else [])
    seen: dict[tuple[int, str], list[tuple[float, float, float, int]]] = {}
    load0 = os.getloadavg()[0]
    for _ in range(runs):
        for i, (args, _goal) in enumerate(cases):
            for name, exe in tools:
                seen.setdefault((i, name), []).append(command(args, exe))
    load1 = os.getloadavg()[0]
    print(f"[commands] fresh processes, {runs} runs each, interleaved; load average {load0:.1f} -> {load1:.1f}"
          + (f"; baseline {baseline}" if baseline else ""))
    for i, (args, goal) in enumerate(cases):
        for name, _exe in tools:
            runs_ = seen[(i, name)]
            walls = [w for w, *_ in runs_]
            wall, cpu = statistics.median(walls), statistics.median(c for _, c, _, _ in runs_)
            rss = max(m for _, _, m, _ in runs_)
            codes = sorted({c for *_, c in runs_})
            target = f"; goal < {goal:g} s: {'met' if wall < goal else 'NOT met'}" if goal and name == "omc" else ""
            ratio = ""
            if name == "omc" and baseline:
                b = seen[(i, "baseline")]
                ratio = (f"; ratio to baseline: wall {wall / statistics.median(w for w, *_ in b):.2f}x, "
                         f"cpu {cpu / statistics.median(c for _, c, _, _ in b):.2f}x")
            print(f"  {name:8s} omc {' '.join(args)}: wall {wall:.2f} s ({min(walls):.2f}-{max(walls):.2f}), cpu {cpu:.2f} s, "
                  f"peak RSS {rss:.0f} MB, exit {codes}{ratio}{target}")


def traces(rows: int = 3_000_000) -> None:
    rng = np.random.default_rng(0)
    t = 1_793_577_600 + np.cumsum(rng.exponential(1.0, rows))
    iso = np.datetime_as_string((t * 1e6).astype("datetime64[us]"), unit="ms")
    tok = rng.integers(20, 600, rows)
    with tempfile.TemporaryDirectory() as d:
        files = {
            "CSV, UNIX seconds": (Path(d) / "unix.csv", "timestamp,output_tokens\n" + "".join(f"{x:.3f},{k}\n" for x, k in zip(t, tok))),
            "CSV, ISO-8601": (Path(d) / "iso.csv", "timestamp,output_tokens\n" + "".join(f"{s}Z,{k}\n" for s, k in zip(iso, tok))),
            "JSONL, ISO-8601": (Path(d) / "iso.jsonl",
                                "".join(f'{{"timestamp": "{s}Z", "output_tokens": {k}}}\n' for s, k in zip(iso, tok))),
        }
        for name, (path, text) in files.items():
            path.write_text(text)
            code = ("import time; from ollama_modal.cost.traffic import load_trace; t = time.perf_counter(); "
                    f"tr = load_trace({str(path)!r}); print(tr.requests, time.perf_counter() - t)")
            report = Path(d) / "time"
            r = subprocess.run([shutil.which("time") or "/usr/bin/time", "-f", "%M", "-o", str(report), sys.executable, "-c", code],
                               capture_output=True, text=True)
            n, secs = r.stdout.split()
            print(f"[trace] {name}: {int(n):,} rows in {float(secs):.2f} s, peak RSS {int(report.read_text().split()[-1]) / 1024:.0f} MB "
                  f"({path.stat().st_size / 1e6:.0f} MB file)")


def accuracy() -> None:
    from ollama_modal.cost.accuracy import CELLS, compare_cell

    print("[accuracy] pool model vs reference loop (relative differences; p95 in seconds)")
    print("| cell | requests | cost | container-s | cold-start share | p95 pool / reference |")
    print("|---|---|---|---|---|---|")
    for cell in CELLS:
        d = compare_cell(cell)
        p, r = d.pool, d.reference

        def rel(x: float, y: float) -> str:
            return "0" if x == y else f"{(x - y) / y:+.2%}" if y else f"{x - y:+.3g}"

        print(f"| {cell.name} | {r.requests:,} | {rel(p.monthly_cost_usd, r.monthly_cost_usd)} | "
              f"{rel(p.simulated_container_seconds, r.simulated_container_seconds)} | "
              f"{rel(p.cold_start_fraction, r.cold_start_fraction)} | {p.latency_s['p95']:.2f} / {r.latency_s['p95']:.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline-days", type=float, default=3.0)
    ap.add_argument("--long", action="store_true", help="also omc cost --rpm 2 --days 3650")
    ap.add_argument("--traces", action="store_true", help="also load 3 M-row traces")
    ap.add_argument("--accuracy", action="store_true", help="also print the accuracy table")
    ap.add_argument("--no-commands", action="store_true")
    ap.add_argument("--command-runs", type=int, default=5, help="fresh-process runs of each command (default 5)")
    ap.add_argument("--only-commands", action="store_true", help="just the commands as a user runs them")
    ap.add_argument("--baseline-omc", help="another installed omc (e.g. an earlier commit's) to run each command with too")
    args = ap.parse_args()
    reuse_big_allocations()  # as the commands do
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; numpy {np.__version__}")
    if not args.only_commands:
        simulate_month(args.runs, args.baseline_days)
    if not args.no_commands:
        commands(args.long, args.command_runs, args.baseline_omc)
    if args.traces:
        traces()
    if args.accuracy:
        accuracy()
    return 0


if __name__ == "__main__":
    sys.exit(main())

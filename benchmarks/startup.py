"""Start-up time of `omc --help` and `omc profiles list` against `modal --help`, in one run.

Goal: each omc command's median wall time is at most 0.35x the median of `modal --help`
(the baseline every user of this tool already has installed). Run:

    python benchmarks/startup.py [--runs 15]

Prints the medians and the ratios; exits 1 when a ratio is over the goal.
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

GOAL = 0.35


def _exe(name: str) -> list[str]:
    path = shutil.which(name, path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if path is None:
        raise SystemExit(f"{name} not found next to {sys.executable} or on PATH")
    return [path]


def median_wall(cmd: list[str], runs: int, cwd: str) -> float:
    times = []
    env = {**os.environ, "NO_COLOR": "1"}
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        cases = {
            "modal --help (baseline)": _exe("modal") + ["--help"],
            "omc --help": _exe("omc") + ["--help"],
            "omc profiles list": _exe("omc") + ["profiles", "list"],
        }
        # Interleave warm-up so file caches are equally warm for every command.
        for cmd in cases.values():
            median_wall(cmd, 2, cwd)
        results = {name: median_wall(cmd, args.runs, cwd) for name, cmd in cases.items()}
    base = results["modal --help (baseline)"]
    worst = 0.0
    for name, t in results.items():
        ratio = t / base
        if name != "modal --help (baseline)":
            worst = max(worst, ratio)
        print(f"{name:<26} median {t * 1000:7.1f} ms   ratio {ratio:5.2f}x")
    print(f"goal: omc commands <= {GOAL:.2f}x modal --help -> {'met' if worst <= GOAL else 'NOT met'} (worst {worst:.2f}x)")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())

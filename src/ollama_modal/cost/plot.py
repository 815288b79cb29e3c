"""Monthly cost and cold-start share against the scaledown window, as a PNG.

matplotlib is imported only when a plot is drawn, and through its object API with the Agg
canvas: no pyplot, no global backend switch, no display needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .recommend import DEFAULT_WINDOWS
from .simulator import Machine, Policy, SimResult, simulate
from .traffic import Traffic


@dataclass(frozen=True)
class SweepPoint:
    scaledown_window: float
    result: SimResult


def window_sweep(
    traffic: Traffic,
    service: np.ndarray,
    policy: Policy,
    machine: Machine,
    cold_start: float,
    windows: Sequence[float] = DEFAULT_WINDOWS,
) -> list[SweepPoint]:
    """Simulate ``policy`` at each scaledown window (the profile's own window included)."""
    grid = sorted(set(float(w) for w in windows) | {float(policy.scaledown_window)})
    return [SweepPoint(w, simulate(traffic, service, replace(policy, scaledown_window=w), machine, cold_start)) for w in grid]


def plot_window_sweep(
    traffic: Traffic,
    service: np.ndarray,
    policy: Policy,
    machine: Machine,
    cold_start: float,
    path: str | Path,
    *,
    windows: Sequence[float] = DEFAULT_WINDOWS,
    title: str | None = None,
) -> list[SweepPoint]:
    """Write the sweep to ``path`` (PNG) and return the points it plots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    points = window_sweep(traffic, service, policy, machine, cold_start, windows)
    w = np.array([p.scaledown_window for p in points])
    cost = np.array([p.result.monthly_cost_usd for p in points])
    cold = np.array([p.result.cold_start_fraction * 100 for p in points])
    p95 = np.array([p.result.latency_s["p95"] for p in points])

    fig = Figure(figsize=(8.5, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cost_color, cold_color = "#1f5fa8", "#d1495b"
    ax.plot(w, cost, "o-", color=cost_color, label="monthly cost")
    ax.set_xscale("log")
    ax.set_xlabel("scaledown_window (seconds, log scale)")
    ax.set_ylabel("monthly cost (USD)", color=cost_color)
    ax.tick_params(axis="y", colors=cost_color)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))
    ax.set_ylim(bottom=0, top=max(cost.max() * 1.12, 1e-9))
    ax.set_xticks(w)
    ax.set_xticklabels([f"{x:g}" for x in w], rotation=45)
    ax.grid(True, which="major", alpha=0.3)

    ax2 = ax.twinx()
    ax2.plot(w, cold, "s--", color=cold_color, label="requests waiting for a cold start")
    ax2.set_ylabel("requests waiting for a cold start", color=cold_color)
    ax2.tick_params(axis="y", colors=cold_color)
    ax2.yaxis.set_major_formatter(PercentFormatter(decimals=1 if cold.max() < 5 else 0))
    ax2.set_ylim(bottom=0, top=max(cold.max() * 1.12, 1.0))

    cur = float(policy.scaledown_window)
    i = int(np.flatnonzero(w == cur)[0])
    ax.axvline(cur, color="0.35", linestyle=":", linewidth=1.2)
    ax.plot([cur], [cost[i]], "o", markersize=12, markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.5)
    ax.annotate(
        f"current: {cur:g} s\n${cost[i]:,.0f}/month, {cold[i]:.1f}% cold, p95 {p95[i]:.1f} s",
        xy=(cur, cost[i]), xytext=(0.03, 0.06), textcoords="axes fraction", fontsize=9,
        bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        arrowprops={"arrowstyle": "->", "color": "0.35"},
    )
    lines = ax.get_lines()[:1] + ax2.get_lines()[:1]
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper center", fontsize=9, framealpha=0.9)
    days = traffic.span / 86400
    ax.set_title(title or f"Cost vs cold starts over {days:.0f} days at {traffic.mean_rpm:.1f} requests/min "
                 f"(concurrency {policy.concurrency}, min_containers {policy.min_containers})", fontsize=10)
    fig.savefig(str(path), format="png")
    return points


def plot_actual(days: Sequence[str], predicted: Sequence[float], billed: Sequence[float], path: str | Path, *, title: str) -> None:
    """Predicted against billed cost per day (``omc cost --actual --plot``), as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    x = np.arange(len(days))
    fig = Figure(figsize=(8.5, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.4
    ax.bar(x - width / 2, billed, width, color="#1f5fa8", label="billed by Modal")
    ax.bar(x + width / 2, predicted, width, color="#e0a030", label="predicted by omc")
    ax.set_xticks(x)
    step = max(1, len(days) // 15)
    ax.set_xticklabels([d if i % step == 0 else "" for i, d in enumerate(days)], rotation=45, ha="right")
    ax.set_ylabel("cost per day (USD)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.2f}"))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title(title, fontsize=10)
    fig.savefig(str(path), format="png")

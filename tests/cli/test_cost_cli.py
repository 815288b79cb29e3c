"""`omc cost` and `omc recommend` through the CLI (small traffic: the simulator is tested in tests/cost)."""

from __future__ import annotations

import json
import math
from pathlib import Path


def test_cost_json_keys_and_sense(omc) -> None:
    r = omc("cost", "--profile", "a10g-economy", "--rpm", "0.5", "--days", "2", "--service-seconds", "3", "--cold-start-seconds", "15", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("monthly_cost_usd", "container_seconds", "cold_start_fraction", "latency_s", "idle_fraction", "gpu_cost_usd", "cpu_cost_usd", "memory_cost_usd"):
        assert key in d, key
    # Poisson at 0.5/min with a 10 s window: a request finds a warm container with probability 1 - e^(-lambda W).
    lam = 0.5 / 60
    assert abs(d["cold_start_fraction"] - math.exp(-lam * 10)) < 0.03
    assert d["latency_s"]["p99"] >= 15
    assert 0 < d["monthly_cost_usd"] < 798  # cheaper than one container always on


def test_compare_table(omc) -> None:
    r = omc("cost", "--profile", "t4-economy", "--compare", "a10g-balanced", "a10g-always-on", "--rpm", "1", "--days", "1")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("t4-economy") for line in lines) and any(line.startswith("a10g-always-on") for line in lines)
    rows = json.loads(omc("cost", "--profile", "t4-economy", "--compare", "a10g-always-on", "--rpm", "1", "--days", "1", "--json").stdout)
    assert [r["profile"] for r in rows] == ["t4-economy", "a10g-always-on"]
    assert rows[1]["cold_start_fraction"] == 0 and rows[1]["monthly_cost_usd"] > rows[0]["monthly_cost_usd"]


def test_trace_input(omc, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp,output_tokens\n" + "".join(f"{1_700_000_000 + 90 * i},{100}\n" for i in range(200)))
    r = omc("cost", "--profile", "a10g-balanced", "--trace", str(trace), "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["requests"] == 200
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp\nyesterday\n")
    r = omc("cost", "--trace", str(bad))
    assert r.exit_code == 2 and "bad.csv:2" in r.stderr


def test_cost_bad_input(omc) -> None:
    assert omc("cost").exit_code == 2  # no traffic
    assert omc("cost", "--rpm", "1", "--pattern", "1,2,3").exit_code == 2
    assert omc("cost", "--rpm", "1", "extra").exit_code == 2


def test_recommend_writes_a_profile(omc, tmp_path: Path) -> None:
    r = omc("recommend", "--rpm", "1", "--days", "1", "--p95-latency-s", "10", "--service-seconds", "2", "--json", "--write", "rec")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["choice"]["latency_p95_s"] <= 10
    shown = omc("profiles", "show", "rec", "--json")
    assert shown.exit_code == 0, shown.stderr
    p = json.loads(shown.stdout)
    assert p["warm"]["scaledown_window"] == d["choice"]["scaledown_window"]


def test_recommend_impossible_goal_exits_4(omc) -> None:
    r = omc("recommend", "--rpm", "1", "--days", "1", "--p95-latency-s", "0.5", "--service-seconds", "2")
    assert r.exit_code == 4


def test_plot(omc, tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    r = omc("cost", "--profile", "a10g-balanced", "--rpm", "1", "--days", "1", "--plot", str(png))
    assert r.exit_code == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spinner_only_on_a_terminal(monkeypatch) -> None:
    import io

    from rich.console import Console
    from rich.status import Status

    from ollama_modal.cli import output

    monkeypatch.setattr(output, "err", Console(file=io.StringIO(), force_terminal=False))
    with output.working("simulating") as s:
        assert s is None  # CI logs and pipes get no spinner frames
    assert output.err.file.getvalue() == ""
    monkeypatch.setattr(output, "err", Console(file=io.StringIO(), force_terminal=True))
    status = output.working("simulating")
    assert isinstance(status, Status)


def test_cold_start_reports_the_value_used_and_the_method(omc) -> None:
    r = omc("cost", "--profile", "a10g-balanced", "--rpm", "1", "--days", "1", "--cold-start-seconds", "10", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["cold_start"]["total_s"] == 10 and d["cold_start_s"] == 10
    assert d["cold_start"]["estimated_total_s"] > 10  # the estimate is still shown, apart
    assert d["method"] in ("pool", "events")
    d = json.loads(omc("cost", "--profile", "a10g-balanced", "--rpm", "60", "--days", "0.2", "--json").stdout)
    assert d["method"] == "pool"
    rec = json.loads(omc("recommend", "--rpm", "1", "--days", "1", "--p95-latency-s", "30", "--service-seconds", "2", "--json").stdout)
    assert rec["choice"]["method"] in ("pool", "events")


def test_trace_bills_the_last_burst_through_its_scaledown(omc, tmp_path: Path) -> None:
    # One burst of 10 requests a second apart: the container stays up W = 300 s after the
    # last one ends, and that tail is billed (the span runs past the last request).
    trace = tmp_path / "burst.csv"
    trace.write_text("timestamp\n" + "".join(f"{1_700_000_000 + i}\n" for i in range(10)))
    d = json.loads(omc("cost", "--profile", "a10g-balanced", "--trace", str(trace), "--service-seconds", "2", "--json").stdout)
    assert d["simulated_container_seconds"] >= 300
    assert d["simulated_seconds"] >= 9 + 2 + 300

"""A Modal Server's 503s while no container is up: hand-worked cases, and `omc cost` reporting them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ollama_modal.cost.unavailable import server_unavailable


def run(arrivals, *, min_changes=((0.0, 0),), retry=True, service=5.0):
    t = np.asarray(arrivals, dtype=float)
    return server_unavailable(t, np.full(t.size, service), scaledown_window=60.0, cold_start_s=30.0,
                              min_changes=list(min_changes), client_retry=retry)


def test_requests_before_the_first_container_is_ready_get_503_and_wait_when_retried():
    u = run([0, 10, 40, 500])
    # 0 starts a container (ready at 30): 0 and 10 get 503 and are served at 30; 40 finds it up;
    # it goes down 60 s after the last request finishes (95); 500 starts another one.
    assert u.requests == 3 and u.fraction == 0.75 and u.failed_requests == 0
    assert u.retry_wait_s == {"p50": 30.0, "p95": 30.0, "max": 30.0}


def test_without_retries_they_fail_and_a_failed_request_still_starts_a_container():
    u = run([0, 10, 40, 500], retry=False)
    assert u.requests == 3 and u.failed_requests == 3 and u.retry_wait_s == {}
    # The container started by the failed request at 0 idles until 90, so 40 is served.


def test_always_up_means_no_503():
    assert run([0, 10, 5000], min_changes=[(0.0, 1)]).requests == 0


def test_a_warm_window_covers_only_its_hours():
    u = run([50, 150, 250], min_changes=[(0.0, 0), (100.0, 1), (200.0, 0)])
    # 50: before the window, cold; 150: in it; 250: the window's container went 60 s after 155.
    assert u.requests == 2


def test_omc_cost_reports_503s_for_a_scale_to_zero_server(omc, profiles_dir: Path) -> None:
    (profiles_dir / "srv.toml").write_text('extends = "a10g-balanced"\n[server]\nprimitive = "server"\n')
    r = omc("cost", "--profile", "srv", "--rpm", "0.2", "--days", "1", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["primitive"] == "server" and d["server"]["unavailable_requests"] > 0 and d["server"]["failed_requests"] == 0
    r = omc("cost", "--profile", "srv", "--rpm", "0.2", "--days", "1", "--no-client-retry")
    assert r.exit_code == 0 and "fail with 503" in r.stderr
    d = json.loads(omc("cost", "--profile", "a10g-balanced", "--rpm", "0.2", "--days", "1", "--json").stdout)
    assert d["primitive"] == "function" and d["server"] is None  # a web function holds requests instead


def test_traffic_generated_a_day_at_a_time(profiles_dir: Path) -> None:
    """Long generated traffic is never held whole: an always-up Server needs none of it to know
    it answers no 503; a scale-to-zero one cannot be counted and says so."""
    import pytest

    from ollama_modal.config import resolve
    from ollama_modal.cost.traffic import GeneratedTraffic
    from ollama_modal.errors import UsageError
    from ollama_modal.services.costplan import cost_for

    report = cost_for(resolve("a10g-always-on").profile, GeneratedTraffic(0.5, 86400.0), traffic_text="generated")
    assert report.primitive == "server" and report.unavailable.requests == 0
    (profiles_dir / "srv.toml").write_text('extends = "a10g-balanced"\n[server]\nprimitive = "server"\n')
    with pytest.raises(UsageError, match="held in memory"):
        cost_for(resolve("srv").profile, GeneratedTraffic(0.5, 86400.0), traffic_text="generated")


# --- above the hard cap: 429 ------------------------------------------------------------------

def over_cap(arrivals, *, service=10.0, **kw):
    """over_cap_requests from the reference loop and the pool model (they must agree)."""
    from ollama_modal.cost.events import simulate_events
    from ollama_modal.cost.pool import simulate_pool
    from ollama_modal.cost.usage import PoolSettings

    a = np.asarray(arrivals, dtype=float)
    s = np.full(a.size, service) if np.isscalar(service) else np.asarray(service, dtype=float)
    settings = PoolSettings(window=60.0, cold_start=30.0, concurrency=2, **kw)
    ref = simulate_events(a, s, 3600.0, settings)
    pool = simulate_pool(a, s, 3600.0, settings)
    assert pool is not None and pool.over_cap_requests == ref.over_cap_requests
    return ref.over_cap_requests


def test_a_burst_above_the_ready_containers_slots_is_over_the_cap():
    # One container always up, 2 slots: 5 at once, 2 run, 3 wait for containers that start
    # (a web function queues them; a Modal Server answers 429).
    assert over_cap([0, 0, 0, 0, 0], min_changes=[(0.0, 1)]) == 3
    # Spaced out, each finds a free slot: none.
    assert over_cap([0, 20, 40, 60], min_changes=[(0.0, 1)]) == 0
    # At max_containers (1) they wait for a slot, not a container: still over the cap.
    assert over_cap([0, 0, 0, 5], min_changes=[(0.0, 1)], max_containers=1) == 2


def test_waiting_with_no_container_ready_is_a_503_not_a_429():
    # Scale-to-zero: the first requests wait for the first container (503s on a Server, see
    # above); none of them is over a cap. Once it is ready, a burst above its slots is.
    assert over_cap([0, 0, 0]) == 0
    assert over_cap([0, 40, 40, 40, 40]) == 2  # ready at 30 with 2 slots: 40 x4 -> 2 over


def test_the_pool_model_counts_what_the_reference_loop_counts():
    from ollama_modal.cost.traffic import poisson

    rng = np.random.default_rng(7)
    for seed, kw in enumerate([dict(min_changes=[(0.0, 1)]), dict(), dict(buffer_containers=1),
                               dict(min_changes=[(0.0, 1)], max_containers=3), dict(target_inputs=1)]):
        tr = poisson(40, 3600, seed)
        over_cap(tr.times, service=rng.uniform(5, 40, tr.times.size), **kw)


def test_omc_cost_reports_429s_on_a_server(omc, profiles_dir: Path, tmp_path: Path) -> None:
    """An always-on Server with 4 slots: 10 requests at once, 6 above the cap."""
    trace = tmp_path / "burst.csv"
    trace.write_text("timestamp\n" + "2026-11-02T09:00:00Z\n" * 10 + "2026-11-02T12:00:00Z\n")
    r = omc("cost", "--profile", "a10g-always-on", "--trace", str(trace), "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["primitive"] == "server" and d["server"]["unavailable_requests"] == 0
    assert d["server"]["rejected_requests"] == 6 and d["server"]["rejected_fraction"] == round(6 / 11, 6)
    assert d["server"]["failed_requests"] == 0  # clients retry by default
    assert "over_cap_requests" not in d  # reported in the server object only
    r = omc("cost", "--profile", "a10g-always-on", "--trace", str(trace), "--no-client-retry", "--json")
    assert json.loads(r.stdout)["server"]["failed_requests"] == 6
    r = omc("cost", "--profile", "a10g-always-on", "--trace", str(trace), "--no-client-retry")
    assert r.exit_code == 0 and "fail with 429" in r.stderr and "max_inputs (4)" in r.stderr
    # A web function queues the same requests: no server object.
    d = json.loads(omc("cost", "--profile", "a10g-balanced", "--trace", str(trace), "--json").stdout)
    assert d["server"] is None


def test_the_profile_target_inputs_is_what_the_autoscaler_aims_for(profiles_dir: Path) -> None:
    """server.target_inputs below max_inputs: Modal adds containers earlier (fewer 429s on a
    Server); the simulation uses it, so advice to lower it shows in omc cost."""
    from ollama_modal.config import resolve
    from ollama_modal.cost.traffic import poisson
    from ollama_modal.services.costplan import cost_for, prepare

    (profiles_dir / "eager.toml").write_text('extends = "a10g-always-on"\n[server]\ntarget_inputs = 1\n')
    traffic = poisson(20, 6 * 3600, 3)
    eager, base = resolve("eager").profile, resolve("a10g-always-on").profile
    assert prepare(eager, traffic).policy.target_inputs == 1
    assert prepare(base, traffic).policy.target_inputs in (None, base.server.max_inputs)
    e = cost_for(eager, traffic, traffic_text="t")
    b = cost_for(base, traffic, traffic_text="t")
    assert e.result.max_containers_seen > b.result.max_containers_seen
    assert e.unavailable.rejected_requests < b.unavailable.rejected_requests

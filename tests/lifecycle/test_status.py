"""status: readable, JSON, and a CI gate."""

from __future__ import annotations

import json
from pathlib import Path

from .test_deploy import deploy


def test_not_deployed(omc, modal_server) -> None:
    r = omc("status", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["deployed"] is False
    assert omc("status", "--check").exit_code == 4


def test_deployed_status_json(omc, modal_server) -> None:
    dep = json.loads(deploy(omc).stdout)
    omc("switch-warm", "--min-containers", "1", "--yes")
    r = omc("status", "--json", "--no-health")
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["deployed"] and st["profile"] == "a10g-balanced" and st["gpu"] == "A10"
    assert st["url"] == dep["url"]
    assert st["warm"]["min_containers"] == 1 and st["live_overrides"] == {"min_containers": 1}
    assert st["warm_profile"]["min_containers"] == 0
    assert st["drift"] == [] and st["drift_checked"] is True
    assert omc("status", "--check", "--no-health").exit_code == 0


def test_unreachable_endpoint_fails_the_gate(omc, modal_server) -> None:
    deploy(omc)
    r = omc("status", "--check", "--json")
    assert r.exit_code == 4
    st = json.loads(r.stdout)
    assert st["health"]["ready"] is False and "error" in st["health"]


def test_drift_against_local_profile(omc, modal_server, profiles_dir: Path) -> None:
    deploy(omc)
    (profiles_dir / "a10g-balanced.toml").write_text('extends = ["parts/base", "parts/gpu-a10g", "parts/warm-economy"]\n')
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 4
    drift = {d["field"]: d for d in json.loads(r.stdout)["drift"]}
    assert drift["scaledown_window"]["deployed"] == "300" and drift["scaledown_window"]["local"] == "10"


def test_status_shows_the_warm_schedule(omc, modal_server, profiles_dir: Path) -> None:
    (profiles_dir / "sched.toml").write_text(
        'extends = "a10g-economy"\n[[warm.schedule]]\ndays = "daily"\nstart = "00:00"\nend = "24:00"\nmin_containers = 1\n'
    )
    r = omc("deploy", "--profile", "sched", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    fns = [c.function.function_name for c in modal_server.calls("FunctionCreate")]
    assert "apply_warm_schedule" in fns
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["active_window"]["window"]["min_containers"] == 1

"""Lifecycle journeys: what a user does after the first deploy, command after command.

A journey that fails because of a known bug is marked ``xfail(strict=True)`` with the issue
item in the reason: once the fix lands it passes, pytest reports XPASS as a failure, and the
fixer removes the marker.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.fakes.ports import closed_port

BALANCED = ("deploy", "--profile", "a10g-balanced", "--yes", "--json")


def test_switch_gpu_then_gate_then_redeploy(journey) -> None:
    """deploy -> switch-gpu a100 -> status --check -> deploy again -> status."""
    j = journey
    first = j.omc(*BALANCED).json()
    url = first["url"]
    sw = j.omc("switch-gpu", "a100", "--yes", "--json").json()
    sent = j.created().resources.gpu_config.gpu_type
    assert sent.startswith("A100") and sw["url"] == url  # same URL, another GPU
    j.wake(url)  # the new deployment's container serves through the same URL
    assert j.plane.endpoints[("main", "omc-ollama")].starts == 1

    st = j.omc("status", "--check", "--json", expect=None)
    assert st.code == 0, f"a deliberate GPU switch must pass the gate\n{st}"
    assert st.json()["gpu"] == sent and st.json()["gpu_switch"], st

    again = j.omc(*BALANCED).json()
    j.wake(url)
    st = j.omc("status", "--check", "--json").json()
    # The deploy keeps the switch (its plan says so); status reports what Modal runs.
    assert st["gpu"] == j.created().resources.gpu_config.gpu_type == sent
    assert again["url"] == url

    j.omc("switch-gpu", "--reset", "--yes", "--json")
    assert j.created().resources.gpu_config.gpu_type == "A10"
    j.wake(url)
    st = j.omc("status", "--check", "--json").json()
    assert st["gpu"] == "A10" and not st["gpu_switch"]


def test_switch_gpu_a100_means_what_the_a100_profiles_mean(journey) -> None:
    j = journey
    j.omc(*BALANCED)
    j.omc("switch-gpu", "a100", "--yes")
    switched = j.created().resources.gpu_config.gpu_type
    j.omc("deploy", "--profile", "a100-balanced", "--yes")
    profile_gpu = j.created().resources.gpu_config.gpu_type
    assert switched == profile_gpu


def test_switch_warm_survives_deploys_until_reset(journey) -> None:
    """switch-warm always-on -> deploy -> still always-on -> switch-warm --reset."""
    j = journey
    j.omc(*BALANCED)
    sw = j.omc("switch-warm", "always-on", "--yes", "--json").json()
    (update,) = j.calls("FunctionUpdateSchedulingParams")
    assert update.settings.min_containers >= 1
    mark = j.mark()
    j.omc("deploy", "--profile", "a10g-economy", "--yes", "--json")  # a real redeploy (another profile)
    assert "AppPublish" in j.since(mark) and "FunctionUpdateSchedulingParams" in j.since(mark)
    st = j.omc("status", "--json", "--no-health").json()
    assert st["warm"]["min_containers"] == update.settings.min_containers
    assert "min_containers" in st["live_overrides"]
    fn = j.server.state.functions[j.app().function_ids["Ollama.*"]]
    assert fn.effective_settings().min_containers == update.settings.min_containers  # what Modal keeps

    j.omc("switch-warm", "--reset", "--yes", "--json")
    st = j.omc("status", "--json", "--no-health").json()
    assert st["live_overrides"] == {}
    assert st["warm"]["min_containers"] == 0  # a10g-economy's own value
    assert sw is not None


def test_plan_cost_counts_live_warm_override(journey) -> None:
    j = journey
    j.omc(*BALANCED)
    j.omc("switch-warm", "always-on", "--yes")
    plan = j.omc("deploy", "--profile", "a10g-economy", "--dry-run", "--json").json()
    assert plan["idle_cost_usd_per_month"] > 0, plan


def test_stop_status_deploy_status(journey) -> None:
    """stop -> status -> deploy -> status."""
    j = journey
    url = j.omc(*BALANCED).json()["url"]
    j.wake(url)
    j.omc("stop", "--yes")
    assert j.calls("AppStop")
    assert httpx.get(url + "/readyz", timeout=60).status_code == 404  # Modal: the app is stopped
    assert not j.plane.running()
    st = j.omc("status", "--json", expect=None)
    assert st.json()["deployed"] is False, st
    gate = j.omc("status", "--check", expect=4)
    assert "stopped" in gate.err or "not deployed" in gate.err
    dep = j.omc(*BALANCED).json()
    assert dep["skipped"] is False and dep["url"] == url
    j.wake(url)
    st = j.omc("status", "--check", "--json").json()
    assert st["deployed"] is True


def test_rollback_restores_the_old_settings(journey) -> None:
    """deploy A -> deploy B -> rollback -> status shows A's profile, GPU and warm settings."""
    j = journey
    url = j.omc(*BALANCED).json()["url"]
    j.omc("deploy", "--profile", "t4-economy", "--yes")
    assert j.created().resources.gpu_config.gpu_type == "T4"
    j.wake(url)
    rb = j.omc("rollback", "--yes", "--json").json()
    assert j.calls("AppRollback")
    st = j.omc("status", "--json", "--no-health").json()
    assert st["profile"] == "a10g-balanced" and st["gpu"] == "A10", (rb, st)
    assert st["warm"]["scaledown_window"] == 300 and st["warm"]["min_containers"] == 0
    assert st["deployed_version"] == 3
    j.wake(url)  # the old definition serves again (a new container)
    assert j.plane.endpoints[("main", "omc-ollama")].starts == 2
    j.omc("status", "--check")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_rotate_old_and_new_accepted_then_bench_with_new(journey) -> None:
    """keys rotate -> old and new key both accepted -> bench with the new key."""
    j = journey
    url = j.omc(*BALANCED).json()["url"]
    old = j.omc("keys", "show", "--show", "--json").json()["active"]
    j.wake(url)
    assert httpx.get(url + "/v1/models", headers=_bearer(old), timeout=60).status_code == 200

    rotated = j.omc("keys", "rotate", "--yes", "--show", "--json").json()
    new = rotated["active"]
    assert new != old and j.secret("omc-ollama-api-keys")["OMC_API_KEYS"].split(",") == [new, old]
    # The running container read the Secret when it started: it keeps the old key only.
    assert httpx.get(url + "/v1/models", headers=_bearer(old), timeout=60).status_code == 200
    j.plane.scale_to_zero()  # the scaledown window passes; the next request starts a new container
    for key in (old, new):
        assert httpx.get(url + "/v1/models", headers=_bearer(key), timeout=60).status_code == 200, key
    assert httpx.get(url + "/v1/models", headers=_bearer("omc-wrong"), timeout=60).status_code == 401

    bench = j.omc("bench", "--requests", "3", "--json", env={"OMC_API_KEY": new}).json()
    assert bench["levels"][0]["ok"] == 3, bench


def test_control_plane_down_fails_fast_and_clearly(journey) -> None:
    """Modal unreachable: exit 3 with a message naming the problem, not a minute of silence.

    The process limit only bounds the wait (the target is about 10 s); nothing is timed."""
    j = journey
    dead = f"http://127.0.0.1:{closed_port()}"  # a port nobody listens on
    try:
        run = j.omc("status", "--json", expect=None, env={"MODAL_SERVER_URL": dead}, limit=30)
    except subprocess.TimeoutExpired:
        pytest.fail("omc status still waited after 30 s with Modal unreachable")
    assert run.code == 3, run
    assert "Modal" in run.err and "Traceback" not in run.err


SNAPSHOT_PROFILE = """\
description = "a10g-balanced with memory snapshots"
extends = ["a10g-balanced"]

[server]
snapshot = true
"""


def test_keys_rotate_reaches_containers_restored_from_a_snapshot(journey) -> None:
    """With memory snapshots, later containers are restored from the first one's snapshot:
    after `keys rotate` they accept the new key too (the keys are read again on restore)."""
    j = journey
    (j.cwd / "profiles").mkdir()
    (j.cwd / "profiles" / "snappy.toml").write_text(SNAPSHOT_PROFILE)
    url = j.omc("deploy", "--profile", "snappy", "--yes", "--json").json()["url"]
    assert j.created().checkpointing_enabled
    old = j.omc("keys", "show", "--profile", "snappy", "--show", "--json").json()["active"]
    j.wake(url)  # the first container takes the snapshot with the old key in its memory
    new = j.omc("keys", "rotate", "--profile", "snappy", "--yes", "--show", "--json").json()["active"]
    j.plane.scale_to_zero()
    for key in (new, old):  # a container restored from the snapshot
        assert httpx.get(url + "/v1/models", headers=_bearer(key), timeout=60).status_code == 200, key
    assert j.plane.endpoints[("main", "omc-ollama")].starts == 2

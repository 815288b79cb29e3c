"""Journeys about the answers users get when something is off: a stopped app, a bad flag,
a profile that exists only on another machine, a benchmark where nothing works."""

from __future__ import annotations

import pytest

from tests.fakes.ports import free_port

BALANCED = ("deploy", "--profile", "a10g-balanced", "--yes", "--json")


def test_after_stop_commands_say_not_deployed_and_bench_fails(journey) -> None:
    """stop -> every command that acts on the app says so, with one exit code; a benchmark of
    the stopped URL fails (every request fails: exit 3, the server's answer in the summary)."""
    j = journey
    url = j.omc(*BALANCED).json()["url"]
    j.omc("stop", "--yes")
    codes = {}
    for args in (("switch-warm", "always-on", "--yes"), ("stop", "--yes"), ("bench", "--requests", "1")):
        run = j.omc(*args, expect=None)
        codes[args[0]] = run.code
        assert "not deployed" in run.err or "stopped" in run.err, run
        assert "Traceback" not in run.err
    assert set(codes.values()) == {3}, codes
    gate = j.omc("status", "--check", expect=4)
    assert "stopped" in gate.err or "not deployed" in gate.err
    run = j.omc("bench", "--url", url, "--api-key", "omc-any", "--model", "codellama:7b", "--requests", "2", expect=3)
    assert "404" in run.out + run.err, run


def test_bad_flags_fail_before_any_modal_call(journey) -> None:
    """Bad input: exit 2, the flag named, nothing sent to Modal (no deploy needed to see it)."""
    j = journey
    mark = j.mark()
    run = j.omc("switch-warm", "--scaledown-window", "1", "--yes", expect=2)
    assert "--scaledown-window" in run.err and "Traceback" not in run.err
    j.omc("rollback", "0", "--yes", expect=2)
    assert j.since(mark) == [], j.since(mark)


def test_bad_gpu_argument_blames_the_argument(journey) -> None:
    """switch-gpu with an impossible GPU: exit 2 naming the argument (not a profile file), no change sent."""
    j = journey
    j.omc("deploy", "--profile", "a10g-balanced", "--yes")
    mark = j.mark()
    run = j.omc("switch-gpu", "a10g:0", "--yes", expect=2)
    assert ".toml" not in run.err and "Traceback" not in run.err, run
    assert not {"FunctionCreate", "AppPublish", "AppSetTags"} & set(j.since(mark)), j.since(mark)


def test_gate_without_the_custom_profile_locally(journey) -> None:
    """A custom profile deployed from one machine, gated from another (CI without the file):
    the gate compares with what omc recorded, or fails naming the way out; never a silent pass."""
    j = journey
    j.omc("profiles", "new", "mine", "--from", "a10g-balanced", "--scaledown-window", "60")
    url = j.omc("deploy", "--profile", "mine", "--yes", "--json").json()["url"]
    (j.cwd / "profiles" / "mine.toml").unlink()
    j.wake(url)
    run = j.omc("status", "--check", "--json", expect=None)
    if run.code == 0:
        assert run.json()["drift_checked"] is True, run
    else:
        assert run.code == 4 and "mine" in run.err, run


def test_status_shows_real_names(journey) -> None:
    """status shows the model and GPU as the user wrote them, in the table and in --json."""
    j = journey
    j.omc("deploy", "--profile", "a10g-balanced", "--yes")
    st = j.omc("status", "--json", "--no-health").json()
    assert st["model"] == "codellama:7b" and st["gpu"] == "A10", st
    table = j.omc("status", "--no-health").out
    assert "codellama:7b" in table and "codellama_c7b" not in table, table


def test_the_gate_waits_through_a_cold_start(journey) -> None:
    """A profile scaled to zero, right after its deploy: the gate's health check waits through
    the cold start (a container process, a slow model load) instead of failing; --wait 0 is one
    quick request, which a cold start outlasts: exit 4 saying it is still starting."""
    j = journey
    j.plane.cold_start_s = 4.0
    j.plane.ollama_env["FAKE_OLLAMA_LOAD_DELAY"] = "2"
    j.omc(*BALANCED)
    assert not j.plane.running()
    quick = j.omc("status", "--check", "--json", "--wait", "0", expect=4)
    health = quick.json()["health"]
    assert health["state"] == "starting" and health["time_to_ready_s"] is None, quick
    assert "raise --wait" in quick.err and "Traceback" not in quick.err
    gate = j.omc("status", "--check", "--json")
    health = gate.json()["health"]
    assert health["ready"] is True and health["state"] == "ready" and health["time_to_ready_s"] is not None, gate
    assert set(health) >= {"waited_s", "attempts", "wait_s"} and health["wait_s"] >= 60


def test_the_gate_waits_for_a_server_at_zero_containers(journey) -> None:
    """A Modal Server at zero containers answers 503 at once: the gate asks again with backoff,
    says so on stderr, and passes once a container is up."""
    j = journey
    j.plane.ollama_env["FAKE_OLLAMA_LOAD_DELAY"] = "2"
    (j.cwd / "profiles").mkdir()
    (j.cwd / "profiles" / "srv.toml").write_text(
        f'extends = "a10g-balanced"\n[server]\nprimitive = "server"\nport = {free_port()}\n')
    j.omc("deploy", "--profile", "srv", "--yes", "--json")
    gate = j.omc("status", "--check", "--json", "--wait", "120")
    health = gate.json()["health"]
    assert health["ready"] is True and health["attempts"] > 1 and health["wait_s"] == 120, gate
    assert "not ready yet" in gate.err and "503" in gate.err, gate.err

"""The real runtime and supervisor against the fake `ollama serve` child process."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from ollama_modal.service.errors import ServiceConfigError, StartupError
from ollama_modal.service.phases import PHASES, parse_phase_line
from ollama_modal.service.runtime import ContainerRuntime

from .conftest import MODEL, place_model, wait_for


def _phases(lines: list[str]) -> list[dict]:
    return [r for r in map(parse_phase_line, lines) if r is not None]


def test_start_emits_one_line_per_phase_and_loads_the_model(runtime, phase_lines):
    records = _phases(phase_lines)
    assert [r["phase"] for r in records] == list(PHASES)
    assert len(records) == len(phase_lines)  # nothing else went to the phase stream
    assert all(r["model"] == MODEL and r["start"] == "full" for r in records)
    since = [r["since_start"] for r in records]
    assert since == sorted(since)
    assert all(r["seconds"] >= 0 for r in records)
    ps = httpx.get(runtime.settings.upstream_url + "/api/ps").json()
    assert [m["name"] for m in ps["models"]] == [MODEL]
    assert runtime.process.alive


def test_phase_lines_go_to_stdout_by_default(service_env, store, capsys):
    place_model(store)
    rt = ContainerRuntime.from_env(on_child_exit=lambda rc, tail: None)
    try:
        rt.start()
    finally:
        rt.stop()
    out = capsys.readouterr().out.splitlines()
    assert [r["phase"] for r in map(parse_phase_line, out) if r] == list(PHASES)


def test_warmup_off_skips_the_warmup_phase(service_env, store, make_runtime, phase_lines, monkeypatch):
    monkeypatch.setenv("OMC_WARMUP", "0")
    place_model(store)
    result = make_runtime().start()
    assert [r["phase"] for r in result.phases] == ["process_started", "server_ready", "model_loaded"]


def test_child_output_is_forwarded_and_kept(capfd, make_runtime, store):
    place_model(store)
    runtime = make_runtime()
    runtime.start()
    tail = runtime.process.tail()
    assert any("Listening on" in line for line in tail)
    assert any("loaded model" in line for line in tail)
    out, err = capfd.readouterr()
    assert "fake ollama starting" in out  # the child's stdout went to ours
    assert "loaded model" in err  # and its stderr to our stderr


def test_slow_start_past_the_budget_names_the_phase_and_stops_the_child(service_env, make_runtime, store, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_START_DELAY", "30")
    monkeypatch.setenv("OMC_STARTUP_TIMEOUT", "0.5")
    place_model(store)
    rt = make_runtime()
    with pytest.raises(StartupError) as e:
        rt.start()
    assert e.value.phase == "server_ready"
    assert "server_ready did not complete" in e.value.message
    assert not rt.process.alive


def test_slow_model_load_past_the_budget_names_model_loaded(service_env, make_runtime, store, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_LOAD_DELAY", "30")
    monkeypatch.setenv("OMC_STARTUP_TIMEOUT", "1.5")
    place_model(store)
    rt = make_runtime()
    with pytest.raises(StartupError) as e:
        rt.start()
    assert e.value.phase == "model_loaded"
    assert "model_loaded did not complete" in e.value.message
    assert not rt.process.alive


def test_crash_during_start_fails_at_once_with_exit_code_and_output(service_env, make_runtime, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_EXIT_DURING_START", "3")
    monkeypatch.setenv("OMC_STARTUP_TIMEOUT", "600")  # failing fast must not depend on the budget
    rt = make_runtime()
    with pytest.raises(StartupError) as e:
        rt.start()
    assert e.value.phase == "server_ready"
    assert "exit code 3" in e.value.message
    assert "no CUDA-capable device" in e.value.message
    assert any("no CUDA-capable device" in line for line in e.value.output)


def test_missing_binary_is_a_clear_error(service_env, make_runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("OMC_OLLAMA_BIN", str(tmp_path / "no-such-ollama"))
    with pytest.raises(StartupError) as e:
        make_runtime().start()
    assert e.value.phase == "process_started"
    assert "OMC_OLLAMA_BIN" in (e.value.hint or "")


def test_model_missing_from_store_fails_model_loaded_with_a_hint(service_env, make_runtime):
    with pytest.raises(StartupError) as e:
        make_runtime().start()
    assert e.value.phase == "model_loaded"
    assert "404" in e.value.message and MODEL in e.value.message
    assert "omc deploy" in (e.value.hint or "")


async def test_crash_after_start_fires_the_watchdog_and_fails_healthz(service_env, make_runtime, store, exits, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_EXIT_AFTER", "1.0")
    monkeypatch.setenv("FAKE_OLLAMA_EXIT_CODE", "7")
    place_model(store)
    rt = make_runtime()
    rt.start()
    app = rt.asgi_app()
    assert exits.event.wait(15), "watchdog callback did not fire"
    returncode, tail = exits.calls[0]
    assert returncode == 7
    assert any("illegal memory access" in line for line in tail)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://proxy") as client:
        r = await client.get("/healthz")
        assert r.status_code == 503
        assert "exit code 7" in r.json()["reason"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert ready.json()["state"] == "down"  # a waiting client stops treating it as a cold start


def test_stop_terminates_the_group_and_does_not_trigger_the_watchdog(runtime, exits):
    pid = runtime.process.pid
    runtime.stop()
    assert not runtime.process.alive
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not exits.event.wait(0.3)
    assert runtime.stop() == runtime.process.returncode  # idempotent


def test_bearer_without_keys_refuses_to_start(service_env, monkeypatch):
    monkeypatch.setenv("OMC_API_KEYS", " , \n")
    with pytest.raises(ServiceConfigError) as e:
        ContainerRuntime.from_env()
    assert "refusing to serve" in e.value.message


def test_snapshot_then_restore_with_a_surviving_child(service_env, make_runtime, store, phase_lines, exits):
    place_model(store)
    rt = make_runtime()
    snap = rt.start(phase="snapshot")
    assert [r["phase"] for r in snap.phases] == list(PHASES)
    pid = rt.process.pid
    restored = rt.start(phase="restore")
    assert not restored.restarted and rt.process.pid == pid
    assert [(r["phase"], r["start"], r.get("restored")) for r in restored.phases] == [
        ("server_ready", "restore", True), ("model_loaded", "restore", True)]
    # The watchdog runs after the restore.
    os.killpg(pid, signal.SIGKILL)
    assert exits.event.wait(15)


def test_restore_restarts_a_child_that_did_not_survive(service_env, make_runtime, store):
    place_model(store)
    rt = make_runtime()
    rt.start(phase="snapshot")
    old = rt.process.pid
    os.killpg(old, signal.SIGKILL)
    wait_for(lambda: not rt.process.alive, "the child to die")
    result = rt.start(phase="restore")
    assert result.restarted and rt.process.pid != old
    assert [r["phase"] for r in result.phases] == list(PHASES)
    assert rt.process.alive


def test_restore_reloads_a_model_that_left_vram(service_env, make_runtime, store, monkeypatch):
    monkeypatch.setenv("OMC_WARMUP", "0")
    place_model(store)
    rt = make_runtime()
    rt.start(phase="snapshot")
    httpx.post(rt.settings.upstream_url + "/api/generate", json={"model": MODEL, "keep_alive": 0}).raise_for_status()
    result = rt.start(phase="restore")
    assert not result.restarted
    assert [r["phase"] for r in result.phases] == ["server_ready", "model_loaded"]
    assert httpx.get(rt.settings.upstream_url + "/api/ps").json()["models"]


def test_unknown_phase_is_rejected(service_env, make_runtime):
    with pytest.raises(ValueError):
        make_runtime().start(phase="later")

"""history, rollback, stop, keys."""

from __future__ import annotations

import json

from .test_deploy import deploy


def test_history_and_rollback(omc, modal_server) -> None:
    deploy(omc)
    assert omc("deploy", "--profile", "a10g-economy", "--yes").exit_code == 0
    hist = json.loads(omc("history", "--json").stdout)
    assert [h["version"] for h in hist][:2] == [2, 1]
    r = omc("rollback", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["to_version"] == 1
    assert modal_server.calls("AppRollback")


def test_rollback_with_one_version_is_a_usage_error(omc, modal_server) -> None:
    deploy(omc)
    r = omc("rollback", "--yes")
    assert r.exit_code == 2 and "nothing to roll back to" in r.stderr


def test_stop(omc, modal_server) -> None:
    deploy(omc)
    r = omc("stop", "--yes")
    assert r.exit_code == 0
    assert modal_server.calls("AppStop")
    assert json.loads(omc("status", "--json").stdout)["deployed"] is False


def test_keys_show_and_rotate(omc, modal_server) -> None:
    deploy(omc)
    masked = omc("keys", "show").stdout.strip().splitlines()
    assert len(masked) == 1 and "…" in masked[0]
    (key,) = json.loads(omc("keys", "show", "--show", "--json").stdout)["keys"]
    assert key.startswith("omc-") and len(key) > 40
    r = omc("keys", "rotate", "--yes", "--json", "--show")
    ring = json.loads(r.stdout)
    assert ring["keys"][1] == key and ring["active"] != key
    (secret,) = [s for s in modal_server.state.secrets.values() if s.name == "omc-ollama-api-keys"]
    assert secret.env_dict["OMC_API_KEYS"] == ",".join(ring["keys"])
    r = omc("keys", "rotate", "--drop-old", "--yes", "--json", "--show")
    assert json.loads(r.stdout)["keys"] == [ring["active"]]


def test_bench_target_from_deployed_app(omc, modal_server) -> None:
    from ollama_modal.adapters.modal_backend import ModalBackend
    from ollama_modal.services.bench_target import from_app

    dep = json.loads(deploy(omc).stdout)
    key = json.loads(omc("keys", "show", "--show", "--json").stdout)["active"]
    t = from_app(ModalBackend(), "omc-ollama", None, None)
    assert (t.url, t.api_key, t.model, t.gpu, t.gpu_count) == (dep["url"], key, "codellama:7b", "A10", 1)
    assert 3.5e9 < t.model_bytes < 4.1e9


def test_rollback_puts_back_the_old_versions_settings_and_keeps_live_ones(omc, modal_server) -> None:
    deploy(omc)  # v1: a10g-balanced
    assert omc("deploy", "--profile", "a10g-economy", "--yes").exit_code == 0  # v2
    assert omc("switch-warm", "--min-containers", "1", "--yes").exit_code == 0
    r = omc("rollback", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["to_version"] == 1 and out["deployed_version"] == 3 and out["settings_known"] is True
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["profile"] == "a10g-balanced" and st["warm_profile"]["scaledown_window"] == 300
    assert st["live_overrides"] == {"min_containers": 1} and st["warm"]["min_containers"] == 1
    assert st["drift"] == [] and not st["problems"]
    hist = {h["version"]: h for h in json.loads(omc("history", "--json").stdout)}
    assert hist[3]["tags"]["omc-profile"] == "a10g-balanced"
    assert hist[2]["tags"]["omc-profile"] == "a10g-economy"
    assert hist[1]["tags"]["omc-profile"] == "a10g-balanced"


def test_rollback_without_any_record_is_reported_not_guessed(omc, modal_server) -> None:
    deploy(omc)
    assert omc("deploy", "--profile", "a10g-economy", "--yes").exit_code == 0
    # A control plane that keeps the newest tags on rollback, and an app whose snapshots are gone.
    state = modal_server.state
    with state.lock:
        app = state.app_named("omc-ollama")
        app.tags = {k: v for k, v in app.tags.items() if not k.startswith("omc-snap-")}
        app.deployments[0].tags = dict(app.deployments[-1].tags)
    r = omc("rollback", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["settings_known"] is False
    assert "kept no record of v1's settings" in r.stderr
    r = omc("status", "--json", "--no-health", "--check")
    assert r.exit_code == 4
    st = json.loads(r.stdout)
    assert st["config_hash"] is None and st["settings_known"] is False and st["ok"] is False
    assert any("rolled back to v1" in p for p in st["problems"])
    # The next deploy records what runs again.
    assert deploy(omc).exit_code == 0
    assert omc("status", "--check", "--no-health").exit_code == 0


def test_stop_then_status_then_deploy_again(omc, modal_server) -> None:
    deploy(omc)
    assert omc("stop", "--yes").exit_code == 0
    st = json.loads(omc("status", "--json").stdout)
    assert st["deployed"] is False and st["state"] == "stopped" and st["stopped_at"]
    r = omc("status", "--check")
    assert r.exit_code == 4 and "stopped" in r.stderr and "omc deploy" in r.stderr
    assert "stopped" in omc("status").stderr

    plan = json.loads(omc("deploy", "--profile", "a10g-balanced", "--dry-run", "--json").stdout)
    assert plan["state"] == "stopped" and plan["deployed"] is False
    r = omc("deploy", "--profile", "a10g-balanced", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "currently stopped (this deploy starts it again)" in r.stderr
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["deployed"] is True and st["state"] == "deployed" and st["ok"] is True


def test_a_stopped_app_is_not_a_deployment_even_if_a_lookup_by_name_returns_it(omc, modal_server, monkeypatch) -> None:
    """Modal does not document what a lookup by name answers for a stopped app: omc reads its state."""
    from modal_proto import api_pb2

    deploy(omc)
    assert omc("stop", "--yes").exit_code == 0
    state = modal_server.state

    def any_state(name, environment):
        env = state.env(environment)
        return next((a for a in state.apps.values() if a.name == name and a.environment == env and a.deployments), None)

    monkeypatch.setattr(state, "deployed_app", any_state)
    assert state.deployed_app("omc-ollama", "").state == api_pb2.APP_STATE_STOPPED
    st = json.loads(omc("status", "--json").stdout)
    assert st["deployed"] is False
    r = omc("deploy", "--profile", "a10g-balanced", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["skipped"] is False
    assert state.deployed_app("omc-ollama", "").state == api_pb2.APP_STATE_DEPLOYED

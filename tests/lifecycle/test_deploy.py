"""`omc deploy` end to end: the real modal SDK against the fake control plane."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from modal_proto import api_pb2


def deploy(omc, *args: str):
    return omc("deploy", "--profile", "a10g-balanced", "--yes", "--json", *args)


def function_create(modal_server, tag: str = "Ollama.*"):
    calls = [c for c in modal_server.calls("FunctionCreate") if c.function.function_name == tag]
    assert calls, [c.function.function_name for c in modal_server.calls("FunctionCreate")]
    return calls[-1].function


def test_first_deploy_sends_what_the_profile_says(omc, modal_server, tmp_path: Path) -> None:
    r = deploy(omc)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("app_name", "app_id", "url", "profile", "gpu", "scaledown_window", "min_containers", "config_hash", "deployed_version"):
        assert key in out, key
    assert out["app_name"] == "omc-ollama" and out["profile"] == "a10g-balanced" and out["gpu"] == "A10"
    assert out["url"].endswith("--omc-ollama.modal.run")
    assert out["scaledown_window"] == 300 and out["min_containers"] == 0 and out["deployed_version"] == 1

    fn = function_create(modal_server)
    assert fn.resources.gpu_config.gpu_type == "A10"
    assert fn.autoscaler_settings.scaledown_window == 300
    assert fn.autoscaler_settings.min_containers == 0
    assert fn.max_concurrent_inputs == 4 and fn.target_concurrent_inputs == 4
    assert fn.method_definitions["serve"].webhook_config.requested_suffix == "omc-ollama"
    assert [m.mount_path for m in fn.volume_mounts] == ["/models"]
    assert len(fn.secret_ids) == 1

    # The API key Secret was created (with OMC_API_KEYS) and its key kept locally, never printed.
    secrets = modal_server.calls("SecretGetOrCreate")
    assert any("OMC_API_KEYS" in s.env_dict for s in secrets)
    key_files = list((tmp_path / ".omc-state" / "keys").glob("*.json"))
    assert len(key_files) == 1 and (key_files[0].stat().st_mode & 0o777) == 0o600
    key = json.loads(key_files[0].read_text())["keys"][0]
    assert key not in r.stdout and key not in r.stderr

    publish = modal_server.calls("AppPublish")[-1]
    assert publish is not None
    tags = {}
    for call in modal_server.calls("AppSetTags"):
        tags = dict(call.tags)
    assert tags["omc-profile"] == "a10g-balanced" and tags["omc-gpu"] == "A10" and tags["omc-config-hash"] == out["config_hash"]


def test_unchanged_redeploy_is_a_quick_no_op(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    publishes = len(modal_server.calls("AppPublish"))
    creates = len(modal_server.calls("FunctionCreate"))
    r = deploy(omc)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["skipped"] is True
    assert len(modal_server.calls("AppPublish")) == publishes
    assert len(modal_server.calls("FunctionCreate")) == creates  # nothing rebuilt or re-sent
    assert "unchanged" in r.stderr


def test_changed_profile_shows_a_field_diff(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    r = omc("deploy", "--profile", "a10g-economy", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "scaledown_window" in r.stderr and "300" in r.stderr and "10" in r.stderr
    assert function_create(modal_server).autoscaler_settings.scaledown_window == 10


def test_no_terminal_without_yes_refuses_and_sends_no_deploy(omc, modal_server) -> None:
    r = omc("deploy", "--profile", "a10g-balanced")
    assert r.exit_code == 2
    assert "--yes" in r.stderr
    assert modal_server.calls("AppPublish") == [] and modal_server.calls("FunctionCreate") == []


def test_invalid_profile_sends_nothing(omc, modal_server) -> None:
    r = omc("deploy", "--profile", "a10g-balanced", "--scaledown-window", "4000", "--yes")
    assert r.exit_code == 2 and "2..3600" in r.stderr
    assert modal_server.methods() == []


#: RPCs that change something on Modal (a dry run must send none of them).
MUTATING = {
    "AppCreate", "AppPublish", "AppSetTags", "AppStop", "AppRollback", "AppClientDisconnect", "AppHeartbeat",
    "FunctionPrecreate", "FunctionCreate", "ClassCreate", "FunctionUpdateSchedulingParams", "FunctionMap",
    "ImageGetOrCreate", "MountGetOrCreate", "SecretGetOrCreate", "VolumeGetOrCreate", "VolumeCommit",
}


def test_dry_run_without_credentials_sends_nothing(omc, modal_server, monkeypatch) -> None:
    for var in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"):
        monkeypatch.delenv(var, raising=False)
    r = omc("deploy", "--profile", "h100-always-on", "--dry-run", "--json")
    assert r.exit_code == 0
    plan = json.loads(r.stdout)
    assert plan["dry_run"] is True and plan["gpu"] == "H100" and plan["idle_cost_usd_per_month"] > 2000
    assert plan["checked_remote"] is False
    assert modal_server.methods() == []


def test_dry_run_with_credentials_diffs_against_the_live_app_read_only(omc, modal_server) -> None:
    from modal_proto import api_pb2

    deploy(omc)
    assert omc("switch-warm", "always-on", "--yes").exit_code == 0
    modal_server.servicer.reset_records()
    r = omc("deploy", "--profile", "a10g-economy", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["checked_remote"] is True and plan["deployed"] is True and plan["unchanged"] is False
    changes = {c["field"]: c for c in plan["changes"]}
    assert changes["scaledown_window"] == {"field": "scaledown_window", "deployed": "300", "desired": "10"}
    assert "gpu" not in changes  # a diff: only what changes
    assert plan["live_overrides"] == {"min_containers": 1}
    sent = set(modal_server.methods())
    assert sent and not (sent & MUTATING), sent
    for call in modal_server.calls("AppGetOrCreate"):
        assert call.object_creation_type != api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING


def test_plan_idle_cost_counts_the_live_warm_override_in_force(omc, modal_server) -> None:
    deploy(omc)
    assert omc("switch-warm", "always-on", "--yes").exit_code == 0
    r = omc("deploy", "--profile", "a10g-economy", "--dry-run", "--json")
    plan = json.loads(r.stdout)
    assert plan["min_containers"] == 0 and plan["idle_min_containers"] == 1
    assert plan["idle_cost_usd_per_month"] == plan["always_on_usd_per_month"] > 700
    r = omc("deploy", "--profile", "a10g-economy", "--dry-run")
    assert "min_containers=1 (live" in r.stdout and "$0.00/month" not in r.stdout
    assert "live warm settings stay in force after deploy: min_containers=1 " in r.stdout and "{" not in r.stdout


def test_plan_idle_cost_of_a_warm_schedule(omc, profiles_dir: Path) -> None:
    """Business hours on weekdays keep one container up about 27% of a month (offline plan)."""
    (profiles_dir / "office.toml").write_text(
        'extends = "h100-economy"\n[[warm.schedule]]\ndays = "weekdays"\nstart = "09:00"\nend = "18:00"\n'
        'timezone = "Europe/Berlin"\nmin_containers = 1\n'
    )
    r = omc("deploy", "--profile", "office", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    plan = json.loads(r.stdout)
    share = plan["idle_cost_usd_per_month"] / plan["always_on_usd_per_month"]
    assert 0.25 < share < 0.29, share  # 21-22 weekdays x 9 h of 720 h
    assert 0.25 < plan["idle_min_containers"] < 0.29
    r = omc("deploy", "--profile", "office", "--dry-run")
    assert "1 warm window" in r.stdout and "$0.00/month" not in r.stdout
    # `profiles list` prices the same idle floor.
    (row,) = [p for p in json.loads(omc("profiles", "list", "--json").stdout) if p["name"] == "office"]
    assert abs(row["idle_floor_usd_per_month"] - plan["idle_cost_usd_per_month"]) < 0.05


def test_no_credentials(omc, monkeypatch) -> None:
    for var in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"):
        monkeypatch.delenv(var, raising=False)
    r = omc("deploy", "--profile", "a10g-balanced")
    assert r.exit_code == 0 and "plan only" in r.stderr and "modal token new" in r.stderr
    r = omc("deploy", "--profile", "a10g-balanced", "--yes")
    assert r.exit_code == 3 and "modal token new" in r.stderr


@pytest.mark.parametrize("status", ["UNAVAILABLE", "PERMISSION_DENIED", "UNAUTHENTICATED", "DEADLINE_EXCEEDED"])
def test_control_plane_errors_are_exit_3(omc, modal_server, status: str) -> None:
    modal_server.fail("AppPublish", status, times=None)
    r = deploy(omc)
    assert r.exit_code == 3, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert "error:" in r.stderr


def test_the_model_pull_app_holds_only_the_pull_function_on_cpu(omc, modal_server, pulls) -> None:
    """Filling the volume must not register the GPU class (min_containers 1 would start GPUs)."""
    r = omc("deploy", "--profile", "a10g-always-on", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert pulls == [{"model": "codellama:7b"}]
    apps = modal_server.state.apps.values()
    (pull_app,) = [a for a in apps if a.state != api_pb2.APP_STATE_DEPLOYED]
    pull_fns = [f for f in modal_server.calls("FunctionCreate") if f.app_id == pull_app.app_id]
    assert [f.function.function_name for f in pull_fns] == ["pull_model"]
    (pull,) = pull_fns
    assert pull.function.resources.gpu_config.gpu_type == "" and pull.function.resources.gpu_config.count == 0
    assert pull.function.autoscaler_settings.min_containers == 0
    assert [m.mount_path for m in pull.function.volume_mounts] == ["/models"]
    assert [c for c in modal_server.calls("ClassCreate") if c.app_id == pull_app.app_id] == []
    assert [c for c in modal_server.calls("FunctionPrecreate") if c.app_id == pull_app.app_id and c.function_name != "pull_model"] == []
    # The deployed app still gets the GPU server (always-on: a Modal Server) with its warm policy.
    fn = function_create(modal_server, "Ollama")
    assert fn.resources.gpu_config.gpu_type == "A10" and fn.autoscaler_settings.min_containers == 1

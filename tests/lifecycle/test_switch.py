"""switch-gpu (redeploy, same URL) and switch-warm (live, survives redeploys)."""

from __future__ import annotations

import json

from .test_deploy import deploy, function_create


def test_switch_gpu_keeps_url_and_warm_settings(omc, modal_server) -> None:
    first = json.loads(deploy(omc).stdout)
    r = omc("switch-gpu", "h100", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["gpu"] == "H100" and out["previous_gpu"] == "A10"
    assert out["url"] == first["url"]
    fn = function_create(modal_server)
    assert fn.resources.gpu_config.gpu_type == "H100"
    assert fn.autoscaler_settings.scaledown_window == 300
    assert fn.method_definitions["serve"].webhook_config.requested_suffix == "omc-ollama"


def test_switch_gpu_fallback_list(omc, modal_server) -> None:
    deploy(omc)
    r = omc("switch-gpu", "h100,a100-80gb", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["gpu"] == ["H100", "A100-80GB"]


def test_switch_gpu_refuses_a_misfit_before_sending(omc, modal_server) -> None:
    assert deploy(omc, "--model", "codellama:34b").exit_code == 0
    creates = len(modal_server.calls("FunctionCreate"))
    r = omc("switch-gpu", "t4", "--yes")
    assert r.exit_code == 2 and "T4 has 16 GB" in r.stderr
    assert len(modal_server.calls("FunctionCreate")) == creates


def test_switch_gpu_unknown_gpu(omc, modal_server) -> None:
    deploy(omc)
    r = omc("switch-gpu", "a99", "--yes")
    assert r.exit_code == 2 and "unknown GPU 'a99'" in r.stderr


def test_switch_warm_is_live_and_survives_redeploy(omc, modal_server) -> None:
    deploy(omc)
    publishes = len(modal_server.calls("AppPublish"))
    r = omc("switch-warm", "always-on", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["min_containers"] == 1 and out["live_overrides"] == {"min_containers": 1}
    updates = modal_server.calls("FunctionUpdateSchedulingParams")
    assert updates and updates[-1].settings.min_containers == 1
    assert len(modal_server.calls("AppPublish")) == publishes  # no redeploy

    # A later deploy (of a changed profile) resets Modal's overrides: omc puts them back.
    before = len(modal_server.calls("FunctionUpdateSchedulingParams"))
    r = omc("deploy", "--profile", "a10g-balanced", "--gpu", "l4", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["min_containers"] == 1
    again = modal_server.calls("FunctionUpdateSchedulingParams")[before:]
    assert again and again[-1].settings.min_containers == 1

    # And switch-gpu keeps them too.
    before = len(modal_server.calls("FunctionUpdateSchedulingParams"))
    assert omc("switch-gpu", "a10g", "--yes").exit_code == 0
    assert modal_server.calls("FunctionUpdateSchedulingParams")[before:][-1].settings.min_containers == 1

    # --reset drops them.
    r = omc("switch-warm", "--reset", "--yes", "--json")
    assert json.loads(r.stdout)["live_overrides"] == {}
    assert modal_server.calls("FunctionUpdateSchedulingParams")[-1].settings.min_containers == 0


def test_switch_warm_values_validated(omc, modal_server) -> None:
    deploy(omc)
    r = omc("switch-warm", "--scaledown-window", "5000", "--yes")
    assert r.exit_code == 2 and "3600" in r.stderr
    r = omc("switch-warm", "--min-containers", "3", "--max-containers", "2", "--yes")
    assert r.exit_code == 2 and "greater than max_containers" in r.stderr
    r = omc("switch-warm", "turbo", "--yes")
    assert r.exit_code == 2 and "unknown warm policy" in r.stderr
    assert modal_server.calls("FunctionUpdateSchedulingParams") == []


def test_switch_on_an_app_without_omc_tags(omc, modal_server, tmp_path) -> None:
    from ollama_modal.adapters.modal_backend import ModalBackend

    app = tmp_path / "hand.py"
    app.write_text(
        "import modal\napp = modal.App('hand-made')\n\n@app.function()\ndef f():\n    return 1\n"
    )
    ModalBackend().deploy_file(app, "hand-made")
    r = omc("switch-warm", "economy", "--app", "hand-made", "--yes")
    assert r.exit_code == 2 and "not deployed by omc" in r.stderr


def status(omc) -> dict:
    r = omc("status", "--json", "--no-health")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_switch_gpu_is_a_deliberate_recorded_state_kept_by_later_deploys(omc, modal_server) -> None:
    deploy(omc)
    r = omc("switch-gpu", "a100", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["gpu"] == "A100-80GB"  # `a100` is what the a100-* profiles run
    assert function_create(modal_server).resources.gpu_config.gpu_type == "A100-80GB"

    st = status(omc)
    assert st["gpu"] == "A100-80GB" and st["gpu_switch"] == {"gpu": "A100-80GB", "profile_gpu": "A10"}
    assert st["drift"] == [] and st["runtime_drift"] == [] and st["ok"] is True
    assert omc("status", "--check", "--no-health").exit_code == 0
    table = omc("status", "--no-health").stdout
    assert "switched with `omc switch-gpu`" in table and "A10" in table

    # The next deploy of the profile keeps the switch, and its plan says so.
    creates = len(modal_server.calls("FunctionCreate"))
    r = omc("deploy", "--profile", "a10g-balanced", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "GPU switch stays in force: A100-80GB instead of the profile's A10" in r.stderr
    r = omc("deploy", "--profile", "a10g-balanced", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["skipped"] is True and out["gpu"] == "A100-80GB" and out["gpu_switch"] == "A100-80GB"
    assert len(modal_server.calls("FunctionCreate")) == creates

    # Another profile on the same app: its warm policy, still the switched GPU.
    r = omc("deploy", "--profile", "a10g-economy", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert function_create(modal_server).resources.gpu_config.gpu_type == "A100-80GB"
    assert function_create(modal_server).autoscaler_settings.scaledown_window == 10
    st = status(omc)
    assert st["profile"] == "a10g-economy" and st["gpu_switch"]["gpu"] == "A100-80GB" and st["ok"] is True

    # --reset: back to the profile's own GPU, no switch recorded.
    r = omc("switch-gpu", "--reset", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert function_create(modal_server).resources.gpu_config.gpu_type == "A10"
    st = status(omc)
    assert st["gpu"] == "A10" and st["gpu_switch"] is None and st["ok"] is True
    assert omc("status", "--check", "--no-health").exit_code == 0


def test_deploy_with_gpu_flag_replaces_a_switch(omc, modal_server) -> None:
    deploy(omc)
    assert omc("switch-gpu", "h100", "--yes").exit_code == 0
    r = omc("deploy", "--profile", "a10g-balanced", "--gpu", "l4", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["gpu_switch"] is None
    assert function_create(modal_server).resources.gpu_config.gpu_type == "L4"
    assert status(omc)["gpu_switch"] is None


def test_switch_gpu_to_the_profiles_own_gpu_records_no_switch(omc, modal_server) -> None:
    deploy(omc)
    assert omc("switch-gpu", "h100", "--yes").exit_code == 0
    assert omc("switch-gpu", "a10g", "--yes").exit_code == 0
    assert status(omc)["gpu_switch"] is None


def test_switch_gpu_needs_a_gpu_or_reset_not_both(omc, modal_server) -> None:
    deploy(omc)
    assert omc("switch-gpu", "--yes").exit_code == 2
    r = omc("switch-gpu", "h100", "--reset", "--yes")
    assert r.exit_code == 2 and "not both" in r.stderr

"""Every lifecycle command on a profile served as a Modal Server, and moving between primitives."""

from __future__ import annotations

import json

SERVER_URL = "https://omc-test--omc-ollama-ollama.us-east.modal.direct"


def deploy(omc, profile: str = "a10g-always-on", *args: str):
    return omc("deploy", "--profile", profile, "--yes", "--json", *args)


def server_function(modal_server):
    app = modal_server.state.app_named("omc-ollama")
    return modal_server.state.functions[app.function_ids["Ollama"]]


def test_always_on_deploys_as_a_modal_server(omc, modal_server) -> None:
    r = deploy(omc)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["primitive"] == "server" and out["url"] == SERVER_URL
    fn = server_function(modal_server).definition
    assert fn.is_server and fn.http_config.port == 8000 and fn.autoscaler_settings.min_containers == 1
    tags = dict(modal_server.calls("AppSetTags")[-1].tags)
    assert tags["omc-primitive"] == "server"


def test_plan_says_which_primitive_and_why(omc, modal_server) -> None:
    r = omc("deploy", "--profile", "a10g-always-on", "--dry-run", "--json")
    plan = json.loads(r.stdout)
    assert plan["primitive"] == "server" and "always up" in plan["primitive_reason"]
    r = omc("deploy", "--profile", "a10g-balanced", "--dry-run")
    assert "serves as a web function" in r.stdout and "scales to zero" in r.stdout


def test_changing_primitive_says_the_url_changes_and_asks(omc, modal_server) -> None:
    assert deploy(omc, "a10g-balanced").exit_code == 0
    r = omc("deploy", "--profile", "a10g-always-on")  # no --yes, no terminal: refused, nothing sent
    assert r.exit_code == 2
    assert "the endpoint URL changes" in r.stderr and "change its URL" in r.stderr
    assert "modal.direct" in r.stderr
    r = deploy(omc)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["url"] == SERVER_URL
    r = omc("deploy", "--profile", "a10g-always-on", "--dry-run", "--json")
    assert json.loads(r.stdout)["primitive_change"] is None


def test_status_shows_request_stats(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    modal_server.state.set_server_stats(
        "Ollama", by_status={200: 120, 429: 2, 503: 5}, latency_s={50: 0.3, 90: 1.2, 99: 4.0}, started=1, errors=0, total=1
    )
    server_function(modal_server).running = 1
    r = omc("status", "--json", "--no-health")
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["primitive"] == "server" and st["url"] == SERVER_URL and st["containers"] == 1
    assert st["requests"]["requests"] == 127 and st["requests"]["by_status"] == {"200": 120, "429": 2, "503": 5}
    assert st["requests"]["latency"] == {"p50": 300.0, "p90": 1200.0, "p99": 4000.0}
    assert st["warm"]["target_inputs"] == 4.0 and st["warm"]["min_containers"] == 1
    r = omc("status", "--no-health")
    text = " ".join(r.stdout.split())
    assert "127 in the last hour" in text and "503: 5" in text and "p50 300" in text, r.stdout


def test_status_of_a_function_has_no_request_stats(omc, modal_server) -> None:
    assert deploy(omc, "a10g-balanced").exit_code == 0
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["primitive"] == "function" and st["requests"] is None
    assert "ServerGetTimeRangeStats" not in modal_server.methods()


def test_switch_warm_live_on_a_server_with_target_and_scaleup(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    modal_server.servicer.reset_records()
    r = omc("switch-warm", "--min-containers", "2", "--target-inputs", "3", "--scaleup-window", "30", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    (req,) = modal_server.calls("FunctionUpdateSchedulingParams")
    assert (req.settings.min_containers, req.settings.target_concurrency_float, req.settings.scaleup_window) == (2, 3.0, 30)
    assert "AppPublish" not in modal_server.methods()
    out = json.loads(r.stdout)
    assert out["live_overrides"] == {"min_containers": 2, "scaleup_window": 30, "target_inputs": 3}

    # A redeploy resets Modal's overrides; omc puts them back, Server settings included.
    modal_server.servicer.reset_records()
    r = omc("deploy", "--profile", "a10g-always-on", "--gpu", "l4", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    (req,) = modal_server.calls("FunctionUpdateSchedulingParams")
    assert (req.settings.min_containers, req.settings.target_concurrency_float, req.settings.scaleup_window) == (2, 3.0, 30)


def test_server_only_settings_are_refused_on_a_function(omc, modal_server) -> None:
    assert deploy(omc, "a10g-balanced").exit_code == 0
    modal_server.servicer.reset_records()
    r = omc("switch-warm", "--target-inputs", "2", "--yes")
    assert r.exit_code == 2 and "--target-inputs" in r.stderr and "web function" in r.stderr
    assert "FunctionUpdateSchedulingParams" not in modal_server.methods()


def test_target_inputs_over_the_hard_cap_is_exit_2(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    modal_server.servicer.reset_records()
    r = omc("switch-warm", "--target-inputs", "9", "--yes")
    assert r.exit_code == 2 and "max_inputs (4)" in r.stderr
    assert "FunctionUpdateSchedulingParams" not in modal_server.methods()


def test_switch_gpu_keeps_the_server_and_its_url(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    r = omc("switch-gpu", "h100", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["url"] == SERVER_URL and out["primitive"] == "server"
    assert server_function(modal_server).definition.resources.gpu_config.gpu_type == "H100"


def test_rollback_across_primitives_reapplies_only_what_that_primitive_takes(omc, modal_server) -> None:
    assert deploy(omc, "a10g-balanced").exit_code == 0
    assert deploy(omc).exit_code == 0
    assert omc("switch-warm", "--scaledown-window", "600", "--target-inputs", "2", "--yes").exit_code == 0
    modal_server.servicer.reset_records()
    r = omc("rollback", "1", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["live_overrides"] == {"scaledown_window": 600}  # target_inputs is a Server setting
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert st["primitive"] == "function" and st["url"].endswith("--omc-ollama.modal.run")


def test_history_logs_and_stop_work_on_a_server(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    r = omc("history", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["tags"]["omc-primitive"] == "server"
    assert omc("logs").exit_code == 0
    assert omc("stop", "--yes").exit_code == 0


def test_switch_warm_to_zero_on_a_server_warns_of_503(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    r = omc("switch-warm", "--min-containers", "0", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "get 503" in r.stderr and 'server.primitive = "function"' in r.stderr
    st = json.loads(omc("status", "--json", "--no-health").stdout)
    assert any("503" in p for p in st["problems"])


def test_moving_to_a_web_function_drops_server_only_live_settings_and_says_so(omc, modal_server) -> None:
    assert deploy(omc).exit_code == 0
    assert omc("switch-warm", "--target-inputs", "2", "--scaledown-window", "600", "--yes").exit_code == 0
    r = omc("deploy", "--profile", "a10g-balanced", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert "dropped live settings a web function does not take: target_inputs=2" in r.stderr
    assert json.loads(r.stdout)["live_overrides"] == {"scaledown_window": 600}
    tags = dict(modal_server.calls("AppSetTags")[-1].tags)
    assert "omc-live-target-inputs" not in tags and tags["omc-live-scaledown-window"] == "600"

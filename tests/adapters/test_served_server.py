"""The Modal Server handle: URL, autoscaler (target concurrency and scale-up window live),
container count and request statistics, through the real SDK against the fake control plane."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ollama_modal.adapters import AutoscalerSettings, CurrentStats, RequestStats
from ollama_modal.errors import RemoteError, UsageError

from .conftest import MOUNTED_PACKAGE

APP = "omc-ollama"

SERVER_APP = f'''
import modal

image = modal.Image.debian_slim().add_local_python_source("{MOUNTED_PACKAGE}")
app = modal.App("{APP}", image=image, tags={{"omc-managed": "1", "omc-primitive": "server"}})


@app.server(
    gpu="A10",
    port=8000,
    target_concurrency=4,
    max_concurrency=4,
    scaledown_window=300,
    min_containers=1,
    buffer_containers=0,
    startup_timeout=600,
    exit_grace_period=120,
    routing_region="eu-west",
    unauthenticated=True,
)
class Ollama:
    @modal.enter()
    def start(self) -> None:
        pass
'''


@pytest.fixture
def server_app(backend, modal_server, tmp_path: Path, mounted_package):
    path = tmp_path / "omc_server_app.py"
    path.write_text(SERVER_APP, encoding="utf-8")
    backend.deploy_file(path, APP)
    modal_server.servicer.reset_records()
    return path


def _fn(modal_server):
    app = modal_server.state.app_named(APP)
    return modal_server.state.functions[app.function_ids["Ollama"]]


def test_url_is_the_servers_own(backend, server_app) -> None:
    assert backend.served(APP, "server").url() == "https://omc-test--omc-ollama-ollama.eu-west.modal.direct"


def test_autoscaler_settings_include_target_and_scaleup(backend, server_app) -> None:
    s = backend.served(APP, "server").autoscaler_settings()
    assert (s.min_containers, s.scaledown_window, s.target_inputs) == (1, 300, 4.0)


def test_live_update_sends_target_concurrency_and_scaleup_window(backend, modal_server, server_app) -> None:
    after = backend.served(APP, "server").update_autoscaler(min_containers=2, target_inputs=3, scaleup_window=45)

    (req,) = modal_server.calls("FunctionUpdateSchedulingParams")
    assert req.function_id == _fn(modal_server).function_id
    assert (req.settings.min_containers, req.settings.target_concurrency_float, req.settings.scaleup_window) == (2, 3.0, 45)
    assert not req.settings.HasField("max_containers")  # only what was asked changes
    assert after == AutoscalerSettings(2, None, 0, 300, scaleup_window=45, target_inputs=3.0)
    assert "AppPublish" not in modal_server.methods()  # live: no redeploy


def test_redeploy_resets_the_live_settings(backend, modal_server, server_app) -> None:
    backend.served(APP, "server").update_autoscaler(target_inputs=2)
    server_app.write_text(SERVER_APP.replace('gpu="A10"', 'gpu="L4"'), encoding="utf-8")
    backend.deploy_file(server_app, APP)
    assert backend.served(APP, "server").autoscaler_settings().target_inputs == 4.0


def test_container_count(backend, modal_server, server_app) -> None:
    _fn(modal_server).running = 2
    assert backend.served(APP, "server").current_stats() == CurrentStats(backlog=0, num_total_runners=2)


def test_request_stats_of_the_last_hour(backend, modal_server, server_app) -> None:
    modal_server.state.set_server_stats(
        "Ollama", by_status={200: 90, 429: 3, 503: 7}, latency_s={50: 0.21, 90: 0.8, 99: 2.5}, started=2, errors=1, total=3
    )
    stats = backend.served(APP, "server").request_stats()

    assert isinstance(stats, RequestStats)
    assert (stats.requests, stats.by_status) == (100, {200: 90, 429: 3, 503: 7})
    assert stats.latency == {"p50": 210.0, "p90": 800.0, "p99": 2500.0} and stats.latency_unit == "ms"
    assert (stats.containers_started, stats.container_errors, stats.containers_total) == (2, 1, 3)
    ((since, until),) = modal_server.state.stats_requests
    assert timedelta(minutes=59) < until - since <= timedelta(hours=1)  # the SDK's default window
    assert stats.to_json()["by_status"] == {"200": 90, "429": 3, "503": 7}


def test_request_stats_of_a_given_range(backend, modal_server, server_app) -> None:
    until = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    stats = backend.served(APP, "server").request_stats(since=until - timedelta(hours=5), until=until)
    assert stats.requests == 0 and stats.latency == {}
    assert stats.since.startswith("2026-11-30T07:00") and stats.until.startswith("2026-11-30T12:00")


def test_function_settings_are_refused_on_the_server_handle(backend, server_app) -> None:
    with pytest.raises(UsageError, match="keep_warm"):
        backend.served(APP, "server").update_autoscaler(keep_warm=1)


def test_a_missing_server_says_deploy_first(backend, modal_server) -> None:
    with pytest.raises(RemoteError) as info:
        backend.served(APP, "server").autoscaler_settings()
    assert info.value.exit_code == 3 and "has no Modal Server 'Ollama'" in info.value.message


def test_the_function_handle_reports_no_request_stats(backend, modal_server, app_file, api_secret) -> None:
    backend.deploy_file(app_file(), APP)
    assert backend.served(APP, "function").request_stats() is None


def test_the_warm_schedule_function_updates_a_server(backend, modal_server, server_app) -> None:
    """What the rendered `apply_warm_schedule` does every 5 minutes, for an app served as a Server."""
    from ollama_modal.warm_schedule import apply_schedule

    always = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00",
               "timezone": "UTC", "min_containers": 3}]
    assert apply_schedule(APP, "Ollama", always, 1, primitive="server") == 3
    (req,) = modal_server.calls("FunctionUpdateSchedulingParams")
    assert req.function_id == _fn(modal_server).function_id and req.settings.min_containers == 3

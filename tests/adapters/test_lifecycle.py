"""Lookups and lifecycle through ModalBackend: info, tags, listing, autoscaler, stats,
history/rollback, stop, logs."""

from __future__ import annotations

import pytest
from modal_proto import api_pb2

from ollama_modal.adapters import AppInfo, AutoscalerSettings, CurrentStats
from ollama_modal.errors import RemoteError, UsageError

APP = "omc-ollama"


@pytest.fixture
def deployed(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(), APP)
    modal_server.servicer.reset_records()
    return modal_server.state.app_named(APP)


def _service(modal_server, app) -> object:
    return modal_server.state.functions[app.function_ids["Ollama.*"]]


def test_app_info_none_when_not_deployed(backend, modal_server):
    assert backend.app_info(APP) is None


def test_app_info_of_a_deployed_app(backend, deployed):
    info = backend.app_info(APP)

    assert isinstance(info, AppInfo)
    assert (info.name, info.app_id, info.state, info.version) == (APP, deployed.app_id, "deployed", 1)
    assert info.tags == {"omc-managed": "1", "omc-profile": "a10-balanced", "omc-gpu": "A10"}
    assert info.deployed_at and info.deployed_at.endswith("+00:00")


def test_set_tags_replaces_the_set(backend, modal_server, deployed):
    backend.set_tags(APP, {"omc-managed": "1", "omc-live-min-containers": "2"})

    (req,) = modal_server.calls("AppSetTags")
    assert req.app_id == deployed.app_id
    assert backend.get_tags(APP) == {"omc-managed": "1", "omc-live-min-containers": "2"}


def test_list_apps_with_tags_and_without_stopped_ones(backend, modal_server, app_file, deployed):
    backend.deploy_file(app_file(app_name="other", tags={"team": "x"}, label="other"), "other")
    backend.stop("other")

    apps = backend.list_apps()

    assert [(a.name, a.tags.get("omc-managed")) for a in apps] == [(APP, "1")]


def test_update_autoscaler_is_live_and_does_not_redeploy(backend, modal_server, deployed):
    result = backend.served(APP, "function").update_autoscaler(min_containers=2, scaledown_window=900)

    (req,) = modal_server.calls("FunctionUpdateSchedulingParams")
    assert req.function_id == deployed.function_ids["Ollama.*"]
    assert req.settings.HasField("min_containers") and req.settings.min_containers == 2
    assert req.settings.scaledown_window == 900
    assert not req.settings.HasField("max_containers")  # untouched keys are not sent
    assert not {"AppPublish", "FunctionCreate", "AppCreate"} & set(modal_server.methods())
    assert result == AutoscalerSettings(min_containers=2, max_containers=3, buffer_containers=0, scaledown_window=900)
    assert backend.served(APP, "function").autoscaler_settings() == result


def test_update_autoscaler_none_max_means_unlimited(backend, modal_server, deployed):
    result = backend.served(APP, "function").update_autoscaler(max_containers=None, scaledown_window=None)

    (req,) = modal_server.calls("FunctionUpdateSchedulingParams")
    assert req.settings.HasField("max_containers") and req.settings.max_containers == 0
    assert not req.settings.HasField("scaledown_window")
    assert result.max_containers is None


def test_update_autoscaler_rejects_unknown_keys(backend, deployed):
    with pytest.raises(UsageError, match="keep_warm"):
        backend.served(APP, "function").update_autoscaler(keep_warm=1)
    with pytest.raises(UsageError, match="target_inputs"):  # a Modal Server's setting
        backend.served(APP, "function").update_autoscaler(target_inputs=2)


def test_changed_redeploy_resets_live_overrides(backend, modal_server, app_file, deployed):
    backend.served(APP, "function").update_autoscaler(min_containers=2)
    assert backend.served(APP, "function").autoscaler_settings().min_containers == 2

    backend.deploy_file(app_file(gpu="L4"), APP)

    assert backend.served(APP, "function").autoscaler_settings() == AutoscalerSettings(0, 3, 0, 300)


def test_autoscaler_of_a_missing_class_says_deploy_first(backend, modal_server):
    with pytest.raises(RemoteError) as info:
        backend.served(APP, "function").autoscaler_settings()
    assert info.value.exit_code == 3
    assert "has no class 'Ollama'" in info.value.message
    assert "omc deploy" in (info.value.hint or "")


def test_current_stats(backend, modal_server, deployed):
    fn = _service(modal_server, deployed)
    fn.backlog, fn.running = 3, 2

    assert backend.served(APP, "function").current_stats() == CurrentStats(backlog=3, num_total_runners=2)


def test_web_url_lookup(backend, modal_server, deployed):
    assert backend.served(APP, "function").url() == "https://omc-test--omc-ollama.modal.run"
    assert {"ClassGet", "FunctionGet"} <= set(modal_server.methods())


def test_history_and_rollback(backend, modal_server, app_file, deployed):
    backend.deploy_file(app_file(gpu="L4", tags={"omc-managed": "1", "omc-gpu": "L4"}), APP, tag="try-l4")
    backend.served(APP, "function").update_autoscaler(min_containers=1)

    history = backend.history(APP)
    assert [(d.version, d.current, d.tag) for d in history] == [(2, True, "try-l4"), (1, False, "")]
    assert history[0].tags == {"omc-managed": "1", "omc-gpu": "L4"} and history[1].tags is None

    new_version = backend.rollback(APP, 1)

    (req,) = modal_server.calls("AppRollback")
    assert (req.app_id, req.version) == (deployed.app_id, 1)
    assert new_version == 3
    assert backend.app_info(APP).tags["omc-gpu"] == "A10"  # v1's tags came back
    assert backend.history(APP)[0].rollback_version == 1
    assert backend.served(APP, "function").autoscaler_settings().min_containers == 0  # a rollback is a deploy


def test_rollback_default_is_the_previous_version(backend, modal_server, app_file, deployed):
    backend.deploy_file(app_file(gpu="L4"), APP)
    assert backend.rollback(APP) == 3
    assert modal_server.calls("AppRollback")[0].version == -1
    # The rolled-back version runs v1's code again: the class is back on the A10.
    assert _service(modal_server, deployed).definition.resources.gpu_config.gpu_type == "A10"


def test_rollback_to_the_current_version_is_refused(backend, deployed):
    with pytest.raises(RemoteError, match="refused"):
        backend.rollback(APP, 1)


def test_stop(backend, modal_server, deployed):
    backend.stop(APP)

    (req,) = modal_server.calls("AppStop")
    assert req.app_id == deployed.app_id
    assert deployed.state == api_pb2.APP_STATE_STOPPED
    assert backend.app_info(APP) is None
    with pytest.raises(RemoteError, match="not deployed"):
        backend.stop(APP)


def test_logs_tail_and_follow(backend, modal_server, deployed):
    modal_server.state.log_lines[:] = ["omc phase=pull model=qwen2.5:0.5b", "omc phase=load", "omc phase=ready url=/"]

    assert list(backend.logs(APP)) == ["omc phase=pull model=qwen2.5:0.5b", "omc phase=load", "omc phase=ready url=/"]
    assert list(backend.logs(APP, follow=True))[-1] == "omc phase=ready url=/"
    assert {"AppFetchLogs", "AppGetLogs"} <= set(modal_server.methods())


def test_logs_of_a_missing_app(backend, modal_server):
    with pytest.raises(RemoteError, match="not deployed"):
        list(backend.logs(APP))


def test_calls_from_several_threads_share_one_client(backend, modal_server, deployed):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        url = pool.submit(backend.served(APP, "function").url)
        stats = pool.submit(backend.served(APP, "function").current_stats)
        auto = pool.submit(backend.served(APP, "function").autoscaler_settings)
        info = pool.submit(backend.app_info, APP)
        assert url.result() == "https://omc-test--omc-ollama.modal.run"
        assert stats.result() == CurrentStats(0, 0)
        assert auto.result() == AutoscalerSettings(0, 3, 0, 300)
        assert info.result().version == 1

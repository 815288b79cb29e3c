"""Deploy a rendered-style app through ModalBackend and assert on what the SDK really sent."""

from __future__ import annotations

import sys

import pytest
from modal_proto import api_pb2

from ollama_modal.adapters import DeployOutcome
from ollama_modal.errors import ConfigError

URL = "https://omc-test--omc-ollama.modal.run"


def _function(req: api_pb2.FunctionCreateRequest) -> api_pb2.Function:
    return req.function if req.HasField("function") else req.function_data.ranked_functions[0].function


def _created(modal_server, name: str) -> api_pb2.Function:
    matches = [_function(r) for r in modal_server.calls("FunctionCreate") if _function(r).function_name == name]
    assert matches, f"no FunctionCreate for {name}: {[_function(r).function_name for r in modal_server.calls('FunctionCreate')]}"
    return matches[-1]


def test_first_deploy_publishes_version_1_with_url(backend, modal_server, app_file, api_secret):
    progress: list[str] = []
    out = backend.deploy_file(app_file(), "omc-ollama", on_progress=progress.append)

    assert isinstance(out, DeployOutcome)
    assert out.version == 1 and not out.skipped
    assert out.app_id == modal_server.state.app_named("omc-ollama").app_id
    assert out.web_urls == {"Ollama.serve": URL} and out.web_url == URL
    assert any("deployed" in m.lower() for m in progress)
    assert modal_server.servicer.unimplemented == []


def test_function_create_carries_gpu_autoscaler_concurrency_web_volume_secret(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(min_containers=1, buffer_containers=1, max_containers=5), "omc-ollama")
    fn = _created(modal_server, "Ollama.*")

    assert fn.is_class
    assert fn.resources.gpu_config.gpu_type == "A10" and fn.resources.gpu_config.count == 1
    s = fn.autoscaler_settings
    assert (s.min_containers, s.max_containers, s.buffer_containers, s.scaledown_window) == (1, 5, 1, 300)
    assert (fn.max_concurrent_inputs, fn.target_concurrent_inputs) == (4, 4)
    assert fn.timeout_secs == 600

    web = fn.method_definitions["serve"].webhook_config
    assert web.type == api_pb2.WEBHOOK_TYPE_ASGI_APP and web.requested_suffix == "omc-ollama"

    volume = modal_server.state.volumes[("main", "omc-models")]
    assert [(m.mount_path, m.volume_id) for m in fn.volume_mounts] == [("/models", volume.volume_id)]
    assert list(fn.secret_ids) == [modal_server.state.secrets[("main", "omc-api-keys")].secret_id]

    pull = _created(modal_server, "pull_model")
    assert not pull.resources.gpu_config.gpu_type  # the pull runs on CPU
    assert [m.mount_path for m in pull.volume_mounts] == ["/models"]


def test_image_layers_and_local_package_mount(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(local_source="ollama_modal"), "omc-ollama")
    commands = [c for req in modal_server.calls("ImageGetOrCreate") for c in req.image.dockerfile_commands]

    assert "RUN apt-get install -y curl zstd" in commands
    assert any("ollama.com/install.sh" in c and "OLLAMA_VERSION=0.9.0" in c for c in commands)
    assert "RUN python -m pip install fastapi==0.115.0 httpx==0.27.2" in commands
    assert {"ENV OLLAMA_HOST=127.0.0.1:11434", "ENV OLLAMA_MODELS=/models", "ENV OLLAMA_KEEP_ALIVE=-1"} <= set(commands)
    # Every layer was built once (ImageJoinStreaming), then the function used the last one.
    image_ids = {req.image_id for req in modal_server.calls("ImageJoinStreaming")}
    assert _created(modal_server, "Ollama.*").image_id in image_ids

    uploaded = [f.filename for req in modal_server.calls("MountGetOrCreate") for f in req.files]
    assert "/root/ollama_modal/__init__.py" in uploaded
    assert "/root/ollama_modal/adapters/modal_backend.py" in uploaded


def test_publish_records_app_tags_and_deployment_tag(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(tags={"omc-managed": "1", "omc-config-hash": "abc123"}), "omc-ollama", tag="release-1")
    (publish,) = modal_server.calls("AppPublish")

    assert dict(publish.tags) == {"omc-managed": "1", "omc-config-hash": "abc123"}
    (create,) = modal_server.calls("AppCreate")  # modal.App(name, tags=...) sends them at creation too
    assert dict(create.tags) == {"omc-managed": "1", "omc-config-hash": "abc123"}
    assert publish.deployment_tag == "release-1"
    assert publish.name == "omc-ollama"
    assert backend.get_tags("omc-ollama") == {"omc-managed": "1", "omc-config-hash": "abc123"}


def test_unchanged_redeploy_is_skipped_and_keeps_the_version(backend, modal_server, app_file, api_secret):
    first = backend.deploy_file(app_file(), "omc-ollama")
    progress: list[str] = []
    again = backend.deploy_file(app_file(), "omc-ollama", on_progress=progress.append)

    assert (first.version, again.version) == (1, 1)
    assert again.skipped and not first.skipped
    assert again.app_id == first.app_id
    assert any("skipped" in m.lower() for m in progress)
    assert "AppGetLayout" in modal_server.methods()  # the redeploy reused the existing app
    # Images are content-addressed: the second deploy built nothing.
    assert len(modal_server.calls("ImageGetOrCreate")) > len(modal_server.calls("ImageJoinStreaming"))
    assert len(modal_server.calls("ImageJoinStreaming")) == len(set(modal_server.state.built_images))


def test_gpu_switch_redeploys_same_url_and_function(backend, modal_server, app_file, api_secret):
    first = backend.deploy_file(app_file(), "omc-ollama")
    second = backend.deploy_file(app_file(gpu="L40S"), "omc-ollama")

    assert (first.version, second.version) == (1, 2) and not second.skipped
    assert second.web_urls == first.web_urls == {"Ollama.serve": URL}
    creates = [r for r in modal_server.calls("FunctionCreate") if _function(r).function_name == "Ollama.*"]
    assert [_function(r).resources.gpu_config.gpu_type for r in creates] == ["A10", "L40S"]
    assert creates[1].existing_function_id == modal_server.state.app_named("omc-ollama").function_ids["Ollama.*"]


def test_gpu_fallback_list_is_sent_ranked(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(gpu=["H100", "A100-80GB"]), "omc-ollama")
    (req,) = [r for r in modal_server.calls("FunctionCreate") if _function(r).function_name == "Ollama.*"]

    assert not req.HasField("function")
    ranked = sorted(req.function_data.ranked_functions, key=lambda r: r.rank)
    assert [r.function.resources.gpu_config.gpu_type for r in ranked] == ["H100", "A100-80GB"]


def test_deploy_into_another_environment(modal_server, app_file, api_secret):
    from ollama_modal.adapters.modal_backend import ModalBackend

    modal_server.state.add_environment("dev")
    modal_server.state.put_secret("omc-api-keys", "dev", {"OMC_API_KEYS": "k"})
    out = ModalBackend(environment="dev").deploy_file(app_file(), "omc-ollama")

    (create,) = modal_server.calls("AppCreate")
    assert create.environment_name == "dev"
    assert out.web_url == "https://omc-test-dev--omc-ollama.modal.run"
    assert ModalBackend().app_info("omc-ollama") is None  # not in the default environment


def test_import_failure_is_a_config_error_and_leaves_nothing_behind(backend, modal_server, tmp_path):
    path = tmp_path / "omc_broken.py"
    path.write_text(
        "import modal\napp = modal.App('x')\n\n@app.function(container_idle_timeout=300)\ndef f():\n    pass\n",
        encoding="utf-8",
    )
    path_before = list(sys.path)

    with pytest.raises(ConfigError) as info:
        backend.deploy_file(path, "omc-ollama")

    assert "failed to import" in info.value.message
    assert any("container_idle_timeout" in p or "scaledown_window" in p for p in info.value.problems)
    assert "omc_broken" not in sys.modules
    assert sys.path == path_before
    assert modal_server.methods() == []  # nothing was sent


def test_file_without_app_is_a_config_error(backend, modal_server, tmp_path):
    path = tmp_path / "omc_empty.py"
    path.write_text("import modal\nother = modal.App('x')\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="no modal.App named `app`"):
        backend.deploy_file(path, "omc-ollama")
    assert "omc_empty" not in sys.modules


def test_module_is_imported_afresh_for_each_deploy(backend, modal_server, app_file, api_secret):
    backend.deploy_file(app_file(gpu="T4"), "omc-ollama")
    assert "omc_app" not in sys.modules
    backend.deploy_file(app_file(gpu="L4"), "omc-ollama")  # same module name, new content

    gpus = [_function(r).resources.gpu_config.gpu_type for r in modal_server.calls("FunctionCreate") if _function(r).is_class]
    assert gpus == ["T4", "L4"]


def test_changed_mounted_source_is_a_real_redeploy(backend, modal_server, app_file, api_secret, mounted_package):
    first = backend.deploy_file(app_file(), "omc-ollama")

    (mounted_package / "__init__.py").write_text("VERSION = 2\n", encoding="utf-8")
    again = backend.deploy_file(app_file(), "omc-ollama")

    assert (first.version, again.version) == (1, 2) and not again.skipped


def test_nothing_is_printed_to_stdout(backend, modal_server, app_file, api_secret, capfd):
    modal_server.state.function_handlers["pull_model"] = lambda state, **kw: {"ok": True}
    progress: list[str] = []

    backend.run_function(app_file(), "pull_model", on_progress=progress.append)
    backend.deploy_file(app_file(), "omc-ollama", on_progress=progress.append)
    backend.served("omc-ollama", "function").update_autoscaler(min_containers=1)

    out, _ = capfd.readouterr()
    assert out == ""
    assert progress  # the SDK's messages went to the callback instead


def test_unknown_gpu_is_refused_by_the_server(backend, modal_server, app_file, api_secret):
    from ollama_modal.errors import RemoteError

    with pytest.raises(RemoteError) as info:
        backend.deploy_file(app_file(gpu="A100-40G"), "omc-ollama")

    assert "Unknown GPU type 'A100-40G'" in info.value.message
    assert backend.app_info("omc-ollama") is None


def test_unlabelled_endpoint_url_names_app_class_and_method(backend, modal_server, app_file, api_secret):
    path = app_file()
    path.write_text(path.read_text().replace("@modal.asgi_app(label='omc-ollama')", "@modal.asgi_app()"), encoding="utf-8")

    out = backend.deploy_file(path, "omc-ollama")

    assert out.web_urls == {"Ollama.serve": "https://omc-test--omc-ollama-ollama-serve.modal.run"}


def test_unknown_environment_is_named_in_the_error(modal_server, app_file, api_secret):
    from ollama_modal.adapters.modal_backend import ModalBackend
    from ollama_modal.errors import RemoteError

    with pytest.raises(RemoteError) as info:
        ModalBackend(environment="staging").deploy_file(app_file(), "omc-ollama")

    assert "Environment 'staging' not found" in info.value.message
    assert "--env" in (info.value.hint or "")
    assert modal_server.calls("AppPublish") == []

"""The module `omc render` emits deploys through the real SDK and sends what the profile says."""

from __future__ import annotations

import pytest
from modal_proto import api_pb2

from ollama_modal.config.loader import resolve
from ollama_modal.render import CLASS_NAME, WEB_METHOD, render


def _served_function(modal_server) -> api_pb2.Function:
    defs = [r.function if r.HasField("function") else r.function_data.ranked_functions[0].function for r in modal_server.calls("FunctionCreate")]
    (fn,) = [d for d in defs if d.is_class or d.is_server]
    return fn


@pytest.mark.parametrize("ref", ["t4-economy", "a10g-balanced"])
def test_rendered_profile_deploys_with_its_settings(backend, modal_server, tmp_path, ref):
    profile = resolve(ref).profile
    rendered = render(profile)
    modal_server.state.put_secret(profile.server.api_key_secret, "main", {"OMC_API_KEYS": "omc-k"})
    path = tmp_path / "omc_rendered.py"
    path.write_text(rendered.source, encoding="utf-8")

    out = backend.deploy_file(path, profile.app.name)

    fn = _served_function(modal_server)
    assert fn.function_name == f"{CLASS_NAME}.*"
    assert fn.resources.gpu_config.gpu_type == profile.gpu.types[0].upper()
    s = fn.autoscaler_settings
    warm = profile.warm
    assert s.scaledown_window == warm.scaledown_window
    assert s.min_containers == warm.min_containers
    assert s.buffer_containers == (warm.buffer_containers or 0)
    assert s.max_containers == (warm.max_containers or 0)
    assert fn.max_concurrent_inputs == profile.server.max_inputs
    assert fn.method_definitions[WEB_METHOD].webhook_config.requested_suffix == profile.label
    assert out.web_urls == {f"{CLASS_NAME}.{WEB_METHOD}": f"https://omc-test--{profile.label}.modal.run"}
    (publish,) = modal_server.calls("AppPublish")
    assert dict(publish.tags) == rendered.tags
    assert modal_server.servicer.unimplemented == []


def test_rendered_server_profile_deploys_as_a_modal_server(backend, modal_server, tmp_path):
    profile = resolve("h100-always-on").profile
    rendered = render(profile)
    modal_server.state.put_secret(profile.server.api_key_secret, "main", {"OMC_API_KEYS": "omc-k"})
    path = tmp_path / "omc_rendered.py"
    path.write_text(rendered.source, encoding="utf-8")

    backend.deploy_file(path, profile.app.name)

    fn = _served_function(modal_server)
    assert fn.is_server and fn.function_name == CLASS_NAME
    assert fn.resources.gpu_config.gpu_type == "H100"
    http = fn.http_config  # what Modal's proxy uses: port, region, auth, start-up and grace periods
    assert (http.port, list(http.proxy_regions), http.unauthenticated) == (8000, ["us-east"], True)
    assert http.startup_timeout == profile.server.startup_timeout
    assert http.exit_grace_period == profile.server.effective_exit_grace_period
    s = fn.autoscaler_settings
    assert (s.min_containers, s.scaledown_window, s.target_concurrency_float) == (1, profile.warm.scaledown_window, 4.0)
    assert fn.max_concurrent_inputs == profile.server.max_inputs  # the hard cap: 429 beyond it
    assert not fn.webhook_config.type and not fn.method_definitions  # no web-function endpoint
    url = backend.served(profile.app.name, "server").url()
    assert url == "https://omc-test--omc-ollama-ollama.us-east.modal.direct"
    assert modal_server.servicer.unimplemented == []

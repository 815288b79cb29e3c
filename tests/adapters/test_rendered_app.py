"""The module `omc render` emits deploys through the real SDK and sends what the profile says."""

from __future__ import annotations

import pytest
from modal_proto import api_pb2

from ollama_modal.config.loader import resolve
from ollama_modal.render import CLASS_NAME, WEB_METHOD, render


def _class_function(modal_server) -> api_pb2.Function:
    (req,) = [r for r in modal_server.calls("FunctionCreate") if (r.function if r.HasField("function") else r.function_data.ranked_functions[0].function).is_class]
    return req.function if req.HasField("function") else req.function_data.ranked_functions[0].function


@pytest.mark.parametrize("ref", ["t4-economy", "a10g-balanced", "h100-always-on"])
def test_rendered_profile_deploys_with_its_settings(backend, modal_server, tmp_path, ref):
    profile = resolve(ref).profile
    rendered = render(profile)
    modal_server.state.put_secret(profile.server.api_key_secret, "main", {"OMC_API_KEYS": "omc-k"})
    path = tmp_path / "omc_rendered.py"
    path.write_text(rendered.source, encoding="utf-8")

    out = backend.deploy_file(path, profile.app.name)

    fn = _class_function(modal_server)
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

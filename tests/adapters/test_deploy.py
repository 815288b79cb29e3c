"""Deploy a rendered-style app through ModalBackend and assert on what the SDK sent."""

from __future__ import annotations

from modal_proto import api_pb2

from ollama_modal.adapters import DeployOutcome


def test_first_deploy_publishes_version_1_with_url(backend, modal_server, app_file, api_secret):
    progress: list[str] = []
    out = backend.deploy_file(app_file(), "omc-ollama", on_progress=progress.append)

    assert isinstance(out, DeployOutcome)
    assert out.version == 1 and not out.skipped
    assert out.app_id == modal_server.state.app_named("omc-ollama").app_id
    assert out.web_urls == {"Ollama.serve": "https://omc-test--omc-ollama.modal.run"}
    assert any("deployed" in m.lower() for m in progress)
    assert modal_server.servicer.unimplemented == []

"""A new user's first deploy, its gate and a benchmark, through the URL omc prints."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.empty_volume
def test_first_deploy_status_check_bench(journey) -> None:
    j = journey
    dep = j.omc("deploy", "--profile", "a10g-balanced", "--yes", "--json").json()
    assert dep["deployed_version"] == 1 and dep["gpu"] == "A10" and dep["model_pulled"] is True
    # The pull ran in a container of its own on CPU, and left the model in the volume.
    creates = j.calls("FunctionCreate")
    pulls = [c for c in creates if c.function.function_name == "pull_model"]
    assert pulls and not pulls[0].function.resources.gpu_config.gpu_type
    pull_app = pulls[0].app_id  # the ephemeral app `omc deploy` ran before publishing
    assert [c.function.function_name for c in creates if c.app_id == pull_app] == ["pull_model"]  # no GPU class
    volume = j.server.state.volumes[("main", "omc-ollama-models")]
    assert any(p.startswith("manifests/registry.ollama.ai/library/codellama/") for p in volume.files)
    url = dep["url"]
    fn = j.created()
    assert fn.resources.gpu_config.gpu_type == "A10"

    # The endpoint really serves: health without a key, 401 without one for inference.
    assert httpx.get(url + "/healthz", timeout=60).status_code == 200
    assert httpx.get(url + "/v1/models", timeout=60).status_code == 401

    st = j.omc("status", "--check", "--json").json()
    assert st["deployed"] is True and st["url"] == url

    bench = j.omc("bench", "--requests", "5", "--json").json()
    assert bench["levels"][0]["ok"] == 5 and bench["url"] == url

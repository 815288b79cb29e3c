"""A new user's first deploy, its gate and a benchmark, through the URL omc prints."""

from __future__ import annotations

import httpx


def test_first_deploy_status_check_bench(journey) -> None:
    j = journey
    dep = j.omc("deploy", "--profile", "a10g-balanced", "--yes", "--json").json()
    assert dep["deployed_version"] == 1 and dep["gpu"] == "A10"
    url = dep["url"]
    fn = j.created()
    assert fn.resources.gpu_config.gpu_type == "A10"

    # The endpoint really serves: health without a key, 401 without one for inference.
    assert httpx.get(url + "/healthz", timeout=60).status_code == 200
    assert httpx.get(url + "/v1/models", timeout=60).status_code == 401

    st = j.omc("status", "--check", "--json").json()
    assert st["deployed"] is True and st["url"] == url

    bench = j.omc("bench", "--json", expect=None)
    print(bench)
    assert bench.code == 0

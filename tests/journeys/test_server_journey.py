"""An always-on profile served as a Modal Server: deploy, the 503 while no container is up,
status with request statistics, switch-warm live, switch-gpu, and a cold benchmark."""

from __future__ import annotations

import httpx

from tests.fakes.ports import free_port


def chat(url: str, key: str) -> httpx.Response:
    body = {"model": "codellama:7b", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_always_on_as_a_modal_server(journey) -> None:
    j = journey
    profiles = j.cwd / "profiles"
    profiles.mkdir(exist_ok=True)
    # The Server's port is part of the profile; a free one, since tests share the machine.
    (profiles / "team.toml").write_text(f'extends = "a10g-always-on"\n[server]\nport = {free_port()}\n')

    plan = j.omc("deploy", "--profile", "team", "--dry-run", "--json").json()
    assert plan["primitive"] == "server" and "always up" in plan["primitive_reason"]
    dep = j.omc("deploy", "--profile", "team", "--yes", "--json").json()
    assert dep["primitive"] == "server"
    url = dep["url"]
    fn = j.created("Ollama")
    assert fn.is_server and fn.http_config.unauthenticated  # omc's own bearer keys guard it

    # Modal's routing proxy holds nothing: no container up yet means 503 at once.
    assert httpx.get(url + "/healthz", timeout=60).status_code == 503
    j.plane.wait_until_up(url)
    assert httpx.get(url + "/readyz", timeout=60).json()["ready"] is True
    key = j.omc("keys", "show", "--profile", "team", "--show").out.split()[0]
    assert chat(url, "wrong").status_code == 401  # auth holds on the Server path too
    r = chat(url, key)
    assert r.status_code == 200 and "data:" in r.text
    assert httpx.post(url + "/api/pull", json={"model": "x"}, headers={"Authorization": f"Bearer {key}"}, timeout=60).status_code == 403

    st = j.omc("status", "--check", "--json").json()
    assert st["primitive"] == "server" and st["url"] == url and st["ok"]
    by_status = st["requests"]["by_status"]
    assert by_status["503"] == 1 and by_status["200"] >= 2 and by_status["401"] == 1 and by_status["403"] == 1
    assert set(st["requests"]["latency"]) == {"p50", "p90", "p99"}
    table = j.omc("status").out
    assert "a Modal Server" in table and "in the last hour" in table

    # Live: no redeploy, Server settings included; kept across the next deploy.
    mark = j.mark()
    sw = j.omc("switch-warm", "--target-inputs", "2", "--scaleup-window", "30", "--yes", "--json").json()
    assert sw["live_overrides"] == {"scaleup_window": 30, "target_inputs": 2}
    assert "AppPublish" not in j.since(mark)
    (upd,) = [c for c in j.calls("FunctionUpdateSchedulingParams")][-1:]
    assert (upd.settings.target_concurrency_float, upd.settings.scaleup_window) == (2.0, 30)

    # switch-gpu: a redeploy on the same primitive keeps the URL; live settings come back.
    mark = j.mark()
    moved = j.omc("switch-gpu", "h100", "--yes", "--json").json()
    assert moved["url"] == url and moved["primitive"] == "server"
    assert j.created("Ollama").resources.gpu_config.gpu_type == "H100"
    assert "FunctionUpdateSchedulingParams" in j.since(mark)
    if httpx.get(url + "/healthz", timeout=60).status_code == 503:  # a new definition: a new container
        j.plane.wait_until_up(url)
    assert j.omc("status", "--check", "--json").json()["ok"]

    # A cold benchmark on a Server retries the 503s and reports them.
    j.plane.scale_to_zero()
    bench = j.omc("bench", "--cold", "--requests", "2", "--json").json()
    cold = bench["cold_start"]
    assert cold["ok"] and cold["unavailable_responses"] >= 1 and cold["unavailable_wait_s"] is not None

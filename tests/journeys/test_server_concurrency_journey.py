"""A Modal Server's hard concurrency cap: requests above `max_inputs` in flight on a container
get 429 at once from Modal's routing proxy (no queueing), `omc status` counts them, and
`omc bench` reports them as rejected, not as a crash."""

from __future__ import annotations

import threading

import httpx

from tests.fakes.data_plane import OVER_CAP
from tests.fakes.ports import free_port

CAP = 2
#: Bounds a hang only (a held request that never arrives); asserts nothing about speed.
LIMIT_S = 60.0


def chat(url: str, key: str, hold: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if hold:
        headers["X-Fake-Ollama-Hold"] = hold  # the fake Ollama sends nothing until this file exists
    body = {"model": "codellama:7b", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=LIMIT_S * 2)


def test_a_burst_above_the_cap_gets_429_and_bench_reports_it(journey, tmp_path) -> None:
    j = journey
    profiles = j.cwd / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "team.toml").write_text(
        f'extends = "a10g-always-on"\n[server]\nport = {free_port()}\nmax_inputs = {CAP}\n'
    )
    dep = j.omc("deploy", "--profile", "team", "--yes", "--json").json()
    assert dep["primitive"] == "server"
    url = dep["url"]
    fn = j.created("Ollama")
    assert fn.is_server and fn.max_concurrent_inputs == CAP  # max_concurrency as Modal received it
    assert httpx.get(url + "/healthz", timeout=60).status_code == 503
    container = j.plane.wait_until_up(url)
    key = j.omc("keys", "show", "--profile", "team", "--show").out.split()[0]
    assert chat(url, key).status_code == 200  # under the cap: served

    # CAP requests held in flight on the one container (the fake Ollama waits for a file).
    release = tmp_path / "release"
    answers: list[httpx.Response] = []
    held = [threading.Thread(target=lambda: answers.append(chat(url, key, hold=str(release)))) for _ in range(CAP)]
    for t in held:
        t.start()
    try:
        for _ in range(int(LIMIT_S / 0.05)):
            if container.inflight == CAP:
                break
            threading.Event().wait(0.05)
        assert container.inflight == CAP

        # One more: Modal's proxy does not queue it, it answers 429 at once.
        over = chat(url, key)
        assert over.status_code == 429 and over.text == OVER_CAP.format(cap=CAP)

        # bench while the container is full: every request is rejected; reported as such.
        run = j.omc("bench", "--requests", "2", "--concurrency", "2", "--json", expect=3)
        bench = run.json()
        assert bench["rejected"] == 2 and bench["errors_by_kind"] == {"http_429": 2}
        assert bench["first_request"]["error"] == "http_429"
        assert bench["roofline"]["rule"] == "rejected"
        assert "rejected with 429" in run.err and "max_inputs" in run.err and "Traceback" not in run.err
        table = j.omc("bench", "--requests", "2", expect=3)
        assert "rejected: 3 request(s) got 429 Too Many Requests" in table.out and "does not queue" in table.out
    finally:
        release.touch()
        for t in held:
            t.join(LIMIT_S * 2)
    assert [a.status_code for a in answers] == [200] * CAP and all("data:" in a.text for a in answers)

    # Under the cap again: nothing rejected.
    ok = j.omc("bench", "--requests", "2", "--concurrency", str(CAP), "--json").json()
    assert ok["rejected"] == 0 and ok["errors"] == 0

    # Modal's request statistics count the 429s by status code, as omc status shows them.
    st = j.omc("status", "--json").json()
    assert st["requests"]["by_status"]["429"] >= 3

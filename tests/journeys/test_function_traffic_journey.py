"""A scale-to-zero profile (a web function) exports its real traffic: requests through the
local data plane's URL -> the proxy's request log lines in the app's logs -> `omc traffic`
(as docs/cost.md shows it) -> `omc cost --trace` and `omc cost --from-app` on it."""

from __future__ import annotations

import csv
import time

import httpx

from ollama_modal.service.requestlog import PREFIX

MODEL = "codellama:7b"
#: Bounds a hang only (log lines reach Modal's logs a moment after the answer); asserts nothing about speed.
LOG_LIMIT_S = 30.0


def _request_lines(j) -> list[str]:
    with j.server.state.lock:
        return [e.data for e in j.server.state.log_entries if e.data.startswith(PREFIX)]


def _wait_for_lines(j, n: int) -> None:
    end = time.monotonic() + LOG_LIMIT_S
    while len(_request_lines(j)) < n and time.monotonic() < end:
        time.sleep(0.05)
    assert len(_request_lines(j)) >= n, _request_lines(j)


def test_a_function_deployment_exports_its_traffic(journey) -> None:
    j = journey
    dep = j.omc("deploy", "--profile", "a10g-balanced", "--yes", "--json").json()
    assert dep["primitive"] == "function"
    url = dep["url"]
    key = j.omc("keys", "show", "--show", "--json").json()["active"]
    auth = {"Authorization": f"Bearer {key}"}
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "a prompt that must never be logged"}]}

    with httpx.Client(base_url=url, timeout=120) as c:
        r = c.post("/api/chat", json={**chat, "stream": False}, headers=auth)  # the first starts a container (held)
        assert r.status_code == 200 and r.json()["eval_count"] > 0
        eval_count = r.json()["eval_count"]
        assert c.post("/api/chat", json=chat, headers=auth).status_code == 200  # streamed NDJSON
        streamed = c.post("/v1/chat/completions?user=secret-query", headers=auth,
                          json={**chat, "stream": True, "stream_options": {"include_usage": True}})
        assert streamed.status_code == 200 and '"usage"' in streamed.text
        assert c.post("/v1/chat/completions", json=chat, headers={"Authorization": "Bearer wrong-key"}).status_code == 401
        assert c.post("/api/pull", json={"model": "x"}, headers=auth).status_code == 403
    _wait_for_lines(j, 5)
    assert not any("never be logged" in x or key in x or "secret-query" in x for x in _request_lines(j))

    exported = j.doc("omc traffic --since 1h -o trace.csv")
    assert "wrote 5 requests of omc-ollama to trace.csv" in exported.err
    rows = list(csv.DictReader((j.cwd / "trace.csv").open()))
    assert [(r["route"], r["status"]) for r in rows] == [
        ("/api/chat", "200"), ("/api/chat", "200"), ("/v1/chat/completions", "200"),
        ("/v1/chat/completions", "401"), ("/api/pull", "403"),
    ]
    assert rows[0]["output_tokens"] == str(eval_count) and rows[0]["input_tokens"] == "3"
    assert [r["output_tokens"] for r in rows[3:]] == ["0", "0"]  # refused: nothing generated
    assert all(float(r["duration_s"]) >= 0 for r in rows)

    cost = j.doc("omc cost --trace trace.csv")
    assert "traffic: trace trace.csv" in cost.err and "a10g-balanced" in cost.out
    from_app = j.doc("omc cost --from-app --since 1h")
    assert "5 requests omc-ollama answered in the last 1h" in from_app.err + from_app.out
    as_json = j.omc("cost", "--trace", "trace.csv", "--json").json()
    assert as_json["requests"] == 5

    # An OpenAI stream that did not ask for usage: its output tokens are unknown, not zero.
    with httpx.Client(base_url=url, timeout=120) as c:
        assert c.post("/v1/chat/completions", json={**chat, "stream": True}, headers=auth).status_code == 200
    _wait_for_lines(j, 6)
    rows = j.omc("traffic", "--since", "1h", "--json").json()["requests"]
    assert len(rows) == 6 and rows[-1]["output_tokens"] is None and rows[2]["output_tokens"] > 0
    again = j.omc("traffic", "--since", "1h", "-o", "trace2.csv")
    assert "1 of 6 requests have no output token count" in again.err
    assert (j.cwd / "trace2.csv").read_text().splitlines()[0] == "timestamp,route,status,duration_s"

"""`omc traffic` for a web function: the proxy's request log lines, read back through the real
SDK's app logs by time range from the fake control plane (lines a test controls)."""

from __future__ import annotations

import csv
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from modal_proto import api_pb2

from ollama_modal.service.requestlog import PREFIX, RequestLine, format_line

APP = "omc-ollama"


def _deploy_function(omc, modal_server) -> str:
    r = omc("deploy", "--profile", "a10g-balanced", "--yes")
    assert r.exit_code == 0, r.stderr
    return modal_server.state.app_named(APP).app_id


def _line(t: float, route: str = "/api/chat", status: int = 200, dur: float = 1.5, tin: int | None = 20,
          tout: int | None = 100, method: str = "POST") -> str:
    return format_line(RequestLine(datetime.fromtimestamp(t, timezone.utc), method, route, status, dur, tin, tout))


def test_a_function_exports_its_logged_requests(omc, modal_server, tmp_path: Path) -> None:
    app_id = _deploy_function(omc, modal_server)
    st = modal_server.state
    now = time.time()
    good = [(now - 3600 + 60 * i, 200 if i % 10 else 500) for i in range(40)]
    for t, status in good:
        st.add_log(app_id, _line(t, status=status, tout=100 + int(t) % 7), t + 1.5)
    forged = [
        " " + _line(now - 100),  # not at the start
        _line(now - 100)[:-2],  # cut
        _line(now - 100).replace('"status":200', '"status":200,"prompt":"x"'),  # extra key
        _line(now - 100).replace("/api/chat", "/api/chat?key=sk"),  # not a route name
        PREFIX + "{}",
    ]
    for text in forged:
        st.add_log(app_id, text, now - 99)
    st.add_log(app_id, _line(now - 50), now - 49, fd=api_pb2.FILE_DESCRIPTOR_STDERR)  # not where the proxy writes
    st.add_log(app_id, _line(now - 3 * 86400), now - 3 * 86400 + 1)  # older than --since 1d
    st.add_log(app_id, _line(now - 20), now - 600)  # claims to have begun after it was logged
    st.add_log("ap-other", _line(now - 30), now - 29)  # another app's
    st.add_log(app_id, "[GIN] 200 | POST /api/chat " + _line(now - 40), now - 39)  # inside another line

    out = tmp_path / "trace.csv"
    r = omc("traffic", "--since", "1d", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 40, rows[-3:]
    assert list(rows[0]) == ["timestamp", "route", "status", "duration_s", "input_tokens", "output_tokens"]
    assert [int(r["status"]) for r in rows] == [s for _, s in good]
    assert {r["route"] for r in rows} == {"/api/chat"} and rows == sorted(rows, key=lambda x: x["timestamp"])
    assert datetime.fromisoformat(rows[0]["timestamp"]).timestamp() == round(good[0][0], 3) or \
        abs(datetime.fromisoformat(rows[0]["timestamp"]).timestamp() - good[0][0]) < 0.001
    # the SDK asked by time range (count, then fetch), from the window's start
    assert modal_server.calls("AppCountLogs") and st.log_fetches
    assert min(f[0] for f in st.log_fetches) >= now - 86400 - 5

    c = omc("cost", "--profile", "a10g-balanced", "--trace", str(out), "--json")
    assert c.exit_code == 0, c.stderr
    d = json.loads(c.stdout)
    assert d["requests"] == 40

    j = json.loads(omc("traffic", "--since", "2h", "--json").stdout)
    assert len(j["requests"]) == 40
    assert j["requests"][0]["input_tokens"] == 20 and j["requests"][0]["output_tokens"] is not None


def test_token_columns_only_when_every_request_has_a_count(omc, modal_server, tmp_path: Path) -> None:
    app_id = _deploy_function(omc, modal_server)
    now = time.time()
    modal_server.state.add_log(app_id, _line(now - 120), now - 118)
    modal_server.state.add_log(app_id, _line(now - 60, route="/v1/chat/completions", tin=None, tout=None), now - 58)
    out = tmp_path / "t.csv"
    r = omc("traffic", "--since", "1h", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    assert out.read_text().splitlines()[0] == "timestamp,route,status,duration_s"
    assert "1 of 2 requests have no output token count" in r.stderr


def test_cost_and_recommend_from_a_function(omc, modal_server) -> None:
    app_id = _deploy_function(omc, modal_server)
    now = time.time()
    for i in range(90):
        t = now - 5400 + 60 * i
        modal_server.state.add_log(app_id, _line(t), t + 1.5)
    r = omc("cost", "--profile", "a10g-balanced", "--from-app", "--since", "1d", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["requests"] == 90
    assert "90 requests omc-ollama answered in the last 1d" in json.loads(r.stdout)["traffic"]
    r = omc("recommend", "--p95-latency-s", "60", "--from-app", "--since", "1d", "--json")
    assert r.exit_code in (0, 4), r.stderr
    assert "90 requests" in json.loads(r.stdout)["traffic"]


def test_export_pages_through_a_long_log(omc, modal_server, monkeypatch) -> None:
    from ollama_modal.services import traffic_export

    monkeypatch.setattr(traffic_export, "CHUNK_LIMIT", 7)
    app_id = _deploy_function(omc, modal_server)
    now = time.time()
    times = [now - 3000 + 97 * i for i in range(30)]
    for t in times:
        modal_server.state.add_log(app_id, _line(t), t + 0.5)
    j = json.loads(omc("traffic", "--since", "1h", "--json").stdout)
    got = [datetime.fromisoformat(r["timestamp"]).timestamp() for r in j["requests"]]
    assert len(got) == 30 and got == sorted(got)
    assert all(abs(a - b) < 0.001 for a, b in zip(got, times))


def test_the_span_each_primitive_keeps(omc, modal_server) -> None:
    r = omc("traffic", "--since", "31d")
    assert r.exit_code == 2 and "--since" in r.stderr and "30d" in r.stderr
    assert modal_server.methods() == []
    _deploy_function(omc, modal_server)
    r = omc("traffic", "--since", "20d")
    assert r.exit_code == 0, r.stderr
    assert omc("deploy", "--profile", "a10g-always-on", "--yes").exit_code == 0
    r = omc("traffic", "--since", "8d")
    assert r.exit_code == 2 and "7 days" in r.stderr and "--since" in r.stderr


# -- the fake's log API, through the real SDK ---------------------------------------------------------
def test_the_fake_answers_logs_by_time_range_in_pages(omc, modal_server) -> None:
    import modal

    app_id = _deploy_function(omc, modal_server)
    st = modal_server.state
    st.log_lines[:] = []
    base = 1_780_000_000.0
    for i in range(5000):  # dense enough that the SDK splits the range into several fetches
        st.add_log(app_id, f"line {i}", base + i * 0.5, fd=api_pb2.FILE_DESCRIPTOR_STDOUT if i % 5 else api_pb2.FILE_DESCRIPTOR_STDERR)
    st.add_log(app_id, "before", base - 10)
    st.add_log(app_id, "after", base + 5000)
    app = modal.App.lookup(APP)
    since = datetime.fromtimestamp(base, timezone.utc)
    entries = list(app.logs.fetch(since=since, until=since + timedelta(seconds=2500)))
    assert [e.message for e in entries] == [f"line {i}\n" for i in range(5000)]
    assert entries[0].timestamp == since and entries[0].timestamp.tzinfo is not None
    assert len(st.log_fetches) >= 2  # more than one page
    stdout = list(app.logs.fetch(since=since, until=since + timedelta(seconds=2500), source="stdout"))
    assert len(stdout) == 4000 and all(e.source == "stdout" for e in stdout)
    assert [e.message for e in app.logs.fetch(since=since - timedelta(seconds=11), until=since)] == ["before\n"]
    assert list(app.logs.tail(3)) == []  # a tail looks back at most 30 days, as Modal's does
    now = time.time()
    for i in range(5):
        st.add_log(app_id, f"recent {i}", now - 50 + i)
    assert [e.message for e in app.logs.tail(3)] == ["recent 2\n", "recent 3\n", "recent 4\n"]  # the newest

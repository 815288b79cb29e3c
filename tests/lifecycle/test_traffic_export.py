"""`omc traffic`: a Modal Server's request history as a trace `omc cost --trace` reads."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path


def test_export_then_cost_on_it(omc, modal_server, tmp_path: Path) -> None:
    assert omc("deploy", "--profile", "a10g-always-on", "--yes").exit_code == 0
    now = time.time()
    seen = [(now - 3600 + 60 * i, 200 if i % 10 else 503, 1.5, "/v1/chat/completions") for i in range(50)]
    seen.append((now - 3 * 86400, 200, 2.0, "/v1/chat/completions"))  # older than --since 1d
    modal_server.state.server_requests["Ollama"] = seen
    out = tmp_path / "trace.csv"
    r = omc("traffic", "--since", "1d", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 50 and rows[0].keys() == {"timestamp", "route", "status", "duration_s"}
    assert rows == sorted(rows, key=lambda x: x["timestamp"]) and rows[0]["status"] == "503"
    (req,) = modal_server.calls("ServerRequestFetch")
    assert req.WhichOneof("query_oneof") == "range" and req.range.limit == 20000

    c = omc("cost", "--profile", "a10g-always-on", "--trace", str(out), "--json")
    assert c.exit_code == 0, c.stderr
    assert json.loads(c.stdout)["requests"] == 50

    j = json.loads(omc("traffic", "--since", "90m", "--json").stdout)
    assert len(j["requests"]) == 50 and j["requests"][0]["route"] == "/v1/chat/completions"


def test_a_web_function_without_requests_exports_an_empty_trace(omc, modal_server) -> None:
    assert omc("deploy", "--profile", "a10g-balanced", "--yes").exit_code == 0
    r = omc("traffic")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "timestamp,route,status,duration_s"


def test_since_is_checked_before_modal(omc, modal_server) -> None:
    for bad in ("31d", "0", "soon", "1w"):
        r = omc("traffic", "--since", bad)
        assert r.exit_code == 2 and "--since" in r.stderr, bad
    assert modal_server.methods() == []


def test_cost_and_recommend_from_the_app(omc, modal_server) -> None:
    assert omc("deploy", "--profile", "a10g-always-on", "--yes").exit_code == 0
    now = time.time()
    modal_server.state.server_requests["Ollama"] = [(now - 7200 + 30 * i, 200, 2.0, "/v1/chat/completions") for i in range(120)]
    r = omc("cost", "--profile", "a10g-always-on", "--from-app", "--since", "1d", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["requests"] == 120 and "120 requests omc-ollama answered in the last 1d" in d["traffic"]
    r = omc("recommend", "--p95-latency-s", "60", "--from-app", "--since", "1d", "--json")
    assert r.exit_code in (0, 4), r.stderr
    assert "120 requests" in json.loads(r.stdout)["traffic"]
    r = omc("cost", "--from-app", "--rpm", "2")
    assert r.exit_code == 2 and "--from-app replaces" in r.stderr

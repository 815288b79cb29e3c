"""`omc bench` through the CLI, against the fake streaming server as a real process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.fake_openai_stream import spawn


def test_bench_url_json_contract(omc, tmp_path: Path) -> None:
    server = spawn(ttft_ms=30, itl_ms=5, tokens=12)
    try:
        save = tmp_path / "runs.jsonl"
        r = omc("bench", "--url", server.url, "--model", "codellama:7b", "--gpu", "a10g", "-n", "6", "--sweep", "1,3", "--json", "--save", str(save))
        assert r.exit_code == 0, r.stderr
        d = json.loads(r.stdout)
        for key in ("requests", "errors", "ttft_ms", "itl_ms", "per_stream_tokens_per_s", "output_tokens_per_s", "first_request"):
            assert key in d, key
        assert set(d["ttft_ms"]) >= {"p50", "p95", "p99"} and set(d["itl_ms"]) >= {"p50", "p95"}
        assert d["ttft_ms"]["p50"] >= 30 and d["errors"] == 0
        assert [lv["concurrency"] for lv in d["levels"]] == [1, 3]
        assert d["roofline"]["gpu"] == "A10" and d["roofline"]["bound_tokens_per_s"] > 100
        assert "ttft_ms" in d["first_request"]
        assert len(save.read_text().splitlines()) == 1

        r2 = omc("bench", "--url", server.url, "-n", "3", "--save", str(save))
        assert r2.exit_code == 0, r2.stderr
        assert "TTFT p50" in r2.stdout
        cmp = omc("bench", "compare", str(save), str(save), "--json")
        assert cmp.exit_code == 0, cmp.stderr
        assert any(row["metric"].startswith("ttft") for row in json.loads(cmp.stdout))
    finally:
        server.close()


def test_bench_errors_are_counted_not_fatal(omc) -> None:
    server = spawn(ttft_ms=5, itl_ms=1, tokens=4, errors="2:500,3:429")
    try:
        r = omc("bench", "--url", server.url, "-n", "5", "--json")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["errors"] >= 1
    finally:
        server.close()


def test_bench_bad_input(omc, tmp_path: Path) -> None:
    assert omc("bench", "--url", "ftp://x", "-n", "1").exit_code == 2
    assert omc("bench", "--url", "http://127.0.0.1:9", "--sweep", "1,zero").exit_code == 2
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"nope": 1}\n')
    r = omc("bench", "--url", "http://127.0.0.1:9", "--prompts", str(bad))
    assert r.exit_code == 2 and "p.jsonl" in r.stderr and ":2" in r.stderr


def test_bench_where_every_request_failed_exits_3_and_names_the_error(omc) -> None:
    server = spawn(ttft_ms=5, itl_ms=1, tokens=4, errors=",".join(f"{i}:503" for i in range(1, 12)))
    try:
        r = omc("bench", "--url", server.url, "--model", "codellama:7b", "-n", "4")
        assert r.exit_code == 3, (r.stdout, r.stderr)
        assert "every request failed" in r.stderr and "injected 503" in r.stderr  # the server's own words
        assert "{" not in r.stdout  # no Python dict repr in the summary
        assert "injected 503" in r.stdout  # the summary shows the underlying error too
        j = omc("bench", "--url", server.url, "--model", "codellama:7b", "-n", "2", "--json")
        assert j.exit_code == 3 and json.loads(j.stdout)["errors"] == 2  # the data is still written
    finally:
        server.close()


def test_bench_with_some_failures_shows_the_error_and_exits_0(omc) -> None:
    server = spawn(ttft_ms=5, itl_ms=1, tokens=4, errors="3:500")
    try:
        r = omc("bench", "--url", server.url, "--model", "codellama:7b", "-n", "4")
        assert r.exit_code == 0, r.stderr
        assert "injected 500" in r.stdout and "{'" not in r.stdout
    finally:
        server.close()

"""--save appends one JSON line per run; compare() lines two runs up metric by metric."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ollama_modal.bench.history import compare, load_saved, read_saved, save_result
from ollama_modal.bench.models import BenchResult, FirstRequest, Roofline
from ollama_modal.bench.stats import summarise
from ollama_modal.errors import UsageError

from .conftest import samples_from


def result(ttft: float, gap: float, levels=(1,)) -> BenchResult:
    lvs = [summarise(samples_from([(ttft, [gap] * 9)] * c), c, 1.0, 0.01) for c in levels]
    h = max(lvs, key=lambda lv: lv.output_tokens_per_s)
    return BenchResult(
        url="https://x.modal.run", model="m", concurrency=h.concurrency, requests=h.requests, errors=h.errors,
        errors_by_kind=h.errors_by_kind, ttft_ms=h.ttft_ms, itl_ms=h.itl_ms,
        per_stream_tokens_per_s=h.per_stream_tokens_per_s, output_tokens_per_s=h.output_tokens_per_s,
        e2e_ms=h.e2e_ms, first_request=FirstRequest(ok=True, ttft_ms=ttft * 10, e2e_ms=1.0, output_tokens=10),
        roofline=Roofline(rule="no_rule", advice="-"), client_overhead_us_per_token=1.0, max_tokens=64,
        levels=lvs,
    )


def test_save_appends_lines(tmp_path):
    f = tmp_path / "runs" / "bench.jsonl"
    when = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    rec = save_result(f, result(100, 10), now=when)
    save_result(f, result(80, 10, levels=(1, 4)))
    lines = f.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == rec and first["timestamp"] == "2026-11-28T12:00:00+00:00"
    assert first["url"] == "https://x.modal.run" and first["model"] == "m" and first["concurrency"] == [1]
    assert first["results"]["ttft_ms"]["p50"] == 100.0
    assert load_saved(f)["concurrency"] == [1, 4]
    assert load_saved(f, 0) == rec and len(read_saved(f)) == 2


def test_compare_rows_and_verdicts(tmp_path):
    f = tmp_path / "b.jsonl"
    save_result(f, result(200, 20))
    save_result(f, result(100, 10))
    rows = {r.metric: r for r in compare(load_saved(f, 0), load_saved(f, 1))}
    ttft = rows["ttft_ms.p50"]
    assert (ttft.a, ttft.b, ttft.delta, ttft.delta_pct, ttft.verdict) == (200.0, 100.0, -100.0, -50.0, "better")
    speed = rows["per_stream_tokens_per_s.p50"]
    assert speed.a == pytest.approx(50.0) and speed.b == pytest.approx(100.0) and speed.verdict == "better"
    assert rows["errors"].verdict == "same" and rows["errors"].delta_pct is None
    assert rows["first_request.ttft_ms"].verdict == "better"
    worse = {r.metric: r for r in compare(load_saved(f, 1), load_saved(f, 0))}
    assert worse["ttft_ms.p50"].verdict == "worse" and worse["per_stream_tokens_per_s.p50"].verdict == "worse"
    assert worse["output_tokens_per_s"].verdict == "same"  # same tokens in the same wall time


def test_compare_small_changes_are_same_and_missing_is_na():
    a = result(100, 10).model_dump()
    b = result(100.5, 10).model_dump()
    b["itl_ms"]["p95"] = None
    rows = {r.metric: r for r in compare(a, b)}
    assert rows["ttft_ms.p50"].verdict == "same"  # 0.5% is noise
    assert rows["itl_ms.p95"].verdict == "n/a" and rows["itl_ms.p95"].delta is None


def test_compare_sweeps_level_by_level():
    rows = [r.metric for r in compare(result(100, 10, (1, 4)).model_dump(), result(90, 10, (1, 4, 8)).model_dump())]
    assert "c=1 ttft_ms.p50" in rows and "c=4 output_tokens_per_s" in rows
    assert not any(m.startswith("c=8") for m in rows)


def test_bad_saved_files(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_saved(tmp_path / "none.jsonl")
    f = tmp_path / "x.jsonl"
    f.write_text('{"results": {}}\nnot json\n')
    with pytest.raises(UsageError, match=r"x.jsonl:2: not valid JSON"):
        read_saved(f)
    f.write_text('{"no": "results"}\n')
    with pytest.raises(UsageError, match=r"x.jsonl:1: not a saved bench run"):
        read_saved(f)
    f.write_text("\n")
    with pytest.raises(UsageError, match="holds no saved runs"):
        read_saved(f)
    f.write_text('{"results": {}}\n')
    with pytest.raises(UsageError, match="holds 1 run"):
        load_saved(f, 3)


def test_display_rows():
    from ollama_modal.bench.summary import COMPARE_COLUMNS, LEVEL_COLUMNS, compare_display, level_rows, summary_rows

    r = result(100, 10, levels=(1, 4))
    labels = dict(summary_rows(r))
    assert labels["Time to first token"].startswith("p50 100 ms") and "best of the sweep" in labels["Concurrency"]
    assert labels["Advice"] == "-" and "Roofline" not in labels  # no GPU known
    assert labels["Requests"] == "4"
    assert dict(summary_rows(r.model_copy(update={"retries": 3})))["Requests"] == "4, 3 retried on a fresh connection"
    rows = level_rows(r)
    assert len(rows) == 2 and all(len(row) == len(LEVEL_COLUMNS) for row in rows) and rows[1][0] == "4"
    shown = compare_display(compare(result(200, 20).model_dump(), r.model_dump()))
    assert shown[0] == ("ttft_ms.p50", "200", "100", "-100", "-50.0%", "better")
    assert all(len(row) == len(COMPARE_COLUMNS) for row in shown)


def test_retries_are_compared_and_missing_in_older_runs_is_na():
    a, b = result(100, 10), result(100, 10).model_copy(update={"retries": 3})
    row = next(r for r in compare(a.model_dump(), b.model_dump()) if r.metric == "retries")
    assert (row.a, row.b, row.verdict) == (0, 3, "worse")
    older = a.model_dump()
    del older["retries"]  # saved before the key existed
    assert next(r for r in compare(older, b.model_dump()) if r.metric == "retries").verdict == "n/a"


def _strict(line: str):
    def refuse(name: str):
        raise AssertionError(f"{name} in a saved line: not JSON")

    return json.loads(line, parse_constant=refuse)


def test_save_writes_strict_json_non_finite_as_null(tmp_path):
    """A non-finite figure (NaN: nothing measured) is saved as null, which every JSON reader
    reads and compare() shows as n/a; never the bare NaN that Python's json writes."""
    f = tmp_path / "bench.jsonl"
    r = result(100, 10)
    r = r.model_copy(update={"output_tokens_per_s": float("nan"), "client_overhead_us_per_token": float("inf")})
    rec = save_result(f, r)
    saved = _strict(f.read_text().splitlines()[0])
    assert saved["results"]["output_tokens_per_s"] is None and saved["results"]["client_overhead_us_per_token"] is None
    assert rec == saved  # what save_result returns is what the file holds
    rows = {row.metric: row for row in compare(saved, load_saved(f))}
    assert rows["output_tokens_per_s"].verdict == "n/a"


def test_old_files_with_nan_still_read(tmp_path):
    """Files written before saves were strict may hold NaN/Infinity: read as null (not measured)."""
    f = tmp_path / "old.jsonl"
    f.write_text('{"results": {"output_tokens_per_s": NaN, "ttft_ms": {"p50": Infinity, "p95": 12.5}}}\n')
    rec = load_saved(f)
    assert rec["results"]["output_tokens_per_s"] is None and rec["results"]["ttft_ms"] == {"p50": None, "p95": 12.5}


def test_save_is_atomic_a_failed_write_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    import os

    f = tmp_path / "bench.jsonl"
    save_result(f, result(100, 10))
    before = f.read_bytes()

    def broken(fd, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(UsageError, match="cannot write"):
        save_result(f, result(80, 10))
    assert f.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bench.jsonl"]  # no temporary file left

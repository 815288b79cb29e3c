"""Traffic generation and traces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ollama_modal.cost.traffic import load_trace, poisson, shaped
from ollama_modal.errors import UsageError


def test_poisson_rate_and_order() -> None:
    t = poisson(60, 7 * 86400, seed=1)
    assert t.requests == pytest.approx(60 * 7 * 1440, rel=0.01)
    assert np.all(np.diff(t.times) >= 0) and t.times[0] >= 0 and t.times[-1] < t.span
    assert np.array_equal(poisson(60, 3600, seed=4).times, poisson(60, 3600, seed=4).times)
    assert poisson(0, 3600).requests == 0


def test_business_hours_shape() -> None:
    t = shaped(30, 28 * 86400, seed=2)  # four whole weeks from a Monday
    assert t.mean_rpm == pytest.approx(30, rel=0.02)
    local = (t.times % (7 * 86400))
    day, hour = local // 86400, (local % 86400) // 3600
    busy = np.sum((day < 5) & (hour >= 9) & (hour < 18))
    night = np.sum((day < 5) & (hour < 6))
    weekend = np.sum(day >= 5)
    assert busy > 20 * night and busy > 10 * weekend


def test_hourly_weights() -> None:
    weights = [0.0] * 12 + [1.0] * 12  # afternoons only
    t = shaped(10, 10 * 86400, seed=3, pattern=weights)
    assert t.mean_rpm == pytest.approx(10, rel=0.03)
    assert np.all((t.times % 86400) >= 12 * 3600)


@pytest.mark.parametrize("pattern", ["weekly-peaks", [1.0] * 23, [1.0] * 23 + [-1.0], [0.0] * 24])
def test_bad_patterns(pattern: object) -> None:
    with pytest.raises(UsageError):
        shaped(10, 86400, pattern=pattern)  # type: ignore[arg-type]


def test_csv_trace_iso_and_epoch(tmp_path: Path) -> None:
    p = tmp_path / "trace.csv"
    p.write_text("timestamp,output_tokens\n2026-11-02T09:00:10Z,100\n1793610000,50\n2026-11-02T09:00:05+00:00,7\n")
    t = load_trace(p)
    assert t.start == 1793610000.0  # 2026-11-02T09:00:00Z, the earliest row
    assert t.output_tokens is not None and t.output_tokens.tolist() == [50.0, 7.0, 100.0]
    assert t.times.tolist() == [0.0, 5.0, 10.0] and t.span == 10.0


def test_jsonl_trace(tmp_path: Path) -> None:
    p = tmp_path / "trace.jsonl"
    p.write_text("\n".join(json.dumps({"timestamp": 100 + i}) for i in (3, 1, 2)) + "\n")
    t = load_trace(p, span=3600)
    assert t.times.tolist() == [0.0, 1.0, 2.0] and t.span == 3600 and t.output_tokens is None


@pytest.mark.parametrize(
    "name,text,match",
    [
        ("a.csv", "time,tokens\n1,2\n", r"a\.csv:1: .*no `timestamp` column"),
        ("b.csv", "timestamp\n100\nyesterday\n", r"b\.csv:3: timestamp 'yesterday'"),
        ("c.csv", "timestamp,output_tokens\n100,5\n101,many\n", r"c\.csv:3: output_tokens 'many'"),
        ("d.jsonl", '{"timestamp": 1}\n{oops\n', r"d\.jsonl:2: not valid JSON"),
        ("e.csv", "timestamp\n", r"e\.csv: the trace has no requests"),
        ("f.csv", "timestamp,output_tokens\n100,5\n101,\n", r"f\.csv:3: output_tokens is empty"),
    ],
)
def test_trace_errors_name_file_and_line(tmp_path: Path, name: str, text: str, match: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(UsageError, match=match):
        load_trace(p)


def test_missing_trace(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such trace file"):
        load_trace(tmp_path / "nope.csv")

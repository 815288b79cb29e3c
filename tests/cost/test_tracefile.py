"""Trace files: vectorised reading gives the same times as row-by-row ISO/UNIX parsing, and
hostile input is a UsageError (exit 2) naming the file and the line."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from ollama_modal.cost import tracefile
from ollama_modal.cost.traffic import load_trace
from ollama_modal.errors import UsageError


def test_formats_agree(tmp_path: Path) -> None:
    base = 1_793_577_600  # 2026-11-02T00:00:00Z
    stamps = [base + 90 * i + 0.25 for i in range(500)]
    iso = [datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z" for t in stamps]
    (tmp_path / "unix.csv").write_text("timestamp,output_tokens\n" + "".join(f"{t},{i % 7}\n" for i, t in enumerate(stamps)))
    (tmp_path / "iso.csv").write_text("output_tokens,timestamp\n\n" + "".join(f"{i % 7},{s}\n" for i, s in enumerate(iso)))
    (tmp_path / "iso.jsonl").write_text("".join(json.dumps({"timestamp": s, "output_tokens": i % 7}) + "\n" for i, s in enumerate(iso)))
    offset = [datetime.fromtimestamp(t, timezone.utc).astimezone().isoformat() for t in stamps]  # with +hh:mm
    (tmp_path / "offset.jsonl").write_text("".join(json.dumps({"timestamp": s, "output_tokens": i % 7}) + "\n" for i, s in enumerate(offset)))
    ref = load_trace(tmp_path / "unix.csv")
    assert ref.requests == 500 and ref.start == stamps[0]
    for name in ("iso.csv", "iso.jsonl", "offset.jsonl"):
        tr = load_trace(tmp_path / name)
        np.testing.assert_allclose(tr.times, ref.times, atol=1e-6)
        np.testing.assert_array_equal(tr.output_tokens, ref.output_tokens)


HOSTILE = [
    ("nan.csv", b"timestamp\n1793577600\nnan\n", ":3:"),
    ("inf.csv", b"timestamp\n1793577600\ninf\n", ":3:"),
    ("neg.csv", b"timestamp\n-5\n", ":2:"),
    ("huge.csv", b"timestamp\n" + b"9" * 5000 + b"\n", ":2:"),
    ("wide.csv", b"timestamp\n1793577600\n" + b"1" * (129 * 1024) + b"\n", ":3:"),
    ("latin1.csv", b"timestamp,note\n1793577600,caf\xe9\n", ":2:"),
    ("nan.jsonl", b'{"timestamp": 1793577600}\n{"timestamp": NaN}\n', ":2:"),
    ("inf.jsonl", b'{"timestamp": Infinity}\n', ":1:"),
    ("digits.jsonl", b'{"timestamp": 1793577600}\n{"timestamp": ' + b"7" * 5000 + b"}\n", ":2:"),
    ("deep.jsonl", b'{"timestamp": 1793577600}\n' + b'{"timestamp": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", ":2:"),
    ("nested.jsonl", b'{"timestamp": [1, 2]}\n', ":1:"),
    ("wide.jsonl", b'{"timestamp": 1793577600, "x": "' + b"a" * (129 * 1024) + b'"}\n', ":1:"),
    ("latin1.jsonl", b'{"timestamp": 1793577600}\n{"timestamp": 1793577601, "u": "\xe9"}\n', ":2:"),
    ("array.jsonl", b"[1793577600]\n", ":1:"),
    ("bool.jsonl", b'{"timestamp": true}\n', ":1:"),
    ("tokens.csv", b"timestamp,output_tokens\n1793577600,12\n1793577601,nan\n", ":3:"),
    ("missing.jsonl", b'{"timestamp": 1793577600}\n{"output_tokens": 3}\n', ":2:"),
    ("years.csv", b"timestamp\n1793577600\n" + b"1" * 15 + b"\n", ":3:"),
]


@pytest.mark.parametrize("name,data,where", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_trace_is_a_usage_error_naming_file_and_line(tmp_path: Path, name: str, data: bytes, where: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UsageError) as e:
        load_trace(path)
    assert f"{path}{where}" in str(e.value)


def test_cli_refuses_a_nan_trace_and_prints_no_nan(omc, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 1793577600}\n{"timestamp": NaN}\n')
    r = omc("cost", "--trace", str(bad), "--json")
    assert r.exit_code == 2 and f"{bad}:2" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""
    good = tmp_path / "good.csv"
    good.write_text("timestamp\n" + "".join(f"{1_793_577_600 + 30 * i}\n" for i in range(50)))
    r = omc("cost", "--trace", str(good), "--json")
    assert r.exit_code == 0 and "NaN" not in r.stdout and "Infinity" not in r.stdout


def test_a_trace_longer_than_the_longest_span_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("timestamp\n0\n" + f"{3651 * 86400}\n")
    with pytest.raises(UsageError, match="more than 3650 days"):
        load_trace(path)


class _Endless(io.RawIOBase):
    """A 64 MiB file with no newline after ``first``; counts what was read from it."""

    SIZE = 64 * 1024 * 1024

    def __init__(self, first: bytes = b"") -> None:
        self.first, self.served = first, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self.served >= self.SIZE:
            return 0
        fill = (self.first + b"1" * len(b))[: len(b)] if self.served == 0 else b"1" * len(b)
        b[: len(fill)] = fill
        self.served += len(fill)
        return len(fill)


@pytest.mark.parametrize("reader,first", [(tracefile._jsonl, b""), (tracefile._csv, b"timestamp\n")])
def test_an_endless_line_is_refused_without_reading_it_whole(reader, first):
    raw = _Endless(first)
    with pytest.raises(UsageError, match="line longer than 128 KiB"):
        list(reader(io.BufferedReader(raw), "t"))
    assert raw.served < 16 * 1024 * 1024

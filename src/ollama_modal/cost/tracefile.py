"""Read a recorded trace (CSV with a header, or JSONL) in blocks, with numpy.

A block of lines is decoded and split at once (the csv module for CSV; one JSON array per
block for JSONL, through the same limits as every JSON omc reads); timestamps and token
counts become arrays with one conversion per block, and only a block holding ISO-8601 times
with offsets, or a bad value, is looked at row by row. Millions of rows take seconds, and
memory holds two numbers per request plus one block.

Hostile input is exit 2 naming the file and the line: fields over 128 KiB, bytes that are not
UTF-8, nesting, integers of thousands of digits, NaN/Infinity, timestamps outside years
1970-9999, a span over the longest simulated (cost/limits.py).
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..safeio import loads_json, shown
from .limits import MAX_DAYS

FIX = "each row needs `timestamp` (ISO-8601 such as 2026-11-02T09:15:00Z, or UNIX seconds) and optionally `output_tokens`"
#: Longest line (so longest field) accepted.
MAX_LINE_BYTES = 128 * 1024
BLOCK_LINES = 50_000
#: Timestamps are UNIX seconds in [0, end of year 9999].
MAX_UNIX = 253402300799.0
MAX_TOKENS = 10_000_000.0


def _too_long(label: str, line: int) -> UsageError:
    return UsageError(f"{label}:{line}: line longer than {MAX_LINE_BYTES // 1024} KiB; {FIX}")


def _blocks(fh: io.BufferedReader, label: str, first_line: int) -> Iterator[tuple[int, list[str]]]:
    """(line number of the block's first line, its lines decoded), about BLOCK_LINES at a time.

    Read in fixed-size chunks, not by line: a file with one endless line is refused once the
    line passes MAX_LINE_BYTES, before more of it is read."""
    line_no = first_line
    rest = b""
    while True:
        chunk = fh.read(BLOCK_LINES * 64)
        data = rest + chunk
        if chunk:
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if len(rest) > MAX_LINE_BYTES:
                raise _too_long(label, line_no + data.count(b"\n"))
            if not data:
                continue
        elif not data:
            return
        else:
            rest = b""
        raw = data.split(b"\n")
        if data.endswith(b"\n"):
            raw.pop()
            raw = [line + b"\n" for line in raw]
        else:  # the last line of the file, without its newline
            raw = [line + b"\n" for line in raw[:-1]] + raw[-1:]
        for j, line in enumerate(raw):
            if len(line) > MAX_LINE_BYTES:
                raise _too_long(label, line_no + j)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = line_no + data[: e.start].count(b"\n")
            raise UsageError(f"{label}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x})",
                             hint="save the trace as UTF-8") from None
        yield line_no, text.splitlines()
        line_no += len(raw)


def _floats(values: list[object]) -> np.ndarray | None:
    """Numbers or numeric strings as floats at C speed, or None when some are not (the caller
    then looks row by row and names the bad one). JSON's true/false are not numbers."""
    try:
        out = np.array(list(map(float, values)), dtype=np.float64)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return None
    if values and not isinstance(values[0], str) and (True in values or False in values) and \
            any(isinstance(v, bool) for v in values):
        return None
    return out


def _to_seconds(values: list[object], lines: np.ndarray, label: str) -> np.ndarray:
    """UNIX seconds from numbers, numeric strings or ISO-8601 strings (no offset: UTC)."""
    out = _floats(values)
    if out is None:
        try:  # ISO-8601 without an offset (or with Z): numpy parses a block at once
            plain = [v[:-1] if v.endswith("Z") else v for v in values]  # type: ignore[union-attr]
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # an offset is a deprecation warning in numpy: parse those one by one
                stamps = np.array(plain, dtype="datetime64[us]")
            out = stamps.astype(np.int64) / 1e6
        except (ValueError, TypeError, OverflowError, AttributeError, DeprecationWarning, UserWarning):
            out = np.empty(len(values))
            for j, v in enumerate(values):
                out[j] = _one(v, f"{label}:{lines[j]}")
    bad = ~np.isfinite(out) | (out < 0) | (out > MAX_UNIX)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise UsageError(f"{label}:{lines[j]}: timestamp {shown(values[j], 40)} is not a time between 1970 and 9999; {FIX}")
    return out


def _one(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UsageError(f"{where}: timestamp {shown(value, 40)} is neither ISO-8601 nor UNIX seconds; {FIX}")
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    if not text:
        raise UsageError(f"{where}: missing timestamp; {FIX}")
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{where}: timestamp {shown(text, 40)} is neither ISO-8601 nor UNIX seconds; {FIX}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # a trace without offsets is read as UTC
    return dt.timestamp()


def _to_tokens(values: list[object], lines: np.ndarray, label: str) -> np.ndarray:
    """Output tokens (NaN where empty)."""
    out = _floats(values)
    if out is None:
        out = np.empty(len(values))
        for j, v in enumerate(values):
            if v is None or (isinstance(v, str) and not v.strip()):
                out[j] = math.nan
                continue
            try:
                if isinstance(v, bool):
                    raise TypeError
                out[j] = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                raise UsageError(f"{label}:{lines[j]}: output_tokens {shown(v, 40)} is not a number; "
                                 "give a whole number of tokens or leave it empty") from None
    bad = ~np.isfinite(out) | (out < 0) | (out > MAX_TOKENS)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        if not (values[j] is None or (isinstance(values[j], str) and not values[j].strip())):  # type: ignore[union-attr]
            raise UsageError(f"{label}:{lines[j]}: output_tokens {shown(values[j], 40)} must be between 0 and {MAX_TOKENS:,.0f}")
        bad[j] = False
        rest = np.flatnonzero(bad & ~np.isnan(out))
        if rest.size:
            j = int(rest[0])
            raise UsageError(f"{label}:{lines[j]}: output_tokens {shown(values[j], 40)} must be between 0 and {MAX_TOKENS:,.0f}")
    return out


def _csv(fh: io.BufferedReader, label: str) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    head = fh.readline(MAX_LINE_BYTES + 1)  # bounded: an endless first line is not read whole
    if len(head) > MAX_LINE_BYTES:
        raise _too_long(label, 1)
    try:
        fields = [f.strip() for f in next(csv.reader([head.decode("utf-8")]), [])]
    except UnicodeDecodeError:
        raise UsageError(f"{label}:1: not UTF-8 text", hint="save the trace as UTF-8") from None
    if "timestamp" not in fields:
        raise UsageError(f"{label}:1: the CSV header has no `timestamp` column (found {shown(fields)}); {FIX}")
    ti = fields.index("timestamp")
    ki = fields.index("output_tokens") if "output_tokens" in fields else -1
    nf = len(fields)
    for first, lines in _blocks(fh, label, 2):
        body = [ln for ln in lines if ln.strip()]
        if len(body) == len(lines):
            nums = np.arange(first, first + len(lines))
        else:
            nums = np.array([first + j for j, ln in enumerate(lines) if ln.strip()], dtype=np.int64)
        if not body:
            continue
        flat = ",".join(body).split(",") if '"' not in lines[0] and all('"' not in ln for ln in body[:1]) else None
        if flat is not None and len(flat) == nf * len(body) and not any('"' in ln for ln in body):
            ts = flat[ti::nf]  # plain CSV: one split for the whole block
            toks = flat[ki::nf] if ki >= 0 else None
        else:
            try:
                rows = list(csv.reader(body))
            except csv.Error as e:
                raise UsageError(f"{label}: not valid CSV near line {first} ({e}); {FIX}") from None
            ts = [r[ti] if len(r) > ti else "" for r in rows]
            toks = [r[ki] if len(r) > ki else "" for r in rows] if ki >= 0 else None
        yield nums, _to_seconds(ts, nums, label), (_to_tokens(toks, nums, label) if toks is not None else np.full(len(body), np.nan))


def _jsonl(fh: io.BufferedReader, label: str) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    for first, lines in _blocks(fh, label, 1):
        nums = np.array([first + j for j, ln in enumerate(lines) if ln.strip()], dtype=np.int64)
        body = [ln for ln in lines if ln.strip()]
        if not body:
            continue
        try:  # one array per block at C speed; any trouble and the block is read line by line with safeio's limits
            objs = json.loads("[" + ",".join(body) + "]")
            if len(objs) != len(body):
                raise ValueError("a line holds more than one value")
        except (ValueError, RecursionError):
            objs = [loads_json(ln, where=f"{label}:{n}", hint="write one JSON object per line") for ln, n in zip(body, nums)]
        for obj, n in zip(objs, nums):
            if not isinstance(obj, dict):
                raise UsageError(f"{label}:{n}: expected a JSON object, got {type(obj).__name__}; {FIX}")
        ts = [o.get("timestamp") for o in objs]
        for v, n in zip(ts, nums):
            if v is None or v == "":
                raise UsageError(f"{label}:{n}: missing timestamp; {FIX}")
        toks = [o.get("output_tokens") for o in objs]
        yield nums, _to_seconds(ts, nums, label), _to_tokens(toks, nums, label)


def read_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(UNIX times, output tokens or None, line numbers), in file order."""
    p = Path(path)
    label = str(p) if len(str(p)) <= 200 else shown(p)
    try:
        if "\x00" in str(p):
            raise UsageError(f"{shown(p)}: no such trace file; give a CSV or JSONL file of requests")
        if not p.is_file():
            raise UsageError(f"{label}: no such trace file; give a CSV or JSONL file of requests")
        fh = p.open("rb")
    except OSError as e:
        raise UsageError(f"{label}: cannot read the trace ({e.strerror or e})") from None
    times, tokens, lines = [], [], []
    with fh:
        reader = _jsonl if p.suffix.lower() in (".jsonl", ".ndjson") else _csv
        try:
            for nums, t, k in reader(fh, label):  # type: ignore[operator]
                lines.append(nums)
                times.append(t)
                tokens.append(k)
        except RecursionError:
            raise UsageError(f"{label}: nested too deeply; {FIX}") from None
        except OSError as e:
            raise UsageError(f"{label}: cannot read the trace ({e.strerror or e})") from None
    if not times:
        raise UsageError(f"{label}: the trace has no requests; {FIX}")
    t_all, k_all, n_all = np.concatenate(times), np.concatenate(tokens), np.concatenate(lines)
    has = ~np.isnan(k_all)
    if has.any() and not has.all():
        j = int(np.flatnonzero(~has)[0])
        raise UsageError(f"{label}:{n_all[j]}: output_tokens is empty here but set on other rows; fill it in on every row or on none")
    if float(t_all.max() - t_all.min()) > MAX_DAYS * 86400:
        raise UsageError(f"{label}: the trace spans more than {MAX_DAYS:g} days; cut it to at most that")
    return t_all, (k_all if has.all() else None), n_all


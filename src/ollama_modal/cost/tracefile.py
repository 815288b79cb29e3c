"""Read a recorded trace (CSV with a header, or JSONL): every row validated, millions a second.

The rules are those of one line at a time (:func:`_strict_row`): a line ends at ``\\n`` (an
``\\r`` before it is dropped) and is at most 128 KiB; it must be UTF-8; a blank line is skipped;
a CSV row is read by the ``csv`` module and a JSONL row by :func:`~ollama_modal.safeio.loads_json`
(no NaN/Infinity, no integers of thousands of digits, no deep nesting) and must be an object;
``timestamp`` is UNIX seconds (a number, or a string ``float()`` reads) or ISO-8601
(``datetime.fromisoformat``; without an offset it is UTC) between 1970 and 9999;
``output_tokens`` is a number between 0 and 10 M, or empty/absent on every row. A bad row is
exit 2 naming the file, the line, the field and the fix.

Reading one line at a time in Python takes ~5 us a row, so the file is read in chunks of a
few MiB and the rows of the common exact shapes are parsed at once with numpy over the bytes
(:func:`_fast_csv`, :func:`_fast_jsonl`): printable ASCII lines whose fields split the simple
way (CSV: no quotes, the header's number of commas; JSONL: the same keys, order and spacing
as a line of the chunk, values plain strings or numbers), numbers in JSON's grammar and
ISO-8601 times of the form ``YYYY-MM-DD[Thh:mm:ss[.ffffff]][Z|+hh:mm]``, both converted
exactly (integer arithmetic, one rounding, as ``float()`` and ``datetime`` do). Every other
line, and every fast-parsed row whose value is out of range, goes through
:func:`_strict_row`, so the answer -- values or the first bad line and its message -- is that
of the line-at-a-time rules (tests/cost/test_tracefile_fast.py checks it on generated files).
Memory holds two numbers per request plus one chunk.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..safeio import loads_json, shown
from .limits import MAX_DAYS

FIX = "each row needs `timestamp` (ISO-8601 such as 2026-11-02T09:15:00Z, or UNIX seconds) and optionally `output_tokens`"
#: Longest line (with its newline) accepted.
MAX_LINE_BYTES = 128 * 1024
#: Bytes read at a time; a chunk is cut after its last newline.
CHUNK_BYTES = 2 * 1024 * 1024
#: Timestamps are UNIX seconds in [0, end of year 9999].
MAX_UNIX = 253402300799.0
MAX_TOKENS = 10_000_000.0

_NL, _CR, _QUOTE, _COMMA, _BACKSLASH = 10, 13, 34, 44, 92


def _too_long(label: str, line: int) -> UsageError:
    return UsageError(f"{label}:{line}: line longer than {MAX_LINE_BYTES // 1024} KiB; {FIX}")


# --- one line at a time: the rules ---------------------------------------------------------


class _Header:
    """Where the fields are: CSV column indexes (-1: no such column), or JSONL (no header)."""

    def __init__(self, ti: int = -1, ki: int = -1, nf: int = 0) -> None:
        self.ti, self.ki, self.nf = ti, ki, nf

    @property
    def jsonl(self) -> bool:
        return self.ti < 0


def _strict_row(raw: bytes, length: int, line: int, label: str, head: _Header) -> tuple[float, float] | None:
    """(UNIX seconds, output tokens or NaN) of one line (without its ``\\n``; ``length`` counts
    it), None for a blank line; UsageError naming the line otherwise."""
    where = f"{label}:{line}"
    if length > MAX_LINE_BYTES:
        raise _too_long(label, line)
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{where}: not UTF-8 text (byte 0x{raw[e.start]:02x})", hint="save the trace as UTF-8") from None
    if not text.strip():
        return None
    stamp: object
    tokens: object
    if head.jsonl:
        obj = loads_json(text, where=where, hint="write one JSON object per line")
        if not isinstance(obj, dict):
            raise UsageError(f"{where}: expected a JSON object, got {type(obj).__name__}; {FIX}")
        stamp, tokens = obj.get("timestamp"), obj.get("output_tokens")
        if stamp is None or stamp == "":
            raise UsageError(f"{where}: missing timestamp; {FIX}")
    else:
        try:
            row = next(csv.reader([text]))
        except (csv.Error, StopIteration) as e:
            raise UsageError(f"{where}: not valid CSV ({e}); {FIX}") from None
        stamp = row[head.ti] if len(row) > head.ti else ""
        tokens = (row[head.ki] if len(row) > head.ki else "") if head.ki >= 0 else None
    t = _one(stamp, where)
    if not (math.isfinite(t) and 0 <= t <= MAX_UNIX):
        raise UsageError(f"{where}: timestamp {shown(stamp, 40)} is not a time between 1970 and 9999; {FIX}")
    return t + 0.0, _tokens(tokens, where) + 0.0  # + 0.0: -0 is 0


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


def _tokens(value: object, where: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    try:
        if isinstance(value, bool):
            raise TypeError
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{where}: output_tokens {shown(value, 40)} is not a number; "
                         "give a whole number of tokens or leave it empty") from None
    if not (math.isfinite(out) and 0 <= out <= MAX_TOKENS):
        raise UsageError(f"{where}: output_tokens {shown(value, 40)} must be between 0 and {MAX_TOKENS:,.0f}")
    return out


# --- many lines at once: numbers and times from the bytes ----------------------------------

# Character classes of JSON's number grammar, and its automaton (state 9: refused).
_CLS = np.full(256, 6, dtype=np.int8)
_CLS[ord("0")] = 0
_CLS[ord("1"):ord("9") + 1] = 1
_CLS[ord("-")], _CLS[ord("+")], _CLS[ord(".")], _CLS[ord("e")], _CLS[ord("E")] = 2, 3, 4, 5, 5
_PAD = 7
#         0  1-9  -  +  .  e  other pad
_T = np.array([
    [2, 3, 1, 9, 9, 9, 9, 9],  # 0 start
    [2, 3, 9, 9, 9, 9, 9, 9],  # 1 after the minus
    [9, 9, 9, 9, 4, 6, 9, 2],  # 2 a leading 0
    [3, 3, 9, 9, 4, 6, 9, 3],  # 3 integer digits
    [5, 5, 9, 9, 9, 9, 9, 9],  # 4 after the point
    [5, 5, 9, 9, 9, 6, 9, 5],  # 5 fraction digits
    [8, 8, 7, 7, 9, 9, 9, 9],  # 6 after e
    [8, 8, 9, 9, 9, 9, 9, 9],  # 7 after the exponent's sign
    [8, 8, 9, 9, 9, 9, 9, 8],  # 8 exponent digits
    [9, 9, 9, 9, 9, 9, 9, 9],  # 9 refused
], dtype=np.int8).ravel()
_ACCEPT = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0], dtype=bool)
_MANTISSA = np.array([0, 0, 1, 1, 0, 1, 0, 0, 0, 0], dtype=bool)
_P10 = 10.0 ** np.arange(23)
_MAX_NUMBER_BYTES = 24


#: Zero bytes after every chunk's buffer, so that a window of up to this many bytes can start
#: at any of its bytes.
_SLACK = 64


def _windows(buf: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each start, one row each (``buf`` is followed by _SLACK bytes)."""
    assert width <= _SLACK
    win = np.lib.stride_tricks.as_strided(buf, shape=(max(buf.size, 1), width), strides=(1, 1), writeable=False)
    return win[np.minimum(start, max(buf.size - 1, 0))]


def _gather(buf: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    """Byte j of every span as row j, contiguous."""
    return np.ascontiguousarray(_windows(buf, start, width).T)


def _numbers(buf: np.ndarray, vs: np.ndarray, ve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ok, value) of the spans [vs, ve) read as JSON numbers, exactly as float() does: at most
    17 digits and a mantissa under 2**53 scaled by at most 10**22 (one correctly rounded
    operation); anything else is not ok (the caller reads those rows one by one)."""
    n = vs.size
    length = ve - vs
    ok = (length >= 1) & (length <= _MAX_NUMBER_BYTES)
    if n == 0 or not ok.any():
        return ok, np.zeros(n)
    width = int(length[ok].max())
    raw = _gather(buf, vs, width)
    cls = _CLS[raw]
    cls[np.arange(width)[:, None] >= length] = _PAD
    digit = cls <= 1
    state = np.zeros(n, dtype=np.int8)
    mant = np.zeros(n, dtype=np.int64)  # wraps past 18 digits: those rows are refused by ndig
    ndig = np.zeros(n, dtype=np.int8)
    frac = np.zeros(n, dtype=np.int8)
    exp = np.zeros(n, dtype=np.int64)
    eneg = np.zeros(n, dtype=bool)
    with_exp = bool((cls == 5).any())
    for j in range(width):
        c = cls[j]
        state = _T[state * 8 + c]
        d = digit[j]
        m = d & _MANTISSA[state]
        mant = np.where(m, mant * 10 + (raw[j] - np.uint8(48)), mant)
        ndig += m
        frac += d & (state == 5)
        if with_exp:
            e = d & (state == 8)
            exp = np.where(e & (exp < 1000), exp * 10 + (raw[j] - np.uint8(48)), exp)
            eneg |= (state == 7) & (c == 2)
    ok &= _ACCEPT[state] & (ndig <= 17) & (mant <= 2**53)
    e10 = np.where(eneg, -exp, exp) - frac
    ok &= np.abs(e10) <= 22
    scale = _P10[np.minimum(np.abs(e10), 22)]
    value = np.where(e10 >= 0, mant * scale, mant / scale)
    value = np.where(cls[0] == 2, -value, value) + 0.0
    return ok, value


_DAYS_BEFORE = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _iso(buf: np.ndarray, vs: np.ndarray, ve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ok, UNIX seconds) of the spans read as ``YYYY-MM-DD[(T| )hh:mm:ss[.f{1,6}]][Z|±hh:mm]``,
    validated and converted as datetime.fromisoformat(...).timestamp() does (no offset: UTC),
    in integer microseconds; other spellings are not ok (read one by one)."""
    n = vs.size
    length = ve - vs
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    g = _gather(buf, vs, 32)  # row j: the j-th byte of every span
    d = g - np.uint8(48)
    dig = d < 10

    def digits(*cols: int) -> np.ndarray:
        return np.logical_and.reduce([dig[c] for c in cols])

    def num(a: int, b: int) -> np.ndarray:
        out = d[a].astype(np.int64)
        for c in range(a + 1, b):
            out = out * 10 + d[c]
        return out

    ok = (length >= 10) & digits(0, 1, 2, 3, 5, 6, 8, 9) & (g[4] == 45) & (g[7] == 45)
    timed = length > 10
    ok &= ~timed | (((g[10] == 84) | (g[10] == 32)) & digits(11, 12, 14, 15, 17, 18)
                    & (g[13] == 58) & (g[16] == 58) & (length >= 19))
    point = timed & (length > 19) & (g[19] == 46)
    run = dig[20].copy()
    nfrac = run.astype(np.int64)
    for c in range(21, 26):
        run &= dig[c]
        nfrac += run
    nfrac = np.where(point, nfrac, 0)
    ok &= ~point | ((nfrac >= 1) & ~(run & dig[26]))
    end = np.where(timed, 19 + point * (1 + nfrac), 10)
    rest = length - end
    rows = np.arange(n)
    at = np.minimum(end, 31)
    sign = g[at, rows]
    zulu = timed & (rest == 1) & (sign == 90)
    offset = timed & (rest == 6) & ((sign == 43) | (sign == 45))
    o = [np.minimum(end + k, 31) for k in range(1, 6)]
    ok &= (rest == 0) | zulu | offset
    ok &= ~offset | (dig[o[0], rows] & dig[o[1], rows] & (g[o[2], rows] == 58) & dig[o[3], rows] & dig[o[4], rows])
    oh = d[o[0], rows].astype(np.int64) * 10 + d[o[1], rows]
    om = d[o[3], rows].astype(np.int64) * 10 + d[o[4], rows]
    ok &= ~offset | ((oh < 24) & (om < 60))
    year, month, day = num(0, 4), num(5, 7), num(8, 10)
    hour = np.where(timed, num(11, 13), 0)
    minute = np.where(timed, num(14, 16), 0)
    second = np.where(timed, num(17, 19), 0)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    mdays = _DAYS_BEFORE[np.clip(month, 1, 12)] + ((month == 2) & leap)
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= mdays)
    ok &= (hour < 24) & (minute < 60) & (second < 60)
    micro = np.zeros(n, dtype=np.int64)
    for k in range(6):
        micro += np.where(nfrac > k, d[20 + k].astype(np.int64), 0) * 10 ** (5 - k)
    y = year - (month <= 2)  # days from civil (H. Hinnant)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    shift = np.where(offset, np.where(sign == 45, -1, 1) * (oh * 3600 + om * 60), 0)
    us = (days * 86400 + hour * 3600 + minute * 60 + second - shift) * 1_000_000 + micro
    ok &= (us >= 0) & (us <= 2**53)
    return ok, us / 1e6


def _times(buf: np.ndarray, vs: np.ndarray, ve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spans holding UNIX seconds or ISO-8601 times (whichever each is)."""
    if vs.size == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    iso_like = (ve - vs >= 10) & (buf[np.minimum(vs + 4, buf.size - 1)] == 45)
    ok = np.zeros(vs.size, dtype=bool)
    out = np.zeros(vs.size)
    for mask, parse in ((iso_like, _iso), (~iso_like, _numbers)):
        i = np.flatnonzero(mask)
        if i.size:
            ok[i], out[i] = parse(buf, vs[i], ve[i])
    return ok, out


def _token_values(buf: np.ndarray, vs: np.ndarray, ve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spans holding a number of tokens; an empty span is NaN (no tokens given)."""
    ok, out = _numbers(buf, vs, ve)
    empty = ve == vs
    return ok | empty, np.where(empty, np.nan, out)


# --- the common shapes ---------------------------------------------------------------------


def _next(pos: np.ndarray, at: np.ndarray, limit: int) -> np.ndarray:
    """The first of the sorted positions ``pos`` at or after each ``at`` (``limit`` if none)."""
    i = np.searchsorted(pos, at)
    return np.where(i < pos.size, pos[np.minimum(i, max(pos.size - 1, 0))] if pos.size else limit, limit)


def _fast_csv(buf: np.ndarray, s: np.ndarray, e: np.ndarray, head: _Header) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ok, seconds, tokens) of plain CSV lines [s, e): no quotes, one field per column."""
    commas = np.append(np.flatnonzero(buf == _COMMA), buf.size)  # and one past the end
    first = np.searchsorted(commas, s)
    ok = np.searchsorted(commas, e) - first == head.nf - 1
    top = commas.size - 1

    def field(i: int) -> tuple[np.ndarray, np.ndarray]:
        start = s if i == 0 else commas[np.minimum(first + i - 1, top)] + 1
        end = e if i == head.nf - 1 else commas[np.minimum(first + i, top)]
        return start, end

    ts, te = field(head.ti)
    t_ok, t = _times(buf, ts, te)
    if head.ki >= 0:
        ks, ke = field(head.ki)
        k_ok, k = _token_values(buf, ks, ke)
    else:
        k_ok, k = np.ones(s.size, dtype=bool), np.full(s.size, np.nan)
    return ok & t_ok & k_ok, t, k


_VALUE = re.compile(rb'"[^"\\]*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?')
_KEY = re.compile(rb' *([{,]) *"([A-Za-z0-9_]+)" *: *')


def _template(line: bytes) -> tuple[list[bytes], list[bool], list[str]] | None:
    """The shape of a flat JSON object line: the literal pieces between its values, whether
    each value is a string, and the keys; None for any other line."""
    pieces: list[bytes] = []
    quoted: list[bool] = []
    keys: list[str] = []
    pos = 0
    while True:
        m = _KEY.match(line, pos)
        if not m or (m.group(1) == b"{") != (pos == 0):
            return None
        pieces.append(m.group(0))
        keys.append(m.group(2).decode())
        v = _VALUE.match(line, m.end())
        if not v:
            return None
        quoted.append(line[v.start()] == _QUOTE)
        pos = v.end()
        close = re.compile(rb" *\} *$").match(line, pos)
        if close:
            pieces.append(close.group(0))
            break
    if len(set(keys)) != len(keys) or "timestamp" not in keys or max(map(len, pieces)) > _SLACK:
        return None
    return pieces, quoted, keys


def _match(buf: np.ndarray, s: np.ndarray, e: np.ndarray, shape: tuple[list[bytes], list[bool], list[str]],
           quotes: np.ndarray, stops: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ok, seconds, tokens) of the lines [s, e) that have the given shape."""
    pieces, quoted, keys = shape
    limit = buf.size
    ok = np.ones(s.size, dtype=bool)
    p = s.copy()
    spans: dict[str, tuple[np.ndarray, np.ndarray, bool]] = {}
    for i, piece in enumerate(pieces):
        ok &= p + len(piece) <= e
        ok &= (_windows(buf, p, len(piece)) == np.frombuffer(piece, dtype=np.uint8)).all(axis=1)
        p = p + len(piece)
        if i == len(keys):
            ok &= p == e
            break
        if quoted[i]:
            ok &= buf[np.minimum(p, limit - 1)] == _QUOTE
            close = _next(quotes, p + 1, limit)
            vs, ve = p + 1, close
            p = close + 1
        else:
            stop = pieces[i + 1][0]
            if stop not in stops:
                stops[stop] = np.flatnonzero(buf == stop)
            vs = p
            ve = _next(stops[stop], p, limit)
            p = ve
            if keys[i] not in ("timestamp", "output_tokens"):
                n_ok, _ = _numbers(buf, vs, ve)  # any number must be valid JSON and finite
                ok &= n_ok
        ok &= p <= e
        spans[keys[i]] = (vs, np.minimum(ve, e), quoted[i])
    vs, ve, q = spans["timestamp"]
    t_ok, t = _times(buf, vs, ve) if q else _numbers(buf, vs, ve)
    ok &= t_ok
    if "output_tokens" in spans:
        vs, ve, q = spans["output_tokens"]
        k_ok, k = _token_values(buf, vs, ve) if q else _numbers(buf, vs, ve)
        ok &= k_ok
    else:
        k = np.full(s.size, np.nan)
    return ok, t, k


def _fast_jsonl(buf: np.ndarray, s: np.ndarray, e: np.ndarray, data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ok, seconds, tokens) of the lines of a chunk that share the shape of one of its lines."""
    ok = np.zeros(s.size, dtype=bool)
    t = np.zeros(s.size)
    k = np.full(s.size, np.nan)
    quotes = np.flatnonzero(buf == _QUOTE)
    stops: dict[int, np.ndarray] = {}
    tried = 0
    left = np.arange(s.size)
    while left.size and tried < 4:
        tried += 1
        i = int(left[0])
        shape = _template(data[s[i]:e[i]])
        if shape is None:
            left = left[1:]
            continue
        m_ok, m_t, m_k = _match(buf, s[left], e[left], shape, quotes, stops)
        done = left[m_ok]
        ok[done], t[done], k[done] = True, m_t[m_ok], m_k[m_ok]
        left = left[~m_ok]
        left = left[left != i]
    return ok, t, k


# --- chunks --------------------------------------------------------------------------------


def _chunks(fh: io.BufferedReader, label: str, first_line: int) -> Iterator[tuple[int, bytes]]:
    """(line number of the chunk's first line, whole lines), about CHUNK_BYTES at a time.

    A line that has not ended MAX_LINE_BYTES in is refused before more of it is read (after
    the lines before it)."""
    line_no = first_line
    rest = b""
    while True:
        chunk = fh.read(CHUNK_BYTES)
        data = rest + chunk
        if not chunk:
            if data:
                yield line_no, data
            return
        cut = data.rfind(b"\n") + 1
        data, rest = data[:cut], data[cut:]
        if data:
            yield line_no, data
            line_no += data.count(b"\n")
        if len(rest) > MAX_LINE_BYTES:
            raise _too_long(label, line_no)


class _Rows:
    """What one chunk gave: times, tokens, and for the all-or-none tokens rule the first line
    without tokens and whether any line had them."""

    def __init__(self, t: np.ndarray, k: np.ndarray | None, first_without: int | None, any_with: bool) -> None:
        self.t, self.k, self.first_without, self.any_with = t, k, first_without, any_with


class _Lines:
    """A chunk's lines: line i is data[s[i]:stop[i]], its content (no ``\r\n``) data[s[i]:e[i]],
    and ``length[i]`` bytes with its newline."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.buf = buf = np.frombuffer(data + bytes(_SLACK), dtype=np.uint8)[: len(data)]
        stop = np.flatnonzero(buf == _NL)
        self.newline = newline = data.endswith(b"\n")
        if not newline:
            stop = np.append(stop, buf.size)
        self.stop = stop
        self.s = s = np.concatenate(([0], stop[:-1] + 1)).astype(np.int64)
        self.length = stop - s + 1
        if not newline:
            self.length[-1] -= 1
        self.cr = (stop > s) & (buf[np.maximum(stop - 1, 0)] == _CR)
        self.e = stop - self.cr
        self.blank = self.e == s


def _fast_rows(lines: _Lines, head: _Header) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ok, seconds, tokens) for the lines of the common shapes whose values are in range."""
    buf, s, e, n = lines.buf, lines.s, lines.e, lines.s.size
    ok, t, k = np.zeros(n, dtype=bool), np.zeros(n), np.full(n, np.nan)
    odd = (buf < 32) | (buf > 126) | (buf == (_BACKSLASH if head.jsonl else _QUOTE))
    odd[lines.stop[: n - (not lines.newline)]] = False
    odd[e[lines.cr]] = False
    fine = ~lines.blank & (lines.length <= MAX_LINE_BYTES)
    where = np.flatnonzero(odd)
    if where.size:
        fine[np.searchsorted(lines.stop, where)] = False
    idx = np.flatnonzero(fine)
    if idx.size:
        if head.jsonl:
            f_ok, f_t, f_k = _fast_jsonl(buf, s[idx], e[idx], lines.data)
        else:
            f_ok, f_t, f_k = _fast_csv(buf, s[idx], e[idx], head)
        f_ok &= (f_t >= 0) & (f_t <= MAX_UNIX) & (np.isnan(f_k) | ((f_k >= 0) & (f_k <= MAX_TOKENS)))
        ok[idx], t[idx], k[idx] = f_ok, f_t, f_k
    return ok, t, k


def _parse(data: bytes, first: int, label: str, head: _Header, fast: bool = True) -> _Rows:
    lines = _Lines(data)
    n = lines.s.size
    if fast:
        ok, t, k = _fast_rows(lines, head)
    else:
        ok, t, k = np.zeros(n, dtype=bool), np.zeros(n), np.full(n, np.nan)
    numbers = first + np.arange(n)
    keep = ~lines.blank
    for i in np.flatnonzero(~ok & keep):  # everything else, one line at a time, in order
        row = _strict_row(data[lines.s[i]:lines.stop[i]], int(lines.length[i]), int(numbers[i]), label, head)
        if row is None:
            keep[i] = False
        else:
            t[i], k[i] = row
    if not keep.all():
        t, k, numbers = t[keep], k[keep], numbers[keep]
    without = np.isnan(k)
    first_without = int(numbers[np.argmax(without)]) if without.any() else None
    any_with = not without.all()
    return _Rows(t, k if any_with else None, first_without, any_with)


def _csv(fh: io.BufferedReader, label: str, fast: bool = True) -> Iterator[_Rows]:
    head = fh.readline(MAX_LINE_BYTES + 1)  # bounded: an endless first line is not read whole
    if len(head) > MAX_LINE_BYTES:
        raise _too_long(label, 1)
    try:
        fields = [f.strip() for f in next(csv.reader([head.decode("utf-8")]), [])]
    except UnicodeDecodeError:
        raise UsageError(f"{label}:1: not UTF-8 text", hint="save the trace as UTF-8") from None
    except csv.Error as e:
        raise UsageError(f"{label}:1: not valid CSV ({e}); {FIX}") from None
    if "timestamp" not in fields:
        raise UsageError(f"{label}:1: the CSV header has no `timestamp` column (found {shown(fields)}); {FIX}")
    spec = _Header(fields.index("timestamp"), fields.index("output_tokens") if "output_tokens" in fields else -1, len(fields))
    for first, data in _chunks(fh, label, 2):
        yield _parse(data, first, label, spec, fast)


def _jsonl(fh: io.BufferedReader, label: str, fast: bool = True) -> Iterator[_Rows]:
    for first, data in _chunks(fh, label, 1):
        yield _parse(data, first, label, _Header(), fast)


def read_trace(path: str | Path, *, fast: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(UNIX times, output tokens or None), in file order. ``fast=False`` reads every line
    one at a time (the rules the fast path must agree with; for tests)."""
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
    chunks: list[_Rows] = []
    with fh:
        reader = _jsonl if p.suffix.lower() in (".jsonl", ".ndjson") else _csv
        try:
            chunks.extend(reader(fh, label, fast))  # type: ignore[operator]
        except RecursionError:
            raise UsageError(f"{label}: nested too deeply; {FIX}") from None
        except OSError as e:
            raise UsageError(f"{label}: cannot read the trace ({e.strerror or e})") from None
    if not any(c.t.size for c in chunks):
        raise UsageError(f"{label}: the trace has no requests; {FIX}")
    without = [c.first_without for c in chunks if c.first_without is not None]
    has_tokens = any(c.any_with for c in chunks)
    if has_tokens and without:
        raise UsageError(f"{label}:{without[0]}: output_tokens is empty here but set on other rows; fill it in on every row or on none")
    lo = min(float(c.t.min()) for c in chunks if c.t.size)
    hi = max(float(c.t.max()) for c in chunks if c.t.size)
    if hi - lo > MAX_DAYS * 86400:
        raise UsageError(f"{label}: the trace spans more than {MAX_DAYS:g} days; cut it to at most that")
    times = np.concatenate([c.t for c in chunks])
    for c in chunks:
        c.t = np.zeros(0)  # each chunk's copy goes as soon as it is joined
    tokens = np.concatenate([c.k for c in chunks if c.k is not None]) if has_tokens else None
    return times, tokens

"""The fast trace reader (numpy over the bytes of a chunk) and the line-at-a-time rules agree on
every generated file, valid or not: the same times and tokens to the bit, or the same error
(file, line, field, fix). Files mix the common exact shapes with odd ones (whitespace, key
orders, unicode, escapes, 1e3, -0, NaN/Infinity, duplicate keys, quoted CSV, CRLF, blank lines,
out-of-range values), and the chunk size is drawn small so lines straddle chunk boundaries."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_modal.cost import tracefile
from ollama_modal.errors import UsageError

EXAMPLES = 250
SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BASE = datetime(2026, 11, 2, tzinfo=timezone.utc)

# --- values ---------------------------------------------------------------------------------

exponent_numbers = st.tuples(st.integers(0, 99999), st.sampled_from(["e", "E"]), st.integers(-30, 30)).map(lambda x: f"{x[0]}{x[1]}{x[2]}")
long_fractions = st.tuples(st.integers(0, 10**9), st.integers(0, 10**12), st.integers(0, 12)).map(
    lambda x: f"{x[0]}.{'0' * x[2]}{x[1]}")
unix = st.one_of(
    st.integers(0, 2_000_000_000).map(str),
    st.floats(0, 4e9, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.floats(0, 4e9, allow_nan=False).map(repr),
    st.floats(0, 3e11, allow_nan=False).map(repr),
    exponent_numbers,
    long_fractions,
    st.sampled_from(["1e3", "1E9", "1.7935776e9", "17935776e2", "-0", "-0.0", "-.0", "0", "0.5e-3", "01", "1.", ".5", "+5",
                     "-5", "1e400", "1e-400", "NaN", "nan", "Infinity", "inf", "-Infinity", "1_000", "12345678901234567890",
                     "9007199254740993", "900719925474099.3", "9" * 40, "253402300799", "253402300800", "0x10", "1e", "1e+",
                     "--1", "", " ", " 1793577600 ", "1e-23", "1e23", "0.00000000000000000000001", "1793577600.000000000000001"]),
)


@st.composite
def iso(draw) -> str:
    seconds = draw(st.one_of(st.floats(-3e9, 3e9, allow_nan=False), st.floats(-6e10, 2.4e11, allow_nan=False)))
    when = BASE + timedelta(seconds=seconds)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    text = f"{when.year:04d}" + text[text.index("-"):]
    digits = draw(st.integers(0, 7))
    if digits:
        text += "." + f"{when.microsecond:06d}{draw(st.integers(0, 9))}"[:digits]
    text = text.replace("T", draw(st.sampled_from(["T", "T", " ", "t", "_"])))
    zone = draw(st.sampled_from(["", "Z", "+00:00", "-00:00", "+05:30", "-08:00", "+23:59", "+24:00", "+12:60", "z", "+0000",
                                 "+05:30:10", "+5:30"]))
    if draw(st.integers(0, 4)) == 0:
        text = text[:10]
    return text + zone


odd_iso = st.sampled_from(["2026-02-29T00:00:00Z", "2028-02-29T12:00:00Z", "2100-02-29", "2000-02-29", "2026-13-01T00:00:00", "2026-00-01",
                           "2026-11-31", "2026-11-00", "2026-11-02T24:00:00", "2026-11-02T09:60:00", "2026-11-02T09:15:60", "0000-01-01",
                           "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-01:00",
                           "9999-12-31T23:59:59+01:00", "1970-01-01T00:00:00+00:01", "1970-01-01T00:00:00-00:01", "2026-11-02T09",
                           "2026-11-02T09:15", "20261102T091500Z", "2026-W45-1", "２０２６-11-02", "2026-11-02T09:15:00.5+05:30",
                           "2026-11-02T09:15:00.", "2026-11-02T09:15:00.Z", "2026-11-02T09:15:00.1234567Z", "2026-11-02T9:15:00",
                           "2026-1-02", "2026-11-02T09:15:00ZZ", "2026-11-02T09:15:00 ", "2026/11/02"])
stamp = st.one_of(unix, iso(), odd_iso)
good_stamp = st.one_of(st.floats(1.5e9, 2e9, allow_nan=False).map(lambda x: f"{x:.3f}"),
                       st.floats(0, 1e8, allow_nan=False).map(lambda x: (BASE + timedelta(seconds=x)).isoformat()))
tokens = st.one_of(st.integers(0, 2000).map(str), st.sampled_from(["", "0", "-0", "-.0", "12.5", "1e3", "1e7", "10000001", "-1", "NaN",
                                                                  "x", " 7 ", "true", "٣", "1e-23", "0.1e-22"]))


def _json_value(text: str, draw) -> str:
    """A stamp or token text as a JSON value: a number as itself when it is one, else a string."""
    try:
        json.loads(text)
        is_number = text.strip() == text and text not in ("", "true")
    except ValueError:
        is_number = False
    if is_number and draw(st.booleans()):
        return text
    return json.dumps(text, ensure_ascii=draw(st.booleans()))


# --- lines ----------------------------------------------------------------------------------


@st.composite
def csv_line(draw, nf: int, ti: int, ki: int) -> bytes:
    fields = [draw(st.sampled_from(["/api/chat", "200", "", "x y", "é"])) for _ in range(nf)]
    fields[ti] = draw(st.one_of(stamp, good_stamp))
    if ki >= 0:
        fields[ki] = draw(st.one_of(tokens, st.integers(0, 900).map(str)))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        fields = [f'"{f}"' for f in fields]  # quoted
    elif kind == 1:
        fields = fields[: draw(st.integers(0, nf))]  # too few
    elif kind == 2:
        fields.append("extra")
    elif kind == 3:
        fields[0] = '"a, ""b"""' if nf > 1 and ti != 0 and ki != 0 else fields[0]
    line = ",".join(fields)
    if kind == 4:
        line = " " * draw(st.integers(0, 3))
    elif kind == 5:
        line = '"unclosed,' + line
    return line.encode() + draw(st.sampled_from([b"\n", b"\n", b"\n", b"\r\n", b"\r\r\n", b"\x00\n"]))


KEYS = ["timestamp", "output_tokens", "route", "n", "ok"]


@st.composite
def jsonl_line(draw) -> bytes:
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return draw(st.sampled_from([b"\n", b"  \n", b"\t\n", b"[1793577600]\n", b"null\n", b"{}\n", b'"x"\n', b"{\n",
                                     b'{"timestamp": 1793577600} {"timestamp": 1}\n', b'{"timestamp": 1793577600}\r\n',
                                     b'{"timestamp": [1, 2]}\n', b'{"timestamp": {"a": 1}}\n', b'{"timestamp": true}\n',
                                     b'{"timestamp": null}\n', b'{"timestamp": ""}\n', b'{"timestamp": 17935776e2, "n": NaN}\n',
                                     b'{"timestamp": 1793577600, "n": Infinity}\n', b'{"timestamp": 1793577600, "n": -Infinity}\n',
                                     b'\xef\xbb\xbf{"timestamp": 1793577600}\n', b'{"timestamp": 1793577600, "x": "\xe9"}\n',
                                     b'{"timestamp": 1793577600, "x": "\\u2028"}\n', b'{"timestamp": 1793577600, "x": "\xe2\x80\xa8"}\n',
                                     b'{"timestamp": "2026-11-02T09:15:00Z", "n": 01}\n', b'{"timestamp": 1793577600, "n": 1.}\n',
                                     b'{"timestamp": 1793577600, "n": ' + b"9" * 31 + b"}\n",
                                     b'{"timestamp": 1793577600, "n": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n']))
    pairs = [("timestamp", _json_value(draw(st.one_of(stamp, good_stamp)), draw))]
    if draw(st.booleans()):
        pairs.append(("output_tokens", _json_value(draw(tokens), draw)))
    for key in draw(st.lists(st.sampled_from(KEYS[2:]), max_size=2)):
        pairs.append((key, draw(st.sampled_from(['"/api/chat"', "200", "true", "null", "1.5e3", '"caf\\u00e9"', '"é"', "[1]", "{}"]))))
    if draw(st.integers(0, 5)) == 0:  # a duplicate key: the last one counts
        pairs.append((draw(st.sampled_from(KEYS[:2])), _json_value(draw(stamp), draw)))
    pairs = draw(st.permutations(pairs)) if draw(st.booleans()) else pairs
    sep = draw(st.sampled_from([(", ", ": "), (",", ":"), (" , ", " : "), (",\t", ":")]))
    body = sep[0].join(f'"{k}"{sep[1]}{v}' for k, v in pairs)
    pad = draw(st.sampled_from(["", " ", "  "]))
    end = draw(st.sampled_from([b"\n", b"\n", b"\n", b"\r\n"]))
    return ("{" + pad + body + pad + "}" + draw(st.sampled_from(["", " "]))).encode() + end


common_csv = st.tuples(st.integers(1_700_000_000, 1_800_000_000), st.integers(0, 999), st.integers(0, 900)).map(
    lambda x: f"{x[0]}.{x[1]:03d},{x[2]}\n".encode())
common_iso_csv = st.tuples(st.floats(0, 1e8, allow_nan=False), st.integers(0, 900)).map(
    lambda x: f"{(BASE + timedelta(seconds=x[0])).isoformat(timespec='milliseconds').replace('+00:00', 'Z')},{x[1]}\n".encode())
common_jsonl = st.tuples(st.floats(0, 1e8, allow_nan=False), st.integers(0, 900)).map(
    lambda x: json.dumps({"timestamp": (BASE + timedelta(seconds=x[0])).isoformat(), "output_tokens": x[1]}).encode() + b"\n")
# the common layouts with any value in them
any_csv = st.tuples(st.one_of(stamp, good_stamp, good_stamp), st.one_of(tokens, st.integers(0, 900).map(str))).map(lambda x: f"{x[0]},{x[1]}\n".encode())


@st.composite
def any_jsonl(draw) -> bytes:
    value = _json_value(draw(st.one_of(stamp, good_stamp, good_stamp, good_stamp)), draw)
    toks = _json_value(draw(st.one_of(tokens, st.integers(0, 900).map(str), st.integers(0, 900).map(str))), draw)
    pairs = [f'"timestamp": {value}', f'"output_tokens": {toks}']
    extra = draw(st.one_of(st.none(), st.none(), unix, st.sampled_from(['"x"', '""', "true", "null", "[1]", '"\\u00e9"', '"a\\"b"'])))
    if extra is not None:  # a value in the fast shape's place that may not be JSON at all
        pairs.insert(draw(st.integers(0, 2)), f'"n": {extra}')
    tail = draw(st.sampled_from(["", "", "", "", "}", " x", ",", "{}", " "]))  # after the object: not JSON (but spaces)
    return ("{" + ", ".join(pairs) + "}" + tail + "\n").encode()


def _mostly(draw, common: st.SearchStrategy, shaped: st.SearchStrategy, odd: st.SearchStrategy) -> list[bytes]:
    """Lines that are mostly of a common shape: so that the line deciding the answer is often
    a fast-parsed one."""
    lines = draw(st.lists(common, min_size=0, max_size=25))
    for _ in range(draw(st.integers(0, 3))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.one_of(shaped, shaped, odd)))
    return lines


@st.composite
def csv_file(draw) -> bytes:
    header = draw(st.sampled_from([("timestamp,output_tokens", 2, 0, 1), ("timestamp", 1, 0, -1), ("output_tokens,timestamp", 2, 1, 0),
                                   ("timestamp,route,status,duration_s", 4, 0, -1), ("route, timestamp ,output_tokens", 3, 1, 2)]))
    text, nf, ti, ki = header
    if (nf, ti, ki) == (2, 0, 1):
        lines = _mostly(draw, st.one_of(common_csv, common_iso_csv), any_csv, csv_line(nf, ti, ki))
    else:
        lines = draw(st.lists(csv_line(nf, ti, ki), max_size=25))
    body = b"".join(lines)
    if lines and draw(st.booleans()):
        body = body.rstrip(b"\n")  # the last line without its newline
    return text.encode() + b"\n" + body


@st.composite
def jsonl_file(draw) -> bytes:
    lines = _mostly(draw, common_jsonl, any_jsonl(), jsonl_line())
    body = b"".join(lines)
    if lines and draw(st.booleans()):
        body = body.rstrip(b"\n")
    return body


def _read(path: Path, fast: bool) -> tuple[str, object]:
    try:
        times, toks = tracefile.read_trace(path, fast=fast)
    except UsageError as e:
        return "error", str(e)
    return "ok", (times.tobytes(), None if toks is None else toks.tobytes())


def _agree(data: bytes, suffix: str, chunk: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"trace{suffix}"
        path.write_bytes(data)
        saved = tracefile.CHUNK_BYTES
        tracefile.CHUNK_BYTES = chunk
        try:
            fast = _read(path, True)
        finally:
            tracefile.CHUNK_BYTES = saved
        strict = _read(path, False)
    assert fast == strict, data


@SETTINGS
@given(data=csv_file(), chunk=st.sampled_from([1, 7, 64, 4096]))
def test_csv_fast_path_agrees_with_the_line_rules(data: bytes, chunk: int) -> None:
    _agree(data, ".csv", chunk)


@SETTINGS
@given(data=jsonl_file(), chunk=st.sampled_from([1, 7, 64, 4096]), suffix=st.sampled_from([".jsonl", ".ndjson"]))
def test_jsonl_fast_path_agrees_with_the_line_rules(data: bytes, chunk: int, suffix: str) -> None:
    _agree(data, suffix, chunk)


def test_the_common_shapes_take_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No line of the shapes omc and its users write is read one by one (that is the slow path)."""
    calls = []
    real = tracefile._strict_row
    monkeypatch.setattr(tracefile, "_strict_row", lambda *a: calls.append(a) or real(*a))
    stamps = [BASE + timedelta(seconds=0.37 * i) for i in range(2000)]
    files = {
        "unix.csv": "timestamp,output_tokens\n" + "".join(f"{t.timestamp():.3f},{i % 700}\n" for i, t in enumerate(stamps)),
        "iso.csv": "timestamp,output_tokens\r\n" + "".join(f"{t.isoformat(timespec='milliseconds')[:-6]}Z,{i}\r\n" for i, t in enumerate(stamps)),
        "traffic.csv": "timestamp,route,status,duration_s\n" + "".join(f"{t.isoformat(timespec='milliseconds')},/api/chat,200,1.25\n" for t in stamps),
        "iso.jsonl": "".join(json.dumps({"timestamp": t.isoformat(), "output_tokens": i, "route": "/v1"}) + "\n" for i, t in enumerate(stamps)),
        "unix.jsonl": "".join(json.dumps({"output_tokens": i, "timestamp": t.timestamp()}, separators=(",", ":")) + "\n" for i, t in enumerate(stamps)),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        times, _ = tracefile.read_trace(tmp_path / name)
        np.testing.assert_array_equal(times, [t.timestamp() for t in stamps])
        assert calls == [], name


def test_a_bad_row_among_fast_rows_is_named_exactly(tmp_path: Path) -> None:
    rows = [f'{{"timestamp": {1_793_577_600 + i}, "output_tokens": 5}}\n' for i in range(50_000)]
    rows[31_337] = '{"timestamp": 1793577600, "output_tokens": -5}\n'
    rows[40_000] = '{"timestamp": NaN}\n'
    path = tmp_path / "t.jsonl"
    path.write_text("".join(rows))
    with pytest.raises(UsageError, match=f"{path}:31338: output_tokens '-5' must be between 0 and 10,000,000"):
        tracefile.read_trace(path)


def _spans(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[bytes]]:
    raw = [t.encode() for t in texts]
    data = b"\n".join(raw) + b"\n"
    buf = np.frombuffer(data + bytes(tracefile._SLACK), dtype=np.uint8)[: len(data)]
    lengths = np.array([len(r) for r in raw], dtype=np.int64)
    vs = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
    return buf, vs, vs + lengths, raw


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(texts=st.lists(st.one_of(stamp, good_stamp), min_size=100, max_size=300))
def test_fast_times_are_those_of_the_line_rules(texts: list[str]) -> None:
    """Every time the vectorised parser accepts is accepted by float()/fromisoformat, to the bit
    (after the range check both apply)."""
    buf, vs, ve, raw = _spans(texts)
    ok, value = tracefile._times(buf, vs, ve)
    for i in np.flatnonzero(ok & (value >= 0) & (value <= tracefile.MAX_UNIX)):
        assert raw[i].isascii()
        expect = tracefile._one(texts[i], "t") + 0.0
        assert np.float64(expect).tobytes() == value[i].tobytes(), texts[i]


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(texts=st.lists(st.one_of(unix, tokens), min_size=100, max_size=300))
def test_fast_numbers_are_json_numbers(texts: list[str]) -> None:
    """Every number the vectorised parser accepts is a JSON number loads_json accepts, with the
    same float value, and float() of the text agrees too (CSV)."""
    from ollama_modal.safeio import loads_json

    buf, vs, ve, raw = _spans(texts)
    ok, value = tracefile._numbers(buf, vs, ve)
    for i in np.flatnonzero(ok):
        parsed = loads_json(texts[i], where="t")
        assert isinstance(parsed, (int, float)) and not isinstance(parsed, bool), texts[i]
        assert np.float64(float(parsed) + 0.0).tobytes() == value[i].tobytes(), texts[i]
        assert np.float64(float(texts[i]) + 0.0).tobytes() == value[i].tobytes(), texts[i]


def test_fast_times_on_a_grid_of_edge_values() -> None:
    """Dates, clock times, fractions and offsets around every edge the parser checks (month
    lengths, leap years, 24:00, 60 s, 7 fraction digits, +24:00, 2**53 microseconds, 1970 and
    9999), many thousands at once; the accepted ones must equal the line rules' value."""
    import random

    rnd = random.Random(1)
    texts = []
    for _ in range(40_000):
        y = rnd.choice([1, 4, 100, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 2255, 2256, 2400, 9999, rnd.randint(1, 9999)])
        text = f"{y:04d}-{rnd.randint(0, 13):02d}-{rnd.choice([0, 1, 28, 29, 30, 31, 32, rnd.randint(1, 28)]):02d}"
        if rnd.random() < 0.9:
            text += rnd.choice("TT t") + f"{rnd.choice([0, 23, 24, rnd.randint(0, 23)]):02d}:{rnd.choice([0, 59, 60, rnd.randint(0, 59)]):02d}"
            text += f":{rnd.choice([0, 59, 60, rnd.randint(0, 59)]):02d}"
            n = rnd.choice([0, 0, 1, 3, 6, 7])
            if n or rnd.random() < 0.05:
                text += "." + "".join(rnd.choice("0123456789") for _ in range(n))
            text += rnd.choice(["", "Z", "z", f"{rnd.choice('+-')}{rnd.choice([0, 1, 23, 24, rnd.randint(0, 23)]):02d}:"
                                f"{rnd.choice([0, 59, 60, rnd.randint(0, 59)]):02d}", "+0530"])
        texts.append(text)
    buf, vs, ve, raw = _spans(texts)
    ok, value = tracefile._times(buf, vs, ve)
    assert ok.sum() > 1_000  # the grid does reach the fast path
    for i in np.flatnonzero(ok & (value >= 0) & (value <= tracefile.MAX_UNIX)):
        expect = tracefile._one(texts[i], "t") + 0.0
        assert np.float64(expect).tobytes() == value[i].tobytes(), texts[i]


def _each_fast_line_agrees(lines: list[bytes], head: tracefile._Header) -> int:
    chunk = tracefile._Lines(b"".join(lines))
    ok, t, k = tracefile._fast_rows(chunk, head)
    for i in np.flatnonzero(ok):
        raw = chunk.data[chunk.s[i]:chunk.stop[i]]
        try:
            row = tracefile._strict_row(raw, int(chunk.length[i]), i + 1, "t", head)
        except UsageError as e:
            raise AssertionError(f"fast path accepted {raw!r}; the line rules say: {e}") from None
        assert row is not None and np.array(row).tobytes() == np.array([t[i], k[i]]).tobytes(), raw
    return int(ok.sum())


@settings(max_examples=80, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(st.one_of(any_jsonl(), jsonl_line()), min_size=50, max_size=150), first=common_jsonl)
def test_each_line_the_jsonl_fast_path_takes_is_read_as_the_line_rules_read_it(lines: list[bytes], first: bytes) -> None:
    """Line by line, not only the first difference in a file: every line the fast path accepts
    (after a common line that teaches it the shape) the line rules accept with the same values."""
    _each_fast_line_agrees([first, *lines], tracefile._Header())


@settings(max_examples=80, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(st.one_of(any_csv, csv_line(2, 0, 1)), min_size=50, max_size=150))
def test_each_line_the_csv_fast_path_takes_is_read_as_the_line_rules_read_it(lines: list[bytes]) -> None:
    _each_fast_line_agrees(lines, tracefile._Header(0, 1, 2))


@pytest.mark.parametrize("bad", [b"01", b"1.", b"-", b".5", b"1e", b"NaN", b"1e400", b"9" * 31, b"-.0", b"+1", b"0x1"])
def test_a_bad_number_in_an_ignored_field_of_the_fast_shape_is_refused(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"timestamp": 1793577600, "n": 5}\n' * 3 + b'{"timestamp": 1793577601, "n": ' + bad + b"}\n")
    with pytest.raises(UsageError, match=f"{path}:4: "):
        tracefile.read_trace(path)

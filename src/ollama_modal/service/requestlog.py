"""One structured log line per request, written by the proxy, read back by ``omc traffic``.

A web function has no request history on Modal, so the proxy writes one line per request to
stdout, which Modal keeps as the app's logs; ``omc traffic`` reads the lines back by time range.
The line is a fixed prefix at the start of a line and compact JSON::

    omc.request {"time":"2026-11-02T09:15:00.123456Z","method":"POST","route":"/v1/chat/completions","status":200,"duration_s":1.234567,"tokens_in":26,"tokens_out":298}

``time`` is when the request began (UTC, microseconds), ``route`` the allow-list's name for the
path (:func:`route_label`: a fixed vocabulary, never the request target as sent), ``tokens_in``
and ``tokens_out`` the upstream's own counters (Ollama's ``prompt_eval_count``/``eval_count``,
OpenAI's and Anthropic's ``usage``) seen as the answer streams through; absent when unknown,
``tokens_out`` is 0 where nothing can have been generated. Nothing else: no prompt, body,
key, header, query string or client address.

Nothing but the proxy can write such a line: ``ollama serve``'s output is forwarded with the
prefix defused (:func:`defuse`); the proxy's own messages go to stderr with another prefix;
and :func:`parse_line` takes a line only whole and exact (prefix at the start, known keys
only, each of its type and range, route and method from the vocabulary) or not at all.

Standard library only: this module runs in the container and in the CLI.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import jsonio
from .routes import ALLOWED, BLOCKED, MODEL_INFO_PREFIX, TargetError, canonical_target

PREFIX = "omc.request "
#: What a forwarded line that contains the prefix carries instead (see :func:`defuse`).
DEFUSED = "omc:request "
MAX_LINE = 512  # longer lines are not request lines
MAX_TOKENS = 10_000_000
MAX_DURATION_S = 7 * 86400.0
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
OTHER_METHOD = "OTHER"
MODEL_INFO_ROUTE = MODEL_INFO_PREFIX + "{model}"
BLOBS_ROUTE = "/api/blobs/{digest}"
HEALTH_ROUTES = ("/healthz", "/readyz")
OTHER_ROUTE = "(other)"  # any path outside the allow-list, the blocked list and health
ROUTES = frozenset({*ALLOWED, MODEL_INFO_ROUTE, *BLOCKED, BLOBS_ROUTE, *HEALTH_ROUTES, OTHER_ROUTE})
#: Routes that make the model generate tokens; on any other route tokens_out is 0.
GENERATING = frozenset({"/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions", "/v1/messages", "/v1/responses"})
REQUIRED = ("time", "method", "route", "status", "duration_s")
OPTIONAL = ("tokens_in", "tokens_out")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


@dataclass(frozen=True)
class RequestLine:
    time: datetime  # UTC, when the request began
    method: str
    route: str
    status: int
    duration_s: float
    tokens_in: int | None = None
    tokens_out: int | None = None


def route_label(raw_path: bytes, *, decoded: bool = False) -> str:
    """The route a request target is logged under: a name from :data:`ROUTES`, never the target."""
    if raw_path in (b"/healthz", b"/readyz"):
        return raw_path.decode()
    try:
        path = canonical_target(raw_path, decoded=decoded).path
    except (TargetError, UnicodeDecodeError):
        return OTHER_ROUTE
    if path in ALLOWED or path in BLOCKED:
        return path
    if path.startswith(MODEL_INFO_PREFIX):
        model = path[len(MODEL_INFO_PREFIX):]
        return MODEL_INFO_ROUTE if model and "/" not in model else OTHER_ROUTE
    if path.startswith("/api/blobs/"):
        return BLOBS_ROUTE
    return OTHER_ROUTE


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


def format_line(rec: RequestLine) -> str:
    """The log line (without its newline) for one request."""
    t = rec.time.astimezone(timezone.utc)
    duration = float(rec.duration_s) if math.isfinite(float(rec.duration_s)) else 0.0
    out: dict[str, Any] = {
        "time": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "method": method_label(rec.method),
        "route": rec.route if rec.route in ROUTES else OTHER_ROUTE,
        "status": int(rec.status),
        "duration_s": round(min(max(duration, 0.0), MAX_DURATION_S), 6),
    }
    for key in OPTIONAL:
        value = getattr(rec, key)
        if value is not None:
            out[key] = min(max(int(value), 0), MAX_TOKENS)
    return PREFIX + jsonio.dumps(out, separators=(",", ":"), ensure_ascii=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k}")
        out[k] = v
    return out


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def parse_line(line: str) -> RequestLine | None:
    """The request in one log line, or None for anything that is not exactly such a line.

    Strict: the prefix at the very start, one JSON object with the required keys and no
    others, every value of its type and range. A line that is cut, padded, forged with extra
    keys or carries a value outside the vocabulary is not used in part: it is not used."""
    if line.endswith("\r"):
        line = line[:-1]
    if not line.startswith(PREFIX) or len(line) > MAX_LINE or not line.isascii():
        return None
    body = line[len(PREFIX):]
    if not body.startswith("{") or not body.endswith("}"):
        return None
    try:
        obj = json.loads(body, object_pairs_hook=_unique, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not set(REQUIRED) <= obj.keys() <= {*REQUIRED, *OPTIONAL}:
        return None
    t, method, route, duration = obj["time"], obj["method"], obj["route"], obj["duration_s"]
    if not isinstance(t, str) or not _TIME.fullmatch(t):
        return None
    try:
        when = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    if method not in (*METHODS, OTHER_METHOD) or route not in ROUTES:
        return None
    status = _int(obj["status"], 100, 599)
    if status is None:
        return None
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not (0 <= duration <= MAX_DURATION_S) \
            or not math.isfinite(duration):
        return None
    tokens: dict[str, int | None] = {}
    for key in OPTIONAL:
        if key in obj:
            value = _int(obj[key], 0, MAX_TOKENS)
            if value is None:
                return None
            tokens[key] = value
    return RequestLine(when, method, route, status, float(duration), **tokens)


def parse_message(message: str) -> list[RequestLine]:
    """The request lines in one log entry's text (an entry may hold several lines)."""
    if PREFIX not in message:
        return []
    return [r for r in map(parse_line, message.split("\n")) if r is not None]


def defuse(line: str) -> str:
    """A line some other program printed, made unable to pass for a request line."""
    return line.replace(PREFIX.rstrip(), DEFUSED.rstrip()) if PREFIX.rstrip() in line else line


def write_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- token counters, read from the answer as it streams through -------------------------------
#: Longest answer line looked at for counters (a longer one is relayed, not read).
SNIFF_LINE_LIMIT = 256 * 1024
_KEYS = (b"eval_count", b"usage")


class TokenCounter:
    """Reads the upstream's token counters out of an answer, chunk by chunk, without holding it.

    Only the current line is kept (at most :data:`SNIFF_LINE_LIMIT` bytes; a longer line is
    skipped) and only lines that name a counter are parsed. Each route family's counters are
    read where that API puts them, at the top level of its objects (never inside content,
    where a model's tool-call arguments could imitate them)."""

    def __init__(self, route: str) -> None:
        self.family = "ollama" if route.startswith("/api/") else ("openai" if route.startswith("/v1/") else "")
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None
        self._line = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes) -> None:
        if not self.family or not chunk:
            return
        nl = chunk.rfind(b"\n")
        if nl < 0:  # the current line goes on
            self._append(chunk)
            return
        done, rest = chunk[:nl], chunk[nl + 1:]
        if self._line or self._skipping or b"eval_count" in done or b"usage" in done:  # _KEYS
            pieces = done.split(b"\n")
            for piece in pieces[:-1]:
                self._append(piece)
                self._end_line()
            self._append(pieces[-1])
            self._end_line()
        # else: whole lines, none naming a counter (a streamed token): nothing to keep
        if rest:
            self._append(rest)

    def _append(self, piece: bytes) -> None:
        if self._skipping or not piece:
            return
        if len(self._line) + len(piece) > SNIFF_LINE_LIMIT:
            self._skipping = True
            self._line.clear()
        else:
            self._line += piece

    def close(self) -> None:
        """The answer ended: a last line without newline (a non-streamed JSON answer) counts too."""
        if self.family:
            self._end_line()

    def _end_line(self) -> None:
        line, skipped = bytes(self._line), self._skipping
        self._line.clear()
        self._skipping = False
        if skipped or not any(k in line for k in _KEYS):
            return
        line = line.strip()
        if line.startswith(b"data:"):  # server-sent events
            line = line[5:].strip()
        try:
            obj = json.loads(line, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return
        if isinstance(obj, dict):
            self._read(obj)

    def _read(self, obj: dict[str, Any]) -> None:
        if self.family == "ollama":
            self._set(obj.get("prompt_eval_count"), obj.get("eval_count"))
            return
        for usage in (obj.get("usage"), _get(obj, "message", "usage"), _get(obj, "response", "usage")):
            if isinstance(usage, dict):
                self._set(usage.get("prompt_tokens", usage.get("input_tokens")),
                          usage.get("completion_tokens", usage.get("output_tokens")))

    def _set(self, tokens_in: Any, tokens_out: Any) -> None:
        if (v := _int(tokens_in, 0, MAX_TOKENS)) is not None:
            self.tokens_in = v
        if (v := _int(tokens_out, 0, MAX_TOKENS)) is not None:
            self.tokens_out = v


def _get(obj: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)  # type: ignore[assignment]
    return obj


class RequestLog:
    """ASGI middleware: one :func:`format_line` per HTTP request, written when it has been answered.

    It sees the request's method and path (turned into a route name at once) and the answer's
    status and body chunks (passed on unchanged, read only by :class:`TokenCounter`); it never
    reads the request body or headers."""

    def __init__(self, app: Any, emit: Callable[[str], None] | None = None,
                 clock: Callable[[], float] | None = None, monotonic: Callable[[], float] | None = None) -> None:
        import time

        self.app = app
        self.emit = emit or write_stdout
        self.clock = clock or time.time
        self.monotonic = monotonic or time.monotonic

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        began, t0 = self.clock(), self.monotonic()
        raw_path = scope.get("raw_path")
        route = route_label(raw_path if raw_path is not None else scope.get("path", "").encode("utf-8", "surrogateescape"),
                            decoded=raw_path is None)
        method = method_label(str(scope.get("method", "")))
        status = [0]
        counter = TokenCounter(route)

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            elif message["type"] == "http.response.body" and status[0] < 400:
                counter.feed(message.get("body", b""))
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, recording_send)
        except Exception:
            failed = True  # the server answers 500 if no answer had begun
            raise
        finally:
            counter.close()
            # No answer begun: the app failed (500), or the caller left first (499).
            code = status[0] or (500 if failed else 499)
            out = counter.tokens_out
            if out is None and (route not in GENERATING or code >= 400):
                out = 0  # nothing was generated
            rec = RequestLine(datetime.fromtimestamp(began, timezone.utc), method, route,
                              code, self.monotonic() - t0, counter.tokens_in, out)
            try:
                self.emit(format_line(rec))
            except (OSError, ValueError):
                pass  # a closed stdout must not fail the request

"""A recording HTTP/1.1 upstream on a raw socket, and a raw-socket client.

The upstream records every request exactly as it arrived on the wire (method, target,
headers, body), so tests can assert what the proxy really forwarded. Its ``mode`` imitates
connection habits of real servers:

- ``"keepalive"``: answers and keeps the connection open (Ollama).
- ``"stale"``: answers the first request on a connection; when a second request arrives on
  the same connection it closes without answering (a pooled connection the server had
  already closed: the deterministic form of the race below).
- ``"close_after_stream"``: streams a chunked answer, advertises ``Keep-Alive`` and closes the
  connection after each response (llama.cpp's server does this).
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Seen:
    method: str
    target: bytes
    headers: list[tuple[str, str]]
    body: bytes
    connection: int

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok": true}'
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


class RecordingUpstream:
    def __init__(self, mode: str = "keepalive") -> None:
        self.mode = mode
        self.seen: list[Seen] = []
        self.answers: dict[str, Answer] = {}  # by path (without query)
        self.connections = 0
        self.body_bytes = 0  # body bytes read so far, over all requests (also unfinished ones)
        self.truncated = 0  # requests whose body ended early (the sender gave up mid-body)
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RecordingUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed = True
        self._sock.close()

    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                n = self.connections
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn: socket.socket, n: int) -> None:
        reader = conn.makefile("rb")
        served = 0
        try:
            while True:
                try:
                    request = _read_request(reader, n, self._count)
                except EOFError:
                    with self._lock:
                        self.truncated += 1
                    return
                if request is None:
                    return
                if self.mode == "stale" and served >= 1:
                    return  # closed without a response byte
                with self._lock:
                    self.seen.append(request)
                served += 1
                path = request.target.partition(b"?")[0].decode("latin-1")
                answer = self.answers.get(path, Answer())
                if self.mode == "close_after_stream":
                    conn.sendall(_chunked(answer))
                    return
                conn.sendall(_plain(answer, request.method))
        except OSError:
            return
        finally:
            try:
                reader.close()
                conn.close()
            except OSError:
                pass


    def _count(self, k: int) -> None:
        with self._lock:
            self.body_bytes += k


def _read_exact(reader, size: int, count) -> bytes:
    out = b""
    while len(out) < size:
        b = reader.read1(min(65536, size - len(out)))
        if not b:
            raise EOFError
        count(len(b))
        out += b
    return out


def _read_request(reader, n: int, count) -> Seen | None:
    line = reader.readline(65537)
    if not line:
        return None
    method, target, _version = line.rstrip(b"\r\n").split(b" ", 2)
    headers: list[tuple[str, str]] = []
    while True:
        h = reader.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    lower = {k.lower(): v for k, v in headers}
    body = b""
    if lower.get("transfer-encoding", "").lower() == "chunked":
        while True:
            line = reader.readline()
            if not line:
                raise EOFError
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                reader.readline()
                break
            body += _read_exact(reader, size, count)
            if not reader.readline():
                raise EOFError
    elif "content-length" in lower:
        body = _read_exact(reader, int(lower["content-length"]), count)
    return Seen(method.decode("latin-1"), target, headers, body, n)


def _plain(answer: Answer, method: str) -> bytes:
    head = [f"HTTP/1.1 {answer.status} X", f"Content-Type: {answer.content_type}", f"Content-Length: {len(answer.body)}"]
    head += [f"{k}: {v}" for k, v in answer.headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else answer.body)


def _chunked(answer: Answer) -> bytes:
    head = [f"HTTP/1.1 {answer.status} X", "Content-Type: text/event-stream", "Transfer-Encoding: chunked",
            "Keep-Alive: timeout=5"]
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    for i in range(3):
        data = f"data: {json.dumps({'i': i})}\n\n".encode()
        out += f"{len(data):x}\r\n".encode() + data + b"\r\n"
    return out + b"0\r\n\r\n"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes

    def json(self):
        return json.loads(self.body)


def raw_request(port: int, data: bytes, timeout: float = 10.0) -> RawResponse | None:
    """Send ``data`` as-is and read until the server closes; None if it answered nothing."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except (ConnectionResetError, TimeoutError, socket.timeout):
            pass
    raw = b"".join(chunks)
    if not raw:
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return RawResponse(status, headers, body, raw)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out


def request_bytes(method: str, target: bytes, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [method.encode("latin-1") + b" " + target + b" HTTP/1.1", b"Host: proxy.test", b"Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}".encode("latin-1"))
    if body:
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body

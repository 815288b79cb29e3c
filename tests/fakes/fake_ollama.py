#!/usr/bin/env python3
"""A stand-in for ``ollama serve``: same endpoints, same wire formats, no GPU.

Run it exactly like Ollama (``fake_ollama.py serve``); it binds OLLAMA_HOST and keeps its
model store under OLLAMA_MODELS (manifests/HOST/NAMESPACE/MODEL/TAG + blobs/), so a model
is "present" only once pulled or placed there. Stdlib only.

Behaviour knobs (environment):
  FAKE_OLLAMA_START_DELAY      seconds to wait before listening (slow GPU init)
  FAKE_OLLAMA_EXIT_DURING_START  exit with this code before listening
  FAKE_OLLAMA_EXIT_AFTER       seconds after listening, exit with FAKE_OLLAMA_EXIT_CODE (default 2)
  FAKE_OLLAMA_LOAD_DELAY       seconds a model load (preload) takes
  FAKE_OLLAMA_TTFT             seconds before the first token
  FAKE_OLLAMA_TOKEN_DELAY      seconds between tokens
  FAKE_OLLAMA_TOKENS           tokens per generation (default 5; num_predict/max_tokens cap it)
  FAKE_OLLAMA_PULL_FAIL_AT     after this many progress lines, send an {"error": ...} line
  FAKE_OLLAMA_PULL_CUT_AT      after this many progress lines, drop the connection
  FAKE_OLLAMA_PULL_STEPS       progress lines per layer (default 4)
  FAKE_OLLAMA_VERSION          version reported by /api/version
  FAKE_OLLAMA_HOLD             a path: a generation sends no token until that file exists
                               (a test holds requests in flight, then lets them go)
Per-request overrides: a request header ``X-Fake-Ollama-Token-Delay: 0.1`` (any knob
read while serving a request: LOAD_DELAY, TTFT, TOKEN_DELAY, TOKENS, PULL_*) wins over the env.
Timings follow absolute deadlines (token i at start + ttft + i * delay): no drift under load.
``GET /fake/stats`` (not an Ollama endpoint) reports what the server saw: requests with
their headers, client disconnects, finished and active streams.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ENV = os.environ.get
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
#: A held generation waits at most this long for its file (bounds a forgotten release only).
HOLD_LIMIT_S = 120.0


def _f(name: str, default: float) -> float:
    return float(ENV(name, "") or default)


def log(msg: str, level: str = "INFO") -> None:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sys.stderr.write(f'time={ts} level={level} source=fake_ollama.py msg="{msg}"\n')
    sys.stderr.flush()


def parse_name(name: str) -> tuple[str, str, str, str]:
    rest, tag = name.split("@", 1)[0], "latest"
    if rest.rfind(":") > rest.rfind("/"):
        rest, tag = rest.rsplit(":", 1)
    parts = rest.split("/")
    model = parts[-1]
    ns = parts[-2] if len(parts) >= 2 else "library"
    host = "/".join(parts[:-2]) if len(parts) >= 3 else "registry.ollama.ai"
    return host, ns, model, tag


def display_name(parts: tuple[str, str, str, str]) -> str:
    host, ns, model, tag = parts
    prefix = "" if host == "registry.ollama.ai" else host + "/"
    prefix += "" if (ns == "library" and not prefix) else ns + "/"
    return f"{prefix}{model}:{tag}"


class State:
    def __init__(self, store: Path) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.loaded: dict[str, float] = {}
        self.requests: list[dict] = []
        self.disconnects = 0
        self.streams_done = 0
        self.active = 0
        self.max_active = 0

    def manifest(self, name: str) -> Path:
        host, ns, model, tag = parse_name(name)
        return self.store.joinpath("manifests", host.lower(), ns.lower(), model.lower(), tag)

    def present(self, name: str) -> bool:
        return self.manifest(name).is_file()

    def models(self) -> list[str]:
        root = self.store / "manifests"
        if not root.is_dir():
            return []
        return sorted(display_name(tuple(p.relative_to(root).parts)) for p in root.glob("*/*/*/*") if p.is_file())


STATE: State


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-ollama"

    def setup(self) -> None:
        super().setup()
        # Go (and so Ollama) sets TCP_NODELAY on every connection; without it small streamed
        # writes wait for delayed ACKs (~40 ms) and the timings stop meaning anything.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt: str, *args: object) -> None:  # quiet access log, like Gin in release mode
        pass

    # -- plumbing --------------------------------------------------------------------------
    def knob(self, name: str, default: float) -> float:
        """A behaviour knob: request header X-Fake-Ollama-NAME wins over env FAKE_OLLAMA_NAME."""
        header = self.headers.get("X-Fake-Ollama-" + name.replace("_", "-").title())
        return float(header or ENV("FAKE_OLLAMA_" + name, "") or default)

    def _body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def _send(self, status: int, body: bytes, ctype: str = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode())

    def _start_stream(self, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _record(self) -> None:
        with STATE.lock:
            STATE.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items())})
            del STATE.requests[:-200]

    def _host_allowed(self) -> bool:
        host = (self.headers.get("Host") or "").strip()
        if not host:
            return True
        if host.startswith("["):
            name = host[1:].split("]", 1)[0]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name.lower() in LOCAL_HOSTS or name.lower().endswith(".localhost")

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/fake/stats":
            with STATE.lock:
                stats = {
                    "requests": list(STATE.requests), "disconnects": STATE.disconnects,
                    "streams_done": STATE.streams_done, "active": STATE.active, "max_active": STATE.max_active,
                }
            return self._json(200, stats)
        self._record()
        if not self._host_allowed():
            return self._send(403, b"", "text/plain")
        routes = {
            ("GET", "/"): lambda: self._send(200, b"Ollama is running", "text/plain; charset=utf-8"),
            ("HEAD", "/"): lambda: self._send(200, b"", "text/plain; charset=utf-8"),
            ("GET", "/api/version"): lambda: self._json(200, {"version": ENV("FAKE_OLLAMA_VERSION", "0.12.6")}),
            ("GET", "/api/ps"): self.ps,
            ("GET", "/api/tags"): self.tags,
            ("POST", "/api/show"): self.show,
            ("POST", "/api/pull"): self.pull,
            ("POST", "/api/generate"): lambda: self.generate(chat=False),
            ("POST", "/api/chat"): lambda: self.generate(chat=True),
            ("POST", "/api/embed"): lambda: self.embed(batch=True),
            ("POST", "/api/embeddings"): lambda: self.embed(batch=False),
            ("DELETE", "/api/delete"): lambda: self._json(200, {}),
            ("POST", "/v1/chat/completions"): lambda: self.openai(chat=True),
            ("POST", "/v1/completions"): lambda: self.openai(chat=False),
            ("GET", "/v1/models"): self.v1_models,
            ("POST", "/v1/embeddings"): self.v1_embeddings,
        }
        handler = routes.get((self.command, path))
        if handler is None and self.command == "GET" and path.startswith("/v1/models/"):
            handler = lambda: self.v1_model(path[len("/v1/models/"):])  # noqa: E731
        if handler is None:
            return self._send(404, b"404 page not found", "text/plain")
        try:
            handler()
        except (BrokenPipeError, ConnectionResetError):
            with STATE.lock:
                STATE.disconnects += 1
            log(f"client disconnected during {path}", "WARN")
            self.close_connection = True

    # -- endpoints -------------------------------------------------------------------------
    def ps(self) -> None:
        with STATE.lock:
            names = list(STATE.loaded)
        models = [{
            "name": n, "model": n, "size": 4_100_000_000, "digest": hashlib.sha256(n.encode()).hexdigest(),
            "details": {"format": "gguf", "family": "llama", "parameter_size": "7B", "quantization_level": "Q4_0"},
            "expires_at": "2318-08-31T00:00:00Z", "size_vram": 4_100_000_000, "context_length": 4096,
        } for n in names]
        self._json(200, {"models": models})

    def tags(self) -> None:
        self._json(200, {"models": [{"name": n, "model": n, "size": 3_800_000_000, "modified_at": now_iso()} for n in STATE.models()]})

    def show(self) -> None:
        name = self._body().get("model") or ""
        if not STATE.present(name):
            return self._json(404, {"error": f"model '{name}' not found"})
        self._json(200, {"modelfile": f"FROM {name}\n", "details": {"family": "llama", "parameter_size": "7B"}, "capabilities": ["completion"]})

    def _require_model(self, name: str) -> bool:
        if not name or not STATE.present(name):
            self._json(404, {"error": f"model '{name}' not found, try pulling it first"})
            return False
        return True

    def _load(self, name: str) -> None:
        with STATE.lock:
            already = name in STATE.loaded
        if not already:
            time.sleep(self.knob("LOAD_DELAY", 0))
            with STATE.lock:
                STATE.loaded[name] = time.time()
            log(f"loaded model {name}")

    def _tokens(self, limit: object) -> list[str]:
        n = int(self.knob("TOKENS", 5))
        if isinstance(limit, int) and limit > 0:
            n = min(n, limit)
        return [f"tok{i} " for i in range(n)]

    def _paced(self, tokens: list[str], start: float):
        """Yield (index, token) at absolute deadlines (after the HOLD file appeared, if one is named)."""
        hold = self.headers.get("X-Fake-Ollama-Hold") or ENV("FAKE_OLLAMA_HOLD", "")
        if hold:
            limit = time.monotonic() + HOLD_LIMIT_S
            while not Path(hold).exists() and time.monotonic() < limit:
                self._sleep_until(time.monotonic() + 0.05)
            start = time.monotonic()
        ttft, delay = self.knob("TTFT", 0), self.knob("TOKEN_DELAY", 0)
        for i, tok in enumerate(tokens):
            self._sleep_until(start + ttft + i * delay)
            yield i, tok

    def _sleep_until(self, deadline: float) -> None:
        """Wait, but notice a client that hangs up meanwhile (Go cancels the request context
        at once, and Ollama then stops generating): raise as a failed write would."""
        while (wait := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], wait)
            if not readable:
                return
            try:
                gone = self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                gone = True
            if gone:
                raise ConnectionResetError("client closed the connection")
            time.sleep(max(0.0, deadline - time.monotonic()))  # a pipelined request waits its turn
            return

    def _streaming(self, fn) -> None:
        with STATE.lock:
            STATE.active += 1
            STATE.max_active = max(STATE.max_active, STATE.active)
        try:
            fn()
            with STATE.lock:
                STATE.streams_done += 1
        finally:
            with STATE.lock:
                STATE.active -= 1

    def generate(self, chat: bool) -> None:
        start = time.monotonic()
        body = self._body()
        name = body.get("model") or ""
        if not self._require_model(name):
            return
        has_input = bool(body.get("messages")) if chat else bool(body.get("prompt"))
        if not has_input:
            if body.get("keep_alive") in (0, "0", "0s"):
                with STATE.lock:
                    STATE.loaded.pop(name, None)
                reason = "unload"
            else:
                self._load(name)
                reason = "load"
            extra = {"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}
            return self._json(200, {"model": name, "created_at": now_iso(), **extra, "done": True, "done_reason": reason})
        self._load(name)
        tokens = self._tokens((body.get("options") or {}).get("num_predict"))

        def piece(tok: str) -> dict:
            return {"message": {"role": "assistant", "content": tok}} if chat else {"response": tok}

        final = {"done": True, "done_reason": "length", "total_duration": 1_000_000, "load_duration": 1000,
                 "prompt_eval_count": 3, "prompt_eval_duration": 1000, "eval_count": len(tokens), "eval_duration": 1000}
        if body.get("stream") is False:
            list(self._paced(tokens, start))
            text = "".join(tokens)
            whole = {"message": {"role": "assistant", "content": text}} if chat else {"response": text}
            return self._json(200, {"model": name, "created_at": now_iso(), **whole, **final})

        def run() -> None:
            self._start_stream("application/x-ndjson")
            for _, tok in self._paced(tokens, start):
                self._chunk(json.dumps({"model": name, "created_at": now_iso(), **piece(tok), "done": False}).encode() + b"\n")
            self._chunk(json.dumps({"model": name, "created_at": now_iso(), **piece(""), **final}).encode() + b"\n")
            self._end_stream()

        self._streaming(run)

    def openai(self, chat: bool) -> None:
        start = time.monotonic()
        body = self._body()
        name = body.get("model") or ""
        if not name or not STATE.present(name):
            return self._json(404, {"error": {"message": f"model \"{name}\" not found, try pulling it first", "type": "api_error", "param": None, "code": None}})
        self._load(name)
        tokens = self._tokens(body.get("max_tokens"))
        cid, created = f"chatcmpl-{int(start * 1000) % 100000}", int(time.time())
        obj = "chat.completion" if chat else "text_completion"
        usage = {"prompt_tokens": 3, "completion_tokens": len(tokens), "total_tokens": 3 + len(tokens)}
        if not body.get("stream"):
            list(self._paced(tokens, start))
            text = "".join(tokens)
            choice = {"index": 0, "message": {"role": "assistant", "content": text}} if chat else {"index": 0, "text": text}
            return self._json(200, {"id": cid, "object": obj, "created": created, "model": name,
                                    "choices": [{**choice, "finish_reason": "length"}], "usage": usage})

        def event(choices: list, **extra: object) -> bytes:
            data = {"id": cid, "object": obj + ".chunk" if chat else obj, "created": created, "model": name,
                    "system_fingerprint": "fp_ollama", "choices": choices, **extra}
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        def delta(tok: str, finish: str | None = None) -> dict:
            if chat:
                return {"index": 0, "delta": {"role": "assistant", "content": tok}, "finish_reason": finish}
            return {"index": 0, "text": tok, "finish_reason": finish}

        def run() -> None:
            self._start_stream("text/event-stream")
            for _, tok in self._paced(tokens, start):
                self._chunk(event([delta(tok)]))
            self._chunk(event([delta("", "length")]))
            if (body.get("stream_options") or {}).get("include_usage"):
                self._chunk(event([], usage=usage))
            self._chunk(b"data: [DONE]\n\n")
            self._end_stream()

        self._streaming(run)

    def _vector(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [round(b / 255, 4) for b in digest[:8]]

    def embed(self, batch: bool) -> None:
        body = self._body()
        name = body.get("model") or ""
        if not self._require_model(name):
            return
        if batch:
            inputs = body.get("input")
            inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
            return self._json(200, {"model": name, "embeddings": [self._vector(t) for t in inputs]})
        self._json(200, {"embedding": self._vector(body.get("prompt") or "")})

    def v1_models(self) -> None:
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "library"} for n in STATE.models()]
        self._json(200, {"object": "list", "data": data})

    def v1_model(self, name: str) -> None:
        if not STATE.present(name):
            return self._json(404, {"error": {"message": f"model \"{name}\" not found", "type": "api_error", "param": None, "code": None}})
        self._json(200, {"id": name, "object": "model", "created": 0, "owned_by": "library"})

    def v1_embeddings(self) -> None:
        body = self._body()
        name = body.get("model") or ""
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = [{"object": "embedding", "embedding": self._vector(t), "index": i} for i, t in enumerate(inputs)]
        self._json(200, {"object": "list", "data": data, "model": name, "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}})

    def pull(self) -> None:
        body = self._body()
        name = body.get("model") or body.get("name") or ""
        fail_at = int(self.knob("PULL_FAIL_AT", 0))
        cut_at = int(self.knob("PULL_CUT_AT", 0))
        steps = int(self.knob("PULL_STEPS", 4))
        blob = f"GGUF fake weights for {name}\n".encode() * 64
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        lines: list[dict] = [{"status": "pulling manifest"}]
        lines += [{"status": f"pulling {digest[7:19]}", "digest": digest, "total": len(blob), "completed": len(blob) * i // steps} for i in range(1, steps + 1)]
        lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
        self._start_stream("application/x-ndjson")
        for i, line in enumerate(lines, start=1):
            if line["status"] == "writing manifest":
                self._write_model(name, blob, digest)
            self._chunk(json.dumps(line).encode() + b"\n")
            if fail_at and i == fail_at:
                self._chunk(json.dumps({"error": "max retries exceeded: unexpected EOF"}).encode() + b"\n")
                return self._end_stream()
            if cut_at and i == cut_at:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)  # mid-chunked-body: the client sees a broken stream
                return
            time.sleep(self.knob("PULL_DELAY", 0))
        self._end_stream()

    def _write_model(self, name: str, blob: bytes, digest: str) -> None:
        blobs = STATE.store / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        (blobs / digest.replace(":", "-")).write_bytes(blob)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": len(blob)}]}
        path = STATE.manifest(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest))


def bind_address() -> tuple[str, int]:
    value = ENV("OLLAMA_HOST", "") or "127.0.0.1:11434"
    value = value.split("://", 1)[-1].rstrip("/")
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "11434")
    return host or "127.0.0.1", int(port or 11434)


def main(argv: list[str]) -> int:
    global STATE
    if argv[:1] != ["serve"]:
        sys.stderr.write("usage: fake_ollama.py serve\n")
        return 2
    print("fake ollama starting", flush=True)
    code = ENV("FAKE_OLLAMA_EXIT_DURING_START")
    if code:
        log("failed to initialize GPU: no CUDA-capable device is detected", "ERROR")
        return int(code)
    time.sleep(_f("FAKE_OLLAMA_START_DELAY", 0))
    STATE = State(Path(os.path.expanduser(ENV("OLLAMA_MODELS", "") or "~/.ollama/models")))
    host, port = bind_address()
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((host, port), Handler)
    log(f"Listening on {host}:{server.server_address[1]} (version {ENV('FAKE_OLLAMA_VERSION', '0.12.6')})")
    exit_after = ENV("FAKE_OLLAMA_EXIT_AFTER")
    if exit_after:
        def die() -> None:
            time.sleep(float(exit_after))
            log("runner crashed: CUDA error: an illegal memory access was encountered", "ERROR")
            os._exit(int(ENV("FAKE_OLLAMA_EXIT_CODE", "2")))
        threading.Thread(target=die, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: (log("received SIGTERM, shutting down"), os._exit(0)))
    sys.exit(main(sys.argv[1:]))

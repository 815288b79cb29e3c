"""Fill the model store: ``python -m ollama_modal.service.pull MODEL``.

Used at image build time (model baked into the image) and by the one-off Modal function that
fills the model Volume. Starts ``ollama serve`` against OLLAMA_MODELS, streams /api/pull,
stops the server. A model whose manifest is already in the store is not pulled again.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import httpx

from .. import jsonio
from ..errors import OmcError
from .errors import PullError
from .names import find_manifest, manifest_path
from .process import OllamaProcess, loopback_client
from .settings import ServiceSettings

Progress = Callable[[str], None]
# Progress lines for one layer at most every this many percent (build logs stay readable).
PROGRESS_STEP_PERCENT = 10
CONNECT_TIMEOUT_S = 10.0


@dataclass
class PullResult:
    model: str
    store: str
    manifest: str
    skipped: bool
    seconds: float
    ollama_version: str | None = None


def pull_into_store(settings: ServiceSettings, model: str | None = None, *, progress: Progress | None = None) -> PullResult:
    """Pull ``model`` (default: settings.model) into settings' store unless it is there already."""
    name = model or settings.model
    say = progress or (lambda _line: None)
    store = settings.models_path
    started = time.monotonic()
    existing = find_manifest(store, name)
    if existing is not None:
        say(f"{name} is already in the store ({existing}); not pulling")
        return PullResult(name, store, str(existing), True, time.monotonic() - started)

    server = OllamaProcess(settings)
    server.spawn()
    try:
        version = server.wait_ready(time.monotonic() + settings.startup_timeout)
        say(f"ollama {version} is up; pulling {name} into {store}")
        _stream_pull(settings, name, say, server)
    finally:
        server.stop(grace=5.0)
    found = find_manifest(store, name)
    if found is None:
        raise PullError(
            f"Ollama reported success pulling {name} but no manifest is at {manifest_path(store, name)}",
            hint="check that OLLAMA_MODELS points at the store you expect",
        )
    say(f"pulled {name} in {time.monotonic() - started:.1f} s")
    return PullResult(name, store, str(found), False, time.monotonic() - started, version)


def _stream_pull(settings: ServiceSettings, name: str, say: Progress, server: OllamaProcess) -> None:
    url = settings.upstream_url + "/api/pull"
    timeout = httpx.Timeout(settings.request_timeout, connect=CONNECT_TIMEOUT_S)
    reporter = _ProgressReporter(say)
    try:
        with loopback_client(timeout) as client, client.stream("POST", url, json={"model": name, "stream": True}) as r:
            if r.status_code != 200:
                r.read()
                raise PullError(f"pulling {name} failed: Ollama answered HTTP {r.status_code}: {_error_text(r.text)}")
            for line in r.iter_lines():
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    raise PullError(f"pulling {name} failed: Ollama sent a line that is not JSON: {line[:200]!r}") from None
                if "error" in event:
                    raise PullError(
                        f"pulling {name} failed: {event['error']}",
                        hint="check the model name (ollama.com/library) and the network; the pull can simply be run again",
                    )
                reporter.report(event)
                if event.get("status") == "success":
                    return
    except httpx.TimeoutException as e:
        raise PullError(f"pulling {name} failed: no progress from Ollama for {settings.request_timeout:g} s") from e
    except httpx.TransportError as e:
        why = server.exit_reason() if not server.alive else f"the stream broke ({type(e).__name__})"
        raise PullError(f"pulling {name} failed: {why}") from e
    why = server.exit_reason() if not server.alive else "the stream ended before Ollama reported success"
    raise PullError(f"pulling {name} failed: {why}")


class _ProgressReporter:
    def __init__(self, say: Progress) -> None:
        self.say = say
        self.last_status: str | None = None
        self.last_percent = -PROGRESS_STEP_PERCENT

    def report(self, event: dict) -> None:
        status = str(event.get("status", ""))
        total, completed = event.get("total"), event.get("completed")
        if status != self.last_status:
            self.last_status, self.last_percent = status, -PROGRESS_STEP_PERCENT
            if not total:
                self.say(status)
        if total and isinstance(completed, (int, float)):
            percent = int(100 * completed / total)
            if percent >= self.last_percent + PROGRESS_STEP_PERCENT or percent == 100 and self.last_percent != 100:
                self.last_percent = percent
                self.say(f"{status}: {percent}% ({_size(completed)} / {_size(total)})")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _error_text(text: str) -> str:
    try:
        return str(json.loads(text).get("error", text))
    except (ValueError, AttributeError):
        return text.strip()[:300]


def pull_into_store_from_env(model: str | None = None, environ: Mapping[str, str] | None = None,
                             progress: Progress | None = None) -> dict:
    """The Modal pull function's entry point: settings from the environment, a plain dict back."""
    settings = ServiceSettings.from_env(environ, model=model)
    return asdict(pull_into_store(settings, model, progress=progress or _stderr))


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        _stderr("usage: python -m ollama_modal.service.pull [MODEL]   (default: $OMC_MODEL)")
        return 2
    try:
        result = pull_into_store_from_env(args[0] if args else None)
    except OmcError as e:
        _stderr(f"error: {e.message}")
        for problem in getattr(e, "problems", []):
            _stderr(f"  {problem}")
        if e.hint:
            _stderr(f"hint: {e.hint}")
        return e.exit_code
    sys.stdout.write(jsonio.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

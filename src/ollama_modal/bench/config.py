"""What to benchmark and how: one object the CLI fills from its options."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from ..errors import UsageError
from .prompts import Prompt, builtin_prompts

DEFAULT_REQUESTS = 20
DEFAULT_MAX_TOKENS = 256
DEFAULT_CONNECT_TIMEOUT_S = 30.0
#: Generous: a cold Modal container holds the request while the model loads.
DEFAULT_READ_TIMEOUT_S = 600.0
#: Documented bounds of the run's size (--requests, --concurrency/--sweep, --max-tokens).
MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 1024
MAX_TOKENS = 1_000_000


def parse_levels(text: str) -> list[int]:
    """``"1,2,4,8"`` -> [1, 2, 4, 8] (for ``--sweep``)."""
    levels: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        # ASCII digits only (str.isdigit also accepts other scripts' digits), at most 4 of them.
        if not re.fullmatch(r"[0-9]{1,4}", part) or not 1 <= int(part) <= MAX_CONCURRENCY:
            raise UsageError(
                f"--sweep: {part[:20]!r} is not a whole number from 1 to {MAX_CONCURRENCY}",
                hint="give concurrency levels separated by commas, e.g. --sweep 1,2,4,8",
            )
        levels.append(int(part))
    return levels


def check_url(url: str) -> None:
    """Raise UsageError naming --url unless it is an http(s) URL with a host (and a valid port)."""
    hint = "pass the endpoint's base URL, e.g. --url https://you--omc.modal.run"
    shown = url if len(url) <= 200 else url[:200] + "..."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as e:
        raise UsageError(f"--url {shown!r} is not a valid URL: {e}", hint=hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url {shown!r} is not an http(s) URL with a host", hint=hint)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise UsageError(f"--url {shown!r} contains spaces or control characters", hint=hint)


def chat_completions_url(url: str) -> str:
    """Accept a base URL, a ``/v1`` URL or the full endpoint; return the full endpoint."""
    u = url.rstrip("/")
    if u.endswith("/chat/completions"):
        return u
    if u.endswith("/v1"):
        return u + "/chat/completions"
    return u + "/v1/chat/completions"


def public_url(url: str) -> str:
    """The URL as reported: without user info or query string, which may carry secrets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


@dataclass
class BenchConfig:
    """Everything one ``omc bench`` run needs. Validated on creation (raises UsageError)."""

    url: str
    model: str | None = None  # None: ask the endpoint's /v1/models
    api_key: str | None = field(default=None, repr=False)
    requests: int = DEFAULT_REQUESTS  # per concurrency level
    concurrency: list[int] = field(default_factory=lambda: [1])  # one level, or a sweep
    max_tokens: int = DEFAULT_MAX_TOKENS
    prompts: list[Prompt] = field(default_factory=builtin_prompts)
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    # Open every connection before the timed requests, so TTFT is the server's, not the
    # handshakes'. False: requests that open a connection include its set-up.
    open_connections: bool = True
    # For the roofline; unknown GPU or size leaves the bound out but keeps the advice.
    gpu: str | None = None
    gpu_count: int = 1
    model_bytes: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, int):
            self.concurrency = [self.concurrency]
        check_url(self.url)
        if not 1 <= self.requests <= MAX_REQUESTS:
            raise UsageError(f"--requests must be from 1 to {MAX_REQUESTS}, got {self.requests}")
        if not self.concurrency or any(not 1 <= c <= MAX_CONCURRENCY for c in self.concurrency):
            raise UsageError(f"--concurrency/--sweep levels must be from 1 to {MAX_CONCURRENCY}, got {self.concurrency}")
        if not 1 <= self.max_tokens <= MAX_TOKENS:
            raise UsageError(f"--max-tokens must be from 1 to {MAX_TOKENS}, got {self.max_tokens}")
        if not self.prompts:
            raise UsageError("no prompts to send", hint="drop --prompts to use the built-in set")
        if not (0 < self.connect_timeout_s < math.inf and 0 < self.read_timeout_s < math.inf):
            raise UsageError("timeouts must be positive numbers of seconds")
        if self.gpu_count < 1:
            raise UsageError(f"gpu count must be at least 1, got {self.gpu_count}")

    @property
    def endpoint(self) -> str:
        return chat_completions_url(self.url)

    @property
    def headers(self) -> dict[str, str]:
        # identity: a compressing proxy would hold tokens back to fill its buffers.
        h = {"content-type": "application/json", "accept": "text/event-stream", "accept-encoding": "identity"}
        if self.api_key:
            h["authorization"] = f"Bearer {self.api_key}"
        return h

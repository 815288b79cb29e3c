"""The container's configuration: environment variables only (set by the rendered image env
and the API-key Secret). Names are constants here and documented in docs/service.md."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .errors import ServiceConfigError

ENV_MODEL = "OMC_MODEL"
ENV_OLLAMA_BIN = "OMC_OLLAMA_BIN"
ENV_OLLAMA_HOST = "OLLAMA_HOST"
ENV_OLLAMA_MODELS = "OLLAMA_MODELS"
ENV_STARTUP_TIMEOUT = "OMC_STARTUP_TIMEOUT"
ENV_WARMUP = "OMC_WARMUP"
ENV_AUTH = "OMC_AUTH"
ENV_API_KEYS = "OMC_API_KEYS"
ENV_REQUEST_TIMEOUT = "OMC_REQUEST_TIMEOUT"
ENV_MAX_BODY_BYTES = "OMC_MAX_BODY_BYTES"
ENV_CORS_ORIGINS = "OMC_CORS_ORIGINS"

DEFAULT_OLLAMA_BIN = "ollama"
DEFAULT_OLLAMA_HOST = "127.0.0.1:11434"
DEFAULT_OLLAMA_PORT = 11434
# Ollama's own default store when OLLAMA_MODELS is unset.
DEFAULT_OLLAMA_MODELS = "~/.ollama/models"
DEFAULT_STARTUP_TIMEOUT_S = 600.0
DEFAULT_REQUEST_TIMEOUT_S = 600.0
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
MIN_MAX_BODY_BYTES, MAX_MAX_BODY_BYTES = 1024, 1024**3
# A browser origin: scheme, host, optional port; no path, no wildcard, no trailing slash.
ORIGIN_RE = re.compile(
    r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)

AUTH_BEARER = "bearer"
AUTH_PROXY = "proxy"
AUTH_NONE = "none"
AUTH_MODES = (AUTH_BEARER, AUTH_PROXY, AUTH_NONE)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_api_keys(raw: str | None) -> tuple[str, ...]:
    """Keys separated by commas and/or newlines (two keys during a rotation); blanks dropped."""
    if not raw:
        return ()
    return tuple(k.strip() for k in re.split(r"[,\r\n]+", raw) if k.strip())


def upstream_base_url(host: str) -> str:
    """OLLAMA_HOST as Ollama reads it (``host``, ``host:port``, ``http://host:port``) -> base URL.

    A wildcard bind address (0.0.0.0, ::) is reached through loopback.
    """
    value = host.strip() or DEFAULT_OLLAMA_HOST
    scheme = "http"
    if "://" in value:
        scheme, value = value.split("://", 1)
    value = value.rstrip("/")
    if value.startswith("["):  # [v6]:port
        addr, _, rest = value[1:].partition("]")
        port = rest.lstrip(":") or str(DEFAULT_OLLAMA_PORT)
    elif value.count(":") == 1:
        addr, port = value.split(":")
    elif ":" in value:  # bare IPv6 without a port
        addr, port = value, str(DEFAULT_OLLAMA_PORT)
    else:
        addr, port = value, str(DEFAULT_OLLAMA_PORT)
    addr = addr or "127.0.0.1"
    if addr in ("0.0.0.0", "::"):
        addr = "127.0.0.1"
    shown = f"[{addr}]" if ":" in addr else addr
    return f"{scheme}://{shown}:{port}"


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` is not an exact browser origin (``https://app.example.com[:port]``), or None."""
    if origin == "*":
        return "'*' is not allowed: list the exact origins (scheme://host[:port]) that may call the endpoint"
    if not ORIGIN_RE.fullmatch(origin):
        return f"{origin!r} is not an origin: write scheme://host[:port] (http or https), no path and no trailing '/'"
    port = origin.rpartition(":")[2]
    if port.isdigit() and not 0 < int(port) < 65536:
        return f"{origin!r} has an invalid port"
    return None


def parse_origins(raw: str | None) -> tuple[str, ...]:
    """Origins separated by commas and/or whitespace; blanks dropped."""
    if not raw:
        return ()
    return tuple(o.lower() for o in re.split(r"[,\s]+", raw) if o)


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the container service needs; built by :meth:`from_env`."""

    model: str
    ollama_command: tuple[str, ...] = (DEFAULT_OLLAMA_BIN,)
    ollama_host: str = DEFAULT_OLLAMA_HOST
    models_dir: str = DEFAULT_OLLAMA_MODELS
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S
    warmup: bool = True
    auth: str = AUTH_BEARER
    api_keys: tuple[str, ...] = field(default=(), repr=False)  # never shown in reprs or logs
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cors_origins: tuple[str, ...] = ()

    @property
    def upstream_url(self) -> str:
        return upstream_base_url(self.ollama_host)

    @property
    def models_path(self) -> str:
        return os.path.expanduser(self.models_dir)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, model: str | None = None) -> ServiceSettings:
        """Read and validate the environment. ``model`` overrides OMC_MODEL (used by the pull)."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        name = (model or env.get(ENV_MODEL, "")).strip()
        if not name:
            problems.append(f"{ENV_MODEL} is not set: set it to the model to serve, e.g. codellama:7b")
        command = tuple(shlex.split(env.get(ENV_OLLAMA_BIN, "") or DEFAULT_OLLAMA_BIN))
        if not command:
            problems.append(f"{ENV_OLLAMA_BIN} is empty: set it to the ollama binary (default 'ollama')")
        auth = env.get(ENV_AUTH, AUTH_BEARER).strip().lower() or AUTH_BEARER
        if auth not in AUTH_MODES:
            problems.append(f"{ENV_AUTH}={auth!r} is not one of {', '.join(AUTH_MODES)}")
        startup = _seconds(env, ENV_STARTUP_TIMEOUT, DEFAULT_STARTUP_TIMEOUT_S, problems)
        request = _seconds(env, ENV_REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT_S, problems)
        warm_raw = env.get(ENV_WARMUP, "1").strip().lower()
        if warm_raw not in _TRUE | _FALSE:
            problems.append(f"{ENV_WARMUP}={warm_raw!r} must be 1 or 0")
        max_body = _max_body(env, problems)
        origins = parse_origins(env.get(ENV_CORS_ORIGINS))
        problems.extend(f"{ENV_CORS_ORIGINS}: {p}" for o in origins if (p := origin_problem(o)))
        if problems:
            raise ServiceConfigError("the container environment is invalid", problems)
        return cls(
            model=name,
            ollama_command=command,
            ollama_host=env.get(ENV_OLLAMA_HOST, "") or DEFAULT_OLLAMA_HOST,
            models_dir=env.get(ENV_OLLAMA_MODELS, "") or DEFAULT_OLLAMA_MODELS,
            startup_timeout=startup,
            warmup=warm_raw in _TRUE,
            auth=auth,
            api_keys=parse_api_keys(env.get(ENV_API_KEYS)),
            request_timeout=request,
            max_body_bytes=max_body,
            cors_origins=origins,
        )

    def with_secrets_from(self, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """These settings with the Secret's values read again (Modal updates the environment
        when it restores a memory snapshot; values read before the snapshot are stale)."""
        env = os.environ if environ is None else environ
        return replace(self, api_keys=parse_api_keys(env.get(ENV_API_KEYS)))

    def check_serving(self) -> None:
        """Refuse to serve open by accident: bearer auth needs at least one key."""
        if self.auth == AUTH_BEARER and not self.api_keys:
            raise ServiceConfigError(
                f"{ENV_AUTH}=bearer but {ENV_API_KEYS} holds no key: refusing to serve without authentication",
                [f"{ENV_API_KEYS} is empty or unset"],
                hint="attach the API-key Secret (omc deploy creates it; `omc keys rotate` refills it), "
                "or choose auth = \"proxy\" or \"none\" in the profile",
            )

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment of ``ollama serve``: ours (OLLAMA_* passed through) minus our secrets."""
        env = dict(os.environ if base is None else base)
        env.pop(ENV_API_KEYS, None)  # Ollama has no use for them; keep them out of its process
        env[ENV_OLLAMA_HOST] = self.ollama_host
        env[ENV_OLLAMA_MODELS] = self.models_path
        return env


def _seconds(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a number of seconds")
        return default
    if value <= 0:
        problems.append(f"{name}={raw!r} must be greater than 0")
        return default
    return value


def _max_body(env: Mapping[str, str], problems: list[str]) -> int:
    raw = env.get(ENV_MAX_BODY_BYTES, "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    if not re.fullmatch(r"[0-9]{1,12}", raw) or not MIN_MAX_BODY_BYTES <= int(raw) <= MAX_MAX_BODY_BYTES:
        problems.append(f"{ENV_MAX_BODY_BYTES}={raw!r} must be a whole number of bytes from {MIN_MAX_BODY_BYTES} to {MAX_MAX_BODY_BYTES}")
        return DEFAULT_MAX_BODY_BYTES
    return int(raw)

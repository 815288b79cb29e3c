"""The profile schema. Every field is described; unknown keys are errors.

The reference in docs/profiles.md and the editor JSON schema are generated from these
models, so descriptions are written for users.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import catalog
from ..service.settings import DEFAULT_MAX_BODY_BYTES, MAX_MAX_BODY_BYTES, MIN_MAX_BODY_BYTES, origin_problem
from .durations import parse_duration
from .limits import MAX_CONTAINERS_LIMIT, SCALEDOWN_MAX, SCALEDOWN_MIN  # noqa: F401  (re-exported)
from .names import APP_NAME_RE, environment_name, modal_object_name  # noqa: F401  (re-exported)

# Defaults, named so docs and code agree.
DEFAULT_APP_NAME = "omc-ollama"
# JSON-schema key of a field that a profile file may leave out although the validated profile
# needs it: the loader fills it in (its value says how; the docs show it as the default).
FILE_DEFAULT = "x-omc-file-default"
MAX_GPU_COUNT = 8
DEFAULT_MODEL = "codellama:7b"
DEFAULT_OLLAMA_VERSION = "0.33.3"
DEFAULT_SECRET = "omc-ollama-api-keys"
DEFAULT_VOLUME = "omc-ollama-models"
DEFAULT_SCALEDOWN_WINDOW = 300
DEFAULT_MAX_INPUTS = 4
DEFAULT_SERVER_PORT = 8000
OLLAMA_LOOPBACK_PORT = 11434  # where `ollama serve` listens inside the container
# Modal's documented routing regions for Servers (the SDK does not check the value; we do).
ROUTING_REGIONS = ("us-east", "us-west", "eu-west", "ap-south")
# Modal's limit on a Server's exit_grace_period (the SDK checks it at decoration time).
EXIT_GRACE_MAX = 3600


# Every pattern below is matched whole, with re.fullmatch: a `$` anchor would also accept a
# trailing newline, which would then split the image's shell commands or a file name.
# Ollama references end up in image build commands: allow only what the registry allows.
MODEL_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*){0,3}(:[A-Za-z0-9][A-Za-z0-9._-]{0,127})?")
MODEL_REF_MAX = 300
LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
VERSION_RE = re.compile(r"\d{1,4}\.\d{1,4}\.\d{1,4}(-rc\d{1,3})?")
REGION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
POLICY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
TIMEZONE_RE = re.compile(r"[A-Za-z0-9_+-]{1,32}(/[A-Za-z0-9_+-]{1,32}){0,3}")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {**{d: d for d in DAYS}, **{full: full[:3] for full in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}}
DAY_GROUPS = {"weekdays": DAYS[:5], "weekends": DAYS[5:], "daily": DAYS}
HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")
PROFILE_NAME_MAX = 128
DESCRIPTION_MAX = 500


def _q(v: object) -> str:
    """A value quoted for a message, cut so a huge input does not become a huge message."""
    text = repr(v)
    return text if len(text) <= 80 else text[:80] + "..."


def one_line(v: str, what: str, limit: int) -> str:
    """Free text shown in tables: one line of printable characters, at most ``limit`` long."""
    if len(v) > limit:
        raise ValueError(f"{what} is {len(v)} characters long; keep it to {limit}")
    if not v.isprintable():
        raise ValueError(f"{what} must be one line of printable text (no newlines, tabs or control characters)")
    return v


class OmcModel(BaseModel):
    """Base: a typo in a user's file is an error naming the key."""

    # allow_inf_nan=False: TOML has `nan` and `inf`, and no setting means either.
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class AppConfig(OmcModel):
    name: Annotated[
        str,
        Field(description="Modal app name (1-63 letters, digits, `.`, `-`, `_`). Every built-in profile uses the same one, so switching profile switches the one endpoint's tier."),
    ] = DEFAULT_APP_NAME
    environment: Annotated[
        str | None, Field(description="Modal environment to deploy to (default: `MODAL_ENVIRONMENT` or the workspace default).")
    ] = None
    region: Annotated[
        str | list[str] | None,
        Field(description="Pin containers to a region or list of regions. Region pinning multiplies Modal's price."),
    ] = None

    @field_validator("name")
    @classmethod
    def _app_name(cls, v: str) -> str:
        if not APP_NAME_RE.fullmatch(v):
            raise ValueError("must be 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: str | None) -> str | None:
        return v if v is None else environment_name(v)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | list[str] | None) -> str | list[str] | None:
        for r in [v] if isinstance(v, str) else v or []:
            if not REGION_RE.fullmatch(r):
                raise ValueError(f"{_q(r)} is not a region name; use letters, digits and '-', e.g. 'us-east'")
        return v


class GpuConfig(OmcModel):
    type: Annotated[
        str,
        Field(
            description="GPU type, case-insensitive: T4, L4, A10 (alias A10G), L40S, A100-40GB, A100-80GB (alias A100), "
            "H100, H200, B200. `TYPE:N` sets the count, e.g. `H100:2`.",
            json_schema_extra={"examples": ["A10G", "a100-80gb", "H100:2"]},
        ),
    ] = "A10"
    count: Annotated[int, Field(ge=1, le=MAX_GPU_COUNT, description="GPUs per container (the model is split across them).")] = 1
    fallback: Annotated[
        list[str],
        Field(description="GPU types to try, in order, when the first is not available (Modal's ranked GPU list)."),
    ] = []

    @model_validator(mode="before")
    @classmethod
    def _split_count(cls, data: object) -> object:
        # "H100:2" is shorthand for type = "H100", count = 2.
        if isinstance(data, dict) and isinstance(data.get("type"), str) and ":" in data["type"]:
            name, _, n = data["type"].partition(":")
            if not n.isdigit() or not 1 <= int(n) <= MAX_GPU_COUNT:
                raise ValueError(f"gpu.type {data['type']!r}: the count after ':' must be a whole number from 1 to {MAX_GPU_COUNT}, e.g. 'H100:2'")
            data = {**data, "type": name, "count": int(n)}
        return data

    @field_validator("type")
    @classmethod
    def _known_gpu(cls, v: str) -> str:
        return _canonical_gpu(v)

    @field_validator("fallback")
    @classmethod
    def _known_fallback(cls, v: list[str]) -> list[str]:
        return [_canonical_gpu(x.partition(":")[0]) for x in v]

    @property
    def model(self) -> catalog.GpuModel:
        found = catalog.lookup_gpu(self.type)
        assert found is not None  # validated
        return found

    @property
    def types(self) -> list[str]:
        """The ranked list: the main type, then fallbacks."""
        return [self.type, *[f for f in self.fallback if f != self.type]]

    @property
    def modal_spec(self) -> str | list[str]:
        """What goes into ``@app.cls(gpu=...)``."""
        specs = [t if self.count == 1 else f"{t}:{self.count}" for t in self.types]
        return specs[0] if len(specs) == 1 else specs

    @property
    def min_vram_gb(self) -> float:
        """VRAM of the smallest GPU in the ranked list, times the count."""
        return min(catalog.lookup_gpu(t).vram_gb for t in self.types) * self.count  # type: ignore[union-attr]


def _canonical_gpu(v: str) -> str:
    found = catalog.lookup_gpu(v)
    if found is None:
        import difflib

        close = difflib.get_close_matches(v.upper(), [n.upper() for n in catalog.gpu_names()], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown GPU {v[:40]!r}.{hint} Known: {', '.join(catalog.gpu_names())}")
    return found.name


class WarmWindow(OmcModel):
    """A scheduled warm window: keep containers up during these hours."""

    days: Annotated[
        list[str] | str,
        Field(description="Days it applies: a list of mon..sun, or `weekdays`, `weekends`, `daily`."),
    ] = "weekdays"
    start: Annotated[str, Field(description="Local start time, HH:MM (24 h).")]
    end: Annotated[str, Field(description="Local end time, HH:MM; earlier than start means the window crosses midnight.")]
    timezone: Annotated[str, Field(description="IANA time zone, e.g. `Europe/Berlin`.")] = "UTC"
    min_containers: Annotated[int, Field(ge=0, le=MAX_CONTAINERS_LIMIT, description="Containers kept up during the window.")] = 1

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str] | str) -> list[str]:
        items = DAY_GROUPS.get(v.lower()) if isinstance(v, str) else None
        if isinstance(v, str) and items is None:
            raise ValueError(f"{_q(v)} is not a day group; use weekdays, weekends, daily or a list such as ['mon', 'fri']")
        if items is not None:
            return list(items)
        bad = [d for d in v if DAY_NAMES.get(d.lower()) is None]  # type: ignore[union-attr]
        if bad:
            raise ValueError(f"unknown day(s) {', '.join(_q(b) for b in bad[:5])}; use mon, tue, wed, thu, fri, sat, sun")
        return [DAY_NAMES[d.lower()] for d in v]  # type: ignore[union-attr]

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not HHMM_RE.fullmatch(v):
            raise ValueError(f"{_q(v)} is not a time of day; write HH:MM, e.g. '08:00'")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if not TIMEZONE_RE.fullmatch(v):
            raise ValueError(f"unknown time zone {_q(v)}; use an IANA name such as 'Europe/Berlin' or 'UTC'")
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {_q(v)}; use an IANA name such as 'Europe/Berlin' or 'UTC'") from None
        return v


class WarmPolicy(OmcModel):
    policy: Annotated[
        str | None, Field(description="Name of the warm-keeping policy these values came from (economy, balanced, always-on, ...).")
    ] = None
    scaledown_window: Annotated[
        int,
        Field(
            ge=SCALEDOWN_MIN,
            le=SCALEDOWN_MAX,
            description="Seconds an idle container stays up after its last request (Modal allows 2..3600). "
            "Longer: fewer cold starts, more idle GPU time billed. Old name: `container_idle_timeout`.",
        ),
    ] = DEFAULT_SCALEDOWN_WINDOW
    min_containers: Annotated[
        int, Field(ge=0, le=MAX_CONTAINERS_LIMIT, description="Containers kept up at all times, billed around the clock. Old name: `keep_warm`.")
    ] = 0
    max_containers: Annotated[
        int | None, Field(ge=1, le=MAX_CONTAINERS_LIMIT, description="Upper bound on containers (requests queue beyond it). Old name: `concurrency_limit`.")
    ] = None
    buffer_containers: Annotated[
        int, Field(ge=0, le=MAX_CONTAINERS_LIMIT, description="Extra idle containers kept while the app is busy, to absorb bursts.")
    ] = 0
    scaleup_window: Annotated[
        int | None,
        Field(
            ge=1,
            le=3600,
            description="Servers only (see server.primitive): seconds of sustained demand before another container "
            "starts. Unset: Modal's default. Functions scale up at once and ignore it.",
        ),
    ] = None
    schedule: Annotated[
        list[WarmWindow], Field(description="Scheduled warm windows that raise min_containers at given hours.")
    ] = []

    @field_validator("policy")
    @classmethod
    def _policy(cls, v: str | None) -> str | None:
        if v is not None and not POLICY_RE.fullmatch(v):
            raise ValueError(f"{_q(v)} is not a policy name; use 1-63 letters, digits, '.', '-' or '_'")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> WarmPolicy:
        if self.max_containers is not None:
            if self.min_containers > self.max_containers:
                raise ValueError(
                    f"min_containers ({self.min_containers}) is greater than max_containers ({self.max_containers}); "
                    "raise max_containers or lower min_containers"
                )
            for i, w in enumerate(self.schedule):
                if w.min_containers > self.max_containers:
                    raise ValueError(
                        f"schedule[{i}].min_containers ({w.min_containers}) is greater than max_containers "
                        f"({self.max_containers})"
                    )
        return self


class ModelConfig(OmcModel):
    name: Annotated[
        str, Field(description="Ollama model reference, e.g. `codellama:7b`, `qwen2.5-coder:7b-instruct-q8_0`.")
    ] = DEFAULT_MODEL
    context_length: Annotated[
        int,
        Field(
            ge=256,
            le=1_048_576,
            description="Context window in tokens (OLLAMA_CONTEXT_LENGTH). Pinned because Ollama's default depends on the GPU's VRAM.",
        ),
    ] = 4096
    keep_alive: Annotated[
        str | int,
        Field(
            description="How long the model stays loaded after a request (OLLAMA_KEEP_ALIVE): a duration such as "
            "`30m`, `1h30m` or whole seconds; negative means as long as the container lives. Must not be shorter than scaledown_window."
        ),
    ] = "-1"
    store: Annotated[
        Literal["volume", "image"],
        Field(description="Where the weights live: `volume` (a Modal Volume filled once by `omc deploy`) or `image` (baked in at build time)."),
    ] = "volume"
    volume: Annotated[str, Field(description="Name of the Modal Volume holding the model store (store = \"volume\"); Modal's name rules: 1-64 letters, digits, `.`, `-`, `_`.")] = DEFAULT_VOLUME
    size_gb: Annotated[
        float | None, Field(gt=0, description="Weight size in GB, for tags whose size omc cannot read from the name.")
    ] = None

    @field_validator("name")
    @classmethod
    def _ref(cls, v: str) -> str:
        if len(v) > MODEL_REF_MAX or not MODEL_REF_RE.fullmatch(v):
            raise ValueError(
                f"{_q(v)} is not a valid Ollama model reference; write NAME[:TAG] with letters, digits, '.', '-', '_' "
                "and '/' only (no spaces, quotes, ';' or '$'), e.g. 'codellama:7b'"
            )
        return v

    @field_validator("keep_alive")
    @classmethod
    def _keep_alive(cls, v: str | int) -> str | int:
        parse_duration(v)  # raises ValueError with the fix
        return v

    @field_validator("volume")
    @classmethod
    def _volume(cls, v: str) -> str:
        return modal_object_name(v, "Volume")

    @property
    def keep_alive_seconds(self) -> float:
        """Seconds; ``inf`` for forever."""
        return parse_duration(self.keep_alive)


class OllamaConfig(OmcModel):
    version: Annotated[
        str, Field(description="Ollama release installed in the image, pinned (x.y.z) so every rebuild is identical.")
    ] = DEFAULT_OLLAMA_VERSION
    num_parallel: Annotated[
        int | None,
        Field(ge=1, le=64, description="Requests one loaded model serves at once (OLLAMA_NUM_PARALLEL). Default: server.max_inputs."),
    ] = None
    flash_attention: Annotated[bool, Field(description="Flash attention (OLLAMA_FLASH_ATTENTION); required for a quantised KV cache.")] = True
    kv_cache_type: Annotated[
        Literal["f16", "q8_0", "q4_0"], Field(description="KV cache precision (OLLAMA_KV_CACHE_TYPE); q8_0 halves its memory.")
    ] = "q8_0"
    max_queue: Annotated[int, Field(ge=1, le=1_000_000, description="Requests Ollama queues before answering 503 (OLLAMA_MAX_QUEUE).")] = 512

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not VERSION_RE.fullmatch(v):
            raise ValueError(f"{_q(v)} is not a pinned release; write x.y.z, e.g. '{DEFAULT_OLLAMA_VERSION}'")
        return v

    @model_validator(mode="after")
    def _kv_needs_fa(self) -> OllamaConfig:
        if self.kv_cache_type != "f16" and not self.flash_attention:
            raise ValueError(
                f"kv_cache_type = {self.kv_cache_type!r} needs flash_attention = true (Ollama ignores it otherwise); "
                "set flash_attention = true or kv_cache_type = 'f16'"
            )
        return self


class ServerConfig(OmcModel):
    max_inputs: Annotated[
        int, Field(ge=1, le=1000, description="Requests one container accepts at once (@modal.concurrent max_inputs).")
    ] = DEFAULT_MAX_INPUTS
    target_inputs: Annotated[
        int | None,
        Field(ge=1, le=1000, description="Concurrency the autoscaler aims for before adding containers (default: max_inputs)."),
    ] = None
    timeout: Annotated[int, Field(ge=10, le=86400, description="Seconds one request may run.")] = 600
    startup_timeout: Annotated[
        int, Field(ge=10, le=3600, description="Seconds a container may take to start: server up and model loaded.")
    ] = 600
    auth: Annotated[
        Literal["bearer", "proxy", "none"],
        Field(
            description="`bearer`: API keys from a Modal Secret, checked by omc's proxy (works with OpenAI clients). "
            "`proxy`: Modal's proxy auth (Modal-Key/Modal-Secret headers). `none`: open to anyone with the URL."
        ),
    ] = "bearer"
    api_key_secret: Annotated[
        str, Field(description="Modal Secret holding the API keys (OMC_API_KEYS); created with a random key on first deploy. Modal's name rules: 1-64 letters, digits, `.`, `-`, `_`.")
    ] = DEFAULT_SECRET
    label: Annotated[
        str | None,
        Field(
            description="Web endpoint label: the URL is https://<workspace>[-<environment suffix>]--<label>.modal.run "
            "(the suffix only outside the workspace's default environment). Default: the app name."
        ),
    ] = None
    warmup: Annotated[bool, Field(description="Run one short generation at container start so the first request is fast.")] = True
    snapshot: Annotated[
        bool,
        Field(description="Experimental: Modal memory + GPU snapshots to shorten cold starts. Unproven with Ollama's runner."),
    ] = False
    max_body_bytes: Annotated[
        int,
        Field(
            ge=MIN_MAX_BODY_BYTES, le=MAX_MAX_BODY_BYTES,
            description="Largest request body the proxy accepts, in bytes (413 beyond). Bodies stream to Ollama, never held whole.",
        ),
    ] = DEFAULT_MAX_BODY_BYTES
    cors_origins: Annotated[
        list[str],
        Field(
            max_length=32,
            description="Browser origins allowed to call the endpoint cross-origin, exact `scheme://host[:port]` "
            "(no `*`). Their CORS preflights are answered without a key; other origins get no CORS headers.",
        ),
    ] = []
    primitive: Annotated[
        Literal["auto", "server", "function"],
        Field(
            description="How Modal serves the endpoint. `server`: a Modal Server (raw HTTP to the container, lowest "
            "added latency, but requests get 503 while no container is up). `function`: a web function (Modal holds "
            "requests during a cold start). `auto`: `server` when a container is always up (warm.min_containers >= 1), "
            "else `function`. Changing it changes the URL."
        ),
    ] = "auto"
    port: Annotated[
        int,
        Field(
            ge=1024,
            le=65535,
            description="Servers only: port omc's proxy listens on inside the container (all interfaces). "
            f"Not {OLLAMA_LOOPBACK_PORT}, where Ollama itself listens.",
        ),
    ] = DEFAULT_SERVER_PORT
    exit_grace_period: Annotated[
        int | None,
        Field(
            ge=0,
            le=EXIT_GRACE_MAX,
            description="Servers only: seconds in-flight requests get to finish when a container is scaled down or "
            "replaced by a redeploy (0..3600). Default: server.timeout, at most 3600.",
        ),
    ] = None
    routing_region: Annotated[
        Literal[ROUTING_REGIONS],  # type: ignore[valid-type]
        Field(description="Servers only: region of Modal's routing proxy in front of the containers; pick the one nearest your clients."),
    ] = "us-east"

    @field_validator("label")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        if v is not None and (not LABEL_RE.fullmatch(v) or v.isdigit()):
            raise ValueError("must be lowercase letters, digits and '-' (not only digits), at most 63 characters")
        return v

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for origin in v:
            problem = origin_problem(origin)
            if problem:
                raise ValueError(problem)
        return [o.lower() for o in v]  # browsers send scheme and host in lower case

    @field_validator("api_key_secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        return modal_object_name(v, "Secret")

    @model_validator(mode="after")
    def _targets(self) -> ServerConfig:
        if self.target_inputs is not None and self.target_inputs > self.max_inputs:
            raise ValueError(f"target_inputs ({self.target_inputs}) is greater than max_inputs ({self.max_inputs})")
        if self.port == OLLAMA_LOOPBACK_PORT:
            raise ValueError(f"port {OLLAMA_LOOPBACK_PORT} is where Ollama listens inside the container; choose another, e.g. {DEFAULT_SERVER_PORT}")
        return self

    @property
    def effective_target_inputs(self) -> int:
        return self.target_inputs or self.max_inputs

    @property
    def effective_exit_grace_period(self) -> int:
        return self.exit_grace_period if self.exit_grace_period is not None else min(self.timeout, EXIT_GRACE_MAX)


class PriceOverrides(OmcModel):
    gpu_per_second: Annotated[float | None, Field(ge=0, description="USD per GPU-second (default: the built-in list price).")] = None
    cpu_per_core_second: Annotated[float | None, Field(ge=0, description="USD per CPU core-second.")] = None
    memory_per_gib_second: Annotated[float | None, Field(ge=0, description="USD per GiB-second of memory.")] = None
    region_multiplier: Annotated[
        float | None,
        Field(gt=0, le=10, description="Multiplier on every rate for region pinning (default: Modal's, 1.5 for a broad "
              "`app.region` such as `us`, 1.75 for a narrow one such as `us-west`, 1 without a region)."),
    ] = None


class Profile(OmcModel):
    """A resolved profile: everything needed to render and deploy one Modal app."""

    name: Annotated[
        str,
        Field(
            description="Profile name, e.g. `a10g-balanced`. Files usually leave it out: the loader sets the file's name.",
            json_schema_extra={FILE_DEFAULT: "the file name"},
        ),
    ]
    description: Annotated[str, Field(description="One line for `omc profiles list` (printable text, at most 500 characters).")] = ""
    app: Annotated[AppConfig, Field(description="The Modal app.")] = AppConfig()
    gpu: Annotated[GpuConfig, Field(description="GPU tier.")] = GpuConfig()
    warm: Annotated[WarmPolicy, Field(description="Warm-keeping policy (Modal's autoscaler settings).")] = WarmPolicy()
    model: Annotated[ModelConfig, Field(description="The model served.")] = ModelConfig()
    ollama: Annotated[OllamaConfig, Field(description="The Ollama server.")] = OllamaConfig()
    server: Annotated[ServerConfig, Field(description="Concurrency, timeouts, endpoint and auth.")] = ServerConfig()
    prices: Annotated[PriceOverrides, Field(description="Price overrides for cost estimates.")] = PriceOverrides()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return one_line(v, "the profile name", PROFILE_NAME_MAX)

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        return one_line(v, "the description", DESCRIPTION_MAX)

    @model_validator(mode="after")
    def _cross(self) -> Profile:
        keep = self.model.keep_alive_seconds
        if keep < self.warm.scaledown_window:
            raise ValueError(
                f"model.keep_alive ({self.model.keep_alive!r}) is shorter than warm.scaledown_window "
                f"({self.warm.scaledown_window} s): the model would unload inside a warm container and the next "
                "request would pay a reload; use keep_alive = \"-1\" (forever) or at least the scaledown window"
            )
        return self

    @property
    def label(self) -> str:
        return self.server.label or self.app.name.lower().replace("_", "-").replace(".", "-")

    @property
    def num_parallel(self) -> int:
        return self.ollama.num_parallel or self.server.max_inputs

"""What omc records on the Modal app as tags, and how to read it back.

Tags make a deployment self-describing: a fresh CI machine with only the repository and
credentials can tell which profile runs, on which GPU, with which warm policy, and which
live warm-keeping changes must be re-applied after the next deploy (Modal resets
autoscaler overrides on every deploy). Keys and values must match ``[A-Za-z0-9._-]{1,63}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass

from . import __version__, jsonio
from .config.models import Profile
from .primitives import TAG as PRIMITIVE, choose

MANAGED = "omc-managed"
PROFILE = "omc-profile"
GPU = "omc-gpu"
CONFIG_HASH = "omc-config-hash"
VERSION = "omc-version"
MODEL = "omc-model"
#: The GPU ``omc switch-gpu`` deliberately put in place of the profile's (absent: the profile's GPU).
GPU_SWITCH = "omc-gpu-switch"
#: The profile's warm schedule (JSON), when it has one: status tells the scheduler's changes from drift.
WARM_SCHEDULE = "omc-warm-schedule"
#: The profile's app.region (JSON), when it pins one: what runs is priced with Modal's region multiplier.
REGION = "omc-region"

#: Deployed settings, for field-level plans against what runs: tag -> (label, reader).
FIELDS: dict[str, tuple[str, object]] = {
    "omc-gpu": ("gpu", lambda p: gpu_text(p)),
    "omc-model": ("model", lambda p: p.model.name),
    "omc-store": ("model store", lambda p: p.model.store),
    "omc-ollama": ("ollama version", lambda p: p.ollama.version),
    "omc-auth": ("auth", lambda p: p.server.auth),
    PRIMITIVE: ("primitive", lambda p: choose(p).kind),
    "omc-scaledown-window": ("scaledown_window", lambda p: p.warm.scaledown_window),
    "omc-min-containers": ("min_containers", lambda p: p.warm.min_containers),
    "omc-max-containers": ("max_containers", lambda p: p.warm.max_containers),
    "omc-buffer-containers": ("buffer_containers", lambda p: p.warm.buffer_containers),
    "omc-max-inputs": ("max_inputs", lambda p: p.server.max_inputs),
    "omc-target-inputs": ("target_inputs", lambda p: p.server.effective_target_inputs),
    "omc-scaleup-window": ("scaleup_window", lambda p: p.warm.scaleup_window),
    "omc-context-length": ("context_length", lambda p: p.model.context_length),
}

#: Live warm-keeping overrides (omc switch-warm), re-applied after every deploy.
WARM_KEYS = ("scaledown_window", "min_containers", "max_containers", "buffer_containers")
#: Also live on a Modal Server (primitives.ServerPrimitive.live_keys).
SERVER_LIVE_KEYS = ("scaleup_window", "target_inputs")
LIVE_KEYS = WARM_KEYS + SERVER_LIVE_KEYS
LIVE_PREFIX = "omc-live-"

_ALPHABET = re.compile(r"[^A-Za-z0-9._-]")

# -- the value codec -----------------------------------------------------------------------
# Tag values allow only [A-Za-z0-9._-]: every other character is escaped with '_' and a
# letter ('_c' is ':', '_s' is '/', '_m' is ',', ...) or '_x' and four hex digits, so any text
# round-trips (`codellama:7b` <-> `codellama_c7b`). Apps tagged before the codec existed
# carry no CODEC tag: their values are read as they are (the model tag was already escaped).
CODEC = "omc-codec"
CODEC_VERSION = "2"
_ESCAPES = {
    "_": "u", ":": "c", "/": "s", ",": "m", " ": "w", "@": "a", "+": "p", "=": "e",
    '"': "q", "[": "b", "]": "d", "{": "o", "}": "f",
}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
MAX_TAG = 63


def encode(value: object) -> str:
    """Any value as tag-alphabet text, reversibly (None -> ``none``; may exceed 63 characters)."""
    text = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    out = []
    for ch in text:
        if ch in _SAFE:
            out.append(ch)
        elif ch in _ESCAPES:
            out.append("_" + _ESCAPES[ch])
        else:
            out.append("".join(f"_x{b:02x}" for b in ch.encode("utf-8")))
    return "".join(out) or "_0"  # Modal refuses empty values; '_0' is the empty string


def decode(text: str) -> str:
    """Inverse of :func:`encode`; text that is not a valid encoding is returned as it is."""
    out, raw, i = [], bytearray(), 0
    try:
        while i < len(text):
            if text[i] != "_":
                out.append(text[i])
                i += 1
                continue
            code = text[i + 1]
            if code == "x":
                raw.clear()
                while text.startswith("_x", i):  # a UTF-8 sequence, byte by byte
                    raw.append(int(text[i + 2 : i + 4], 16))
                    i += 4
                out.append(raw.decode("utf-8"))
                continue
            out.append("" if code == "0" else _UNESCAPES[code])
            i += 2
    except (IndexError, KeyError, ValueError, UnicodeDecodeError):
        return text
    return "".join(out)


def tag_value(value: object) -> str:
    """``encode(value)``, cut to Modal's 63 characters (use :func:`put` to keep longer values whole)."""
    return encode(value)[:MAX_TAG]


def put(tags: dict[str, str], key: str, value: object) -> None:
    """Store ``value`` under ``key``; longer than 63 characters, it continues in ``key.1``, ``key.2``..."""
    text = encode(value)
    for k in [k for k in tags if _continues(k, key)]:
        del tags[k]
    tags[key] = text[:MAX_TAG]
    for n, i in enumerate(range(MAX_TAG, len(text), MAX_TAG), start=1):
        tags[f"{key}.{n}"] = text[i : i + MAX_TAG]


def _continues(k: str, key: str) -> bool:
    head, dot, n = k.rpartition(".")
    return bool(dot) and head == key and n.isdigit()


def read(tags: dict[str, str], key: str) -> str | None:
    """The value stored under ``key`` as it was given to :func:`put` (None when absent)."""
    if key not in tags:
        return None
    text = tags[key] + "".join(tags.get(f"{key}.{n}", "") for n in range(1, 1 + sum(_continues(k, key) for k in tags)))
    if tags.get(CODEC) == CODEC_VERSION:
        return decode(text)
    if key == MODEL:
        return decode_model(text) or text
    # Older tags turned the ',' of a GPU list into '_' (GPU names have none).
    return text.replace("_", ",") if key in (GPU, GPU_SWITCH) else text


def encode_model(name: str) -> str:
    """Reversible: ``codellama:7b`` -> ``codellama_c7b`` (tags allow no ':' or '/')."""
    return encode(name)


def decode_model(text: str) -> str | None:
    """The model name of a model tag of any codec version; None when it is not an encoding."""
    if len(text) >= MAX_TAG:
        return None
    out = decode(text)
    return None if (out == text and "_" in text) else out


def gpu_text(profile: Profile) -> str:
    """The ranked GPU list as Modal takes it: ``A10``, ``H100,A100-80GB``, ``H100:2,A100-80GB:2``."""
    return ",".join(s for s in ([profile.gpu.modal_spec] if isinstance(profile.gpu.modal_spec, str) else profile.gpu.modal_spec))


def gpu_display(text: str | None) -> str | None:
    """``H100,A100-80GB`` -> ``H100, A100-80GB`` (also the older ``H100,A100x2`` form)."""
    if text is None:
        return None
    return ", ".join(part.strip() for part in text.split(",") if part.strip())


def parse_gpu(text: str) -> tuple[list[str], int]:
    """GPU types and the count per container from a recorded GPU text (any codec version)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    count = 1
    types = []
    for p in parts:
        name, sep, n = p.partition(":")
        if not sep:
            legacy = re.fullmatch(r"(.+?)x(\d+)", p)
            name, n = (legacy.group(1), legacy.group(2)) if legacy else (p, "")
        types.append(name)
        if n.isdigit():
            count = int(n)
    return types, count


def app_tags(profile: Profile, config_hash: str) -> dict[str, str]:
    tags = {
        MANAGED: "1",
        CODEC: CODEC_VERSION,
        CONFIG_HASH: config_hash,
        VERSION: tag_value(__version__),
    }
    put(tags, PROFILE, profile.name)
    for key, (_label, read_profile) in FIELDS.items():
        put(tags, key, read_profile(profile))  # type: ignore[operator]
    if profile.warm.schedule:
        windows = [w.model_dump(mode="json") for w in profile.warm.schedule]
        put(tags, WARM_SCHEDULE, jsonio.dumps(windows, separators=(",", ":"), sort_keys=True))
    if profile.app.region:
        put(tags, REGION, jsonio.dumps(profile.app.region, separators=(",", ":")))
    return dict(sorted(tags.items()))


def with_gpu_switch(tags: dict[str, str], gpu: str | None) -> dict[str, str]:
    """``tags`` recording (or, with None, no longer recording) a deliberate GPU switch to ``gpu``."""
    out = {k: v for k, v in tags.items() if k != GPU_SWITCH and not _continues(k, GPU_SWITCH)}
    if gpu is not None:
        put(out, GPU_SWITCH, gpu)
    return dict(sorted(out.items()))


def gpu_switch(tags: dict[str, str] | None) -> str | None:
    """The GPU a deliberate ``omc switch-gpu`` put in place (Modal's spec text), or None."""
    return read(tags or {}, GPU_SWITCH)


def recorded(tags: dict[str, str]) -> dict[str, str]:
    """Every omc tag that describes the deployment, decoded (continuations joined, no snapshots)."""
    return {k: v for k in deployed_part(tags) if not _is_continuation(k) and (v := read(tags, k)) is not None}


def _is_continuation(k: str) -> bool:
    head, dot, n = k.rpartition(".")
    return bool(dot) and n.isdigit() and head.startswith("omc-")


def live_tag(key: str) -> str:
    return LIVE_PREFIX + key.replace("_", "-")


def settings_text(values: dict[str, int | None]) -> str:
    """``{"min_containers": 1, "max_containers": None}`` -> ``min_containers=1, max_containers=none`` (for people)."""
    return ", ".join(f"{k}={'none' if v is None else v}" for k, v in values.items())


def live_overrides(tags: dict[str, str]) -> dict[str, int | None]:
    """Live warm overrides recorded on the app: {"min_containers": 1, "max_containers": None, ...}."""
    out: dict[str, int | None] = {}
    for key in LIVE_KEYS:
        raw = tags.get(live_tag(key))
        if raw is None:
            continue
        out[key] = None if raw == "none" else int(raw)
    return out


def with_live_overrides(tags: dict[str, str], overrides: dict[str, int | None]) -> dict[str, str]:
    out = {k: v for k, v in tags.items() if not k.startswith(LIVE_PREFIX)}
    for key, value in overrides.items():
        out[live_tag(key)] = tag_value(value)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class FieldChange:
    field: str
    deployed: str | None  # as recorded on the app (decoded)
    desired: str  # as the profile says it

    @property
    def changed(self) -> bool:
        return self.deployed != self.desired


def diff(profile: Profile, deployed_tags: dict[str, str] | None) -> list[FieldChange]:
    """Field-level differences between a profile and the tags of what runs (all fields if nothing runs)."""
    tags = deployed_tags or {}
    out = [FieldChange("profile", read(tags, PROFILE), profile.name)]
    for key, (label, read_profile) in FIELDS.items():
        value = read_profile(profile)  # type: ignore[operator]
        out.append(FieldChange(label, read(tags, key), "none" if value is None else str(value)))
    return out


# -- per-version snapshots -----------------------------------------------------------------
# Modal keeps one tag set per app. After `omc rollback` the old code runs again, so omc must
# put back the tags that describe it; it keeps them itself, as compressed snapshots of the
# deployed tags of the last few versions ("omc-snap-<version>-<chunk>").
SNAPSHOT_PREFIX = "omc-snap-"
KEEP_SNAPSHOTS = 4
UNKNOWN = "unknown"  # config hash of a version omc has no record of
ROLLED_BACK_TO = "omc-rolled-back-to"
_CHUNK = 63


def deployed_part(tags: dict[str, str]) -> dict[str, str]:
    """The tags that describe the deployed code and settings (no live overrides, no snapshots)."""
    return {k: v for k, v in tags.items() if not k.startswith((LIVE_PREFIX, SNAPSHOT_PREFIX)) and k != ROLLED_BACK_TO}


def snapshot(version: int, tags: dict[str, str]) -> dict[str, str]:
    """Snapshot tags recording ``deployed_part(tags)`` as the tags of ``version``."""
    body = {k.removeprefix("omc-"): v for k, v in sorted(deployed_part(tags).items())}
    raw = zlib.compress(jsonio.dumps(body, separators=(",", ":")).encode(), 9)
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    chunks = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)]
    return {f"{SNAPSHOT_PREFIX}{version}-{i}": c for i, c in enumerate(chunks)}


def _snapshot_versions(tags: dict[str, str]) -> dict[int, dict[int, str]]:
    out: dict[int, dict[int, str]] = {}
    for key, value in tags.items():
        if not key.startswith(SNAPSHOT_PREFIX):
            continue
        version, _, chunk = key[len(SNAPSHOT_PREFIX) :].partition("-")
        if version.isdigit() and chunk.isdigit():
            out.setdefault(int(version), {})[int(chunk)] = value
    return out


def snapshot_of(tags: dict[str, str], version: int) -> dict[str, str] | None:
    """The deployed tags recorded for ``version``; None when omc kept no (readable) record."""
    chunks = _snapshot_versions(tags).get(version)
    if not chunks or sorted(chunks) != list(range(len(chunks))):
        return None
    text = "".join(chunks[i] for i in range(len(chunks)))
    try:
        body = json.loads(zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))
    except (binascii.Error, zlib.error, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    return {f"omc-{k}": str(v) for k, v in body.items()}


def with_snapshot(tags: dict[str, str], version: int | None, keep: int = KEEP_SNAPSHOTS) -> dict[str, str]:
    """``tags`` plus a snapshot of their deployed part as ``version``; only the newest ``keep`` kept."""
    out = {k: v for k, v in tags.items() if not k.startswith(SNAPSHOT_PREFIX)}
    versions = _snapshot_versions(tags)
    if version is not None:
        versions.pop(version, None)
    kept = sorted(versions, reverse=True)[: keep - 1 if version is not None else keep]
    for v in kept:
        out.update({f"{SNAPSHOT_PREFIX}{v}-{i}": c for i, c in versions[v].items()})
    if version is not None:
        out.update(snapshot(version, tags))
    return dict(sorted(out.items()))


def snapshots_only(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k.startswith(SNAPSHOT_PREFIX)}


def after_deploy(described: dict[str, str], live: dict[str, int | None], previous: dict[str, str],
                 version: int | None) -> dict[str, str]:
    """The app's tags once ``version`` runs (after a deploy or a rollback): the tags that describe
    it, the live overrides, the snapshots kept from ``previous`` (the tags before) and one of this
    version (none when ``version`` is None)."""
    return with_snapshot({**snapshots_only(previous), **with_live_overrides(described, live)}, version)

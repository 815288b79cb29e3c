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

from . import __version__
from .config.models import Profile

MANAGED = "omc-managed"
PROFILE = "omc-profile"
GPU = "omc-gpu"
CONFIG_HASH = "omc-config-hash"
VERSION = "omc-version"

#: Deployed settings, for field-level plans against what runs: tag -> (label, reader).
FIELDS: dict[str, tuple[str, object]] = {
    "omc-gpu": ("gpu", lambda p: gpu_text(p)),
    "omc-model": ("model", lambda p: encode_model(p.model.name)),
    "omc-store": ("model store", lambda p: p.model.store),
    "omc-ollama": ("ollama version", lambda p: p.ollama.version),
    "omc-auth": ("auth", lambda p: p.server.auth),
    "omc-scaledown-window": ("scaledown_window", lambda p: p.warm.scaledown_window),
    "omc-min-containers": ("min_containers", lambda p: p.warm.min_containers),
    "omc-max-containers": ("max_containers", lambda p: p.warm.max_containers),
    "omc-buffer-containers": ("buffer_containers", lambda p: p.warm.buffer_containers),
    "omc-max-inputs": ("max_inputs", lambda p: p.server.max_inputs),
    "omc-context-length": ("context_length", lambda p: p.model.context_length),
}

#: Live warm-keeping overrides (omc switch-warm), re-applied after every deploy.
WARM_KEYS = ("scaledown_window", "min_containers", "max_containers", "buffer_containers")
LIVE_PREFIX = "omc-live-"

_ALPHABET = re.compile(r"[^A-Za-z0-9._-]")


def tag_value(value: object) -> str:
    """Any value in Modal's tag alphabet (``codellama:7b`` -> ``codellama_7b``; None -> ``none``)."""
    text = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return (_ALPHABET.sub("_", text) or "_")[:63]


_MODEL_ESCAPES = (("_", "_u"), (":", "_c"), ("/", "_s"))


def encode_model(name: str) -> str:
    """Reversible: ``codellama:7b`` -> ``codellama_c7b`` (tags allow no ':' or '/')."""
    for raw, esc in _MODEL_ESCAPES:
        name = name.replace(raw, esc)
    return name


def decode_model(text: str) -> str | None:
    """Inverse of encode_model; None when the tag was cut at 63 characters or is not ours."""
    if len(text) >= 63:
        return None
    out, i = [], 0
    table = {esc[1]: raw for raw, esc in _MODEL_ESCAPES}
    while i < len(text):
        if text[i] == "_":
            if i + 1 >= len(text) or text[i + 1] not in table:
                return None
            out.append(table[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def gpu_text(profile: Profile) -> str:
    return ",".join(profile.gpu.types) + (f"x{profile.gpu.count}" if profile.gpu.count > 1 else "")


def app_tags(profile: Profile, config_hash: str) -> dict[str, str]:
    tags = {
        MANAGED: "1",
        PROFILE: tag_value(profile.name),
        CONFIG_HASH: config_hash,
        VERSION: tag_value(__version__),
    }
    for key, (_label, read) in FIELDS.items():
        tags[key] = tag_value(read(profile))  # type: ignore[operator]
    return dict(sorted(tags.items()))


def live_tag(key: str) -> str:
    return LIVE_PREFIX + key.replace("_", "-")


def live_overrides(tags: dict[str, str]) -> dict[str, int | None]:
    """Live warm overrides recorded on the app: {"min_containers": 1, "max_containers": None, ...}."""
    out: dict[str, int | None] = {}
    for key in WARM_KEYS:
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
    deployed: str | None  # as recorded in the tag
    desired: str  # as the profile says it

    @property
    def changed(self) -> bool:
        return self.deployed not in (self.desired, tag_value(self.desired))


def diff(profile: Profile, deployed_tags: dict[str, str] | None) -> list[FieldChange]:
    """Field-level differences between a profile and the tags of what runs (all fields if nothing runs)."""
    tags = deployed_tags or {}
    out = [FieldChange("profile", tags.get(PROFILE), profile.name)]
    for key, (label, read) in FIELDS.items():
        value = read(profile)  # type: ignore[operator]
        deployed = tags.get(key)
        if key == "omc-model":
            value, deployed = profile.model.name, (decode_model(deployed) or deployed) if deployed else None
        out.append(FieldChange(label, deployed, "none" if value is None else str(value)))
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
    raw = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 9)
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

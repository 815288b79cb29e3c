"""Ollama model names: parsing, comparison, and where a model's manifest lives in the store.

A name is ``[host/][namespace/]model[:tag]`` with defaults ``registry.ollama.ai``,
``library`` and ``latest``; the manifest is ``manifests/HOST/NAMESPACE/MODEL/TAG`` (the first
three lower-cased, as Ollama writes them; older stores with other casing are still found).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"


class ModelName(NamedTuple):
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def manifest_parts(self) -> tuple[str, str, str, str]:
        # Ollama lower-cases host/namespace/model on disk and keeps the tag as written.
        return (self.host.lower(), self.namespace.lower(), self.model.lower(), self.tag)


def parse_model_name(name: str) -> ModelName:
    rest = name.strip().split("@", 1)[0]  # a pinned digest does not change the manifest path
    for prefix in ("https://", "http://"):
        if rest.startswith(prefix):
            rest = rest[len(prefix):]
    tag = DEFAULT_TAG
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:] or DEFAULT_TAG
    parts = [p for p in rest.split("/") if p]
    if not parts:
        raise ValueError(f"not a model name: {name!r}")
    model = parts[-1]
    namespace = parts[-2] if len(parts) >= 2 else DEFAULT_NAMESPACE
    host = "/".join(parts[:-2]) if len(parts) >= 3 else DEFAULT_HOST
    return ModelName(host, namespace, model, tag)


def manifest_path(store: str | Path, name: str) -> Path:
    return Path(store, "manifests", *parse_model_name(name).manifest_parts)


def find_manifest(store: str | Path, name: str) -> Path | None:
    """The manifest of ``name`` in ``store``, or None. Ollama matches names case-insensitively."""
    exact = manifest_path(store, name)
    if exact.is_file():
        return exact
    current = Path(store, "manifests")
    for part in parse_model_name(name).manifest_parts:
        if not current.is_dir():
            return None
        matches = [c for c in current.iterdir() if c.name.lower() == part.lower()]
        if not matches:
            return None
        current = matches[0]
    return current if current.is_file() else None


def model_matches(listed: str, wanted: str) -> bool:
    """True when two names denote the same model (``codellama`` == ``codellama:latest``)."""
    try:
        return parse_model_name(listed.lower()) == parse_model_name(wanted.lower())
    except ValueError:
        return False

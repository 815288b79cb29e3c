"""Environment overrides (``OMC_*``), read with pydantic-settings."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

#: Environment variable -> profile key. One place, so --help and docs name the same variables.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "OMC_GPU": ("gpu", "type"),
    "OMC_SCALEDOWN_WINDOW": ("warm", "scaledown_window"),
    "OMC_MIN_CONTAINERS": ("warm", "min_containers"),
    "OMC_MAX_CONTAINERS": ("warm", "max_containers"),
    "OMC_BUFFER_CONTAINERS": ("warm", "buffer_containers"),
    "OMC_MODEL": ("model", "name"),
    "OMC_CONTEXT_LENGTH": ("model", "context_length"),
    "OMC_APP_NAME": ("app", "name"),
    "OMC_MAX_INPUTS": ("server", "max_inputs"),
    "OMC_OLLAMA_VERSION": ("ollama", "version"),
}


@lru_cache(maxsize=1)
def _settings_class() -> type:
    # Imported on first use: most runs set no OMC_* variable and skip it (start-up time).
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class EnvOverrides(BaseSettings):
        """Values are kept as strings here; the profile schema converts and validates them."""

        model_config = SettingsConfigDict(env_prefix="OMC_", extra="ignore", case_sensitive=False)

        gpu: str | None = None
        scaledown_window: str | None = None
        min_containers: str | None = None
        max_containers: str | None = None
        buffer_containers: str | None = None
        model: str | None = None
        context_length: str | None = None
        app_name: str | None = None
        max_inputs: str | None = None
        ollama_version: str | None = None

    return EnvOverrides


def env_overrides() -> dict[tuple[str, ...], tuple[Any, Any]]:
    from .origins import Origin

    if not any(var.upper() in ENV_KEYS for var in os.environ):
        return {}
    values = _settings_class()().model_dump(exclude_none=True)
    out: dict[tuple[str, ...], tuple[Any, Any]] = {}
    for field, value in values.items():
        var = f"OMC_{field.upper()}"
        out[ENV_KEYS[var]] = (value, Origin("env", var))
    return out

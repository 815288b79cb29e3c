"""Are Modal credentials configured? Answered without importing `modal` or touching the network."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path


def config_path() -> Path:
    return Path(os.environ.get("MODAL_CONFIG_PATH") or Path.home() / ".modal.toml")


def has_credentials() -> bool:
    """True when a token is set in the environment or in the active profile of ~/.modal.toml."""
    if os.environ.get("MODAL_TOKEN_ID") and os.environ.get("MODAL_TOKEN_SECRET"):
        return True
    path = config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    wanted = os.environ.get("MODAL_PROFILE")
    for name, section in data.items():
        if not isinstance(section, dict):
            continue
        if (wanted and name == wanted) or (not wanted and (section.get("active") or len(data) == 1)):
            return bool(section.get("token_id") and section.get("token_secret"))
    return False


NO_CREDENTIALS_HINT = "run `modal token new` (or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET) and run again"

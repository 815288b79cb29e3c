"""Options shared by commands that take a profile, and their translation into overrides."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        help="Profile name (looked up in ./profiles or OMC_PROFILES_DIR, then the built-ins) or path to a .toml file.",
        envvar="OMC_PROFILE",
    ),
]
GpuOpt = Annotated[Optional[str], typer.Option("--gpu", help="Override gpu.type, e.g. a10g, h100:2. [env var: OMC_GPU]")]
ScaledownOpt = Annotated[
    Optional[int], typer.Option("--scaledown-window", help="Override warm.scaledown_window (2..3600 s). [env var: OMC_SCALEDOWN_WINDOW]")
]
MinOpt = Annotated[Optional[int], typer.Option("--min-containers", help="Override warm.min_containers. [env var: OMC_MIN_CONTAINERS]")]
MaxOpt = Annotated[Optional[int], typer.Option("--max-containers", help="Override warm.max_containers. [env var: OMC_MAX_CONTAINERS]")]
BufferOpt = Annotated[
    Optional[int], typer.Option("--buffer-containers", help="Override warm.buffer_containers. [env var: OMC_BUFFER_CONTAINERS]")
]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Override model.name, e.g. codellama:13b. [env var: OMC_MODEL]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

_FLAG_KEYS = {
    "--gpu": ("gpu", "type"),
    "--scaledown-window": ("warm", "scaledown_window"),
    "--min-containers": ("warm", "min_containers"),
    "--max-containers": ("warm", "max_containers"),
    "--buffer-containers": ("warm", "buffer_containers"),
    "--model": ("model", "name"),
}


def overrides(**flags: Any) -> dict[tuple[str, ...], tuple[Any, Any]]:
    """``overrides(gpu="h100", scaledown_window=None)`` -> {("gpu","type"): ("h100", Origin(flag))}."""
    from ..config.loader import Origin

    out: dict[tuple[str, ...], tuple[Any, Any]] = {}
    for name, value in flags.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        key = _FLAG_KEYS[flag]
        if key == ("gpu", "type") and isinstance(value, str) and "," in value:
            first, *rest = [v.strip() for v in value.split(",") if v.strip()]
            out[("gpu", "fallback")] = (rest, Origin("flag", flag))
            value = first
        out[key] = (value, Origin("flag", flag))
    return out


def from_locals(values: dict[str, Any]) -> dict[tuple[str, ...], tuple[Any, Any]]:
    """Overrides from a command's local variables (the shared override options, by name)."""
    names = [f[2:].replace("-", "_") for f in _FLAG_KEYS]
    return overrides(**{n: values.get(n) for n in names})

"""Options shared by commands that take a profile, and their translation into overrides."""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any, Callable, Optional

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


#: What a command decorated with ``with_overrides`` receives (profile key -> (value, origin)).
Overrides = Optional[dict]

_OVERRIDE_OPTIONS = {
    "gpu": GpuOpt,
    "scaledown_window": ScaledownOpt,
    "min_containers": MinOpt,
    "max_containers": MaxOpt,
    "buffer_containers": BufferOpt,
    "model": ModelOpt,
}


def with_overrides(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the shared override options; it receives them as ``overrides=``.

    The options are added to the signature Typer reads, so every command that takes a
    profile spells them, documents them and maps them to profile keys the same way.
    """
    sig = inspect.signature(fn, eval_str=True)
    params = [p for p in sig.parameters.values() if p.name != "overrides"]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ann)
        for name, ann in _OVERRIDE_OPTIONS.items()
    ]

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name, None) for name in _OVERRIDE_OPTIONS}
        return fn(*args, overrides=overrides(**flags), **kwargs)

    command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "overrides"}
    return command

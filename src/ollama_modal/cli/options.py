"""Options shared by commands that take a profile, and their translation into overrides."""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Optional

import typer


@dataclass(frozen=True)
class Range:
    """A documented range for a numeric flag. NaN and infinity are never in range."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None

    def text(self) -> str:
        parts = [f"{op} {_fmt(v)}" for op, v in ((">=", self.ge), (">", self.gt), ("<=", self.le)) if v is not None]
        return ", ".join(parts)

    def problem(self, value: float) -> str | None:
        if isinstance(value, float) and not math.isfinite(value):
            return f"{value} is not a finite number"
        # int vs float comparisons are exact in Python (no float() of a 400-digit int).
        if (self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt) or (self.le is not None and value > self.le):
            return f"{str(value)[:20]} is out of range"
        return None

    def check(self, flag: str, value: float) -> None:
        """Raise the CLI's bad-parameter error (exit 2) naming ``flag`` when ``value`` is out of range."""
        problem = self.problem(value)
        if problem is not None:
            raise typer.BadParameter(f"{problem}; give a number {self.text()}", param_hint=f"'{flag}'")


def _fmt(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and x == int(x) and abs(x) < 1e15 else f"{x:g}"


def number(*decls: str, help: str, ge: float | None = None, gt: float | None = None, le: float | None = None, **kwargs: Any) -> Any:
    """``typer.Option`` for a number: finite and within the range given here, which --help states.

    Every numeric flag of every command is declared through this one function, so a bad value
    (``nan``, ``inf``, negative, absurdly large) is refused the same way before any work: exit 2
    with a message naming the flag.
    """
    rng = Range(ge=ge, gt=gt, le=le)

    def callback(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        flag = decls[0]
        for v in value if isinstance(value, (list, tuple)) else [value]:
            rng.check(flag, v)
        return value

    return typer.Option(*decls, help=f"{help} [{rng.text()}]", callback=callback, **kwargs)

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
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (strict JSON: never NaN or Infinity).")]
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
            parts = [v.strip() for v in value.split(",") if v.strip()]
            if not parts:
                from ..errors import UsageError

                raise UsageError(f"{flag} {value!r} names no GPU", hint="e.g. --gpu h100 or --gpu h100,a100-80gb")
            first, *rest = parts
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

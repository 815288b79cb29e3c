"""The two ways Modal can serve the endpoint, behind one interface.

``function``: an ``@app.cls`` with ``@modal.concurrent`` and an ``@modal.asgi_app`` web endpoint.
Every request passes Modal's input system, which holds requests while a container starts.

``server``: a Modal Server (``@app.server``). Modal's routing proxy speaks raw HTTP to omc's
proxy on the container's port: less added latency, target and hard concurrency (429 over the
cap), scale-up window, long exit grace period, request statistics; but while no container is
up, requests get 503 at once instead of waiting.

A :class:`ServingPrimitive` knows everything that differs between the two: the decorator and
class it renders, which autoscaler settings can change live, and what the plan and docs say
about it. The Modal adapter keeps one handle class per primitive (looked up by ``kind``) for
URL, autoscaler, container count and request statistics. Nothing else branches on the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

FUNCTION = "function"
SERVER = "server"
KINDS = (FUNCTION, SERVER)
TAG = "omc-primitive"
#: The served class's name: the class of a web function, the name of a Modal Server.
OBJECT_NAME = "Ollama"

#: Autoscaler settings every primitive can change live (omc switch-warm).
WARM_KEYS = ("scaledown_window", "min_containers", "max_containers", "buffer_containers")

Literal = Callable[[object], str]  # render.py's safe-literal function


@dataclass(frozen=True)
class Choice:
    """Which primitive a profile is served with, and why (for the plan)."""

    kind: str
    requested: str  # "auto", "server" or "function" as the profile says
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"primitive": self.kind, "requested": self.requested, "reason": self.reason}


def choose(profile: Any) -> Choice:
    """``auto`` picks ``server`` only when a container is up at all times.

    Scheduled warm windows only ever raise ``min_containers`` above the base value, so the
    base value alone decides whether the app can be at zero containers.
    """
    requested = profile.server.primitive
    base_min = profile.warm.min_containers
    if requested != "auto":
        reason = f"server.primitive = {requested!r}"
        if requested == SERVER and base_min < 1:
            reason += "; with min_containers = 0, requests that arrive while no container is up get 503"
        return Choice(requested, requested, reason)
    if base_min >= 1:
        return Choice(SERVER, "auto", f"min_containers = {base_min}: a container is always up, so no request meets a cold start")
    why = "min_containers = 0 outside the warm windows" if profile.warm.schedule else "min_containers = 0"
    return Choice(FUNCTION, "auto", f"{why}: the app scales to zero, and a web function holds requests during a cold start")


class ServingPrimitive:
    """What differs between the primitives; one instance per kind (see :data:`PRIMITIVES`)."""

    kind: str = ""
    object_name: str = OBJECT_NAME
    #: Autoscaler settings ``omc switch-warm`` may change live.
    live_keys: tuple[str, ...] = WARM_KEYS
    #: Does Modal hold requests while no container is up (True) or answer 503 (False)?
    holds_requests_when_cold: bool = True

    def decorator(self, profile: Any, lit: Literal, *, volume: str | None, secret: str | None) -> list[str]:
        """The decorator lines above the served class."""
        raise NotImplementedError

    def members(self, profile: Any, lit: Literal) -> list[str]:
        """The members of the served class after ``@modal.enter`` (indented by four spaces)."""
        raise NotImplementedError

    def enter_tail(self, profile: Any, lit: Literal) -> list[str]:
        """Lines that end the (last) ``@modal.enter`` method, after the model is loaded."""
        return []

    def url_note(self, profile: Any) -> str:
        raise NotImplementedError


def _autoscaler_args(profile: Any, lit: Literal) -> list[str]:
    w = profile.warm
    args = [f"scaledown_window={lit(w.scaledown_window)}", f"min_containers={lit(w.min_containers)}"]
    if w.max_containers is not None:
        args.append(f"max_containers={lit(w.max_containers)}")
    args.append(f"buffer_containers={lit(w.buffer_containers)}")
    return args


def _common_args(profile: Any, lit: Literal, volume: str | None, secret: str | None) -> list[str]:
    args = []
    if volume is not None:
        args.append(f"volumes={{{lit(volume)}: models}}")
    if secret is not None:
        args.append("secrets=[api_keys]")
    return args


def _snapshot_args(profile: Any) -> list[str]:
    if not profile.server.snapshot:
        return []
    return ["enable_memory_snapshot=True", 'experimental_options={"enable_gpu_snapshot": True}']


class FunctionPrimitive(ServingPrimitive):
    kind = FUNCTION
    WEB_METHOD = "serve"

    def decorator(self, profile: Any, lit: Literal, *, volume: str | None, secret: str | None) -> list[str]:
        s = profile.server
        args = [f"gpu={lit(profile.gpu.modal_spec)}", *_autoscaler_args(profile, lit)]
        args += [f"timeout={lit(s.timeout)}", f"startup_timeout={lit(s.startup_timeout)}"]
        args += _common_args(profile, lit, volume, secret)
        if profile.app.region is not None:
            args.append(f"region={lit(profile.app.region)}")
        args += _snapshot_args(profile)
        lines = ["@app.cls(", *[f"    {a}," for a in args], ")"]
        lines.append(f"@modal.concurrent(max_inputs={lit(s.max_inputs)}, target_inputs={lit(s.effective_target_inputs)})")
        return lines

    def members(self, profile: Any, lit: Literal) -> list[str]:
        proxy_auth = ", requires_proxy_auth=True" if profile.server.auth == "proxy" else ""
        return [
            f"    @modal.asgi_app(label={lit(profile.label)}{proxy_auth})",
            f"    def {self.WEB_METHOD}(self):",
            "        return self.runtime.asgi_app()",
        ]

    def url_note(self, profile: Any) -> str:
        return f"https://<workspace>[-<environment suffix>]--{profile.label}.modal.run"


class ServerPrimitive(ServingPrimitive):
    kind = SERVER
    live_keys = (*WARM_KEYS, "scaleup_window", "target_inputs")
    holds_requests_when_cold = False

    def decorator(self, profile: Any, lit: Literal, *, volume: str | None, secret: str | None) -> list[str]:
        s, w = profile.server, profile.warm
        args = [f"gpu={lit(profile.gpu.modal_spec)}", f"port={lit(s.port)}"]
        # target: where the autoscaler adds containers; max: the hard cap (429 beyond it).
        args += [f"target_concurrency={lit(s.effective_target_inputs)}", f"max_concurrency={lit(s.max_inputs)}"]
        args += _autoscaler_args(profile, lit)
        if w.scaleup_window is not None:
            args.append(f"scaleup_window={lit(w.scaleup_window)}")
        # startup_timeout covers @modal.enter too: the server only counts as up once the model is loaded.
        args += [f"startup_timeout={lit(s.startup_timeout)}", f"exit_grace_period={lit(s.effective_exit_grace_period)}"]
        args.append(f"routing_region={lit(s.routing_region)}")
        # Modal's proxy checks workspace proxy tokens only for auth = "proxy"; otherwise omc's proxy checks.
        args.append(f"unauthenticated={lit(s.auth != 'proxy')}")
        args += _common_args(profile, lit, volume, secret)
        if profile.app.region is not None:
            args.append(f"compute_region={lit(profile.app.region)}")
        args += _snapshot_args(profile)
        return ["@app.server(", *[f"    {a}," for a in args], ")"]

    def enter_tail(self, profile: Any, lit: Literal) -> list[str]:
        # Modal routes to the container once enter returns and the port accepts: open it last.
        return [f"        self.runtime.serve_http(port={lit(profile.server.port)})"]

    def members(self, profile: Any, lit: Literal) -> list[str]:
        return []

    def url_note(self, profile: Any) -> str:
        return f"https://<workspace>--{profile.app.name.lower()}-ollama.{profile.server.routing_region}.modal.direct"


PRIMITIVES: dict[str, ServingPrimitive] = {FUNCTION: FunctionPrimitive(), SERVER: ServerPrimitive()}


def for_profile(profile: Any) -> ServingPrimitive:
    return PRIMITIVES[choose(profile).kind]


def of_tags(tags: dict[str, str] | None) -> ServingPrimitive:
    """The primitive a deployed app was served with (apps deployed before the tag existed: function)."""
    return PRIMITIVES.get((tags or {}).get(TAG, FUNCTION), PRIMITIVES[FUNCTION])

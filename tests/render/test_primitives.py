"""The serving primitive: which one `auto` picks, and the Modal Server module it renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_modal import primitives as P
from ollama_modal.config import resolve
from ollama_modal.config.loader import Origin
from ollama_modal.render import render

from .test_render import load_module

FLAG = Origin("flag", "test")


def profile(name: str = "a10g-balanced", **values):
    """A built-in profile with some values overridden, e.g. warm__min_containers=1."""
    overrides = {tuple(k.split("__")): (v, FLAG) for k, v in values.items()}
    return resolve(name, overrides).profile


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        ("a10g-balanced", {}, P.FUNCTION),  # scales to zero
        ("t4-economy", {}, P.FUNCTION),
        ("a10g-always-on", {}, P.SERVER),  # min_containers = 1
        ("h100-always-on", {}, P.SERVER),
        ("a10g-balanced", {"warm__min_containers": 2}, P.SERVER),
        ("a10g-always-on", {"server__primitive": "function"}, P.FUNCTION),  # explicit wins
        ("a10g-balanced", {"server__primitive": "server"}, P.SERVER),
    ],
)
def test_auto_picks_server_only_when_a_container_is_always_up(name, values, kind) -> None:
    p = profile(name, **values)
    choice = P.choose(p)
    assert choice.kind == kind
    assert P.for_profile(p).kind == kind
    assert choice.reason  # the plan says why


def test_a_schedule_over_a_zero_base_is_still_scale_to_zero(profiles_dir: Path) -> None:
    (profiles_dir / "office.toml").write_text(
        'extends = "a10g-balanced"\n[[warm.schedule]]\nstart = "08:00"\nend = "18:00"\nmin_containers = 2\n'
    )
    choice = P.choose(resolve("office").profile)
    assert choice.kind == P.FUNCTION and "outside the warm windows" in choice.reason
    (profiles_dir / "office2.toml").write_text(
        'extends = "a10g-always-on"\n[[warm.schedule]]\nstart = "08:00"\nend = "18:00"\nmin_containers = 2\n'
    )
    src = render(resolve("office2").profile).source
    assert P.choose(resolve("office2").profile).kind == P.SERVER
    assert 'apply_schedule(APP_NAME, "Ollama", WARM_WINDOWS, BASE_MIN_CONTAINERS, primitive="server")' in src


def test_forcing_server_on_scale_to_zero_warns_of_503() -> None:
    assert "503" in P.choose(profile(server__primitive="server")).reason


def test_server_module_shape() -> None:
    src = render(profile("a10g-always-on")).source
    assert "@app.server(" in src and "@app.cls(" not in src
    assert "@modal.concurrent" not in src and "asgi_app" not in src  # Modal rejects them on a Server
    for arg in ("port=8000,", "target_concurrency=4,", "max_concurrency=4,", "min_containers=1,", "startup_timeout=600,",
                "exit_grace_period=600,", 'routing_region="us-east",', "unauthenticated=True,", "secrets=[api_keys],"):
        assert arg in src, arg
    assert "timeout=600," not in src.replace("startup_timeout=600,", "")  # Servers take no request timeout
    assert '"uvicorn==' in src  # the container serves HTTP itself
    # The port opens only after the model is loaded: serve_http is the last step of enter.
    enter = src[src.index("@modal.enter()") : src.index("@modal.exit()")]
    assert enter.index("self.runtime.start()") < enter.index("self.runtime.serve_http(port=8000)")


def test_server_module_follows_the_profile(tmp_path: Path) -> None:
    p = profile(
        "h100-always-on",
        server__auth="proxy",
        server__port=9000,
        server__max_inputs=8,
        server__target_inputs=6,
        server__exit_grace_period=90,
        server__routing_region="eu-west",
        warm__scaleup_window=30,
        gpu__fallback=["a100-80gb"],
        app__region="eu",
    )
    src = render(p).source
    for arg in ('gpu=["H100", "A100-80GB"],', "port=9000,", "target_concurrency=6,", "max_concurrency=8,",
                "scaleup_window=30,", "exit_grace_period=90,", 'routing_region="eu-west",', "unauthenticated=False,",
                'compute_region="eu",', "serve_http(port=9000)"):
        assert arg in src, arg
    assert "modal.Secret" not in src  # Modal's proxy checks proxy tokens; no omc keys
    path = tmp_path / "server.py"
    path.write_text(src)
    module = load_module(path)  # the pinned modal accepts every argument (warnings are errors)
    assert module.Ollama is not None


def test_exit_grace_period_defaults_to_the_request_timeout_capped_at_an_hour() -> None:
    assert profile("a10g-always-on", server__timeout=120).server.effective_exit_grace_period == 120
    assert profile("a10g-always-on", server__timeout=7200).server.effective_exit_grace_period == 3600


def test_snapshot_server_opens_the_port_after_restore(tmp_path: Path) -> None:
    src = render(profile("a10g-always-on", server__snapshot=True)).source
    snap = src[src.index("@modal.enter(snap=True)") : src.index("@modal.enter(snap=False)")]
    restore = src[src.index("@modal.enter(snap=False)") : src.index("@modal.exit()")]
    assert "serve_http" not in snap  # no listening socket inside a memory snapshot
    assert restore.index('start(phase="restore")') < restore.index("serve_http(port=8000)")
    path = tmp_path / "snap.py"
    path.write_text(src)
    load_module(path)


def test_function_module_unchanged_by_the_server_settings() -> None:
    base = render(profile("a10g-balanced")).source
    src = render(profile("a10g-balanced", server__routing_region="eu-west", server__port=9000)).source
    body = lambda s: s[s.index("@app.cls(") :]  # noqa: E731
    assert body(src) == body(base)  # only the hash and tags differ
    assert "@modal.asgi_app(" in src and "uvicorn" not in src


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ("[server]\nport = 11434", "Ollama listens"),
        ("[server]\nport = 80", "1024"),
        ("[server]\nexit_grace_period = 3601", "3600"),
        ('[server]\nrouting_region = "us-east\\")\\nimport os"', "routing_region"),
        ('[server]\nprimitive = "lambda"', "primitive"),
        ("[warm]\nscaleup_window = 0", "scaleup_window"),
    ],
)
def test_bad_server_values_are_exit_2(omc, profiles_dir: Path, table: str, needle: str) -> None:
    (profiles_dir / "bad.toml").write_text(f'extends = "a10g-always-on"\n{table}\n')
    r = omc("render", "--profile", "bad")
    assert r.exit_code == 2, r.stderr
    assert needle in r.stderr and r.stdout == ""

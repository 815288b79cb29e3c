"""[server] max_body_bytes and cors_origins: validated in the profile, rendered into the
container environment, read back by the service settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_modal.config import resolve
from ollama_modal.errors import ConfigError
from ollama_modal.render import ollama_env
from ollama_modal.service.settings import DEFAULT_MAX_BODY_BYTES, ServiceSettings


def write(d: Path, body: str) -> None:
    (d / "x.toml").write_text('extends = "a10g-balanced"\n[server]\n' + body)


def problems(d: Path, body: str) -> list[str]:
    write(d, body)
    with pytest.raises(ConfigError) as exc:
        resolve("x")
    return exc.value.problems or [exc.value.message]


@pytest.mark.parametrize("body, fragments", [
    ('cors_origins = ["*"]\n', ["x.toml:3", "server.cors_origins", "'*' is not allowed"]),
    ('cors_origins = ["https://app.example.com/"]\n', ["server.cors_origins", "no trailing '/'"]),
    ('cors_origins = ["https://app.example.com/x"]\n', ["server.cors_origins", "not an origin"]),
    ('cors_origins = ["null"]\n', ["server.cors_origins", "not an origin"]),
    ('cors_origins = ["https://*.example.com"]\n', ["server.cors_origins", "not an origin"]),
    ('cors_origins = ["https://a.example.com\\n"]\n', ["server.cors_origins", "not an origin"]),
    ('cors_origins = ["https://a.example.com:99999"]\n', ["server.cors_origins", "invalid port"]),
    ('cors_origins = "https://a.example.com"\n', ["server.cors_origins", "list"]),
    ("max_body_bytes = 10\n", ["x.toml:3", "server.max_body_bytes", "greater than or equal to 1024"]),
    ("max_body_bytes = 4294967296\n", ["server.max_body_bytes", "less than or equal to"]),
    ("max_body_bytes = nan\n", ["server.max_body_bytes"]),
])
def test_bad_values_name_the_key(profiles_dir: Path, body: str, fragments: list[str]) -> None:
    lines = problems(profiles_dir, body)
    assert any(all(f in line for f in fragments) for line in lines), lines


def test_defaults_render_the_limit_and_no_cors(profiles_dir: Path) -> None:
    write(profiles_dir, "")
    env = ollama_env(resolve("x").profile)
    assert env["OMC_MAX_BODY_BYTES"] == str(DEFAULT_MAX_BODY_BYTES) == str(16 * 1024 * 1024)
    assert "OMC_CORS_ORIGINS" not in env


def test_values_reach_the_service_settings(profiles_dir: Path) -> None:
    write(profiles_dir, 'max_body_bytes = 65536\ncors_origins = ["https://App.example.com", "http://localhost:5173"]\n')
    profile = resolve("x").profile
    assert profile.server.cors_origins == ["https://app.example.com", "http://localhost:5173"]
    env = ollama_env(profile)
    settings = ServiceSettings.from_env({**env, "OMC_API_KEYS": "k"})
    assert settings.max_body_bytes == 65536
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")


@pytest.mark.parametrize("env, needle", [
    ({"OMC_MAX_BODY_BYTES": "12"}, "OMC_MAX_BODY_BYTES='12'"),
    ({"OMC_MAX_BODY_BYTES": "1e9"}, "OMC_MAX_BODY_BYTES='1e9'"),
    ({"OMC_MAX_BODY_BYTES": "\u00b2"}, "OMC_MAX_BODY_BYTES"),
    ({"OMC_CORS_ORIGINS": "*"}, "OMC_CORS_ORIGINS: '*' is not allowed"),
    ({"OMC_CORS_ORIGINS": "https://a.example.com,https://b.example.com/"}, "'https://b.example.com/' is not an origin"),
])
def test_the_container_refuses_a_bad_environment(env: dict, needle: str) -> None:
    from ollama_modal.service.errors import ServiceConfigError

    with pytest.raises(ServiceConfigError) as e:
        ServiceSettings.from_env({"OMC_MODEL": "m", **env})
    assert any(needle in p for p in e.value.problems), e.value.problems

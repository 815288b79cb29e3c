"""Constrained strings match whole (no trailing newline), names follow Modal's rules,
and no number in a profile is NaN or infinite."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from ollama_modal.config import resolve
from ollama_modal.errors import ConfigError


def _profile(profiles_dir: Path, table: str | None, key: str, value: object) -> str:
    doc: dict = {"extends": "a10g-balanced"}
    if table is None:
        doc[key] = value
    else:
        doc[table] = {key: value}
    (profiles_dir / "x.toml").write_text(tomli_w.dumps(doc))
    return "x"


def _refused(ref: str, dotted: str) -> str:
    with pytest.raises(ConfigError) as exc:
        resolve(ref)
    text = "\n".join(exc.value.problems or [exc.value.message])
    assert dotted in text, text
    return text


# (table, key, a value that is valid) - each is refused with a trailing newline.
VALID = [
    ("model", "name", "codellama:7b"),
    ("ollama", "version", "0.33.3"),
    ("app", "name", "omc-ollama"),
    ("app", "environment", "main"),
    ("app", "region", "us-east"),
    ("server", "label", "my-llm"),
    ("server", "api_key_secret", "omc-keys"),
    ("model", "volume", "omc-models"),
    ("warm", "policy", "balanced"),
    ("model", "keep_alive", "30m"),
    (None, "description", "A10G, warm"),
    (None, "name", "x"),
]


@pytest.mark.parametrize(("table", "key", "value"), VALID, ids=[f"{t}.{k}" for t, k, _ in VALID])
def test_valid_value_loads_and_trailing_newline_is_refused(profiles_dir: Path, table, key, value) -> None:
    resolve(_profile(profiles_dir, table, key, value))
    dotted = key if table is None else f"{table}.{key}"
    _refused(_profile(profiles_dir, table, key, value + "\n"), dotted)


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("server", "api_key_secret", "../../x"),
        ("server", "api_key_secret", "a/b"),
        ("server", "api_key_secret", "x" * 65),
        ("server", "api_key_secret", "ap-" + "a" * 22),  # Modal reads this as an app id
        ("server", "api_key_secret", ""),
        ("model", "volume", "../models"),
        ("model", "volume", "my volume"),
        ("app", "environment", "../x"),
        ("app", "environment", "-x"),
        ("app", "region", ["us-east", "eu/../x"]),
        ("server", "label", "123"),  # Modal: a label is not all digits
        ("model", "keep_alive", "1.5"),  # Ollama reads unit-less values as whole seconds only
    ],
)
def test_names_follow_modal_rules(profiles_dir: Path, table, key, value) -> None:
    _refused(_profile(profiles_dir, table, key, value), f"{table}.{key}")


def test_secret_name_refused_before_any_file_is_written(omc, profiles_dir: Path, tmp_path: Path) -> None:
    _profile(profiles_dir, "server", "api_key_secret", "../../x")
    r = omc("deploy", "--profile", "x", "--yes")
    assert r.exit_code == 2 and "server.api_key_secret" in r.stderr
    assert not (tmp_path / ".omc-state").exists() or not any((tmp_path / ".omc-state").rglob("*"))
    assert not any(tmp_path.rglob("x.json"))


@pytest.mark.parametrize("value", ["nan", "inf", "-nan", "Infinity", "1e999", "NaN"])
def test_keep_alive_not_a_number_is_refused(profiles_dir: Path, value: str) -> None:
    _refused(_profile(profiles_dir, "model", "keep_alive", value), "model.keep_alive")


@pytest.mark.parametrize(
    ("table", "key"), [("model", "size_gb"), ("prices", "gpu_per_second"), ("prices", "cpu_per_core_second"), ("prices", "memory_per_gib_second")]
)
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_floats_are_refused(profiles_dir: Path, table, key, value) -> None:
    _refused(_profile(profiles_dir, table, key, value), f"{table}.{key}")


def test_durations_are_finite() -> None:
    from ollama_modal.config.durations import parse_duration

    for bad in ("nan", "inf", "-inf", "1e999", float("nan"), float("inf"), "1_000", " 5m", "5m\n", "1.5", "5x"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_duration("-1") == float("inf") and parse_duration(-1) == float("inf")
    assert parse_duration("1h30m") == 5400 and parse_duration("300") == 300 and parse_duration(300) == 300
    assert parse_duration("1.5h") == 5400 and parse_duration("250ms") == 0.25


def test_pydantic_pattern_dollar_does_not_accept_a_trailing_newline() -> None:
    """Should a field use Field(pattern=...): pydantic-core's regex `$` is end-of-text."""
    from typing import Annotated

    from pydantic import StringConstraints, TypeAdapter, ValidationError

    t = TypeAdapter(Annotated[str, StringConstraints(pattern=r"^[a-z]+$")])
    assert t.validate_python("abc") == "abc"
    with pytest.raises(ValidationError):
        t.validate_python("abc\n")


def test_profiles_new_refuses_a_newline_in_the_name(omc, profiles_dir: Path) -> None:
    r = omc("profiles", "new", "foo\n")
    assert r.exit_code == 2 and "not valid" in r.stderr
    assert list(profiles_dir.iterdir()) == []


def test_days_must_be_day_names(profiles_dir: Path) -> None:
    (profiles_dir / "x.toml").write_text(
        'extends = "a10g-balanced"\n[[warm.schedule]]\ndays = ["monXYZ"]\nstart = "08:00"\nend = "19:00"\n'
    )
    _refused("x", "warm.schedule.0.days")
    (profiles_dir / "x.toml").write_text(
        'extends = "a10g-balanced"\n[[warm.schedule]]\ndays = ["Monday", "fri"]\nstart = "08:00"\nend = "19:00"\n'
    )
    assert resolve("x").profile.warm.schedule[0].days == ["mon", "fri"]


@pytest.mark.parametrize("tz", ["UTC\n", "a" * 5000, "UTC\x00", "../../etc/passwd", "/etc/localtime"])
def test_bad_time_zones_are_refused_not_crashes(profiles_dir: Path, tz: str) -> None:
    (profiles_dir / "x.toml").write_text(
        tomli_w.dumps({"extends": "a10g-balanced", "warm": {"schedule": [{"start": "08:00", "end": "19:00", "timezone": tz}]}})
    )
    _refused("x", "warm.schedule.0.timezone")

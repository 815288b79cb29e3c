"""The local key store names its files after a Secret and an environment: both are checked where
they become a path (Modal's name rules, config.names), whatever the caller checked before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_modal.errors import UsageError
from ollama_modal.services import keys


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "state"
    monkeypatch.setenv(keys.STATE_DIR_ENV, str(d))
    return d


@pytest.mark.parametrize("secret", ["../../evil", "a/b", "/etc/passwd", "..", ".", "", "x" * 65, "a\x00b", "a b", "ap-" + "a" * 22])
def test_hostile_secret_names_are_refused(state: Path, secret: str) -> None:
    with pytest.raises(UsageError, match="Secret") as e:
        keys.KeyRing(secret, None, ["omc-k"]).save()
    assert e.value.exit_code == 2 and e.value.hint
    with pytest.raises(UsageError):
        keys.load(secret, None)
    assert not state.exists() or not any(state.rglob("*"))


@pytest.mark.parametrize("environment", ["../x", "a/b", "-x", "", "x" * 65, ".hidden"])
def test_hostile_environment_names_are_refused(state: Path, environment: str) -> None:
    with pytest.raises(UsageError, match="environment"):
        keys.KeyRing("omc-api-keys", environment, ["omc-k"]).save()


def test_valid_names_still_work(state: Path) -> None:
    for secret, env in (("omc-api-keys", None), ("my.team_keys-1", "prod"), ("proxy-token--" + "a" * 63, "main")):
        keys.KeyRing(secret, env, ["omc-k"]).save()
        ring = keys.load(secret, env)
        assert ring is not None and ring.keys == ["omc-k"]
        assert ring.path.parent == state / "keys"


@settings(max_examples=200, derandomize=True, deadline=None)
@given(secret=st.text(max_size=80), environment=st.none() | st.text(max_size=80))
def test_any_name_stays_inside_the_key_store_or_is_refused(secret: str, environment: str | None) -> None:
    base = Path("/nonexistent-state") / "keys"
    os.environ[keys.STATE_DIR_ENV] = "/nonexistent-state"
    try:
        path = keys._path(secret, environment)
    except UsageError as e:
        assert e.exit_code == 2
    else:
        assert path.parent == base and os.path.normpath(path) == str(path) and "/" not in path.name
    finally:
        del os.environ[keys.STATE_DIR_ENV]

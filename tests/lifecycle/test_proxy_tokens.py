"""auth = "proxy": omc creates, shows and rotates Modal workspace proxy tokens through the SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def proxy_profile(profiles_dir: Path) -> str:
    (profiles_dir / "team.toml").write_text('extends = "a10g-always-on"\n[server]\nauth = "proxy"\n')
    return "team"


def tokens(modal_server) -> dict:
    return dict(modal_server.state.proxy_tokens)


def test_deploy_creates_one_token_and_keeps_its_secret_private(omc, modal_server, proxy_profile, tmp_path: Path) -> None:
    r = omc("deploy", "--profile", proxy_profile, "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["proxy_token_created"] is True and out["secret_created"] is False
    ((tid, tok),) = tokens(modal_server).items()
    assert tid.startswith("wk-") and tok["name"] == "omc-omc-ollama"
    assert tok["secret"] not in r.stdout + r.stderr  # shown only on request
    fn = [c for c in modal_server.calls("FunctionCreate") if c.function.function_name == "Ollama"][-1].function
    assert fn.http_config.unauthenticated is False  # Modal's proxy checks the token
    (store,) = (tmp_path / ".omc-state" / "keys").glob("*proxy-token*")
    assert store.stat().st_mode & 0o777 == 0o600
    assert json.loads(store.read_text())["keys"] == [f"{tid}.{tok['secret']}"]
    # A second deploy creates no second token.
    assert omc("deploy", "--profile", proxy_profile, "--yes", "--gpu", "l4").exit_code == 0
    assert len(tokens(modal_server)) == 1


def test_show_rotate_and_drop_old(omc, modal_server, proxy_profile) -> None:
    assert omc("deploy", "--profile", proxy_profile, "--yes").exit_code == 0
    ((first, tok),) = tokens(modal_server).items()

    r = omc("keys", "show", "--profile", proxy_profile, "--show")
    assert r.exit_code == 0 and r.stdout.split() == [f"{first}.{tok['secret']}"]
    masked = json.loads(omc("keys", "show", "--profile", proxy_profile, "--json").stdout)
    assert tok["secret"] not in json.dumps(masked) and masked["workspace_tokens"][0]["token_id"] == first

    r = omc("keys", "rotate", "--profile", proxy_profile, "--yes", "--json", "--show")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(tokens(modal_server)) == {first, out["active"].partition(".")[0]}  # both work meanwhile
    assert len(out["keys"]) == 2 and out["keys"][1].startswith(first)

    r = omc("keys", "rotate", "--profile", proxy_profile, "--drop-old", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["deleted"] == first
    assert first not in tokens(modal_server) and len(tokens(modal_server)) == 1
    r = omc("keys", "rotate", "--profile", proxy_profile, "--drop-old", "--yes")
    assert r.exit_code == 2 and "no old proxy token" in r.stderr


def test_a_token_made_elsewhere_is_reported_not_duplicated(omc, modal_server, proxy_profile) -> None:
    modal_server.state.proxy_tokens["wk-other"] = {"name": "omc-omc-ollama", "secret": "ws-other", "created_at": 1.0}
    r = omc("deploy", "--profile", proxy_profile, "--yes", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["proxy_token_created"] is False
    assert "does not hold its secret" in r.stderr and list(tokens(modal_server)) == ["wk-other"]
    r = omc("keys", "show", "--profile", proxy_profile)
    assert r.exit_code == 0 and "wk-other" in r.stderr and "secret not on this machine" in r.stderr


def test_auth_none_has_no_keys(omc, modal_server, profiles_dir: Path) -> None:
    (profiles_dir / "open.toml").write_text('extends = "a10g-balanced"\n[server]\nauth = "none"\n')
    r = omc("keys", "show", "--profile", "open")
    assert r.exit_code == 2 and 'auth = "none"' in r.stderr
    assert modal_server.calls("WebhookTokenList") == []

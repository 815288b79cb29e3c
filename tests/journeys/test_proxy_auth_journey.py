"""auth = "proxy" on both serving primitives: Modal's proxy, not omc's, checks a workspace proxy
token, so a request without one never reaches a container; the token omc created at deploy
works as an OpenAI api_key; a rotation keeps the old token until `--drop-old` deletes it."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.ports import free_port


def _models(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(url + "/v1/models", headers=headers, timeout=60)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("warm", ["a10g-always-on", "a10g-balanced"], ids=["server", "function"])
def test_proxy_tokens_guard_the_endpoint(journey, warm: str) -> None:
    j = journey
    profiles = j.cwd / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "team.toml").write_text(f'extends = "{warm}"\n[server]\nauth = "proxy"\nport = {free_port()}\n')
    dep = j.omc("deploy", "--profile", "team", "--yes", "--json").json()
    assert dep["proxy_token_created"] is True
    url = dep["url"]

    refused = _models(url, {})
    assert refused.status_code == 401 and not j.plane.running(), "Modal refuses before any container starts"
    token = j.omc("keys", "show", "--profile", "team", "--show", "--json").json()["active"]
    tid, _, secret = token.partition(".")
    assert tid.startswith("wk-") and secret.startswith("ws-")
    assert _models(url, _bearer(f"{tid}.ws-wrong")).status_code == 401
    assert _models(url, {"Authorization": "Bearer not-a-token"}).status_code == 401

    # The token in either of Modal's two forms; a Server answers 503 until its container is up.
    ok = _models(url, _bearer(token))
    if ok.status_code == 503:
        j.plane.wait_until_up(url)
        ok = _models(url, _bearer(token))
    assert ok.status_code == 200, ok.text
    assert _models(url, {"Modal-Key": tid, "Modal-Secret": secret}).status_code == 200

    # The gate's health request carries this machine's token through Modal's proxy; without
    # one here it fails saying so, instead of a bare 401.
    st = j.omc("status", "--check", "--json").json()
    assert st["health"]["ready"] is True, st["health"]
    empty = j.home / "elsewhere-state"
    gate = j.omc("status", "--check", "--json", "--wait", "5", env={"OMC_STATE_DIR": str(empty)}, expect=4)
    health = gate.json()["health"]
    assert health["state"] == "broken" and "proxy token" in health["reason"] and "omc keys rotate" in gate.err, gate

    # Rotate: both tokens work; --drop-old deletes the old one in Modal, and it stops working.
    new = j.omc("keys", "rotate", "--profile", "team", "--yes", "--show", "--json").json()["active"]
    assert new != token
    assert _models(url, _bearer(new)).status_code == 200 and _models(url, _bearer(token)).status_code == 200
    j.omc("keys", "rotate", "--profile", "team", "--drop-old", "--yes")
    assert _models(url, _bearer(token)).status_code == 401
    assert _models(url, _bearer(new)).status_code == 200

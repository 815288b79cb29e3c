"""An app served as a Modal Server through the rest of its life: real requests, their export
as a trace, the cost of that trace, logs, history, a redeploy and its rollback, key rotation,
and stop. The first half of a Server's life (deploy, 503 at zero containers, status
statistics, switch-warm, switch-gpu, a cold bench) is test_server_journey.py."""

from __future__ import annotations

import csv
import io

import httpx

from tests.fakes.ports import free_port

from .test_server_journey import chat


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _up(j, url: str) -> None:
    """A request to a Server with no container gets 503 and starts one; wait for it."""
    if httpx.get(url + "/healthz", timeout=60).status_code == 503:
        j.plane.wait_until_up(url)


def test_a_servers_traffic_history_rollback_keys_and_stop(journey) -> None:
    j = journey
    profiles = j.cwd / "profiles"
    profiles.mkdir(exist_ok=True)
    port = free_port()
    team = profiles / "team.toml"
    team.write_text(f'extends = "a10g-always-on"\n[server]\nport = {port}\n')
    dep = j.omc("deploy", "--profile", "team", "--yes", "--json").json()
    assert dep["primitive"] == "server"
    url = dep["url"]
    _up(j, url)
    key = j.omc("keys", "show", "--profile", "team", "--show").out.split()[0]

    # Real requests through Modal's routing of the Server; one refused for a wrong key.
    for _ in range(3):
        assert chat(url, key).status_code == 200
    assert chat(url, "wrong").status_code == 401

    # The request history, exported as the trace `omc cost --trace` reads.
    j.omc("traffic", "--since", "1h", "-o", "trace.csv")
    rows = list(csv.DictReader(io.StringIO((j.cwd / "trace.csv").read_text())))
    chats = [r for r in rows if r["route"] == "/v1/chat/completions"]
    assert sorted(r["status"] for r in chats) == ["200", "200", "200", "401"], rows
    assert [r["status"] for r in rows if r["route"] == "/healthz"][:1] == ["503"], rows  # the cold start
    assert all(float(r["duration_s"]) >= 0 for r in rows)
    as_json = j.omc("traffic", "--since", "1h", "--json").json()
    assert len(as_json["requests"]) == len(rows)

    # The cost of the observed traffic: from the file, and straight from the app.
    from_file = j.omc("cost", "--profile", "team", "--trace", "trace.csv", "--json").json()
    from_app = j.omc("cost", "--profile", "team", "--from-app", "--since", "1h", "--json").json()
    assert from_file["requests"] == from_app["requests"] == len(rows), (from_file, from_app)
    assert from_file["monthly_cost_usd"] > 0 and from_file["primitive"] == "server"

    stats = j.omc("status", "--json").json()["requests"]
    assert stats["containers_started"] == 1 and stats["container_errors"] == 0, stats

    logs = j.omc("logs").out
    assert logs.strip(), "a Server's container output is the app's log"

    # A changed definition: a new deployment version on the same URL; then back.
    team.write_text(f'extends = "a10g-always-on"\n[server]\nport = {port}\n[warm]\nscaledown_window = 900\n')
    again = j.omc("deploy", "--profile", "team", "--yes", "--json").json()
    assert again["url"] == url and again["primitive"] == "server"
    hist = j.omc("history", "--json").json()
    versions = [h["version"] for h in hist]
    assert len(versions) >= 2 and versions == sorted(versions, reverse=True), hist
    rb = j.omc("rollback", "--yes", "--json").json()
    assert j.calls("AppRollback"), rb
    st = j.omc("status", "--json", "--no-health").json()
    assert st["primitive"] == "server" and st["url"] == url
    assert st["warm"]["scaledown_window"] != 900, st
    _up(j, url)  # the old definition: a new container
    # The gate compares with the local profile, which still says 900: a drift, as it should.
    gate = j.omc("status", "--check", "--json", expect=4)
    assert "drift" in gate.err and gate.json()["ok"] is False
    team.write_text(f'extends = "a10g-always-on"\n[server]\nport = {port}\n')
    assert j.omc("status", "--check", "--json").json()["ok"]

    # Key rotation on the Server path: the new key works.
    new = j.omc("keys", "rotate", "--profile", "team", "--yes", "--show", "--json").json()["active"]
    assert new != key
    j.plane.scale_to_zero()  # a new container reads the rotated Secret
    _up(j, url)
    assert httpx.get(url + "/v1/models", headers=_bearer(new), timeout=60).status_code == 200

    # Stop: nothing answers, status and the gate say so.
    j.omc("stop", "--yes")
    assert httpx.get(url + "/readyz", timeout=60).status_code == 404
    assert j.omc("status", "--json", expect=None).json()["deployed"] is False
    j.omc("status", "--check", expect=4)

"""The bill against the prediction: deploy, Modal bills the app, `omc cost --actual` (as
docs/cost.md shows it) puts the two side by side; a workspace without billing access; real
requests through a Modal Server's URL become the traffic the prediction is simulated on."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx

from tests.fakes.modal_state import BillingRecord


def test_deploy_then_the_bill_beside_the_prediction(journey, tmp_path) -> None:
    j = journey
    profiles = j.cwd / "profiles"
    profiles.mkdir(exist_ok=True)
    # One container up at all times at a round price: the idle prediction is $8.64 a day.
    (profiles / "team.toml").write_text(
        'extends = "a10g-balanced"\n[warm]\nmin_containers = 1\n'
        "[prices]\ngpu_per_second = 0.0001\ncpu_per_core_second = 0.0\nmemory_per_gib_second = 0.0\n"
    )
    j.omc("deploy", "--profile", "team", "--yes", "--json")
    app_id = j.app().app_id
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    tags = {"omc-managed": "1", "omc-codec": "2", "omc-profile": "team"}
    for n, cost in ((1, "9.000000"), (2, "9.500000"), (9, "100.000000")):  # the 9th day back is outside "last 7 days"
        day = (today - timedelta(days=n)).timestamp()
        j.server.state.billing_rows.append(
            BillingRecord(app_id, day, cost, {"A10": str(Decimal(cost) - 1), "CPU": "1.000000"}, tags, "omc-ollama")
        )

    out = j.omc("cost", "--actual", "--for", "last 7 days", "--json").json()
    assert out["app"] == "omc-ollama" and out["profile"] == "team" and out["app_id"] == app_id
    assert len(out["days"]) == 7 and out["days"][-1]["date"] == (today - timedelta(days=1)).date().isoformat()
    assert Decimal(out["billed_usd"]) == Decimal("18.5") and out["billing_rows"] == 2
    assert out["billed_by_resource"] == {"A10": "16.500000", "CPU": "2.000000"}
    assert Decimal(out["predicted_usd"]) == 7 * Decimal("8.64")
    assert out["error_pct"] == round(float((7 * Decimal("8.64") - Decimal("18.5")) / Decimal("18.5") * 100), 1)
    # A Modal Server (always on): the days its request history covers are predicted on their
    # requests (none were sent: the same idle figure), the oldest day of the 7 is not (its
    # morning is older than the history Modal keeps).
    assert out["traffic_observed"] is True and out["observed_days"] == 6 and out["requests"] == 0
    assert [d["traffic_observed"] for d in out["days"]] == [False] + [True] * 6
    assert "older than the 7 days Modal keeps" in out["unobserved"]

    # The lines docs/cost.md shows, as a user types them.
    table = j.doc("omc cost --actual")
    assert "prediction error: +226.9%" in table.err and "older than the 7 days Modal keeps" in table.err
    assert "6 of 7 days observed" in table.out and "idle cost *" in table.out
    assert "total" in table.out and "$18.50" in table.out
    j.doc('omc cost --actual --for "last month" --plot bill.png')
    assert (j.cwd / "bill.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    november = j.doc("omc cost --actual --start 2026-11-01 --end 2026-12-01 --app omc-ollama --json").json()
    assert (november["start"], november["end"]) == ("2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00")
    assert len(november["days"]) == 30 and november["app"] == "omc-ollama"

    # A workspace whose plan or role cannot read billing reports: a message, exit 3.
    j.server.fail("WorkspaceBillingReport", "PERMISSION_DENIED", times=None)
    denied = j.omc("cost", "--actual", "--for", "last month", expect=3)
    assert "billing report is not available" in denied.err and "Traceback" not in denied.err


def test_real_requests_through_a_server_are_what_is_predicted(journey) -> None:
    from tests.fakes.ports import free_port
    from tests.journeys.test_server_journey import chat

    j = journey
    profiles = j.cwd / "profiles"
    profiles.mkdir(exist_ok=True)
    # Always on, served as a Modal Server, at a round price: idle, one container costs $8.64 a day.
    (profiles / "team.toml").write_text(
        f'extends = "a10g-always-on"\n[server]\nport = {free_port()}\n'
        "[prices]\ngpu_per_second = 0.0001\ncpu_per_core_second = 0.0\nmemory_per_gib_second = 0.0\n"
    )
    # What follows happened yesterday on Modal's clock (today is never billed yet).
    j.server.state.clock = lambda: time.time() - 86400
    dep = j.omc("deploy", "--profile", "team", "--yes", "--json").json()
    assert dep["primitive"] == "server"
    url, app_id = dep["url"], j.app().app_id
    assert httpx.get(url + "/healthz", timeout=60).status_code == 503  # no container up yet
    j.plane.wait_until_up(url)
    key = j.omc("keys", "show", "--profile", "team", "--show").out.split()[0]
    for _ in range(12):
        assert chat(url, key).status_code == 200
    with j.server.state.lock:
        answered = len(j.server.state.server_requests["Ollama"])
    assert answered == 13  # the 503 and the 12 chats, as Modal's routing proxy saw them

    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday, old = today - timedelta(days=1), today - timedelta(days=9)
    tags = {"omc-managed": "1", "omc-codec": "2", "omc-profile": "team"}
    for day, cost in ((yesterday, "9.000000"), (old, "8.000000")):
        j.server.state.billing_rows.append(BillingRecord(app_id, day.timestamp(), cost, {"A10": cost}, tags, "omc-ollama"))

    out = j.doc('omc cost --actual --for "last 10 days" --json').json()
    days = {d["date"]: d for d in out["days"]}
    last = days[yesterday.date().isoformat()]
    assert last["traffic_observed"] is True and last["requests"] == answered
    assert Decimal(last["billed_usd"]) == Decimal(9) and Decimal(last["predicted_usd"]) >= Decimal("8.64")
    assert days[old.date().isoformat()]["traffic_observed"] is False and days[old.date().isoformat()]["requests"] is None
    assert out["observed_days"] == 6 and out["requests"] == answered and out["traffic_observed"] is True
    observed = [d for d in out["days"] if d["traffic_observed"]]
    predicted = sum(Decimal(d["predicted_usd"]) for d in observed)
    assert out["observed_error_pct"] == round(float((predicted - 9) / 9 * 100), 1)
    assert out["error_pct"] == round(float((Decimal(out["predicted_usd"]) - 17) / 17 * 100), 1)
    assert "4 days): older than the 7 days Modal keeps" in out["unobserved"]

    table = j.doc('omc cost --actual --for "last 10 days"')
    assert f"observed: {answered} requests" in table.out and "6 of 10 days observed" in table.out
    assert f"predicted from real traffic: 6 days, {answered} requests" in table.err
    assert "error on those days:" in table.err and "* idle cost only" in table.err

    # The history cannot be read: exit 3, a message, nothing on stdout.
    j.server.fail("ServerRequestFetch", "UNAVAILABLE", times=None)
    broken = j.omc("cost", "--actual", "--for", "last 10 days", "--json", expect=3)
    assert broken.out == "" and "request history" in broken.err and "Traceback" not in broken.err

"""The bill against the prediction: deploy, Modal bills the app, `omc cost --actual` (as
docs/cost.md shows it) puts the two side by side; a workspace without billing access."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

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
    assert out["traffic_observed"] is False and "no traffic was observed" in out["prediction"]

    # The lines docs/cost.md shows, as a user types them.
    table = j.doc("omc cost --actual")
    assert "prediction error: +226.9%" in table.err and "no traffic was observed" in table.err
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

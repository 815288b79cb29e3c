"""`omc cost --actual`: the workspace billing report (real SDK against the fake control plane),
cut to the app by its id and omc tags, day by day beside the prediction."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from ollama_modal.adapters.modal_backend import ModalBackend
from ollama_modal.errors import RemoteError, UsageError
from ollama_modal.services.actual import TAG_COLUMNS, actual_cost, period
from tests.fakes.modal_state import BillingRecord

DAY1 = datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp()
DAY2 = DAY1 + 86400
# One A10 container up all day at $0.0001/s GPU (CPU and memory free): $8.64 a day, exactly.
PROFILE = """extends = "a10g-always-on"
[warm]
min_containers = 1
[prices]
gpu_per_second = 0.0001
cpu_per_core_second = 0.0
memory_per_gib_second = 0.0
"""


@pytest.fixture
def deployed(omc, modal_server, profiles_dir: Path) -> str:
    (profiles_dir / "team.toml").write_text(PROFILE)
    r = omc("deploy", "--profile", "team", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    with modal_server.state.lock:
        return next(a.app_id for a in modal_server.state.apps.values() if a.name == "omc-ollama")


def rows(app_id: str) -> list[BillingRecord]:
    tags = {"omc-managed": "1", "omc-codec": "2", "omc-profile": "team", "omc-gpu": "A10"}
    return [
        BillingRecord(app_id, DAY1, "10.000000", {"A10": "8.500000", "CPU": "1.000000", "Memory": "0.500000"}, tags, "omc-ollama"),
        BillingRecord(app_id, DAY2, "6.000000", {"A10": "6.000000"}, tags, "omc-ollama"),
        # An earlier incarnation of the app (stopped, deployed anew): same tags, same name.
        BillingRecord("ap-old", DAY1, "2.000000", {"A10": "2.000000"}, tags, "omc-ollama"),
        # Another omc app on the same profile, and an app omc did not deploy: not this app's bill.
        BillingRecord("ap-other", DAY1, "50.000000", {"A10": "50.000000"}, tags, "other-app"),
        BillingRecord("ap-foreign", DAY2, "70.000000", {"H100": "70.000000"}, {}, "omc-ollama"),
        # Outside the period.
        BillingRecord(app_id, DAY2 + 86400, "99.000000", {"A10": "99.000000"}, tags, "omc-ollama"),
    ]


SPAN = period(None, "2026-11-02", "2026-11-04", today=date(2026, 12, 1))


def test_the_bill_by_day_and_resource_beside_the_idle_prediction(deployed, modal_server) -> None:
    modal_server.state.billing_rows.extend(rows(deployed))
    rep = actual_cost(ModalBackend(), "omc-ollama", SPAN)
    (req,) = modal_server.calls("WorkspaceBillingReport")
    assert req.resolution == "d" and list(req.tag_names) == TAG_COLUMNS
    assert (req.start_timestamp.seconds, req.end_timestamp.seconds) == (DAY1, DAY2 + 86400)
    assert rep.billing_rows == 3
    assert [d.date for d in rep.days] == ["2026-11-02", "2026-11-03"]
    assert [d.billed_usd for d in rep.days] == [Decimal("12"), Decimal("6")]
    assert rep.days[0].billed_by_resource == {"A10": Decimal("10.5"), "CPU": Decimal("1"), "Memory": Decimal("0.5")}
    assert rep.billed_usd == Decimal("18") and rep.billed_by_resource["A10"] == Decimal("16.5")
    assert [d.predicted_usd for d in rep.days] == [Decimal("8.64"), Decimal("8.64")]
    assert rep.days[0].predicted_by_resource == {"gpu": Decimal("8.64"), "cpu": Decimal(0), "memory": Decimal(0)}
    assert rep.predicted_usd == Decimal("17.28")
    assert rep.error_pct == -4.0  # (17.28 - 18) / 18
    assert rep.traffic_observed is False and "no traffic was observed" in rep.prediction
    out = rep.model_dump(mode="json")
    assert out["billed_usd"] == "18.000000" and out["days"][1]["predicted_usd"] == "8.640000"


def test_live_overrides_are_what_is_predicted(deployed, omc, modal_server) -> None:
    """switch-warm to two containers: the prediction follows what runs, not the profile file."""
    assert omc("switch-warm", "--min-containers", "2", "--yes").exit_code == 0
    rep = actual_cost(ModalBackend(), "omc-ollama", SPAN)
    assert rep.predicted_usd == Decimal("34.56") and rep.billed_usd == 0 and rep.error_pct is None


def test_observed_traffic_is_simulated_day_by_day(deployed, modal_server) -> None:
    from ollama_modal.cost.traffic import Traffic

    burst = Traffic(np.full(2000, 3600.0), 2 * 86400, DAY1)  # 2000 requests at once on the first day
    rep = actual_cost(ModalBackend(), "omc-ollama", SPAN, observed=burst)
    assert rep.traffic_observed is True and "observed traffic" in rep.prediction
    first, second = (d.predicted_usd for d in rep.days)
    assert first > Decimal("8.64") and second == Decimal("8.64")  # the burst brings more containers up on day one only


def test_no_billing_access_is_a_clear_remote_error(deployed, modal_server, omc) -> None:
    modal_server.fail("WorkspaceBillingReport", "PERMISSION_DENIED", times=None, message="billing is not enabled for this workspace")
    with pytest.raises(RemoteError) as e:
        actual_cost(ModalBackend(), "omc-ollama", SPAN)
    assert "billing report is not available" in e.value.message and "Team or Enterprise" in (e.value.hint or "")
    r = omc("cost", "--actual", "--start", "2026-11-02", "--end", "2026-11-04")
    assert r.exit_code == 3 and "billing report is not available" in r.stderr and "Traceback" not in r.stderr


def test_cli_json_keys(deployed, modal_server, omc) -> None:
    modal_server.state.billing_rows.extend(rows(deployed))
    r = omc("cost", "--actual", "--start", "2026-11-02", "--end", "2026-11-04", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"app", "app_id", "profile", "start", "end", "period", "billed_usd", "predicted_usd", "error_pct",
                        "billed_by_resource", "traffic_observed", "prediction", "billing_rows", "days"}
    assert set(out["days"][0]) == {"date", "billed_usd", "predicted_usd", "billed_by_resource", "predicted_by_resource"}
    assert out["profile"] == "team" and out["error_pct"] == -4.0


@pytest.mark.parametrize(
    "for_, start, end, expected",
    [
        ("last month", None, None, ("2026-02-01", "2026-03-01")),
        ("this month", None, None, ("2026-03-01", "2026-03-15")),
        ("last 3 days", None, None, ("2026-03-12", "2026-03-15")),
        ("Yesterday", None, None, ("2026-03-14", "2026-03-15")),
        (None, None, None, ("2026-03-08", "2026-03-15")),
        (None, "2026-01-31", None, ("2026-01-31", "2026-03-15")),
    ],
)
def test_periods_are_whole_utc_days(for_, start, end, expected) -> None:
    p = period(for_, start, end, today=date(2026, 3, 15))
    assert (p.start.date().isoformat(), p.end.date().isoformat()) == expected
    assert p.start.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "for_, start, end, words",
    [
        ("last fortnight", None, None, "--for"),
        ("last 0 days", None, None, "no whole day"),
        ("last 9999 days", None, None, "at most"),
        (None, "2026-13-01", None, "--start"),
        (None, None, "2026-03-01", "--end needs --start"),
        (None, "2026-03-01", "2026-04-01", "future"),
        ("last month", "2026-03-01", None, "not both"),
        (None, "2026-03-15", None, "no whole day"),  # today is not billed yet
    ],
)
def test_bad_periods_are_usage_errors(for_, start, end, words) -> None:
    with pytest.raises(UsageError) as e:
        period(for_, start, end, today=date(2026, 3, 15))
    assert words in e.value.message

"""`omc cost --actual`: the workspace billing report (real SDK against the fake control plane),
cut to the app by its id and omc tags, day by day beside the prediction."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

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
    # The contract's keys keep their names and types; the observed-traffic keys are added.
    assert set(out) == {"app", "app_id", "profile", "start", "end", "period", "billed_usd", "predicted_usd", "error_pct",
                        "billed_by_resource", "traffic_observed", "prediction", "billing_rows", "days",
                        "observed_days", "requests", "observed_error_pct", "history_from", "unobserved"}
    assert set(out["days"][0]) == {"date", "billed_usd", "predicted_usd", "billed_by_resource", "predicted_by_resource",
                                   "traffic_observed", "requests"}
    assert out["profile"] == "team" and out["error_pct"] == -4.0
    assert out["traffic_observed"] is False and out["observed_days"] == 0 and out["requests"] == 0
    assert out["days"][0]["traffic_observed"] is False and out["days"][0]["requests"] is None
    assert "older than the 7 days Modal keeps" in out["unobserved"]


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


# --- the app's request history: days it covers are predicted on their real requests ------------
NOW = datetime(2026, 11, 9, 12, 0, tzinfo=timezone.utc)  # the history reaches back to 2026-11-02 12:00
WEEK = period(None, "2026-11-01", "2026-11-09", today=date(2026, 11, 9))


def at(day: int, hour: float) -> float:
    return datetime(2026, 11, day, tzinfo=timezone.utc).timestamp() + hour * 3600


def test_days_the_history_covers_are_predicted_on_their_requests(deployed, modal_server) -> None:
    modal_server.state.server_requests["Ollama"] = (
        [(at(1, 5), 200, 1.0, "/v1/chat/completions")]  # a day older than the history: never asked for
        + [(at(3, 1), 200, 2.0, "/v1/chat/completions")] * 2000  # a burst on the 3rd
        + [(at(5, 9 + i / 10), 200, 2.0, "/v1/chat/completions") for i in range(10)]
        + [(at(5, 10), 503, 0.0, "/v1/chat/completions")]
    )
    modal_server.state.billing_rows.extend(
        BillingRecord(deployed, at(d, 0), cost, {"A10": cost}, {"omc-managed": "1", "omc-profile": "team"}, "omc-ollama")
        for d, cost in ((1, "9.000000"), (3, "20.000000"), (5, "8.000000"))
    )
    rep = actual_cost(ModalBackend(), "omc-ollama", WEEK, now=NOW)
    (req,) = modal_server.calls("ServerRequestFetch")
    assert req.range.since.ToDatetime(tzinfo=timezone.utc) == datetime(2026, 11, 3, tzinfo=timezone.utc)
    assert req.range.until.ToDatetime(tzinfo=timezone.utc) == datetime(2026, 11, 9, tzinfo=timezone.utc)
    flags = [(d.date[-2:], d.traffic_observed, d.requests) for d in rep.days]
    assert flags == [("01", False, None), ("02", False, None), ("03", True, 2000), ("04", True, 0), ("05", True, 11),
                     ("06", True, 0), ("07", True, 0), ("08", True, 0)]
    assert rep.observed_days == 6 and rep.requests == 2011 and rep.traffic_observed is True
    by_day = {d.date[-2:]: d.predicted_usd for d in rep.days}
    assert by_day["01"] == by_day["02"] == by_day["04"] == Decimal("8.64")  # idle: one container all day
    assert by_day["03"] > Decimal("8.64")  # the burst brings more containers up
    assert by_day["05"] >= Decimal("8.64")
    observed = [d for d in rep.days if d.traffic_observed]
    p, b = sum(d.predicted_usd for d in observed), Decimal("28")
    assert rep.observed_error_pct == round(float((p - b) / b * 100), 1)
    assert rep.error_pct == round(float((rep.predicted_usd - Decimal("37")) / Decimal("37") * 100), 1)
    assert rep.history_from == "2026-11-02T12:00:00+00:00"
    assert rep.unobserved.startswith("2026-11-01 to 2026-11-02 (2 days): older than the 7 days Modal keeps")
    assert "on 6 of 8 days (2,011 requests)" in rep.prediction


def test_the_same_traffic_predicts_the_same_as_cost_on_the_trace(deployed, modal_server) -> None:
    """One day of real requests: the day's prediction is what the library predicts on that trace."""
    from ollama_modal.config import resolve
    from ollama_modal.services.actual import day_traffic, predict_days
    from ollama_modal.services.traffic_export import as_traffic, export

    modal_server.state.server_requests["Ollama"] = [(at(6, 8 + i / 100), 200, 2.0, "/v1/chat/completions") for i in range(600)]
    rep = actual_cost(ModalBackend(), "omc-ollama", period(None, "2026-11-06", "2026-11-07", today=date(2026, 11, 9)), now=NOW)
    rows = export(ModalBackend(), "omc-ollama", datetime(2026, 11, 6, tzinfo=timezone.utc), datetime(2026, 11, 7, tzinfo=timezone.utc))
    day = date(2026, 11, 6)
    assert day_traffic(as_traffic(rows), day).times.size == 600
    (expected,) = predict_days(resolve("team").profile, [day], as_traffic(rows))
    assert rep.days[0].predicted_by_resource == expected and rep.days[0].requests == 600


def test_a_period_older_than_the_history_reads_none(deployed, modal_server) -> None:
    rep = actual_cost(ModalBackend(), "omc-ollama", period("last month", None, None, today=date(2026, 11, 9)), now=NOW)
    assert modal_server.calls("ServerRequestFetch") == []
    assert rep.observed_days == 0 and rep.traffic_observed is False and all(not d.traffic_observed for d in rep.days)
    assert "2026-10-01 to 2026-10-31 (31 days): older than the 7 days" in rep.unobserved


def test_a_web_function_is_observed_from_its_request_log(omc, modal_server, profiles_dir: Path) -> None:
    from ollama_modal.service.requestlog import RequestLine, format_line

    (profiles_dir / "team.toml").write_text(PROFILE.replace("min_containers = 1", "min_containers = 1\n[server]\nprimitive = \"function\""))
    assert omc("deploy", "--profile", "team", "--yes").exit_code == 0
    app_id = modal_server.state.app_named("omc-ollama").app_id
    for i in range(12):  # the proxy's request log lines, on the 5th
        t = at(5, 9 + i / 10)
        modal_server.state.add_log(app_id, format_line(RequestLine(datetime.fromtimestamp(t, timezone.utc), "POST",
                                                                   "/api/chat", 200, 2.0, 10, 50)), t + 2.0)
    rep = actual_cost(ModalBackend(), "omc-ollama", WEEK, now=NOW)
    assert modal_server.calls("ServerRequestFetch") == [] and modal_server.calls("AppFetchLogs")
    flags = [(d.date[-2:], d.traffic_observed, d.requests) for d in rep.days]
    assert flags[:3] == [("01", False, None), ("02", False, None), ("03", True, 0)] and ("05", True, 12) in flags
    assert rep.observed_days == 6 and rep.requests == 12


def test_a_failing_history_fetch_is_exit_3_and_writes_nothing(deployed, modal_server, omc, tmp_path: Path) -> None:
    modal_server.fail("ServerRequestFetch", "UNAVAILABLE", times=None)
    with pytest.raises(RemoteError) as e:
        actual_cost(ModalBackend(), "omc-ollama", WEEK, now=NOW)
    assert "request history" in e.value.message
    plot = tmp_path / "bill.png"
    r = omc("cost", "--actual", "--for", "last 3 days", "--plot", str(plot), "--json")
    assert r.exit_code == 3 and "request history" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == "" and not plot.exists()


def test_the_table_says_which_days_are_observed(deployed, modal_server, omc) -> None:
    now = datetime.now(timezone.utc)
    modal_server.state.server_requests["Ollama"] = [(now.timestamp() - 86400 * 2.5, 200, 1.0, "/v1/chat/completions")]
    r = omc("cost", "--actual", "--for", "last 9 days")
    assert r.exit_code == 0, r.stderr
    assert "observed: 0 requests" in r.stdout and "idle cost *" in r.stdout and "6 of 9 days observed" in r.stdout  # today-7 began before the history
    assert "predicted from real traffic: 6 days, 1 request from" in r.stderr
    assert "* idle cost only (no requests simulated) on" in r.stderr and "older than the 7 days Modal keeps" in r.stderr


class FakeServed:
    def __init__(self, rows) -> None:  # noqa: ANN001
        self.rows, self.asked = rows, []

    def requests(self, since, until, limit):  # noqa: ANN001, ANN201
        self.asked.append((since, until))
        return [r for r in self.rows if since <= datetime.fromisoformat(r.timestamp) < until][:limit]


class FakeBackend:
    """Only what the request history needs: the app's tags and its served object."""

    environment = None

    def __init__(self, rows) -> None:  # noqa: ANN001
        self.handle = FakeServed(rows)
        self.info = SimpleNamespace(tags={"omc-managed": "1", "omc-primitive": "server"}, app_id="ap-1")

    def app_info(self, app):  # noqa: ANN001, ANN201
        return self.info

    def served(self, app, primitive):  # noqa: ANN001, ANN201
        return self.handle


def test_history_days_and_boundaries_with_fake_rows() -> None:
    """A day counts as covered only when the history holds all of it; requests fall on their UTC day."""
    from ollama_modal.adapters import RequestRecord
    from ollama_modal.services.actual import day_traffic, observed_history

    def row(when: datetime) -> RequestRecord:
        return RequestRecord(when.isoformat(timespec="milliseconds"), "/v1/chat/completions", 200, 1.0)

    midnight = datetime(2026, 11, 5, tzinfo=timezone.utc)
    rows = [row(midnight.replace(day=2)), row(midnight - timedelta(milliseconds=1)), row(midnight), row(midnight),
            row(midnight.replace(day=8, hour=23, minute=59))]
    be = FakeBackend(rows)
    now = datetime(2026, 11, 9, tzinfo=timezone.utc)  # the history reaches back to 2026-11-02 00:00 exactly
    h = observed_history(be, "omc-ollama", WEEK, now=now)
    assert [d.day for d in h.covered] == [2, 3, 4, 5, 6, 7, 8] and "2026-11-01: older than" in h.reason
    assert be.handle.asked == [(datetime(2026, 11, 2, tzinfo=timezone.utc), datetime(2026, 11, 9, tzinfo=timezone.utc))]
    counts = [int(day_traffic(h.traffic, d).times.size) for d in h.covered]
    assert counts == [1, 0, 1, 2, 0, 0, 1]

    be = FakeBackend([])
    h = observed_history(be, "omc-ollama", WEEK, now=now + timedelta(seconds=1))  # 2026-11-02 no longer whole
    assert [d.day for d in h.covered] == [3, 4, 5, 6, 7, 8] and h.traffic is None
    assert h.reason.startswith("2026-11-01 to 2026-11-02 (2 days): older than")


def test_the_deployed_concurrency_and_a_live_target_are_what_is_predicted(deployed, omc, modal_server, profiles_dir) -> None:
    """The simulation aims for target_inputs: the deployed max_inputs and a live
    switch-warm --target-inputs count, not the profile file as it is now."""
    from ollama_modal.services.actual import deployed_profile

    assert omc("switch-warm", "--target-inputs", "1", "--yes").exit_code == 0
    (profiles_dir / "team.toml").write_text(PROFILE + "[server]\nmax_inputs = 8\n")  # edited after the deploy
    tags = ModalBackend().app_info("omc-ollama").tags
    p = deployed_profile(tags, "omc-ollama")
    assert p.server.max_inputs == 4 and p.server.target_inputs == 1

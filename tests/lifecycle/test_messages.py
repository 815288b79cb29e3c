"""Messages in the user's terms: they name what the user typed (a flag, a name), say what
happened, and never show Python reprs."""

from __future__ import annotations

import re

import pytest

REPR = re.compile(r"\{'|'\}|\bNone\b")


def _deployed(omc, profile: str = "a10g-balanced") -> None:
    r = omc("deploy", "--profile", profile, "--yes")
    assert r.exit_code == 0, r.stderr


def test_switch_gpu_with_a_bad_count_blames_the_argument(omc, modal_server) -> None:
    _deployed(omc)
    modal_server.servicer.reset_records()
    r = omc("switch-gpu", "a10g:0", "--yes")
    assert r.exit_code == 2, r.stderr
    assert "switch-gpu" in r.stderr and "a10g:0" in r.stderr
    assert ".toml" not in r.stderr  # no profile file is at fault
    assert "from 1 to 8" in r.stderr
    assert "AppPublish" not in modal_server.methods()


def test_switch_warm_scaledown_out_of_range_is_answered_before_modal(omc, modal_server) -> None:
    r = omc("switch-warm", "--scaledown-window", "1", "--yes")
    assert r.exit_code == 2 and "--scaledown-window" in r.stderr and "2" in r.stderr and "3600" in r.stderr
    assert "Traceback" not in r.stderr and "InvalidError" not in r.stderr
    assert modal_server.methods() == []


@pytest.mark.parametrize("name", ["a10g-balanced", "t4-economy"])
def test_profiles_new_with_a_taken_name_says_so(omc, name) -> None:
    r = omc("profiles", "new", name)
    assert r.exit_code == 2, r.stderr
    assert "already" in r.stderr and name in r.stderr
    assert "cycle" not in r.stderr


def test_switch_warm_shows_the_monthly_idle_cost_before_and_after(omc, modal_server) -> None:
    from ollama_modal.config import resolve
    from ollama_modal.pricing import always_on_monthly

    _deployed(omc)
    one = f"${always_on_monthly(resolve('a10g-balanced').profile):,.2f}"
    r = omc("switch-warm", "always-on", "--yes")
    assert r.exit_code == 0, r.stderr
    assert f"idle cost $0.00/month -> {one}/month" in r.stderr, r.stderr
    assert not REPR.search(r.stdout + r.stderr), r.stdout + r.stderr
    j = omc("switch-warm", "--reset", "--yes", "--json")
    assert j.exit_code == 0, j.stderr
    import json

    cost = json.loads(j.stdout)["idle_cost_usd_per_month"]
    assert cost == {"before": round(always_on_monthly(resolve("a10g-balanced").profile), 2), "after": 0.0}


def test_history_marks_the_current_version(omc, modal_server) -> None:
    _deployed(omc)
    assert omc("deploy", "--profile", "a10g-economy", "--yes").exit_code == 0
    r = omc("history")
    assert r.exit_code == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines() if line.split() and line.split()[0].isdigit()}
    assert "current" in lines["2"] and "current" not in lines["1"], r.stdout


def test_logs_says_when_there_are_none(omc, modal_server) -> None:
    _deployed(omc)
    modal_server.state.log_lines[:] = []
    for app in modal_server.state.apps.values():
        app.logs.clear()
    r = omc("logs")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""  # stdout carries log lines only
    assert "no log lines" in r.stderr

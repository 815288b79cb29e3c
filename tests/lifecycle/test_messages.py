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


@pytest.fixture
def terminal_80(monkeypatch):
    """stdout is an 80-column terminal."""
    import io

    from rich.console import Console

    from ollama_modal.cli import output

    buf = io.StringIO()
    monkeypatch.setattr(
        output, "out", Console(file=buf, width=80, force_terminal=True, color_system=None, highlight=False, soft_wrap=True, markup=False)
    )
    return buf


def _fits_80(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)


def test_profiles_list_is_readable_at_80_columns(omc, terminal_80) -> None:
    r = omc("profiles", "list")
    assert r.exit_code == 0, r.stderr
    text = terminal_80.getvalue() + r.stdout
    _fits_80(text)
    for name in ("a100-always-on", "a10g-balanced", "h100-economy", "t4-always-on"):
        assert re.search(rf"^{name} ", text, flags=re.M), f"{name} is cut:\n{text}"  # whole, on one line
    assert "codellama:7b" in text and "$1,803.81" in text and "A100-80GB" in text
    assert "--json" in r.stderr  # says where the hidden columns are


def test_profiles_show_origin_is_readable_at_80_columns(omc, terminal_80) -> None:
    r = omc("profiles", "show", "a10g-balanced", "--origin")
    assert r.exit_code == 0, r.stderr
    text = terminal_80.getvalue() + r.stdout
    _fits_80(text)
    assert "warm.scaledown_window = 300" in text and "built-in parts/warm-balanced.toml" in text
    assert "/work/" not in text and "site-packages" not in text  # built-in files by their short name


def test_status_is_readable_at_80_columns(omc, modal_server, terminal_80) -> None:
    _deployed(omc)
    omc("switch-warm", "always-on", "--yes")
    r = omc("status", "--no-health")
    assert r.exit_code == 0, r.stderr
    text = terminal_80.getvalue() + r.stdout
    _fits_80(text)
    assert "a10g-balanced" in text and "codellama:7b" in text
    assert "https://omc-test--omc-ollama.modal.run" in text  # the URL unbroken
    assert not REPR.search(text), text


def test_no_python_reprs_in_human_output(omc, modal_server) -> None:
    runs = [
        ("deploy", "--profile", "a10g-balanced", "--yes"),
        ("switch-warm", "always-on", "--yes"),
        ("deploy", "--profile", "a10g-economy", "--yes"),
        ("deploy", "--profile", "h100-balanced", "--dry-run"),
        ("status", "--no-health"),
        ("switch-gpu", "h100", "--yes"),
        ("history",),
        ("rollback", "--yes"),
        ("switch-warm", "--max-containers", "3", "--yes"),
        ("status", "--no-health"),
        ("stop", "--yes"),
        ("status",),
    ]
    for args in runs:
        r = omc(*args)
        assert r.exit_code in (0, 4), (args, r.stderr)
        found = REPR.search(r.stdout + r.stderr)
        assert not found, (args, found.group(0), r.stdout + r.stderr)

"""Exit codes follow the README table in every command: a declined confirmation, an app
that is not deployed."""

from __future__ import annotations

import pytest

NEEDS_AN_APP = [
    ["switch-warm", "always-on", "--yes"],
    ["switch-gpu", "h100", "--yes"],
    ["logs"],
    ["history"],
    ["rollback", "--yes"],
    ["stop", "--yes"],
    ["bench", "-n", "1"],
]


@pytest.mark.parametrize("app", [None, "omc-ollama"], ids=["found", "named"])
@pytest.mark.parametrize("args", NEEDS_AN_APP, ids=lambda a: "-".join(a[:2]).strip("-"))
def test_not_deployed_is_exit_3_for_every_command(omc, modal_server, args, app) -> None:
    r = omc(*args, *(["--app", app] if app else []))
    assert r.exit_code == 3, (r.exit_code, r.stdout, r.stderr)
    assert "not deployed" in r.stderr, r.stderr
    assert "omc deploy" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture
def terminal(monkeypatch):
    """As if stdin were a terminal: commands ask instead of refusing."""
    from ollama_modal.cli import common

    monkeypatch.setattr(common, "stdin_is_terminal", lambda: True)


def _deployed(omc) -> None:
    r = omc("deploy", "--profile", "a10g-balanced", "--yes")
    assert r.exit_code == 0, r.stderr


MUTATING = {"AppCreate", "AppPublish", "AppSetTags", "AppStop", "AppRollback", "FunctionCreate",
            "FunctionUpdateSchedulingParams", "SecretGetOrCreate", "SecretUpdate"}


@pytest.mark.parametrize("answer", ["n\n", "\n", ""], ids=["no", "default", "eof"])
@pytest.mark.parametrize(
    "args",
    [["deploy", "--profile", "a10g-economy"], ["switch-warm", "always-on"], ["switch-gpu", "h100"], ["stop"], ["keys", "rotate"]],
    ids=lambda a: a[0] if a[0] != "keys" else "keys-rotate",
)
def test_a_declined_confirmation_changes_nothing_and_exits_2(omc, modal_server, terminal, args, answer) -> None:
    _deployed(omc)
    modal_server.servicer.reset_records()
    r = omc(*args, input=answer)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "nothing changed" in r.stderr and "?" in r.stderr  # it asked, then changed nothing
    assert "Aborted" not in r.stderr and "error" not in r.stderr.lower()
    assert MUTATING.isdisjoint(modal_server.methods()), modal_server.methods()


def test_no_terminal_is_the_same_outcome(omc, modal_server) -> None:
    _deployed(omc)
    r = omc("stop")
    assert r.exit_code == 2 and "nothing changed" in r.stderr and "--yes" in r.stderr
    assert modal_server.calls("AppStop") == []


@pytest.mark.parametrize("flag, value", [("--p95-latency-s", "0"), ("--p95-latency-s", "-1"), ("--budget-usd", "-5")])
def test_recommend_goal_out_of_range_is_a_usage_error(omc, flag, value) -> None:
    args = {"--p95-latency-s": "10", flag: value}
    r = omc("recommend", "--profile", "a10g-balanced", "--rpm", "2", *[x for kv in args.items() for x in kv])
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert flag in r.stderr and "internal error" not in r.stderr

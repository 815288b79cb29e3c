"""`--help` carries every argument's help, once; bad positional values are usage errors."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("command", "argument", "text"),
    [
        (("rollback",), "[VERSION]", "Version to return to"),
        (("switch-gpu",), "[GPU]", "fallback list"),
        (("switch-warm",), "[POLICY]", "Warm policy"),
    ],
)
def test_positional_arguments_show_their_help(omc, command, argument, text) -> None:
    r = omc(*command, "--help")
    assert r.exit_code == 0
    line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith(argument))
    assert text in line


def test_env_var_named_once(omc) -> None:
    out = omc("status", "--help").stdout
    assert out.count("OMC_APP") == 1


def test_rollback_version_must_be_positive(omc, modal_server) -> None:
    r = omc("rollback", "0", "--yes")
    assert r.exit_code == 2 and "x>=1" in r.stderr
    assert not modal_server.calls("AppRollback")

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

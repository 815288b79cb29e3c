"""Flags are checked before any work: every number is finite and in its documented range (exit 2 naming the
flag, before any work), and --json output never carries NaN or Infinity."""

from __future__ import annotations

import json
import math

import pytest

BAD = [
    # (command..., flag, bad values)
    (("cost", "--rpm", "1", "--days", "1"), "--rpm", ["nan", "inf", "-inf", "-1", "0", "1e400", "9" * 400]),
    (("cost", "--rpm", "1", "--days", "1"), "--days", ["nan", "inf", "-1", "0", "100000"]),
    (("cost", "--rpm", "1", "--days", "1"), "--service-seconds", ["nan", "inf", "-1"]),
    (("cost", "--rpm", "1", "--days", "1"), "--cold-start-seconds", ["nan", "inf", "-10"]),
    (("cost", "--rpm", "1", "--days", "1"), "--output-tokens", ["nan", "inf", "0", "-5"]),
    (("recommend", "--p95-latency-s", "30", "--rpm", "1", "--days", "1"), "--p95-latency-s", ["nan", "inf", "0", "-1"]),
    (("recommend", "--p95-latency-s", "30", "--rpm", "1", "--days", "1"), "--budget-usd", ["nan", "inf", "-1"]),
    (("recommend", "--p95-latency-s", "30", "--rpm", "1", "--days", "1"), "--rpm", ["nan"]),
    (("recommend", "--p95-latency-s", "30", "--rpm", "1", "--days", "1"), "--days", ["inf"]),
    (("recommend", "--p95-latency-s", "30", "--rpm", "1", "--days", "1"), "--service-seconds", ["nan"]),
    (("bench", "--url", "http://127.0.0.1:9", "--model", "m"), "--requests", ["0", "-1", "10000000", "9" * 400]),
    (("bench", "--url", "http://127.0.0.1:9", "--model", "m"), "--concurrency", ["0", "100000"]),
    (("bench", "--url", "http://127.0.0.1:9", "--model", "m"), "--max-tokens", ["0", "100000000"]),
]


@pytest.mark.parametrize(("base", "flag", "values"), BAD, ids=[f"{b[0]}{f}" for b, f, _ in BAD])
def test_bad_numbers_exit_2_naming_the_flag(omc, base, flag, values) -> None:
    for value in values:
        args = list(base)
        if flag in args:
            i = args.index(flag)
            del args[i : i + 2]
        r = omc(*args, flag, value, "--json")
        assert r.exit_code == 2, (flag, value, r.exit_code, r.stderr)
        assert flag in r.stderr, r.stderr
        assert r.stdout == ""
        assert "Traceback" not in r.stderr


def test_ranges_are_documented_in_help(omc) -> None:
    assert "3650" in omc("cost", "--help").stdout
    assert ">=0" in omc("recommend", "--help").stdout.replace(" ", "")


def test_sweep_levels_are_bounded(omc) -> None:
    for sweep in ("1,100000", "1," + "9" * 5000, "1,\u0661", "1,-2", "nan"):
        r = omc("bench", "--url", "http://127.0.0.1:9", "--model", "m", "--sweep", sweep)
        assert r.exit_code == 2 and "--sweep" in r.stderr, (sweep, r.stderr)


def test_print_json_refuses_non_finite_numbers(capsys) -> None:
    from ollama_modal.cli.output import print_json
    from ollama_modal.errors import OmcError

    print_json({"ok": [1.5, None]})
    assert json.loads(capsys.readouterr().out) == {"ok": [1.5, None]}
    for bad in ({"a": {"b": [1, math.nan]}}, [math.inf], {"x": -math.inf}):
        with pytest.raises(OmcError) as exc:
            print_json(bad)
        assert exc.value.exit_code == 1 and "non-finite" in exc.value.message
        assert capsys.readouterr().out == ""  # nothing half-printed
    with pytest.raises(OmcError) as exc:
        print_json({"a": {"b": [1, math.nan]}})
    assert "a.b[1]" in exc.value.message


def test_switch_warm_flags_are_checked_before_modal(omc, monkeypatch) -> None:
    import ollama_modal.cli.switch as switch

    def no_modal(*a, **k):
        raise AssertionError("Modal was called")

    monkeypatch.setattr(switch, "backend", no_modal)
    for flag, value in (("--scaledown-window", "1"), ("--min-containers", "-1"), ("--max-containers", "0"), ("--buffer-containers", "99999999")):
        r = omc("switch-warm", flag, value, "--yes")
        assert r.exit_code == 2 and flag in r.stderr, (flag, r.stderr)


def test_env_flag_follows_modal_environment_rules(omc, tmp_path) -> None:
    for bad in ("../../x", "a/b", "x\n", "-x", "x" * 65):
        r = omc("keys", "show", "--env", bad)
        assert r.exit_code == 2 and "--env" in r.stderr, (bad, r.stderr)
    assert not any((tmp_path / ".omc-state").rglob("*.json")) if (tmp_path / ".omc-state").exists() else True


def test_gpu_flag_with_no_gpu(omc) -> None:
    for value in (",", " , ", ",,"):
        r = omc("render", "--profile", "a10g-balanced", "--gpu", value)
        assert r.exit_code == 2 and "--gpu" in r.stderr, r.stderr
    r = omc("render", "--profile", "a10g-balanced", "--gpu", "x" * 5000)
    assert r.exit_code == 2 and len(r.stderr) < 1000

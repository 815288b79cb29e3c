"""`omc profiles ...` through Typer's runner: stdout is data, stderr messages, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path


def test_list_json_is_one_document(omc) -> None:
    r = omc("profiles", "list", "--json")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    names = {row["name"] for row in rows}
    assert {"a10g-balanced", "t4-economy", "a100-always-on", "h100-balanced"} <= names
    a10g = next(row for row in rows if row["name"] == "a10g-always-on")
    assert a10g["gpu"] == "A10" and a10g["min_containers"] == 1
    # One A10 for 30 days at $0.000306/s plus CPU and memory.
    assert 790 < a10g["always_on_usd_per_month"] < 810
    assert a10g["idle_floor_usd_per_month"] == a10g["always_on_usd_per_month"]


def test_list_table(omc) -> None:
    r = omc("profiles", "list")
    assert r.exit_code == 0
    assert "a10g-balanced" in r.stdout and "codellama:7b" in r.stdout


def test_list_marks_invalid_project_profile(omc, profiles_dir: Path) -> None:
    (profiles_dir / "broken.toml").write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 0\n')
    rows = json.loads(omc("profiles", "list", "--json").stdout)
    broken = next(r for r in rows if r["name"] == "broken")
    assert "error" in broken and broken["source"] == "project"


def test_show_prints_standalone_toml(omc, tmp_path: Path) -> None:
    r = omc("profiles", "show", "a10g-balanced")
    assert r.exit_code == 0
    assert "scaledown_window = 300" in r.stdout.splitlines()
    data = tomllib.loads(r.stdout)
    assert "extends" not in data and data["gpu"]["type"] == "A10"
    (tmp_path / "copy.toml").write_text(r.stdout)
    again = omc("profiles", "show", str(tmp_path / "copy.toml"))
    assert tomllib.loads(again.stdout) | {"name": "a10g-balanced"} == data


def test_show_origin(omc, monkeypatch) -> None:
    monkeypatch.setenv("OMC_MIN_CONTAINERS", "2")
    r = omc("profiles", "show", "a10g-balanced", "--origin", "--gpu", "h100")
    lines = r.stdout.splitlines()
    assert any(line.startswith('gpu.type = "H100"') and line.endswith("# flag --gpu") for line in lines)
    assert any(line.startswith("warm.min_containers = 2") and line.endswith("# env OMC_MIN_CONTAINERS") for line in lines)
    assert any(line.startswith("warm.scaledown_window = 300") and line.endswith("# built-in parts/warm-balanced.toml") for line in lines)
    assert any(line.startswith("server.snapshot = false") and line.endswith("# default") for line in lines)


def test_show_json_origin(omc) -> None:
    data = json.loads(omc("profiles", "show", "t4-economy", "--json", "--origin").stdout)
    assert data["profile"]["warm"]["scaledown_window"] == 10
    assert data["origins"]["warm.scaledown_window"].startswith("file:")


def test_validate_all_builtins(omc) -> None:
    r = omc("profiles", "validate")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("ok ") == 12


def test_validate_reports_all_and_exits_2(omc, profiles_dir: Path) -> None:
    (profiles_dir / "bad.toml").write_text('extends = "a10g-balanced"\n[warm]\nkeep_warm = 1\n[gpu]\ntype = "b9000"\n')
    r = omc("profiles", "validate", "bad", "a10g-balanced")
    assert r.exit_code == 2
    assert "keep_warm" in r.stderr and "b9000" in r.stderr and "ok       a10g-balanced" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_validate_json(omc, profiles_dir: Path) -> None:
    (profiles_dir / "bad.toml").write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 7200\n')
    r = omc("profiles", "validate", "bad", "--json")
    assert r.exit_code == 2
    (result,) = json.loads(r.stdout)
    assert result["valid"] is False and "2..3600" in result["problems"][0]


def test_new_writes_a_valid_extending_profile(omc, profiles_dir: Path) -> None:
    r = omc("profiles", "new", "fast", "--from", "a10g-balanced", "--gpu", "h100", "--scaledown-window", "60")
    assert r.exit_code == 0, r.stderr
    data = tomllib.loads((profiles_dir / "fast.toml").read_text())
    assert data["extends"] == "a10g-balanced" and data["warm"]["scaledown_window"] == 60 and data["gpu"]["type"] == "h100"
    shown = tomllib.loads(omc("profiles", "show", "fast").stdout)
    assert shown["gpu"]["type"] == "H100" and shown["model"]["name"] == "codellama:7b"
    assert omc("profiles", "new", "fast", "--from", "a10g-balanced").exit_code == 2  # exists


def test_new_refuses_invalid_without_writing(omc, profiles_dir: Path) -> None:
    r = omc("profiles", "new", "huge", "--from", "t4-balanced", "--model", "codellama:70b")
    assert r.exit_code == 2
    assert "T4 has 16 GB" in r.stderr
    assert not (profiles_dir / "huge.toml").exists()


def test_init_copies_builtins(omc, tmp_path: Path) -> None:
    r = omc("profiles", "init")
    assert r.exit_code == 0
    assert (tmp_path / "profiles" / "a10g-balanced.toml").is_file()
    assert (tmp_path / "profiles" / "parts" / "warm-economy.toml").is_file()
    rows = json.loads(omc("profiles", "list", "--json").stdout)
    assert all(r["source"] == "project" for r in rows)


def test_missing_profile_is_exit_2_with_hint(omc) -> None:
    r = omc("profiles", "show", "a10g-balancd")
    assert r.exit_code == 2
    assert "no profile named 'a10g-balancd'" in r.stderr and "a10g-balanced" in r.stderr


def test_cli_import_does_not_load_modal_or_numpy() -> None:
    code = "import sys, ollama_modal.cli; bad = [m for m in ('modal', 'numpy', 'httpx', 'grpclib') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_profiles_list_does_not_load_modal(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom ollama_modal.cli import app\n"
        "try:\n    app(['profiles', 'list', '--json'], prog_name='omc')\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('modal', 'numpy') if m in sys.modules], file=sys.stderr)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr


def test_list_cache_follows_file_changes(omc, profiles_dir: Path, tmp_path: Path) -> None:
    import os

    f = profiles_dir / "mine.toml"
    f.write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 120\n')
    first = {r["name"]: r for r in json.loads(omc("profiles", "list", "--json").stdout)}
    assert first["mine"]["scaledown_window"] == 120
    assert (tmp_path / ".omc-cache" / "profiles-list.json").is_file()
    f.write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 900\n')
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    second = {r["name"]: r for r in json.loads(omc("profiles", "list", "--json").stdout)}
    assert second["mine"]["scaledown_window"] == 900
    f.write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 0\n')
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 2 * 10**9))
    third = {r["name"]: r for r in json.loads(omc("profiles", "list", "--json").stdout)}
    assert "error" in third["mine"]


def test_list_cache_follows_env(omc, monkeypatch) -> None:
    omc("profiles", "list", "--json")
    monkeypatch.setenv("OMC_SCALEDOWN_WINDOW", "42")
    rows = json.loads(omc("profiles", "list", "--json").stdout)
    assert {r["scaledown_window"] for r in rows} == {42}


def test_schema_describes_every_key(omc) -> None:
    schema = json.loads(omc("profiles", "schema").stdout)
    assert {"warm", "gpu", "model", "ollama", "server", "app", "extends"} <= set(schema["properties"])
    warm = schema["$defs"]["WarmPolicy"]["properties"]["scaledown_window"]
    assert warm["minimum"] == 2 and warm["maximum"] == 3600 and warm["description"]

"""The built-in matrix, composition, overrides and round-tripping."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ollama_modal.config import list_profiles, resolve
from ollama_modal.config.loader import Origin
from ollama_modal.config.serialize import to_toml

GPUS = {"t4": "T4", "a10g": "A10", "a100": "A100-80GB", "h100": "H100"}
POLICIES = {"economy": (10, 0), "balanced": (300, 0), "always-on": (300, 1)}


def test_matrix_is_complete() -> None:
    names = {e.name for e in list_profiles()}
    assert names >= {f"{g}-{p}" for g in GPUS for p in POLICIES}
    assert all(e.source == "builtin" for e in list_profiles())


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("policy", POLICIES)
def test_matrix_profile_resolves(gpu: str, policy: str) -> None:
    r = resolve(f"{gpu}-{policy}")
    p = r.profile
    assert p.name == f"{gpu}-{policy}"
    assert p.gpu.type == GPUS[gpu]
    assert (p.warm.scaledown_window, p.warm.min_containers) == POLICIES[policy]
    assert p.warm.policy == policy
    assert p.model.name == "codellama:7b"
    assert p.app.name == "omc-ollama"  # every built-in deploys to the same app
    assert r.warnings == []


def test_gpu_aliases_and_case() -> None:
    for spelled, canonical in [("a10g", "A10"), ("A10", "A10"), ("a100", "A100-80GB"), ("a100-40gb", "A100-40GB"), ("a100-80gb", "A100-80GB"), ("h100", "H100")]:
        p = resolve("a10g-balanced", {("gpu", "type"): (spelled, Origin("flag", "--gpu"))}).profile
        assert p.gpu.type == canonical


def test_a_gpu_word_means_what_the_profiles_of_that_name_run() -> None:
    """`a100` in switch-gpu, --gpu or a profile file is the GPU the a100-* profiles use (one meaning)."""
    from ollama_modal.catalog import lookup_gpu
    from ollama_modal.config.discovery import list_profiles

    names = [row.name for row in list_profiles()]
    checked = 0
    for name in names:
        word, _, _policy = name.partition("-")
        if name.count("-") and lookup_gpu(word) is not None:
            assert resolve(name).profile.gpu.type == lookup_gpu(word).name, name
            checked += 1
    assert checked >= 12


def test_gpu_count_shorthand_and_fallback() -> None:
    p = resolve(
        "h100-balanced",
        {("gpu", "type"): ("h100:2", Origin("flag")), ("gpu", "fallback"): (["a100-80gb"], Origin("flag"))},
    ).profile
    assert p.gpu.count == 2
    assert p.gpu.modal_spec == ["H100:2", "A100-80GB:2"]


def test_precedence_flag_over_env_over_file(profiles_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (profiles_dir / "mine.toml").write_text('extends = "a10g-balanced"\n[warm]\nscaledown_window = 120\n')
    r = resolve("mine")
    assert r.profile.warm.scaledown_window == 120
    origin = r.origin(("warm", "scaledown_window"))
    assert origin.kind == "file" and Path(origin.source).resolve() == (profiles_dir / "mine.toml").resolve()
    monkeypatch.setenv("OMC_SCALEDOWN_WINDOW", "60")
    r = resolve("mine")
    assert r.profile.warm.scaledown_window == 60
    assert r.origin(("warm", "scaledown_window")) == Origin("env", "OMC_SCALEDOWN_WINDOW")
    r = resolve("mine", {("warm", "scaledown_window"): (30, Origin("flag", "--scaledown-window"))})
    assert r.profile.warm.scaledown_window == 30
    assert r.origin(("warm", "scaledown_window")).kind == "flag"
    assert r.origin(("server", "warmup")).kind == "default"


def test_project_profile_shadows_builtin(profiles_dir: Path) -> None:
    (profiles_dir / "a10g-balanced.toml").write_text('extends = "parts/base"\n[gpu]\ntype = "L4"\n')
    entry = next(e for e in list_profiles() if e.name == "a10g-balanced")
    assert entry.source == "project"
    assert resolve("a10g-balanced").profile.gpu.type == "L4"


def test_profiles_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "team.toml").write_text('extends = "a10g-economy"\n')
    monkeypatch.setenv("OMC_PROFILES_DIR", str(other))
    assert resolve("team").profile.warm.scaledown_window == 10


def test_path_reference(tmp_path: Path) -> None:
    f = tmp_path / "custom.toml"
    f.write_text('extends = "h100-economy"\ndescription = "mine"\n')
    p = resolve(str(f)).profile
    assert (p.name, p.gpu.type, p.description) == ("custom", "H100", "mine")


@pytest.mark.parametrize("name", ["a10g-balanced", "t4-economy", "h100-always-on"])
def test_show_round_trips(tmp_path: Path, name: str) -> None:
    original = resolve(name).profile
    text = to_toml(original)
    assert "extends" not in text
    assert "scaledown_window = " in text
    assert tomllib.loads(text)["name"] == name
    f = tmp_path / f"{name}.toml"
    f.write_text(text)
    assert resolve(str(f)).profile == original


def test_schedule_window_crossing_midnight(profiles_dir: Path) -> None:
    (profiles_dir / "night.toml").write_text(
        'extends = "a10g-economy"\n[[warm.schedule]]\ndays = "daily"\nstart = "22:00"\nend = "02:00"\ntimezone = "Europe/Berlin"\n'
    )
    w = resolve("night").profile.warm.schedule[0]
    assert w.days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] and w.min_containers == 1

"""Every validation rule names the file, the line, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_modal.config import resolve
from ollama_modal.errors import ConfigError


def write(d: Path, name: str, text: str) -> Path:
    p = d / f"{name}.toml"
    p.write_text(text)
    return p


def problems(ref: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        resolve(ref)
    return exc.value.problems or [exc.value.message]


CASES = [
    # (id, file body, expected fragments in one problem line)
    ("unknown-key", 'extends = "a10g-balanced"\n[warm]\nscaledown_windw = 30\n', ["x.toml:3", "warm.scaledown_windw", "did you mean `scaledown_window`"]),
    ("unknown-table", 'extends = "a10g-balanced"\n[wram]\nscaledown_window = 30\n', ["x.toml", "wram", "did you mean `warm`"]),
    ("wrong-type", 'extends = "a10g-balanced"\n[warm]\nmin_containers = "lots"\n', ["x.toml:3", "warm.min_containers", "integer"]),
    ("scaledown-too-big", 'extends = "a10g-balanced"\n[warm]\nscaledown_window = 5000\n', ["x.toml:3", "warm.scaledown_window", "2..3600"]),
    ("scaledown-too-small", 'extends = "a10g-balanced"\n[warm]\nscaledown_window = 1\n', ["x.toml:3", "warm.scaledown_window", "2..3600"]),
    ("negative-count", 'extends = "a10g-balanced"\n[warm]\nbuffer_containers = -1\n', ["x.toml:3", "warm.buffer_containers", "greater than or equal to 0"]),
    ("min-over-max", 'extends = "a10g-balanced"\n[warm]\nmin_containers = 3\nmax_containers = 2\n', ["x.toml", "warm", "min_containers (3) is greater than max_containers (2)"]),
    ("unknown-gpu", 'extends = "a10g-balanced"\n[gpu]\ntype = "a10x"\n', ["x.toml:3", "gpu.type", "unknown GPU 'a10x'", "Did you mean"]),
    ("bad-gpu-count", 'extends = "a10g-balanced"\n[gpu]\ntype = "h100:two"\n', ["gpu", "count after ':'"]),
    ("legacy-idle-timeout", 'extends = "a10g-balanced"\n[warm]\ncontainer_idle_timeout = 600\n', ["x.toml:3", "renamed container_idle_timeout to scaledown_window"]),
    ("legacy-keep-warm", 'extends = "a10g-balanced"\n[warm]\nkeep_warm = 1\n', ["x.toml:3", "renamed keep_warm to min_containers", "min_containers = 1"]),
    ("legacy-concurrency-limit", 'extends = "a10g-balanced"\n[warm]\nconcurrency_limit = 5\n', ["x.toml:3", "renamed concurrency_limit to max_containers"]),
    ("legacy-allow-concurrent", 'extends = "a10g-balanced"\n[server]\nallow_concurrent_inputs = 8\n', ["x.toml:3", "@modal.concurrent", "max_inputs = 8"]),
    (
        "legacy-both-names",
        'extends = "a10g-balanced"\n[warm]\ncontainer_idle_timeout = 600\nscaledown_window = 300\n',
        ["x.toml:3", "same setting", "keep `scaledown_window = 300`", "delete container_idle_timeout"],
    ),
    ("model-ref-shell", 'extends = "a10g-balanced"\n[model]\nname = "codellama:7b; rm -rf /"\n', ["x.toml:3", "model.name", "not a valid Ollama model reference"]),
    ("model-ref-space", 'extends = "a10g-balanced"\n[model]\nname = "code llama"\n', ["x.toml:3", "model.name", "no spaces"]),
    ("model-ref-dollar", 'extends = "a10g-balanced"\n[model]\nname = "$(curl evil)"\n', ["model.name", "'$'"]),
    ("model-misfit", 'extends = "t4-balanced"\n[model]\nname = "codellama:70b"\n', ["x.toml:3", "model.name", "codellama:70b needs", "T4 has 16 GB"]),
    ("kv-misfit", 'extends = "t4-balanced"\n[model]\ncontext_length = 16384\n', ["x.toml:3", "model.context_length", "lower model.context_length"]),
    ("keep-alive-short", 'extends = "a10g-balanced"\n[model]\nkeep_alive = "1m"\n', ["model", "shorter than warm.scaledown_window", "-1"]),
    ("keep-alive-garbage", 'extends = "a10g-balanced"\n[model]\nkeep_alive = "soon"\n', ["x.toml:3", "model.keep_alive", "not a duration"]),
    ("extends-missing", 'extends = "nope-profile"\n', ["x.toml:1", "extends", "no profile named 'nope-profile'"]),
    ("toml-syntax", 'extends = "a10g-balanced"\n[warm\n', ["x.toml", "TOML syntax error", "line 2"]),
    ("kv-needs-fa", 'extends = "a10g-balanced"\n[ollama]\nflash_attention = false\n', ["ollama", "needs flash_attention = true"]),
    ("bad-version", 'extends = "a10g-balanced"\n[ollama]\nversion = "latest"\n', ["x.toml:3", "ollama.version", "x.y.z"]),
    ("bad-timezone", 'extends = "a10g-balanced"\n[[warm.schedule]]\nstart = "08:00"\nend = "19:00"\ntimezone = "Mars/Olympus"\n', ["warm.schedule.0.timezone", "unknown time zone"]),
    ("bad-time", 'extends = "a10g-balanced"\n[[warm.schedule]]\nstart = "8am"\nend = "19:00"\n', ["warm.schedule.0.start", "HH:MM"]),
    ("target-over-max", 'extends = "a10g-balanced"\n[server]\nmax_inputs = 2\ntarget_inputs = 4\n', ["server", "target_inputs (4) is greater than max_inputs (2)"]),
    ("bad-auth", 'extends = "a10g-balanced"\n[server]\nauth = "basic"\n', ["x.toml:3", "server.auth", "'bearer', 'proxy' or 'none'"]),
]


@pytest.mark.parametrize("body,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_names_the_culprit(profiles_dir: Path, body: str, expected: list[str]) -> None:
    write(profiles_dir, "x", body)
    lines = problems("x")
    assert any(all(frag in line for frag in expected) for line in lines), lines


def test_all_problems_reported_at_once(profiles_dir: Path) -> None:
    write(
        profiles_dir,
        "x",
        'extends = "a10g-balanced"\n[warm]\nkeep_warm = 1\nscaledown_windw = 3\n[gpu]\ntype = "a10x"\n[model]\nname = "a b"\n',
    )
    lines = problems("x")
    assert len(lines) == 4, lines


def test_extends_cycle(profiles_dir: Path) -> None:
    write(profiles_dir, "a", 'extends = "b"\n')
    write(profiles_dir, "b", 'extends = "a"\n')
    lines = problems("a")
    assert any("cycle" in line and "a.toml" in line and "b.toml" in line for line in lines), lines


def test_tight_fit_warns_but_loads(profiles_dir: Path) -> None:
    write(profiles_dir, "x", 'extends = "t4-balanced"\n[model]\ncontext_length = 10240\n')
    r = resolve("x")
    assert any("tight" in w and "T4" in w for w in r.warnings), r.warnings


def test_unknown_model_size_warns(profiles_dir: Path) -> None:
    write(profiles_dir, "x", 'extends = "a10g-balanced"\n[model]\nname = "mystery:custom"\n')
    r = resolve("x")
    assert any("model.size_gb" in w for w in r.warnings)
    write(profiles_dir, "y", 'extends = "a10g-balanced"\n[model]\nname = "mystery:custom"\nsize_gb = 30\n')
    assert problems("y")  # 30 GB of weights cannot fit a 24 GB A10


def test_missing_profile_suggests(profiles_dir: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        resolve("a10g-balancd")
    assert "a10g-balanced" in (exc.value.hint or "")


def test_env_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMC_SCALEDOWN_WINDOW", "9999")
    lines = problems("a10g-balanced")
    assert any("env:OMC_SCALEDOWN_WINDOW" in line and "2..3600" in line for line in lines), lines

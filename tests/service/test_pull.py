"""Filling the model store through the real pull code and the fake `ollama serve`."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ollama_modal.service.errors import PullError
from ollama_modal.service.names import manifest_path
from ollama_modal.service.pull import main, pull_into_store, pull_into_store_from_env
from ollama_modal.service.settings import ServiceSettings

from .conftest import MODEL, place_model


def test_pull_writes_the_manifest_and_reports_progress(service_env, store):
    lines: list[str] = []
    result = pull_into_store(ServiceSettings.from_env(), progress=lines.append)
    assert not result.skipped
    assert result.manifest == str(manifest_path(store, MODEL))
    assert manifest_path(store, MODEL).is_file()
    assert result.ollama_version == "0.12.6"
    assert "pulling manifest" in lines
    assert any(line.startswith("pulling ") and "100%" in line for line in lines)
    assert lines[-1].startswith(f"pulled {MODEL} in ")


@pytest.mark.parametrize("name, parts", [
    ("llama3", ("registry.ollama.ai", "library", "llama3", "latest")),
    ("someuser/mymodel:q4", ("registry.ollama.ai", "someuser", "mymodel", "q4")),
    ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", ("hf.co", "bartowski", "llama-3.2-1b-instruct-gguf", "Q4_K_M")),
])
def test_pull_then_skip_for_every_name_form(service_env, store, name, parts):
    settings = ServiceSettings.from_env(model=name)
    first = pull_into_store(settings)
    assert not first.skipped
    assert store.joinpath("manifests", *parts).is_file()
    again = pull_into_store(settings)
    assert again.skipped and again.manifest == first.manifest


def test_present_model_is_skipped_without_starting_ollama(service_env, store, monkeypatch, tmp_path):
    place_model(store)
    monkeypatch.setenv("OMC_OLLAMA_BIN", str(tmp_path / "not-there"))  # would fail if it were run
    lines: list[str] = []
    result = pull_into_store(ServiceSettings.from_env(), progress=lines.append)
    assert result.skipped
    assert "already in the store" in lines[0]


def test_error_line_midway_raises_and_stops_the_server(service_env, store, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_PULL_FAIL_AT", "3")
    with pytest.raises(PullError) as e:
        pull_into_store(ServiceSettings.from_env())
    assert "max retries exceeded" in e.value.message
    assert not manifest_path(store, MODEL).exists()


def test_broken_stream_raises(service_env, store, monkeypatch):
    monkeypatch.setenv("FAKE_OLLAMA_PULL_CUT_AT", "2")
    with pytest.raises(PullError) as e:
        pull_into_store(ServiceSettings.from_env())
    assert "stream" in e.value.message
    assert not manifest_path(store, MODEL).exists()


def test_server_that_does_not_start_fails_the_pull(service_env, monkeypatch):
    from ollama_modal.service.errors import StartupError

    monkeypatch.setenv("FAKE_OLLAMA_EXIT_DURING_START", "4")
    with pytest.raises(StartupError, match="exit code 4"):
        pull_into_store(ServiceSettings.from_env())


def test_from_env_returns_a_plain_dict(service_env, store):
    result = pull_into_store_from_env("tinyllama", progress=lambda _l: None)
    assert result["model"] == "tinyllama" and result["skipped"] is False
    assert json.loads(json.dumps(result)) == result


def test_main_exit_codes(service_env, store, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_OLLAMA_PULL_FAIL_AT", "2")
    assert main([MODEL]) == 1
    err = capsys.readouterr().err
    assert "error: pulling codellama:7b failed" in err and "hint:" in err
    assert main(["a", "b"]) == 2


def test_module_runs_as_a_script(service_env, store):
    proc = subprocess.run([sys.executable, "-m", "ollama_modal.service.pull", MODEL], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["skipped"] is False and manifest_path(store, MODEL).is_file()


def _run_commands(source: str) -> list[str]:
    """The shell commands of every ``.run_commands(...)`` build step of a rendered module."""
    return [
        arg.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run_commands"
        for arg in node.args
        if isinstance(arg, ast.Constant)
    ]


def test_the_rendered_image_build_step_runs_from_the_filesystem_root(service_env, store, profiles_dir, tmp_path):
    """Modal runs build steps outside the home directory, where add_local_python_source puts
    the package: the rendered step must name that directory itself."""
    import modal.mount

    from ollama_modal.config import resolve
    from ollama_modal.render import CONTAINER_HOME, render

    assert CONTAINER_HOME == modal.mount.ROOT_DIR.as_posix()  # where the SDK puts local sources
    (profiles_dir / "baked.toml").write_text('extends = "a10g-balanced"\n[model]\nstore = "image"\n')
    (step,) = [c for c in _run_commands(render(resolve("baked").profile).source) if "ollama_modal" in c]

    # The container, relocated under tmp_path: the package only in the home directory, and a
    # `python` that does not see this checkout's editable install (no site processing).
    home = tmp_path / "container-home"
    src = Path(__file__).resolve().parents[2] / "src" / "ollama_modal"
    shutil.copytree(src, home / "ollama_modal", ignore=shutil.ignore_patterns("__pycache__"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    (bin_dir / "python").chmod(0o755)
    # The installed dependencies (every site directory in use, a venv's and any it extends),
    # without this checkout's sources.
    deps = [sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("site-packages"))]
    env = {**__import__("os").environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(dict.fromkeys(deps))}
    env.pop("PYTHONHOME", None)

    proc = subprocess.run(
        ["/bin/sh", "-c", step.replace(CONTAINER_HOME, str(home))], cwd="/", env=env, capture_output=True, text=True, timeout=60
    )
    assert "No module named" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert manifest_path(store, MODEL).is_file()

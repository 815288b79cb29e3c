"""Pure pieces: settings, names, phase lines, key checks, and the import guard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ollama_modal.service.auth import KeyChecker, bearer_token
from ollama_modal.service.errors import ServiceConfigError
from ollama_modal.service.names import find_manifest, manifest_path, model_matches, parse_model_name
from ollama_modal.service.phases import format_phase_line, parse_phase_line
from ollama_modal.service.settings import ServiceSettings, parse_api_keys, upstream_base_url


# -- settings ----------------------------------------------------------------------------------
def test_defaults():
    s = ServiceSettings.from_env({"OMC_MODEL": "codellama:7b"})
    assert (s.ollama_command, s.ollama_host, s.startup_timeout, s.request_timeout) == (("ollama",), "127.0.0.1:11434", 600, 600)
    assert (s.auth, s.warmup, s.api_keys) == ("bearer", True, ())
    assert s.upstream_url == "http://127.0.0.1:11434"


def test_every_problem_is_reported_at_once():
    with pytest.raises(ServiceConfigError) as e:
        ServiceSettings.from_env({"OMC_AUTH": "basic", "OMC_STARTUP_TIMEOUT": "soon", "OMC_REQUEST_TIMEOUT": "-1", "OMC_WARMUP": "maybe"})
    text = "\n".join(e.value.problems)
    for needle in ("OMC_MODEL", "OMC_AUTH='basic'", "OMC_STARTUP_TIMEOUT='soon'", "OMC_REQUEST_TIMEOUT='-1'", "OMC_WARMUP='maybe'"):
        assert needle in text


@pytest.mark.parametrize("raw, keys", [
    (None, ()), ("", ()), ("a", ("a",)), ("a,b", ("a", "b")), ("a\nb\n", ("a", "b")), (" a , \r\n b ,,", ("a", "b")),
])
def test_parse_api_keys(raw, keys):
    assert parse_api_keys(raw) == keys


@pytest.mark.parametrize("host, url", [
    ("127.0.0.1:11434", "http://127.0.0.1:11434"), ("0.0.0.0:8000", "http://127.0.0.1:8000"),
    ("localhost", "http://localhost:11434"), ("http://127.0.0.1:9/", "http://127.0.0.1:9"),
    ("[::1]:5000", "http://[::1]:5000"), ("", "http://127.0.0.1:11434"), (":7000", "http://127.0.0.1:7000"),
])
def test_upstream_base_url(host, url):
    assert upstream_base_url(host) == url


def test_keys_stay_out_of_reprs_and_the_child_env():
    s = ServiceSettings.from_env({"OMC_MODEL": "m", "OMC_API_KEYS": "sekrit", "OLLAMA_NUM_PARALLEL": "4"})
    assert "sekrit" not in repr(s)
    env = s.child_env({"OMC_API_KEYS": "sekrit", "OLLAMA_NUM_PARALLEL": "4", "OLLAMA_KEEP_ALIVE": "-1"})
    assert "OMC_API_KEYS" not in env
    assert env["OLLAMA_NUM_PARALLEL"] == "4" and env["OLLAMA_KEEP_ALIVE"] == "-1"
    assert "sekrit" not in repr(KeyChecker(s.api_keys))


def test_bin_may_carry_arguments():
    s = ServiceSettings.from_env({"OMC_MODEL": "m", "OMC_OLLAMA_BIN": "'/opt/my ollama/bin/ollama'"})
    assert s.ollama_command == ("/opt/my ollama/bin/ollama",)


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, rel", [
    ("codellama:7b", "registry.ollama.ai/library/codellama/7b"),
    ("codellama", "registry.ollama.ai/library/codellama/latest"),
    ("user/model:tag", "registry.ollama.ai/user/model/tag"),
    ("hf.co/TheBloke/Foo-GGUF:Q4_K_M", "hf.co/thebloke/foo-gguf/Q4_K_M"),
    ("example.com:5000/ns/m:v1", "example.com:5000/ns/m/v1"),
    ("qwen2.5:0.5b@sha256:abc", "registry.ollama.ai/library/qwen2.5/0.5b"),
])
def test_manifest_path(name, rel):
    assert manifest_path("/s", name) == Path("/s/manifests", rel)


def test_find_manifest_tolerates_other_casing(tmp_path):
    old = tmp_path / "manifests/registry.ollama.ai/library/CodeLlama/7b"
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    assert find_manifest(tmp_path, "codellama:7b") == old
    assert find_manifest(tmp_path, "codellama:13b") is None
    assert find_manifest(tmp_path / "empty", "codellama:7b") is None


@pytest.mark.parametrize("a, b, same", [
    ("codellama:latest", "codellama", True), ("CodeLlama:7b", "codellama:7b", True),
    ("codellama:7b", "codellama:13b", False), ("library/llama3", "llama3:latest", True), ("x/llama3", "llama3", False),
])
def test_model_matches(a, b, same):
    assert model_matches(a, b) is same


# -- phase lines --------------------------------------------------------------------------------
def test_phase_line_round_trip():
    line = format_phase_line("server_ready", 1.23456, 2.5, "codellama:7b", start="full")
    record = parse_phase_line(line)
    assert record == {"event": "omc.phase", "phase": "server_ready", "seconds": 1.2346, "since_start": 2.5,
                      "model": "codellama:7b", "start": "full"}
    assert parse_phase_line("2026-11-28T12:00:00Z " + line) == record


@pytest.mark.parametrize("line", [
    "", "hello", '{"event": "other"}', '{"event": "omc.phase", "phase": "dreaming", "seconds": 1, "since_start": 1}',
    '{"event": "omc.phase", "phase": "server_ready", "seconds": "1", "since_start": 1}', '{"event": "omc.phase", ',
])
def test_parse_phase_line_ignores_other_lines(line):
    assert parse_phase_line(line) is None


# -- keys -----------------------------------------------------------------------------------------
def test_key_checker():
    c = KeyChecker(["k1", "k2"])
    assert c.check("Bearer k1") and c.check("bearer k2") and c.check("Bearer  k2 ")
    assert not c.check(None) and not c.check("Bearer k3") and not c.check("k1") and not c.check("Token k1")
    assert bearer_token("Bearer abc") == "abc" and bearer_token("Bearer") is None
    with pytest.raises(ValueError):
        KeyChecker([])


# -- import guard -----------------------------------------------------------------------------------
def test_service_imports_with_only_stdlib_httpx_and_starlette():
    code = """
import importlib.abc, sys
BANNED = {"pydantic", "pydantic_settings", "typer", "click", "rich", "modal", "numpy", "matplotlib", "uvicorn", "tomli_w"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BANNED:
            raise ImportError(f"banned in the container service: {name}")
sys.meta_path.insert(0, Block())
import ollama_modal.service, ollama_modal.service.runtime, ollama_modal.service.proxy, ollama_modal.service.pull
from ollama_modal.service import IMAGE_PIP_PACKAGES
print(IMAGE_PIP_PACKAGES)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_image_pins_match_the_tested_versions():
    from importlib.metadata import version

    from ollama_modal.service import IMAGE_PIP_PACKAGES

    assert IMAGE_PIP_PACKAGES == [f"httpx=={version('httpx')}", f"starlette=={version('starlette')}"]

"""The run's configuration: sweeps, URLs, validation that says what to fix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ollama_modal.bench.config import BenchConfig, chat_completions_url, parse_levels, public_url
from ollama_modal.errors import UsageError


def test_parse_levels():
    assert parse_levels("1,2, 4 ,8") == [1, 2, 4, 8]
    for bad in ("1,,2", "0", "a", "-1", "1.5"):
        with pytest.raises(UsageError, match="--sweep"):
            parse_levels(bad)


@pytest.mark.parametrize("url", [
    "https://x.modal.run", "https://x.modal.run/", "https://x.modal.run/v1", "https://x.modal.run/v1/chat/completions",
])
def test_endpoint_forms(url):
    assert chat_completions_url(url) == "https://x.modal.run/v1/chat/completions"


def test_public_url_drops_credentials_and_query():
    assert public_url("https://user:pw@x.modal.run:8443/v1/?key=abc") == "https://x.modal.run:8443/v1"


@pytest.mark.parametrize("kw,match", [
    ({"url": "x.modal.run"}, "not an http"),
    ({"requests": 0}, "--requests"),
    ({"concurrency": [1, 0]}, "--concurrency"),
    ({"concurrency": []}, "--concurrency"),
    ({"max_tokens": 0}, "--max-tokens"),
    ({"prompts": []}, "no prompts"),
    ({"read_timeout_s": 0}, "timeouts"),
    ({"gpu_count": 0}, "gpu count"),
])
def test_validation(kw, match):
    kw.setdefault("url", "http://127.0.0.1:1")
    with pytest.raises(UsageError, match=match):
        BenchConfig(**kw)


def test_single_concurrency_int_and_headers():
    c = BenchConfig(url="http://h", concurrency=8, api_key="k")  # type: ignore[arg-type]
    assert c.concurrency == [8]
    assert c.headers["authorization"] == "Bearer k"
    assert "authorization" not in BenchConfig(url="http://h").headers


def test_importing_bench_is_light():
    # The package and its config load nothing heavy, so the CLI can import them at top level.
    code = ("import sys; from ollama_modal.bench import BenchConfig, parse_levels, load_prompts; "
            "print(sorted(m for m in ('httpx', 'numpy', 'modal', 'httpcore', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # The result models need pydantic, still not httpx or numpy.
    code = ("import sys, ollama_modal.bench as b; b.BenchResult; b.compare; b.measure_cold_start; b.summary_rows; "
            "print(sorted(m for m in ('httpx', 'numpy', 'modal', 'httpcore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve():
    import ollama_modal.bench as b

    for name in b.__all__:
        assert getattr(b, name) is not None
    with pytest.raises(AttributeError):
        b.no_such_name  # noqa: B018

from __future__ import annotations

import math

import pytest

from ollama_modal.config.durations import parse_duration
from ollama_modal.config.modelsize import GB, estimate_memory, estimate_model, parse_params, parse_quant


@pytest.mark.parametrize(
    "ref,params",
    [
        ("codellama:7b", 6.74e9),
        ("codellama:13b-instruct", 13e9),
        ("codellama:70b", 69e9),
        ("qwen2.5-coder:1.5b", 1.5e9),
        ("mixtral:8x7b", 46.7e9),
        ("codellama", 6.74e9),
        ("codellama:latest", 6.74e9),
        ("hf.co/bartowski/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M", 6.74e9),
        ("all-minilm:33m", 33e6),
        ("mystery:custom", None),
    ],
)
def test_params(ref: str, params: float | None) -> None:
    assert parse_params(ref) == params


@pytest.mark.parametrize(
    "ref,quant", [("codellama:7b", "q4_0"), ("llama3.1:70b-instruct-q8_0", "q8_0"), ("x:7b-q4_K_M", "q4_k_m"), ("x:7b-fp16", "fp16")]
)
def test_quant(ref: str, quant: str) -> None:
    assert parse_quant(ref) == quant


def test_codellama_7b_weights_match_the_published_size() -> None:
    # Ollama lists codellama:7b at 3.8 GB.
    size = estimate_model("codellama:7b")
    assert size.weights_gb == pytest.approx(3.8, abs=0.1)


def test_kv_cache_scales_with_context_and_parallel() -> None:
    s = estimate_model("codellama:7b")
    a = estimate_memory(s, 4096, 1, "f16")
    b = estimate_memory(s, 8192, 2, "f16")
    c = estimate_memory(s, 4096, 1, "q8_0")
    assert b.kv_bytes == pytest.approx(4 * a.kv_bytes)
    assert c.kv_bytes < a.kv_bytes
    assert a.total_bytes == a.weights_bytes + a.kv_bytes + a.overhead_bytes
    assert estimate_model("codellama:7b", size_gb=5).weights_bytes == 5 * GB


@pytest.mark.parametrize("value,seconds", [("-1", math.inf), (-1, math.inf), ("300", 300), (300, 300), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25)])
def test_durations(value, seconds) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "5x", "", True])
def test_bad_durations(value) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)

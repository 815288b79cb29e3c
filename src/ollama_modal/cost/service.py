"""How long one request keeps a container slot busy.

Either a constant, or decode time from output tokens at a realistic share of the GPU's
memory-bandwidth roofline, plus a fixed prompt (prefill) time. Decode of a quantised model
is bandwidth-bound, so the roofline is the right first-order model; see catalog.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import catalog

DEFAULT_OUTPUT_TOKENS = 256
DEFAULT_PROMPT_SECONDS = 0.3


@dataclass(frozen=True)
class ServiceModel:
    """``service_seconds`` wins when set; otherwise tokens / decode speed + prompt time."""

    service_seconds: float | None = None
    output_tokens: float = DEFAULT_OUTPUT_TOKENS  # used when the traffic has no per-request tokens
    prompt_seconds: float = DEFAULT_PROMPT_SECONDS

    def __post_init__(self) -> None:
        if self.service_seconds is not None and self.service_seconds <= 0:
            raise ValueError("service_seconds must be positive")
        if self.output_tokens < 0 or self.prompt_seconds < 0:
            raise ValueError("output_tokens and prompt_seconds must be zero or more")


def decode_tokens_per_s(gpu: catalog.GpuModel, model_bytes: float, gpu_count: int = 1) -> float:
    return catalog.roofline_tokens_per_s(gpu, model_bytes, gpu_count) * catalog.decode_efficiency(gpu)


def service_times(
    model: ServiceModel,
    n: int,
    gpu: catalog.GpuModel | None = None,
    model_bytes: float | None = None,
    *,
    gpu_count: int = 1,
    output_tokens: np.ndarray | None = None,
) -> np.ndarray:
    """Per-request service seconds (length ``n``)."""
    if model.service_seconds is not None:
        return np.full(n, float(model.service_seconds))
    if gpu is None or model_bytes is None:
        raise ValueError("a token-based service time needs the GPU and the model size")
    rate = decode_tokens_per_s(gpu, model_bytes, gpu_count)
    # A request with no output still pays the prompt; keep every service time positive.
    if output_tokens is None:  # the same for every request: one array written once
        return np.full(n, max(float(model.output_tokens) / rate + model.prompt_seconds, 1e-3))
    out = np.asarray(output_tokens, dtype=float) / rate
    out += model.prompt_seconds
    return np.maximum(out, 1e-3, out=out)

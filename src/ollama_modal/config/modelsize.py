"""Estimate how much GPU memory an Ollama model needs, from its reference alone.

Ollama tags carry the parameter count (``codellama:7b``) and often the quantisation
(``llama3.1:70b-instruct-q8_0``). That is enough to refuse clear misfits before anything is
built; ``model.size_gb`` overrides the weight estimate for tags we cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GB = 1e9

#: Bits per weight including the quantisation's scales (llama.cpp figures).
QUANT_BITS: dict[str, float] = {
    "q2_k": 3.35,
    "q3_k_s": 3.5,
    "q3_k_m": 3.9,
    "q3_k_l": 4.3,
    "q4_0": 4.5,
    "q4_1": 5.0,
    "q4_k_s": 4.6,
    "q4_k_m": 4.85,
    "q5_0": 5.5,
    "q5_1": 6.0,
    "q5_k_s": 5.5,
    "q5_k_m": 5.7,
    "q6_k": 6.56,
    "q8_0": 8.5,
    "fp16": 16.0,
    "f16": 16.0,
    "bf16": 16.0,
    "fp32": 32.0,
}
#: Ollama's library publishes its default tags at 4-bit.
DEFAULT_QUANT = "q4_0"

#: Parameter counts behind size tags that round (7b is 6.74 B for the Llama-2 family).
_EXACT_PARAMS = {"7b": 6.74e9, "13b": 13.0e9, "34b": 33.7e9, "70b": 69.0e9, "8x7b": 46.7e9, "8x22b": 141e9}

#: Default size of well-known families when the tag is ``latest`` or absent.
_FAMILY_DEFAULT_PARAMS = {
    "codellama": 6.74e9,
    "llama2": 6.74e9,
    "llama3": 8.0e9,
    "llama3.1": 8.0e9,
    "llama3.2": 3.2e9,
    "mistral": 7.2e9,
    "qwen2.5-coder": 7.6e9,
    "deepseek-coder": 1.3e9,
    "starcoder2": 3.0e9,
    "phi3": 3.8e9,
    "gemma2": 9.2e9,
    "nomic-embed-text": 0.14e9,
}

_SIZE_RE = re.compile(r"(?:^|[-_:])(?P<experts>\d+x)?(?P<num>\d+(?:\.\d+)?)(?P<unit>[bm])(?=$|[-_])", re.I)
_QUANT_RE = re.compile(r"(?:^|[-_])(?P<q>q\d(?:_k)?(?:_[01sml])?|fp16|f16|bf16|fp32)(?=$|[-_])", re.I)

#: Runtime overhead besides weights and KV cache: CUDA context and llama.cpp compute graph.
RUNTIME_OVERHEAD_BYTES = 1.0 * GB

#: KV cache factor relative to f16.
_KV_FACTOR = {"f16": 1.0, "q8_0": 0.53, "q4_0": 0.28}


@dataclass(frozen=True)
class ModelSize:
    params: float | None  # parameter count, None when the tag does not say
    quant: str
    weights_bytes: float | None
    source: str  # how the figure was found, for messages

    @property
    def weights_gb(self) -> float | None:
        return None if self.weights_bytes is None else self.weights_bytes / GB


def parse_params(reference: str) -> float | None:
    """Parameter count from an Ollama reference such as ``codellama:7b-instruct``."""
    name, _, tag = reference.rpartition("/")[2].partition(":")
    for text in (tag, name):
        m = _SIZE_RE.search(text)
        if m:
            key = (m["experts"] or "").lower() + m["num"] + m["unit"].lower()
            if key in _EXACT_PARAMS:
                return _EXACT_PARAMS[key]
            value = float(m["num"]) * (1e9 if m["unit"].lower() == "b" else 1e6)
            if m["experts"]:
                # Mixture of experts shares attention weights: ~0.83 of experts x size.
                value *= int(m["experts"][:-1]) * 0.83
            return value
    if tag in ("", "latest"):
        return _FAMILY_DEFAULT_PARAMS.get(name.lower())
    return None


def parse_quant(reference: str) -> str:
    tag = reference.rpartition("/")[2].partition(":")[2]
    m = _QUANT_RE.search(tag)
    return m["q"].lower() if m else DEFAULT_QUANT


def estimate_model(reference: str, size_gb: float | None = None) -> ModelSize:
    quant = parse_quant(reference)
    if size_gb is not None:
        return ModelSize(None, quant, size_gb * GB, "model.size_gb")
    params = parse_params(reference)
    if params is None:
        return ModelSize(None, quant, None, "unknown")
    return ModelSize(params, quant, params * QUANT_BITS[quant] / 8, f"{params / 1e9:g}B parameters at {quant}")


def kv_bytes_per_token(params: float | None, kv_cache_type: str) -> float:
    """KV cache bytes per token of context, by model size class.

    Llama-2-era models up to 13B use full multi-head attention (0.5 MB/token at 7B in f16);
    larger ones use grouped-query attention, which shrinks the cache several times over.
    """
    p = params or 7e9
    if p <= 3.5e9:
        mb = 0.2
    elif p <= 9e9:
        mb = 0.5
    elif p <= 15e9:
        mb = 0.8
    elif p <= 40e9:
        mb = 0.19
    else:
        mb = 0.33
    return mb * 1e6 * _KV_FACTOR[kv_cache_type]


@dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: float
    kv_bytes: float
    overhead_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_bytes + self.overhead_bytes

    @property
    def total_gb(self) -> float:
        return self.total_bytes / GB


def estimate_memory(
    size: ModelSize, context_length: int, num_parallel: int, kv_cache_type: str
) -> MemoryEstimate | None:
    """Memory needed on the GPU(s); None when the weights are unknown.

    Ollama allocates ``context_length x num_parallel`` tokens of KV cache up front.
    """
    if size.weights_bytes is None:
        return None
    kv = kv_bytes_per_token(size.params, kv_cache_type) * context_length * num_parallel
    return MemoryEstimate(size.weights_bytes, kv, RUNTIME_OVERHEAD_BYTES)

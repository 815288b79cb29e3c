"""Cold start estimate: how long a new container takes before it can serve a request.

Four terms, each a stated assumption that a caller (or a measured `omc bench` run) can
override: the container start (scheduling, image mount, CUDA init), the Ollama server start,
loading the model weights (bytes / read speed of where the weights live), and the warm-up
generation. See docs/cost.md for where the figures come from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import catalog

#: Seconds from "a container is needed" to our code running, per GPU. Larger HBM machines
#: take a little longer to be scheduled and initialise CUDA; rough, order-of-magnitude.
CONTAINER_START_S: dict[str, float] = {
    "T4": 8.0,
    "L4": 8.0,
    "A10": 8.0,
    "L40S": 9.0,
    "A100-40GB": 10.0,
    "A100-80GB": 10.0,
    "H100": 10.0,
    "H200": 10.0,
    "B200": 12.0,
}
DEFAULT_CONTAINER_START_S = 10.0
#: `ollama serve` answering GET / after exec.
SERVER_START_S = 1.5
#: First-read throughput of the weights, GB/s: a Modal Volume, or layers of the image itself
#: (lazily fetched on first read). Weights are read once per container.
READ_GBS = {"volume": 1.5, "image": 0.8}
#: Warm-up: one short generation (graph set-up plus a few tokens).
WARMUP_FIXED_S = 0.5
WARMUP_TOKENS = 8


@dataclass(frozen=True)
class ColdStart:
    """Breakdown of one cold start, in seconds."""

    container_start_s: float
    server_start_s: float
    model_load_s: float
    warmup_s: float
    read_gbs: float
    store: str

    @property
    def total_s(self) -> float:
        return self.container_start_s + self.server_start_s + self.model_load_s + self.warmup_s

    def as_dict(self) -> dict[str, float | str]:
        return {**asdict(self), "total_s": self.total_s}


def estimate_cold_start(
    gpu: catalog.GpuModel,
    model_bytes: float,
    *,
    store: str = "volume",
    gpu_count: int = 1,
    warmup: bool = True,
    container_start_s: float | None = None,
    server_start_s: float | None = None,
    model_load_s: float | None = None,
    warmup_s: float | None = None,
    read_gbs: float | None = None,
) -> ColdStart:
    """Estimate a cold start on ``gpu`` for a model of ``model_bytes``; any term can be given."""
    if store not in READ_GBS and read_gbs is None:
        raise ValueError(f"unknown model store {store!r}; use one of {', '.join(READ_GBS)}")
    speed = read_gbs if read_gbs is not None else READ_GBS[store]
    if model_load_s is None:
        model_load_s = model_bytes / (speed * 1e9)
    if warmup_s is None:
        tok_s = catalog.roofline_tokens_per_s(gpu, model_bytes, gpu_count) * catalog.decode_efficiency(gpu)
        warmup_s = WARMUP_FIXED_S + WARMUP_TOKENS / tok_s if warmup else 0.0
    return ColdStart(
        container_start_s=CONTAINER_START_S.get(gpu.name, DEFAULT_CONTAINER_START_S) if container_start_s is None else container_start_s,
        server_start_s=SERVER_START_S if server_start_s is None else server_start_s,
        model_load_s=model_load_s,
        warmup_s=warmup_s,
        read_gbs=speed,
        store=store,
    )

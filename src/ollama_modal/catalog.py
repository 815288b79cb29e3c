"""GPU catalog and list prices: the one place that knows GPU names, memory and bandwidth.

Prices are Modal's published per-second list prices. They change; the date says when
they were read, profiles can override them, and ``--live-prices`` reads the workspace's
current rates.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_DATE = "2026-11"

CPU_CORE_PER_SECOND = 0.0000131
MEMORY_GIB_PER_SECOND = 0.00000222

#: What a container of ours reserves besides the GPU (Modal's defaults for a GPU class).
DEFAULT_CPU_CORES = 0.125
DEFAULT_MEMORY_GIB = 0.125

SECONDS_PER_MONTH = 30 * 24 * 3600

#: Modal's region-selection guide: a Function pinned to a region pays a multiplier on every
#: rate (GPU, CPU, memory): 1.5x for a broad region (e.g. ``us``), 1.75x for a narrow one
#: (e.g. ``us-west``). Read on this date; a profile can override it (prices.region_multiplier).
REGION_PRICES_DATE = "2026-12"
REGION_MULTIPLIER_BROAD = 1.5
REGION_MULTIPLIER_NARROW = 1.75


@dataclass(frozen=True)
class GpuModel:
    name: str  # what Modal accepts in ``gpu=`` today
    vram_gb: float
    bandwidth_gbs: float  # memory bandwidth, GB/s: the decode roofline
    price_per_second: float  # USD per GPU-second, list price
    aliases: tuple[str, ...] = ()
    memory: str = "GDDR"  # GDDR or HBM: decides the realistic fraction of the roofline

    @property
    def price_per_hour(self) -> float:
        return self.price_per_second * 3600


GPUS: dict[str, GpuModel] = {
    g.name: g
    for g in (
        GpuModel("T4", 16, 320, 0.000164),
        GpuModel("L4", 24, 300, 0.000222),
        # The 24 GB tier: Modal's docs call it A10; users and older guides say A10G.
        GpuModel("A10", 24, 600, 0.000306, aliases=("A10G",)),
        GpuModel("L40S", 48, 864, 0.000542),
        # "A100" means the 80 GB card everywhere in omc (the a100-* profiles run it); Modal's own
        # bare "A100" is the 40 GB one, so omc always sends the full name.
        GpuModel("A100-40GB", 40, 1555, 0.000583, memory="HBM"),
        GpuModel("A100-80GB", 80, 2039, 0.000694, aliases=("A100",), memory="HBM"),
        GpuModel("H100", 80, 3350, 0.001097, aliases=("H100!",), memory="HBM"),
        GpuModel("H200", 141, 4800, 0.001261, memory="HBM"),
        GpuModel("B200", 180, 8000, 0.001736, memory="HBM"),
    )
}

_ALIASES: dict[str, str] = {}
for _g in GPUS.values():
    _ALIASES[_g.name.upper()] = _g.name
    for _a in _g.aliases:
        _ALIASES[_a.upper()] = _g.name


def gpu_names() -> list[str]:
    """Every accepted spelling (canonical names first), for messages and completion."""
    return list(GPUS) + [a for g in GPUS.values() for a in g.aliases]


def lookup_gpu(name: str) -> GpuModel | None:
    """Case-insensitive lookup by name or alias (``a10g`` -> A10)."""
    return GPUS.get(_ALIASES.get(name.strip().upper(), ""))


def decode_efficiency(gpu: GpuModel) -> float:
    """Typical single-stream llama.cpp decode as a fraction of the bandwidth bound.

    Measured figures reach ~50-78% on GDDR cards and ~25-40% on HBM cards, where a
    fixed per-token overhead dominates; we take the middle of each range.
    """
    return 0.6 if gpu.memory == "GDDR" else 0.33


def roofline_tokens_per_s(gpu: GpuModel, model_bytes: float, count: int = 1) -> float:
    """Memory-bandwidth bound on decode tokens/s for one stream: every token reads all weights."""
    if model_bytes <= 0:
        raise ValueError("model_bytes must be positive")
    # Tensor-split across several GPUs reads the shards in parallel.
    return gpu.bandwidth_gbs * 1e9 * count / model_bytes

"""Does the model fit the GPU? Refuse clear misfits, warn when tight."""

from __future__ import annotations

from .modelsize import GB, estimate_memory, estimate_model
from .models import Profile

#: Above this share of VRAM we warn: fragmentation and runtime buffers vary by release.
TIGHT_FRACTION = 0.9


def check_fit(profile: Profile) -> tuple[list[tuple[tuple[str, ...], str]], list[str]]:
    """Returns (errors as (culprit key, message), warnings)."""
    size = estimate_model(profile.model.name, profile.model.size_gb)
    mem = estimate_memory(size, profile.model.context_length, profile.num_parallel, profile.ollama.kv_cache_type)
    if mem is None:
        return [], [
            f"cannot estimate the size of {profile.model.name!r} from its name; set model.size_gb so omc can "
            "check it fits the GPU"
        ]
    vram = profile.gpu.min_vram_gb * GB
    gpu = " / ".join(profile.gpu.types) + (f" x{profile.gpu.count}" if profile.gpu.count > 1 else "")
    detail = (
        f"~{mem.total_gb:.1f} GB ({mem.weights_bytes / GB:.1f} GB weights [{size.source}] + "
        f"{mem.kv_bytes / GB:.1f} GB KV cache for {profile.model.context_length} tokens x {profile.num_parallel} "
        f"parallel + {mem.overhead_bytes / GB:.1f} GB runtime)"
    )
    if mem.weights_bytes + mem.overhead_bytes > vram:
        return [(("model", "name"),
            f"{profile.model.name} needs {detail} but {gpu} has {vram / GB:.0f} GB; "
            "pick a larger GPU (gpu.type), more GPUs (gpu.count) or a smaller/quantised model")
        ], []
    if mem.total_bytes > vram:
        return [(("model", "context_length"),
            f"{profile.model.name} needs {detail} but {gpu} has {vram / GB:.0f} GB; lower model.context_length, "
            "ollama.num_parallel or server.max_inputs, use kv_cache_type = 'q4_0', or pick a larger GPU")
        ], []
    if mem.total_bytes > TIGHT_FRACTION * vram:
        return [], [f"{profile.model.name} is tight on {gpu}: needs {detail} of {vram / GB:.0f} GB"]
    return [], []

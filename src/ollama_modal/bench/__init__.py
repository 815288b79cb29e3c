"""``omc bench``: load an OpenAI-compatible endpoint and read the figures against the GPU's limit.

Importing this package costs nothing: names load from their modules on first use, and
httpx and numpy only when a run starts. So a CLI module may import it at top level.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "BenchConfig": "config", "parse_levels": "config",
    "ColdStartResult": "cold", "measure_cold_start": "cold",
    "CompareRow": "history", "compare": "history", "load_saved": "history", "read_saved": "history",
    "save_result": "history",
    "BenchResult": "models", "FirstRequest": "models", "LevelReport": "models", "Roofline": "models",
    "Prompt": "prompts", "builtin_prompts": "prompts", "load_prompts": "prompts",
    "run_bench": "runner", "run_bench_sync": "runner", "send_one": "runner", "send_one_sync": "runner",
    "compare_display": "summary", "level_rows": "summary", "summary_rows": "summary", "error_lines": "summary", "all_failed": "summary",
    "rejected_total": "summary",
    "COMPARE_COLUMNS": "summary", "LEVEL_COLUMNS": "summary",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)

"""``omc bench``: load an OpenAI-compatible endpoint and read the figures against the GPU's limit.

Importing this package is cheap: httpx and numpy load only when a run starts.
"""

from __future__ import annotations

from .cold import ColdStartResult, measure_cold_start
from .config import BenchConfig, parse_levels
from .history import CompareRow, compare, read_saved, load_saved, save_result
from .models import BenchResult, FirstRequest, LevelReport, Roofline
from .prompts import Prompt, builtin_prompts, load_prompts
from .runner import run_bench, run_bench_sync, send_one, send_one_sync
from .summary import compare_display, level_rows, summary_rows

__all__ = [
    "BenchConfig", "BenchResult", "ColdStartResult", "CompareRow", "FirstRequest", "LevelReport", "Prompt", "Roofline",
    "builtin_prompts", "compare", "load_prompts", "load_saved", "measure_cold_start", "parse_levels", "read_saved",
    "run_bench", "run_bench_sync", "save_result", "send_one", "send_one_sync",
    "compare_display", "level_rows", "summary_rows",
]

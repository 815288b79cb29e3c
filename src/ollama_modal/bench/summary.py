"""Human-readable rows for a result (the CLI renders them as tables; nothing is printed here)."""

from __future__ import annotations

from collections.abc import Sequence

from .history import CompareRow
from .models import BenchResult


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v / 1000:.2f} s" if v >= 10_000 else f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms"


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} tokens/s"


def _errors(kinds: dict[str, int]) -> str:
    return ", ".join(f"{k} x{n}" for k, n in kinds.items())


def error_lines(r: BenchResult) -> list[str]:
    """One line per error kind over the whole run: how often, and the first message seen
    (the server's own words: "HTTP 401: Invalid API key", not just a kind)."""
    counts: dict[str, int] = {}
    examples: dict[str, str] = {}
    fr = r.first_request
    if not fr.ok and fr.error:
        counts[fr.error] = 1
        examples[fr.error] = fr.detail or ""
    for lv in r.levels:
        for kind, n in lv.errors_by_kind.items():
            counts[kind] = counts.get(kind, 0) + n
            if not examples.get(kind):
                examples[kind] = lv.error_examples.get(kind, "")
    return [f"{kind} x{n}" + (f": {examples[kind]}" if examples.get(kind) else "") for kind, n in sorted(counts.items())]


def rejected_total(r: BenchResult) -> int:
    """429s over the whole run (every level and the first request)."""
    return sum(lv.rejected for lv in r.levels) + (1 if r.first_request.error == "http_429" else 0)


def all_failed(r: BenchResult) -> bool:
    """Not one request of the run (the first one included) got an answer."""
    return not r.first_request.ok and all(lv.ok == 0 for lv in r.levels)


def summary_rows(r: BenchResult) -> list[tuple[str, str]]:
    """(label, value) pairs for the headline of a run."""
    fr = r.first_request
    first = (f"TTFT {_ms(fr.ttft_ms)}, end to end {_ms(fr.e2e_ms)}" if fr.ok else f"failed ({fr.error})")
    rf = r.roofline
    rows = [
        ("Endpoint", f"{r.url} ({r.model})"),
        ("Concurrency", str(r.concurrency) + (" (best of the sweep)" if len(r.levels) > 1 else "")),
        ("Requests", f"{r.requests}" + (f", {r.errors} failed: {_errors(r.errors_by_kind)}" if r.errors else "")
         + (f" ({r.rejected} rejected with 429: over the concurrency cap, not queued)" if r.rejected else "")
         + (f", {r.retries} retried on a fresh connection" if r.retries else "")),
        ("Time to first token", f"p50 {_ms(r.ttft_ms.p50)} · p95 {_ms(r.ttft_ms.p95)} · p99 {_ms(r.ttft_ms.p99)}"),
        ("Inter-token latency", f"p50 {_ms(r.itl_ms.p50)} · p95 {_ms(r.itl_ms.p95)}"),
        ("Per-stream speed", f"{_rate(r.per_stream_tokens_per_s.p50)} (p50)"),
        ("Aggregate throughput", _rate(r.output_tokens_per_s)),
        ("End to end", f"p50 {_ms(r.e2e_ms.p50)} · p95 {_ms(r.e2e_ms.p95)} · p99 {_ms(r.e2e_ms.p99)}"),
        ("First request (alone)", first),
    ]
    if rf.bound_tokens_per_s is not None and rf.fraction_of_bound is not None:
        typical = f", typical {100 * rf.typical_fraction:.0f}%" if rf.typical_fraction else ""
        rows.append(("Roofline", f"{rf.measured_tokens_per_s:.1f} of {rf.bound_tokens_per_s:.0f} tokens/s on "
                                 f"{rf.gpu}{'' if rf.gpu_count == 1 else f' x{rf.gpu_count}'} "
                                 f"({100 * rf.fraction_of_bound:.0f}% of the bound{typical})"))
    rows.append(("Advice", rf.advice))
    if r.client_overhead_us_per_token is not None:
        rows.append(("Client overhead", f"{r.client_overhead_us_per_token:.0f} µs CPU per token"))
    return rows


LEVEL_COLUMNS = ("concurrency", "requests", "errors", "TTFT p50", "TTFT p95", "ITL p50", "per-stream p50",
                 "aggregate")


def level_rows(r: BenchResult) -> list[tuple[str, ...]]:
    """One row per level, in LEVEL_COLUMNS order (for sweeps)."""
    return [(str(lv.concurrency), str(lv.requests), str(lv.errors), _ms(lv.ttft_ms.p50), _ms(lv.ttft_ms.p95),
             _ms(lv.itl_ms.p50), _rate(lv.per_stream_tokens_per_s.p50), _rate(lv.output_tokens_per_s))
            for lv in r.levels]


COMPARE_COLUMNS = ("metric", "a", "b", "delta", "delta %", "")


def compare_display(rows: Sequence[CompareRow]) -> list[tuple[str, ...]]:
    """``compare`` rows as strings, in COMPARE_COLUMNS order."""
    def num(v: float | None, sign: str = "") -> str:
        return "-" if v is None else f"{v:{sign},.3f}".rstrip("0").rstrip(".")

    return [(row.metric, num(row.a), num(row.b), num(row.delta, "+"),
             "-" if row.delta_pct is None else f"{row.delta_pct:+.1f}%", row.verdict) for row in rows]

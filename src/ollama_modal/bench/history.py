"""``--save FILE`` appends one JSON line per run; ``compare`` puts two saved runs side by side."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import UsageError
from ..jsonio import append_line_atomic
from .models import BenchResult

#: Metric path in the result, and whether a higher value is better.
METRICS: tuple[tuple[str, bool], ...] = (
    ("ttft_ms.p50", False),
    ("ttft_ms.p95", False),
    ("ttft_ms.p99", False),
    ("itl_ms.p50", False),
    ("itl_ms.p95", False),
    ("per_stream_tokens_per_s.p50", True),
    ("output_tokens_per_s", True),
    ("e2e_ms.p50", False),
    ("e2e_ms.p95", False),
    ("e2e_ms.p99", False),
    ("errors", False),
    ("retries", False),
    ("first_request.ttft_ms", False),
)
#: Per-level metrics compared when both runs swept the same concurrency.
LEVEL_METRICS: tuple[tuple[str, bool], ...] = (
    ("ttft_ms.p50", False),
    ("per_stream_tokens_per_s.p50", True),
    ("output_tokens_per_s", True),
)
#: Relative changes smaller than this are reported as "same": runs are noisy.
SAME_PCT = 1.0


def save_result(path: str | Path, result: BenchResult, now: datetime | None = None) -> dict[str, Any]:
    """Append the run as one line of strict JSON, atomically; returns the record written.

    A figure that is not a finite number (nothing measured) is saved as null (``jsonio``)."""
    record = {
        "timestamp": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "url": result.url,
        "model": result.model,
        "concurrency": [lv.concurrency for lv in result.levels],
        "results": result.model_dump(mode="json"),
    }
    p = Path(path)
    try:
        line = append_line_atomic(p, record, separators=(",", ":"))
    except OSError as e:
        raise UsageError(f"cannot write {p}: {e.strerror or e}", hint="choose a writable --save path") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot add to {p}: it is not a UTF-8 text file", hint="choose another --save path") from None
    return json.loads(line)  # what the file holds: null where a figure was not finite


def read_saved(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a ``--save`` file, oldest first."""
    from ..safeio import loads_json, read_text

    p = Path(path)
    lines = read_text(p, what="saved results file", hint="pass a file written by omc bench --save").split("\n")
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        # Older omc wrote NaN/Infinity for figures it could not measure: read as null, as saved now.
        rec = loads_json(line, where=f"{p}:{n}", hint="the file must hold one saved run per line, as omc bench --save writes",
                         non_finite_as_null=True)
        if not isinstance(rec, dict) or not isinstance(rec.get("results"), dict):
            raise UsageError(f'{p}:{n}: not a saved bench run (no "results" object)',
                             hint="pass a file written by omc bench --save") from None
        records.append(rec)
    if not records:
        raise UsageError(f"{p} holds no saved runs", hint="run omc bench --save FILE first")
    return records


def load_saved(path: str | Path, index: int = -1) -> dict[str, Any]:
    """One saved run; by default the latest."""
    records = read_saved(path)
    try:
        return records[index]
    except IndexError:
        raise UsageError(f"{path} holds {len(records)} run(s); there is no run {index}") from None


class CompareRow(BaseModel):
    metric: str
    a: float | None
    b: float | None
    delta: float | None  # b - a
    delta_pct: float | None
    verdict: Literal["better", "worse", "same", "n/a"]


def _get(obj: Any, path: str) -> float | None:
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return float(obj) if isinstance(obj, (int, float)) and not isinstance(obj, bool) else None


def _row(metric: str, a: float | None, b: float | None, higher_better: bool) -> CompareRow:
    if a is None or b is None:
        return CompareRow(metric=metric, a=a, b=b, delta=None, delta_pct=None, verdict="n/a")
    delta = b - a
    pct = 100 * delta / abs(a) if a else None
    if delta == 0 or (pct is not None and abs(pct) < SAME_PCT):
        verdict = "same"
    else:
        verdict = "better" if (delta > 0) == higher_better else "worse"
    return CompareRow(metric=metric, a=a, b=b, delta=round(delta, 3),
                      delta_pct=None if pct is None else round(pct, 2), verdict=verdict)


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[CompareRow]:
    """Rows comparing run ``a`` (before) with run ``b`` (after); saved records or bare results."""
    ra, rb = a.get("results", a), b.get("results", b)
    rows = [_row(m, _get(ra, m), _get(rb, m), hi) for m, hi in METRICS]
    la = {lv.get("concurrency"): lv for lv in ra.get("levels") or []}
    lb = {lv.get("concurrency"): lv for lv in rb.get("levels") or []}
    shared = sorted(c for c in la.keys() & lb.keys() if isinstance(c, int))
    if len(la) > 1 or len(lb) > 1:
        for c in shared:
            rows += [_row(f"c={c} {m}", _get(la[c], m), _get(lb[c], m), hi) for m, hi in LEVEL_METRICS]
    return rows

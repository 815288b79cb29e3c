"""Cold start: make sure nothing runs, send one request, explain where its wait went.

The service logs one JSON line per start-up phase:
``{"event": "omc.phase", "phase": "process_started"|"server_ready"|"model_loaded"|"warmup_done",
"seconds": <phase duration>, "since_start": <s since runtime start>, "model": ...}``.
Log systems prefix lines (timestamps, container ids), so the JSON is looked for inside each line.

The breakdown of the cold request's time to first token:
- ``server_start_s``, ``model_load_s``, ``warmup_s``: the phases' own durations;
- ``first_token_s``: a warm request's TTFT, sent right after (the container is up by then);
- ``container_start_s``: the rest: scheduling, image, container boot and process start.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..errors import RemoteError

PHASES = ("process_started", "server_ready", "model_loaded", "warmup_done")


@dataclass(frozen=True)
class PhaseEvent:
    phase: str
    seconds: float
    since_start: float
    model: str | None = None


def parse_phase_line(line: str) -> PhaseEvent | None:
    """The phase event in one log line, or None when the line is something else."""
    from ..service.phases import parse_phase_line as parse_record  # stdlib only: the service's own format

    record = parse_record(line)
    if record is None:
        return None
    return PhaseEvent(record["phase"], float(record["seconds"]), float(record["since_start"]), record.get("model"))


def latest_boot(lines: Iterable[str], model: str | None = None) -> dict[str, PhaseEvent]:
    """Phases of the most recent start-up.

    A start-up opens with ``process_started``; a container restored from a snapshot logs only
    the later phases again, so a phase seen twice also opens a new start-up.
    """
    boot: dict[str, PhaseEvent] = {}
    for line in lines:
        ev = parse_phase_line(line)
        if ev is None or (model and ev.model and ev.model != model):
            continue
        if ev.phase == "process_started" or ev.phase in boot:
            boot = {}
        boot[ev.phase] = ev
    return boot


class ColdBreakdown(BaseModel):
    container_start_s: float | None = None
    server_start_s: float | None = None
    model_load_s: float | None = None
    warmup_s: float | None = None
    first_token_s: float | None = None


class ColdStartResult(BaseModel):
    ok: bool
    error: str | None = None
    cold_ttft_ms: float | None = None
    cold_e2e_ms: float | None = None
    warm_ttft_ms: float | None = None
    breakdown: ColdBreakdown
    phases: dict[str, dict[str, Any]]
    notes: list[str]


def _call(fn: Callable[[], Any]) -> Any:
    """Call an injected callable; await its result when it is a coroutine."""
    result = fn()
    if inspect.isawaitable(result):
        async def wait() -> Any:
            return await result

        result = asyncio.run(wait())
    return result


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def measure_cold_start(
    run_one_request: Callable[[], Any],
    ensure_no_containers: Callable[[], Any],
    fetch_phase_lines: Callable[[], Iterable[str]],
    *,
    model: str | None = None,
) -> ColdStartResult:
    """Measure one cold request and break its TTFT down by start-up phase.

    ``run_one_request()`` returns a sample with ``ok``, ``error``, ``ttft_ms`` and ``e2e_ms``
    (e.g. ``bench.send_one``); ``ensure_no_containers()`` stops the app's containers and
    waits until none runs (returning False means it could not); ``fetch_phase_lines()``
    returns the service's log lines from the start-up just triggered. Each may be async.
    """
    if _call(ensure_no_containers) is False:
        raise RemoteError("containers are still running, so the next request would not be cold",
                          hint="stop the app's containers (omc stop) and try again")
    cold = _call(run_one_request)
    notes: list[str] = []
    warm = _call(run_one_request) if cold.ok else None
    boot = latest_boot(_call(fetch_phase_lines), model)

    b = ColdBreakdown(
        server_start_s=boot["server_ready"].seconds if "server_ready" in boot else None,
        model_load_s=boot["model_loaded"].seconds if "model_loaded" in boot else None,
        warmup_s=boot["warmup_done"].seconds if "warmup_done" in boot else None,
        first_token_s=_s(warm.ttft_ms) if warm is not None and warm.ok else None,
    )
    if not boot:
        notes.append("no omc.phase lines in the logs: the request may have met a running container, "
                     "or the logs are not in yet")
    else:
        missing = [p for p in PHASES if p not in boot]
        if missing:
            notes.append(f"phases missing from the logs: {', '.join(missing)}")
    if warm is not None and not warm.ok:
        notes.append(f"the warm follow-up request failed ({warm.error}); first_token_s is unknown")
    if cold.ok and cold.ttft_ms is not None and boot:
        known = sum(v for v in (b.server_start_s, b.model_load_s, b.warmup_s, b.first_token_s) if v)
        rest = cold.ttft_ms / 1000 - known
        if rest < 0:
            notes.append("the phases add up to more than the request waited: they may come from an "
                         "earlier start-up")
        b.container_start_s = round(max(rest, 0.0), 3)

    return ColdStartResult(
        ok=cold.ok,
        error=cold.error,
        cold_ttft_ms=cold.ttft_ms,
        cold_e2e_ms=cold.e2e_ms,
        warm_ttft_ms=warm.ttft_ms if warm is not None else None,
        breakdown=b,
        phases={k: {"seconds": v.seconds, "since_start": v.since_start} for k, v in boot.items()},
        notes=notes,
    )

"""Cold start: make sure nothing runs, send one request, explain where its wait went.

The service logs one JSON line per start-up phase:
``{"event": "omc.phase", "phase": "process_started"|"server_ready"|"model_loaded"|"warmup_done",
"seconds": <phase duration>, "since_start": <s since runtime start>, "model": ...}``.
Log systems prefix lines (timestamps, container ids), so the JSON is looked for inside each line.

The breakdown of the cold request's time to first token:
- ``server_start_s``, ``model_load_s``, ``warmup_s``: the phases' own durations;
- ``first_token_s``: a warm request's TTFT, sent right after (the container is up by then);
- ``container_start_s``: the rest: scheduling, image, container boot and process start.

A Modal Server does not hold a request while no container is up: it answers 503 at once.
With ``retry_unavailable`` the cold request is retried on 503 (as a client must) and the wait
counts from the first attempt; the result says how many 503s there were and over how long.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..errors import RemoteError

PHASES = ("process_started", "server_ready", "model_loaded", "warmup_done")
UNAVAILABLE = "http_503"


@dataclass(frozen=True)
class RetryUnavailable:
    """How the cold request retries a Modal Server's 503 (no container up yet)."""

    interval_s: float = 1.0
    max_wait_s: float = 900.0


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
    unavailable_responses: int = 0  # 503s before a container answered (Modal Server only)
    unavailable_wait_s: float | None = None  # from the first attempt to the one that got through


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
    retry_unavailable: RetryUnavailable | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
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
    notes: list[str] = []
    first = clock()
    cold = _call(run_one_request)
    unavailable, waited = 0, None
    while retry_unavailable is not None and cold.error == UNAVAILABLE:
        unavailable += 1
        if clock() - first >= retry_unavailable.max_wait_s:
            notes.append(f"still 503 after {retry_unavailable.max_wait_s:g} s of retries: no container came up")
            break
        sleep(retry_unavailable.interval_s)
        last = clock()
        cold = _call(run_one_request)
        waited = last - first
    # What a retrying client waits: every 503 and pause, then the request that got through.
    offset_ms = waited * 1000 if waited is not None else 0.0
    cold_ttft = None if cold.ttft_ms is None else cold.ttft_ms + offset_ms
    cold_e2e = None if cold.e2e_ms is None else cold.e2e_ms + offset_ms
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
    if cold.ok and cold_ttft is not None and boot:
        known = sum(v for v in (b.server_start_s, b.model_load_s, b.warmup_s, b.first_token_s) if v)
        rest = cold_ttft / 1000 - known
        if rest < 0:
            notes.append("the phases add up to more than the request waited: they may come from an "
                         "earlier start-up")
        b.container_start_s = round(max(rest, 0.0), 3)

    return ColdStartResult(
        ok=cold.ok,
        error=cold.error,
        cold_ttft_ms=cold_ttft,
        cold_e2e_ms=cold_e2e,
        warm_ttft_ms=warm.ttft_ms if warm is not None else None,
        breakdown=b,
        phases={k: {"seconds": v.seconds, "since_start": v.since_start} for k, v in boot.items()},
        notes=notes,
        unavailable_responses=unavailable,
        unavailable_wait_s=None if waited is None else round(waited, 3),
    )

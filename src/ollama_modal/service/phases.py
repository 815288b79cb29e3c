"""Cold-start phase lines: one JSON object per line on stdout.

Format (stable; ``omc bench --cold`` and ``omc logs`` readers parse it)::

    {"event": "omc.phase", "phase": "server_ready", "seconds": 1.234,
     "since_start": 1.5, "model": "codellama:7b", "start": "full"}

``seconds`` is the phase's own duration, ``since_start`` the time since the runtime's
start (or restore) began. ``start`` says which start path emitted it: ``full``,
``snapshot`` or ``restore``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import jsonio

EVENT = "omc.phase"
PROCESS_STARTED = "process_started"
SERVER_READY = "server_ready"
MODEL_LOADED = "model_loaded"
WARMUP_DONE = "warmup_done"
PHASES = (PROCESS_STARTED, SERVER_READY, MODEL_LOADED, WARMUP_DONE)


def format_phase_line(phase: str, seconds: float, since_start: float, model: str, **extra: Any) -> str:
    record = {
        "event": EVENT,
        "phase": phase,
        "seconds": round(seconds, 4),
        "since_start": round(since_start, 4),
        "model": model,
        **extra,
    }
    return jsonio.dumps(record, separators=(", ", ": "))


def parse_phase_line(line: str) -> dict[str, Any] | None:
    """The phase record in a log line, or None for any other line.

    Tolerates a prefix before the JSON (log shippers add timestamps) and trailing spaces.
    """
    start = line.find("{")
    if start < 0 or EVENT not in line:
        return None
    try:
        record = json.loads(line[start:].strip())
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("event") != EVENT:
        return None
    if record.get("phase") not in PHASES:
        return None
    if not isinstance(record.get("seconds"), (int, float)) or not isinstance(record.get("since_start"), (int, float)):
        return None
    return record


def _stdout_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class PhaseClock:
    """Measures phases from one origin and emits a line for each as it completes."""

    def __init__(self, model: str, start: str = "full", emit: Callable[[str], None] | None = None) -> None:
        self.model = model
        self.start = start
        self.emit = emit or _stdout_line
        self.origin = time.monotonic()
        self._last = self.origin
        self.records: list[dict[str, Any]] = []

    def begin(self) -> None:
        """Start timing the next phase (its duration excludes anything done in between)."""
        self._last = time.monotonic()

    def done(self, phase: str, **extra: Any) -> dict[str, Any]:
        now = time.monotonic()
        line = format_phase_line(phase, now - self._last, now - self.origin, self.model, start=self.start, **extra)
        self._last = now
        self.emit(line)
        record = json.loads(line)
        self.records.append(record)
        return record

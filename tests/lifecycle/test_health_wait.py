"""`omc status` waits for /readyz through a cold start, and tells "still starting" from "broken".

The endpoint is an httpx transport answering in turn what Modal and omc's proxy answer (the
network boundary); time is a fake clock, so backoff and deadlines are exact and nothing sleeps.
End to end against the local data plane (a real container process, a slow model load): see
tests/journeys/test_gates_and_errors.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ollama_modal.services import status as S

READY = (200, {"ready": True, "model": "codellama:7b", "size_vram": 5, "ollama_version": "0.6.0"})
LOADING = (503, {"ready": False, "model": "codellama:7b", "reason": "model codellama:7b is not loaded", "state": "loading"})
DOWN = (503, {"ready": False, "model": "codellama:7b", "reason": "ollama serve exited with code 7", "state": "down"})
MODAL_503 = (503, "modal-http: no container is up for this Server yet")
STOPPED = (404, "modal-http: app for invoked web endpoint is stopped")
HELD = "held"  # the request is held past the probe's timeout (a web function's cold start)
REFUSED = "refused"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        assert s >= 0
        self.sleeps.append(s)
        self.t += s


def endpoint(answers: list[Any], clock: Clock, *, answer_s: float = 0.05) -> tuple[httpx.Client, list[float]]:
    """A client whose requests get ``answers`` in turn (the last one repeats)."""
    timeouts: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/readyz"
        timeout = request.extensions["timeout"]["read"]
        timeouts.append(timeout)
        a = answers.pop(0) if len(answers) > 1 else answers[0]
        if a == HELD:
            clock.t += timeout
            raise httpx.ReadTimeout("held", request=request)
        clock.t += answer_s
        if a == REFUSED:
            raise httpx.ConnectError("connection refused", request=request)
        code, body = a
        if isinstance(body, dict):
            return httpx.Response(code, json=body)
        return httpx.Response(code, text=body)

    return httpx.Client(transport=httpx.MockTransport(handle)), timeouts


def wait(answers: list[Any], wait_s: float, **kw: Any) -> tuple[dict[str, Any], Clock, list[float]]:
    clock = Clock()
    client, timeouts = endpoint(answers, clock)
    seen: list[str] = []
    health = S.wait_ready("http://endpoint", wait_s, client=client, clock=clock, sleep=clock.sleep,
                          progress=lambda probe, elapsed, limit: seen.append(probe.kind), **kw)
    json.dumps(health, allow_nan=False)  # what --json prints
    return health, clock, timeouts


def test_a_server_cold_start_503s_then_ready_reports_time_to_ready() -> None:
    health, clock, _ = wait([MODAL_503] * 4 + [LOADING, READY], 60)
    assert health["ready"] is True and health["state"] == "ready" and health["attempts"] == 6
    assert health["time_to_ready_s"] == health["waited_s"] == pytest.approx(clock.t, abs=1e-3)
    assert health["model"] == "codellama:7b" and health["wait_s"] == 60
    # Answered at once: backoff doubling from 0.5 s, capped.
    assert clock.sleeps[:4] == pytest.approx([0.45, 0.95, 1.95, 3.95])
    assert max(clock.sleeps) <= S.BACKOFF_S[1]


def test_a_held_web_function_request_is_asked_again_until_ready() -> None:
    health, clock, timeouts = wait([HELD, HELD, READY], 120)
    assert health["state"] == "ready" and health["attempts"] == 3
    assert timeouts[0] == S.PROBE_TIMEOUT_S and clock.sleeps == []  # a held request needs no pause
    assert health["time_to_ready_s"] == pytest.approx(2 * S.PROBE_TIMEOUT_S + 0.05)


def test_still_starting_at_the_deadline_is_starting_not_broken() -> None:
    health, clock, _ = wait([MODAL_503], 30)
    assert health["ready"] is False and health["state"] == "starting"
    assert health["time_to_ready_s"] is None and health["status_code"] == 503
    assert "still starting after" in health["reason"]
    assert 30 <= clock.t < 30 + 1  # stops at the deadline, not long after


@pytest.mark.parametrize("bad", [STOPPED, DOWN, (500, "internal error"), (401, {"detail": "no"}), REFUSED])
def test_error_answers_end_the_wait_early_as_broken(bad: Any) -> None:
    health, clock, _ = wait([bad], 600)
    assert health["ready"] is False and health["state"] == "broken"
    assert health["attempts"] == S.ERRORS_BEFORE_BROKEN and clock.t < 10  # not the 600 s a cold start may take
    assert health.get("status_code") or health.get("error")


def test_one_error_during_a_cold_start_does_not_end_the_wait() -> None:
    health, _, _ = wait([MODAL_503, (502, "modal-http: container unreachable"), MODAL_503, READY], 60)
    assert health["state"] == "ready"


def test_wait_zero_is_one_request() -> None:
    for answers, state in (([HELD], "starting"), ([MODAL_503], "starting"), ([STOPPED], "broken"), ([READY], "ready")):
        health, _, timeouts = wait(list(answers), 0)
        assert health["state"] == state and health["attempts"] == 1, (answers, health)
        assert timeouts == [S.READY_TIMEOUT_S]


def test_the_default_wait_follows_the_profile_cold_start() -> None:
    from ollama_modal.config import resolve
    from ollama_modal.cost.coldstart import estimate_cold_start
    from ollama_modal.services.costplan import model_bytes

    for name in ("a10g-balanced", "h100-fast"):
        try:
            p = resolve(name).profile
        except Exception:  # noqa: BLE001 - a built-in that does not exist
            continue
        est = estimate_cold_start(p.gpu.model, model_bytes(p), store=p.model.store, gpu_count=p.gpu.count,
                                  warmup=p.server.warmup).total_s
        wait_s, basis = S.default_wait(p)
        assert min(S.MIN_WAIT_S, p.server.startup_timeout + S.STARTUP_MARGIN_S) <= wait_s <= p.server.startup_timeout + S.STARTUP_MARGIN_S
        assert wait_s >= min(p.server.startup_timeout + S.STARTUP_MARGIN_S, 3 * est)
        assert "cold start" in basis
    assert S.default_wait(None)[0] == S.DEFAULT_WAIT_S


def test_wait_and_no_health_exclude_each_other(omc) -> None:
    r = omc("status", "--wait", "10", "--no-health")
    assert r.exit_code == 2 and "--wait" in r.stderr and "--no-health" in r.stderr


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "3601"])
def test_hostile_wait_values_are_refused(omc, value: str) -> None:
    r = omc("status", "--wait", value)
    assert r.exit_code == 2 and "--wait" in r.stderr

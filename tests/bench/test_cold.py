"""Cold start: phase lines parsed from logs, and the breakdown built with injected callables."""

from __future__ import annotations

import json

import pytest

from ollama_modal.bench.client import RequestSample
from ollama_modal.bench.cold import latest_boot, measure_cold_start, parse_phase_line
from ollama_modal.errors import RemoteError


def phase(name: str, seconds: float, since: float, model: str = "qwen2.5-coder:7b") -> str:
    return json.dumps({"event": "omc.phase", "phase": name, "seconds": seconds, "since_start": since, "model": model})


BOOT = [
    "2026-11-28T12:00:00Z ta-01 " + phase("process_started", 1.5, 1.5),
    "Ollama is starting on 127.0.0.1:11434",
    phase("server_ready", 2.0, 3.5),
    "{not json omc.phase",
    '{"event": "other", "phase": "model_loaded"}',
    phase("model_loaded", 12.0, 15.5),
    phase("warmup_done", 1.5, 17.0),
]


def sample(ttft_ms: float | None, error: str | None = None) -> RequestSample:
    s = RequestSample(sent_ns=0, error=error)
    if ttft_ms is not None:
        s.token_ns = [int(ttft_ms * 1e6)]
        s.end_ns = int(ttft_ms * 1e6) + 1
    return s


def test_parse_phase_line():
    ev = parse_phase_line(BOOT[0])
    assert ev and ev.phase == "process_started" and ev.seconds == 1.5 and ev.model == "qwen2.5-coder:7b"
    for line in BOOT[1], BOOT[3], BOOT[4], phase("unknown_phase", 1, 1), "":
        assert parse_phase_line(line) is None


def test_latest_boot_wins_and_model_filters():
    older = [phase("process_started", 9, 9), phase("server_ready", 9, 18)]
    boot = latest_boot(older + BOOT)
    assert set(boot) == {"process_started", "server_ready", "model_loaded", "warmup_done"}
    assert boot["server_ready"].seconds == 2.0
    assert latest_boot(BOOT, model="other:1b") == {}


def test_breakdown_adds_up_to_the_cold_ttft():
    calls: list[str] = []
    samples = iter([sample(25_000.0), sample(300.0)])

    def ensure() -> None:
        calls.append("ensure")

    def one() -> RequestSample:
        calls.append("request")
        return next(samples)

    r = measure_cold_start(one, ensure, lambda: BOOT)
    assert calls == ["ensure", "request", "request"]
    b = r.breakdown
    assert (b.server_start_s, b.model_load_s, b.warmup_s, b.first_token_s) == (2.0, 12.0, 1.5, 0.3)
    assert b.container_start_s == pytest.approx(25.0 - 2.0 - 12.0 - 1.5 - 0.3)
    assert r.ok and r.cold_ttft_ms == 25_000.0 and r.warm_ttft_ms == 300.0 and r.notes == []
    assert r.phases["model_loaded"] == {"seconds": 12.0, "since_start": 15.5}


def test_async_callables_are_awaited():
    samples = iter([sample(20_000.0), sample(200.0)])

    async def one():
        return next(samples)

    async def ensure():
        return True

    async def lines():
        return BOOT

    r = measure_cold_start(one, ensure, lines)
    assert r.breakdown.first_token_s == 0.2 and r.breakdown.container_start_s == pytest.approx(4.3)


def test_containers_still_running_is_a_remote_error():
    with pytest.raises(RemoteError, match="still running"):
        measure_cold_start(lambda: sample(1.0), lambda: False, lambda: [])


def test_no_phase_lines_is_explained():
    samples = iter([sample(800.0), sample(300.0)])
    r = measure_cold_start(lambda: next(samples), lambda: None, lambda: ["plain log line"])
    assert r.breakdown.container_start_s is None and r.breakdown.first_token_s == 0.3
    assert "no omc.phase lines" in r.notes[0]


def test_phases_longer_than_the_wait_are_flagged():
    samples = iter([sample(5_000.0), sample(300.0)])
    r = measure_cold_start(lambda: next(samples), lambda: None, lambda: BOOT)
    assert r.breakdown.container_start_s == 0.0 and "earlier start-up" in r.notes[0]


def test_failed_cold_request_and_failed_warm_request():
    r = measure_cold_start(lambda: sample(None, "timeout"), lambda: None, lambda: BOOT[:3])
    assert not r.ok and r.error == "timeout" and r.warm_ttft_ms is None
    assert r.breakdown.container_start_s is None and "model_loaded" in r.notes[0]
    samples = iter([sample(30_000.0), sample(None, "http_503")])
    r = measure_cold_start(lambda: next(samples), lambda: None, lambda: BOOT)
    assert r.breakdown.first_token_s is None and any("warm follow-up" in n for n in r.notes)
    assert r.breakdown.container_start_s == pytest.approx(30.0 - 15.5)


def test_a_restored_container_opens_a_new_boot() -> None:
    from ollama_modal.bench.cold import latest_boot

    def line(phase: str, seconds: float, start: str) -> str:
        return json.dumps({"event": "omc.phase", "phase": phase, "seconds": seconds, "since_start": seconds, "model": "m", "start": start})

    lines = [line("process_started", 0.1, "snapshot"), line("server_ready", 1.0, "snapshot"), line("model_loaded", 3.0, "snapshot"),
             line("server_ready", 0.2, "restore"), line("model_loaded", 0.4, "restore")]
    boot = latest_boot(lines, "m")
    assert set(boot) == {"server_ready", "model_loaded"} and boot["model_loaded"].seconds == 0.4


class FakeClock:
    """Time that moves only when the code under test sleeps (no real waiting, no timing)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_a_modal_server_answers_503_until_a_container_is_up_and_the_wait_counts():
    from ollama_modal.bench.cold import RetryUnavailable

    clock = FakeClock()
    samples = iter([sample(None, "http_503")] * 4 + [sample(2_000.0), sample(300.0)])
    result = measure_cold_start(
        lambda: next(samples), lambda: True, lambda: BOOT,
        retry_unavailable=RetryUnavailable(interval_s=5.0), clock=clock, sleep=clock.sleep,
    )
    assert result.ok and result.unavailable_responses == 4
    assert clock.sleeps == [5.0] * 4 and result.unavailable_wait_s == 20.0
    assert result.cold_ttft_ms == 22_000.0  # 20 s of 503s, then 2 s to the first token
    assert result.warm_ttft_ms == 300.0


def test_503_retries_give_up_and_say_so():
    from ollama_modal.bench.cold import RetryUnavailable

    clock = FakeClock()
    result = measure_cold_start(
        lambda: sample(None, "http_503"), lambda: True, lambda: [],
        retry_unavailable=RetryUnavailable(interval_s=10.0, max_wait_s=30.0), clock=clock, sleep=clock.sleep,
    )
    assert not result.ok and result.error == "http_503" and result.unavailable_responses == 4
    assert any("still 503 after 30 s" in n for n in result.notes)


def test_without_retries_a_503_is_the_result():
    result = measure_cold_start(lambda: sample(None, "http_503"), lambda: True, lambda: [])
    assert not result.ok and result.unavailable_responses == 0 and result.unavailable_wait_s is None

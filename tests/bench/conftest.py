"""Bench tests run the real client against the fake streaming server, started as a process."""

from __future__ import annotations

import pytest

from tests.fakes.fake_openai_stream import Spawned, spawn


@pytest.fixture
def fake_server():
    """``fake_server(ttft_ms=20, errors="2:500")`` -> a running server; stopped after the test."""
    started: list[Spawned] = []

    def start(**opts: object) -> Spawned:
        s = spawn(**opts)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def samples_from(ttfts_itls: list[tuple[float, list[float]]]):
    """Synthetic samples: (ttft ms, [gaps ms]) -> RequestSample with exact times."""
    from ollama_modal.bench.client import RequestSample

    out = []
    for ttft, gaps in ttfts_itls:
        t = int(ttft * 1e6)
        times = [t]
        for g in gaps:
            t += int(g * 1e6)
            times.append(t)
        out.append(RequestSample(sent_ns=0, end_ns=times[-1] + 1_000_000, token_ns=times))
    return out

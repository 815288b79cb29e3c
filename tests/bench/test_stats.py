"""Figures from samples: percentiles, token speeds, usage replacing counted tokens, errors by kind."""

from __future__ import annotations

import pytest

from ollama_modal.bench.client import RequestSample
from ollama_modal.bench.stats import first_request, headline, percentiles, summarise

from .conftest import samples_from


def test_percentiles_interpolate_linearly():
    assert percentiles([1, 2, 3, 4, 5], (50, 95, 99)) == [3.0, 4.8, 4.96]
    assert percentiles([], (50, 95)) == [None, None]


def test_sample_figures():
    (s,) = samples_from([(100.0, [20.0, 20.0, 20.0, 20.0])])
    assert s.ttft_ms == pytest.approx(100.0)
    assert s.itl_ms == pytest.approx([20.0] * 4)
    assert s.tokens_per_s == pytest.approx(50.0)  # 4 tokens after the first in 80 ms
    assert s.e2e_ms == pytest.approx(181.0)
    assert s.output_tokens == s.counted_tokens == 5


def test_usage_replaces_counted_tokens_and_scales_speed():
    (s,) = samples_from([(100.0, [20.0] * 4)])
    s.usage_tokens = 10  # the server packed two tokens per chunk
    assert s.counted_tokens == 5 and s.output_tokens == 10
    assert s.tokens_per_s == pytest.approx(100.0)


def test_one_token_has_no_speed():
    (s,) = samples_from([(50.0, [])])
    assert s.tokens_per_s is None and s.itl_ms == []


def test_summarise_level():
    samples = samples_from([(100.0, [10.0] * 9), (200.0, [20.0] * 9), (300.0, [30.0] * 9)])
    samples.append(RequestSample(sent_ns=0, error="http_500"))
    samples.append(RequestSample(sent_ns=0, error="http_500"))
    broken = samples_from([(50.0, [10.0])])[0]
    broken.error = "broken_stream"
    samples.append(broken)
    lv = summarise(samples, concurrency=4, wall_s=2.0, cpu_s=0.064)
    assert lv.requests == 6 and lv.ok == 3 and lv.errors == 3
    assert lv.errors_by_kind == {"broken_stream": 1, "http_500": 2}
    assert lv.ttft_ms.p50 == 200.0  # failed requests do not enter the latency figures
    assert lv.itl_ms.p50 == 20.0
    assert lv.per_stream_tokens_per_s.p50 == pytest.approx(50.0)
    # Aggregate: every delivered token (30 from ok streams + 2 from the broken one) / wall time.
    assert lv.output_tokens == 32 and lv.output_tokens_per_s == 16.0
    assert lv.usage_tokens is None and lv.counted_tokens == 32
    assert lv.client_overhead_us_per_token == pytest.approx(2000.0)


def test_summarise_all_failed_has_no_figures():
    lv = summarise([RequestSample(sent_ns=0, error="connect")] * 2, 1, 1.0, 0.0)
    assert lv.errors == 2 and lv.ttft_ms.p50 is None and lv.output_tokens_per_s == 0.0
    assert lv.client_overhead_us_per_token is None


def test_usage_sums_when_reported():
    samples = samples_from([(10.0, [1.0] * 4)] * 2)
    for s in samples:
        s.usage_tokens = 7
    lv = summarise(samples, 2, 1.0, 0.0)
    assert lv.usage_tokens == 14 and lv.output_tokens == 14 and lv.counted_tokens == 10


def test_headline_is_the_fastest_level():
    a = summarise(samples_from([(10.0, [1.0] * 9)]), 1, 1.0, 0.0)
    b = summarise(samples_from([(10.0, [1.0] * 9)] * 4), 4, 1.0, 0.0)
    assert headline([a, b]).concurrency == 4


def test_first_request_report():
    (s,) = samples_from([(1500.0, [10.0] * 3)])
    fr = first_request(s)
    assert fr.ok and fr.ttft_ms == 1500.0 and fr.output_tokens == 4 and fr.tokens_per_s == pytest.approx(100.0)
    bad = first_request(RequestSample(sent_ns=0, error="timeout"))
    assert not bad.ok and bad.error == "timeout" and bad.ttft_ms is None


def test_429s_are_rejected_and_errors():
    samples = samples_from([(100.0, [10.0] * 3)])
    samples += [RequestSample(sent_ns=0, error="http_429"), RequestSample(sent_ns=0, error="http_429"),
                RequestSample(sent_ns=0, error="http_503")]
    lv = summarise(samples, concurrency=4, wall_s=1.0, cpu_s=0.0)
    assert lv.requests == 4 and lv.ok == 1 and lv.errors == 3 and lv.rejected == 2
    assert lv.errors_by_kind == {"http_429": 2, "http_503": 1}

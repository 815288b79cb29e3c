"""Roofline figures and the advice rules, each made to fire on purpose."""

from __future__ import annotations

import pytest

from ollama_modal import catalog
from ollama_modal.bench.models import FirstRequest, LevelReport, Median, Percentiles2, Percentiles3
from ollama_modal.bench.roofline import analyse, faster_gpu

MODEL_BYTES = 3_800_000_000  # A10 bound: 600e9 / 3.8e9 = 157.9 tokens/s


def level(c=1, speed=90.0, agg=None, ttft=200.0, errors=None, requests=20, wall=10.0, cpu=1.0) -> LevelReport:
    errors = errors or {}
    n_err = sum(errors.values())
    return LevelReport(
        concurrency=c, requests=requests, ok=requests - n_err, errors=n_err, errors_by_kind=errors,
        ttft_ms=Percentiles3(p50=ttft, p95=ttft, p99=ttft), itl_ms=Percentiles2(p50=10.0, p95=12.0),
        per_stream_tokens_per_s=Median(p50=speed), output_tokens_per_s=agg if agg is not None else speed * c,
        e2e_ms=Percentiles3(p50=1.0, p95=1.0, p99=1.0), output_tokens=100, counted_tokens=100,
        usage_tokens=None, wall_s=wall, client_cpu_s=cpu, client_overhead_us_per_token=1.0,
    )


def first(ttft=250.0, ok=True, error=None, speed=90.0) -> FirstRequest:
    return FirstRequest(ok=ok, error=error, ttft_ms=ttft if ok else None, e2e_ms=1.0, output_tokens=10,
                        tokens_per_s=speed if ok else None)


def test_bound_and_fractions():
    r = analyse([level(speed=95.0)], first(), "a10g", 1, MODEL_BYTES)
    assert r.gpu == "A10"
    assert r.bound_tokens_per_s == pytest.approx(157.9, abs=0.05)
    assert r.measured_tokens_per_s == 95.0
    assert r.fraction_of_bound == pytest.approx(95.0 / (600e9 / MODEL_BYTES), abs=1e-4)
    assert r.typical_fraction == catalog.decode_efficiency(catalog.lookup_gpu("A10"))


def test_two_gpus_double_the_bound():
    r = analyse([level()], first(), "H100", 2, MODEL_BYTES)
    assert r.bound_tokens_per_s == pytest.approx(2 * 3350e9 / MODEL_BYTES, abs=0.05)


def test_unknown_gpu_keeps_advice_without_bound():
    r = analyse([level()], first(), "Z9000", 1, MODEL_BYTES)
    assert r.gpu == "Z9000" and r.bound_tokens_per_s is None and r.fraction_of_bound is None
    assert r.rule == "no_rule" and r.advice


def test_errors_rule_names_the_kind_and_fix():
    r = analyse([level(errors={"http_503": 4, "timeout": 1})], first(), "A10", 1, MODEL_BYTES)
    assert r.rule == "errors"
    assert "5 of 21" in r.advice and "http_503" in r.advice and "max_containers" in r.advice
    assert "min_containers" in r.advice and "queue is full" not in r.advice  # a Server's 503 means no container up


def test_a_few_errors_do_not_take_over():
    r = analyse([level(errors={"http_500": 1})], first(), "A10", 1, MODEL_BYTES)
    assert r.rule != "errors"


def test_client_bound_rule():
    r = analyse([level(wall=10.0, cpu=9.0)], first(), "A10", 1, MODEL_BYTES)
    assert r.rule == "client_bound" and "90%" in r.advice


def test_slow_server_rule_at_concurrency_one():
    # 30 tokens/s is 19% of the A10 bound, under half the typical 60%.
    r = analyse([level(speed=30.0)], first(speed=30.0), "A10", 1, MODEL_BYTES)
    assert r.rule == "slow_server" and "server and the network" in r.advice


def test_slow_server_uses_first_request_when_no_level_has_concurrency_one():
    r = analyse([level(c=4, speed=90.0)], first(speed=20.0), "A10", 1, MODEL_BYTES)
    assert r.rule == "slow_server"


def test_cold_start_rule():
    r = analyse([level(ttft=200.0)], first(ttft=45_000.0), "A10", 1, MODEL_BYTES)
    assert r.rule == "cold_start" and "45.0 s" in r.advice and "min_containers" in r.advice


def test_small_first_request_gap_is_not_a_cold_start():
    # 3x slower but only 400 ms more: no advice about warm policies.
    r = analyse([level(ttft=200.0)], first(ttft=600.0), "A10", 1, MODEL_BYTES)
    assert r.rule != "cold_start"


def test_raise_concurrency_rule():
    levels = [level(c=1, speed=90.0, agg=80.0), level(c=4, speed=85.0, agg=300.0)]
    r = analyse(levels, first(), "A10", 1, MODEL_BYTES)
    assert r.rule == "raise_concurrency" and "80 to 300" in r.advice


def test_saturated_rule():
    levels = [level(c=1, speed=90.0, agg=80.0), level(c=8, speed=12.0, agg=95.0)]
    r = analyse(levels, first(), "A10", 1, MODEL_BYTES)
    assert r.rule == "saturated" and "concurrency 8" in r.advice


def test_gpu_bound_rule_suggests_a_faster_gpu():
    r = analyse([level(speed=95.0)], first(), "A10", 1, MODEL_BYTES)
    assert r.rule == "gpu_bound" and "L40S" in r.advice


def test_faster_gpu_of_the_fastest_is_none():
    fastest = max(catalog.GPUS.values(), key=lambda g: g.bandwidth_gbs)
    assert faster_gpu(fastest) is None


def test_middle_of_the_road_is_no_rule():
    # 70 tokens/s: 44% of the bound, between half the typical (30%) and 80% of it (48%).
    r = analyse([level(speed=70.0)], first(), "A10", 1, MODEL_BYTES)
    assert r.rule == "no_rule" and "--sweep" in r.advice


def test_rule_order_errors_before_cold_start():
    r = analyse([level(ttft=200.0, errors={"timeout": 10})], first(ttft=60_000.0), "A10", 1, MODEL_BYTES)
    assert r.rule == "errors"

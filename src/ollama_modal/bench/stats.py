"""From request samples to the figures of a level. numpy is imported only when summarising."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .client import RequestSample
from .models import FirstRequest, LevelReport, Median, Percentiles2, Percentiles3

#: The kind of a request the server refused as over its concurrency cap (a Modal Server above
#: max_concurrency per container): counted in ``errors`` and, apart, in ``rejected``.
REJECTED = "http_429"


def percentiles(values: Sequence[float], qs: Sequence[float]) -> list[float | None]:
    """Linear-interpolated percentiles; None for each when there are no values."""
    if not values:
        return [None] * len(qs)
    import numpy as np

    return [round(float(v), 3) for v in np.percentile(np.asarray(values, dtype=float), qs)]


def errors_by_kind(samples: Sequence[RequestSample]) -> dict[str, int]:
    return dict(sorted(Counter(s.error for s in samples if s.error).items()))


def error_examples(samples: Sequence[RequestSample]) -> dict[str, str]:
    out: dict[str, str] = {}
    for s in samples:
        if s.error and s.error not in out:
            out[s.error] = (s.detail or "")[:200]
    return dict(sorted(out.items()))


def summarise(samples: Sequence[RequestSample], concurrency: int, wall_s: float, cpu_s: float) -> LevelReport:
    ok = [s for s in samples if s.ok]
    ttft = [s.ttft_ms for s in ok if s.ttft_ms is not None]
    e2e = [s.e2e_ms for s in ok if s.e2e_ms is not None]
    itl = [d for s in ok for d in s.itl_ms]
    speed = [v for s in ok if (v := s.tokens_per_s) is not None]
    # Aggregate counts every token the server delivered, also in streams that broke later.
    output = sum(s.output_tokens for s in samples)
    counted = sum(s.counted_tokens for s in samples)
    reported = [s.usage_tokens for s in samples if s.usage_tokens is not None]
    t50, t95, t99 = percentiles(ttft, (50, 95, 99))
    e50, e95, e99 = percentiles(e2e, (50, 95, 99))
    i50, i95 = percentiles(itl, (50, 95))
    (s50,) = percentiles(speed, (50,))
    return LevelReport(
        concurrency=concurrency,
        requests=len(samples),
        ok=len(ok),
        errors=len(samples) - len(ok),
        errors_by_kind=errors_by_kind(samples),
        error_examples=error_examples(samples),
        rejected=sum(1 for s in samples if s.error == REJECTED),
        retries=sum(s.retries for s in samples),
        ttft_ms=Percentiles3(p50=t50, p95=t95, p99=t99),
        itl_ms=Percentiles2(p50=i50, p95=i95),
        per_stream_tokens_per_s=Median(p50=s50),
        output_tokens_per_s=round(output / wall_s, 3) if wall_s > 0 else 0.0,
        e2e_ms=Percentiles3(p50=e50, p95=e95, p99=e99),
        output_tokens=output,
        counted_tokens=counted,
        usage_tokens=sum(reported) if reported else None,
        wall_s=round(wall_s, 6),
        client_cpu_s=round(cpu_s, 6),
        client_overhead_us_per_token=round(cpu_s * 1e6 / output, 3) if output else None,
    )


def first_request(sample: RequestSample) -> FirstRequest:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return FirstRequest(
        ok=sample.ok,
        error=sample.error,
        detail=(sample.detail or "")[:200] or None,
        retries=sample.retries,
        ttft_ms=r(sample.ttft_ms),
        e2e_ms=r(sample.e2e_ms),
        output_tokens=sample.output_tokens,
        tokens_per_s=r(sample.tokens_per_s),
    )


def headline(levels: Sequence[LevelReport]) -> LevelReport:
    """The level a sweep is summarised by: highest aggregate throughput (first on ties)."""
    return max(levels, key=lambda lv: lv.output_tokens_per_s)

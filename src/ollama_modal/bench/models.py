"""The bench report: an explicit output model, so ``--json`` is a contract, not a dump."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


REJECTED_HELP = ("requests the server answered 429 Too Many Requests: over its concurrency cap (a Modal Server above "
                 "max_concurrency = server.max_inputs in flight per container; it does not queue them). Counted in "
                 "errors too (as http_429)")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Percentiles3(_Out):
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class Percentiles2(_Out):
    p50: float | None = None
    p95: float | None = None


class Median(_Out):
    p50: float | None = None


class FirstRequest(_Out):
    """The run's first request, sent alone before any load: it may have met a cold container."""

    ok: bool
    error: str | None = None
    detail: str | None = None
    retries: int = 0
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    output_tokens: int = 0
    tokens_per_s: float | None = None
    note: str | None = None


class Roofline(_Out):
    """Measured decode speed against the GPU's memory-bandwidth bound, and one piece of advice."""

    gpu: str | None = None
    gpu_count: int = 1
    model_bytes: int | None = None
    bound_tokens_per_s: Annotated[float | None, Field(description="bandwidth / model bytes")] = None
    measured_tokens_per_s: Annotated[float | None, Field(description="per-stream p50 at the lowest concurrency")] = None
    fraction_of_bound: float | None = None
    typical_fraction: Annotated[float | None, Field(description="what llama.cpp usually reaches on this GPU")] = None
    rule: Annotated[str, Field(description="id of the advice rule that fired")]
    advice: str


class LevelReport(_Out):
    """Figures for one concurrency level (N requests through C closed-loop workers)."""

    concurrency: int
    requests: int
    ok: int
    errors: int
    errors_by_kind: dict[str, int]
    error_examples: Annotated[
        dict[str, str], Field(default_factory=dict, description="the first message seen for each error kind")
    ]
    retries: Annotated[int, Field(description="requests sent once more on a fresh connection after the server had closed "
                                             "their pooled one unanswered; not errors, not in any latency")] = 0
    rejected: Annotated[int, Field(description=REJECTED_HELP)] = 0
    ttft_ms: Percentiles3
    itl_ms: Percentiles2
    per_stream_tokens_per_s: Median
    output_tokens_per_s: Annotated[float, Field(description="all output tokens / wall time of the level")]
    e2e_ms: Percentiles3
    output_tokens: int
    counted_tokens: Annotated[int, Field(description="content chunks seen in the streams")]
    usage_tokens: Annotated[int | None, Field(description="sum of usage.completion_tokens when reported")]
    wall_s: float
    client_cpu_s: float
    client_overhead_us_per_token: float | None


class BenchResult(_Out):
    """A whole run. Top-level figures are those of the headline level: the only level, or in a
    sweep the one with the highest aggregate output tokens/s. ``levels`` holds every level."""

    url: str
    model: str
    concurrency: int
    requests: int
    errors: int
    errors_by_kind: dict[str, int]
    retries: Annotated[int, Field(description="requests sent once more on a fresh connection after the server had closed "
                                             "their pooled one unanswered; not errors, not in any latency")] = 0
    rejected: Annotated[int, Field(description=REJECTED_HELP)] = 0
    ttft_ms: Percentiles3
    itl_ms: Percentiles2
    per_stream_tokens_per_s: Median
    output_tokens_per_s: float
    e2e_ms: Percentiles3
    first_request: FirstRequest
    roofline: Roofline
    client_overhead_us_per_token: Annotated[
        float | None, Field(description="client CPU time per output token over the whole run")
    ]
    max_tokens: int
    levels: list[LevelReport]

"""The decode roofline and one sentence of advice.

Decoding one token reads every weight once, so a stream cannot go faster than
bandwidth / model bytes. llama.cpp reaches a typical fraction of that bound
(``catalog.decode_efficiency``). The advice is the first rule that fires, in this order:

1. ``errors``: 10% or more of the requests failed -> say which kind and what to check.
2. ``client_bound``: the client used 80% or more of a CPU core in a level -> the figures
   may be the client's limit, not the server's.
3. ``slow_server``: at concurrency 1 a stream reaches less than half the typical fraction
   of the bound -> look at the server and the network, not the GPU.
4. ``cold_start``: the first request's TTFT is at least 3x the warm p50 and 1 s longer ->
   a warmer policy (longer scaledown_window or min_containers).
5. ``raise_concurrency``: in a sweep, aggregate tokens/s grew 1.5x or more from the lowest
   to the highest level while per-stream speed kept 70% or more -> raise concurrency.
6. ``saturated``: in a sweep, aggregate tokens/s did not grow that much -> the deployment's
   capacity is reached; more containers, not more parallelism.
7. ``gpu_bound``: per-stream speed is 80% or more of the typical fraction -> the GPU does
   what it can; a higher-bandwidth GPU gives faster streams.
8. ``no_rule``: nothing stands out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .. import catalog
from .models import FirstRequest, LevelReport, Roofline

ERROR_SHARE = 0.10
CLIENT_CPU_SHARE = 0.80
SLOW_SHARE_OF_TYPICAL = 0.5
COLD_RATIO = 3.0
COLD_MIN_EXTRA_MS = 1000.0
GROWTH = 1.5
KEPT_SPEED = 0.7
NEAR_TYPICAL = 0.8

_ERROR_FIX = {
    "http_401": "check the API key (--api-key)",
    "http_403": "check the API key (--api-key)",
    "http_404": "check the URL and the model name",
    "http_429": ("the server refused them as over its concurrency cap (a Modal Server answers 429 above server.max_inputs "
                 "requests in flight per container and does not queue them): bench at most max_inputs x the containers up, "
                 "or raise server.max_inputs (and ollama.num_parallel) or keep more containers up (warm.min_containers, "
                 "warm.buffer_containers)"),
    "http_503": ("no container could take them: a Modal Server answers 503 at once while no container is up (it holds no "
                 "request during a cold start), and an app at warm.max_containers has none to spare; keep a container up "
                 "(warm.min_containers), raise warm.max_containers or lower the concurrency (bench --cold measures the start)"),
    "timeout": "raise the timeouts or check that the app is up (omc status)",
    "connect": "check the URL and that the app is deployed (omc status)",
}


def _fix(kind: str) -> str:
    if kind in _ERROR_FIX:
        return _ERROR_FIX[kind]
    if kind.startswith("http_5"):
        return "the server failed: read its logs (omc logs)"
    return "streams broke off: read the server logs (omc logs)"


def faster_gpu(gpu: catalog.GpuModel) -> catalog.GpuModel | None:
    """The catalog GPU with the next higher memory bandwidth."""
    higher = [g for g in catalog.GPUS.values() if g.bandwidth_gbs > gpu.bandwidth_gbs]
    return min(higher, key=lambda g: g.bandwidth_gbs) if higher else None


def analyse(
    levels: Sequence[LevelReport],
    first: FirstRequest,
    gpu: str | None = None,
    gpu_count: int = 1,
    model_bytes: int | None = None,
) -> Roofline:
    spec = catalog.lookup_gpu(gpu) if gpu else None
    bound = catalog.roofline_tokens_per_s(spec, model_bytes, gpu_count) if spec and model_bytes else None
    typical = catalog.decode_efficiency(spec) if spec else None
    by_c = sorted(levels, key=lambda lv: lv.concurrency)
    low = by_c[0] if by_c else None
    measured = low.per_stream_tokens_per_s.p50 if low else None
    if measured is None:
        measured = first.tokens_per_s
    fraction = measured / bound if measured is not None and bound else None
    rule, advice = _advise(by_c, first, spec, bound, typical, measured, fraction)
    return Roofline(
        gpu=spec.name if spec else gpu,
        gpu_count=gpu_count,
        model_bytes=model_bytes,
        bound_tokens_per_s=None if bound is None else round(bound, 1),
        measured_tokens_per_s=measured,
        fraction_of_bound=None if fraction is None else round(fraction, 4),
        typical_fraction=typical,
        rule=rule,
        advice=advice,
    )


def _advise(by_c, first, spec, bound, typical, measured, fraction) -> tuple[str, str]:
    total = sum(lv.requests for lv in by_c) + 1
    kinds = Counter([first.error] if first.error else [])
    failed = sum(lv.errors for lv in by_c) + (0 if first.ok else 1)
    for lv in by_c:
        kinds.update(lv.errors_by_kind)
    if failed and failed / total >= ERROR_SHARE:
        kind = kinds.most_common(1)[0][0]
        if kind == "http_429":
            return "rejected", (f"{kinds[kind]} of {total} requests were rejected with 429 (too many at once): "
                                f"{_fix(kind)}, then bench again.")
        return "errors", f"{failed} of {total} requests failed (most often {kind}): {_fix(kind)}, then bench again."

    for lv in by_c:
        if lv.wall_s > 0 and lv.client_cpu_s / lv.wall_s >= CLIENT_CPU_SHARE:
            share = round(100 * lv.client_cpu_s / lv.wall_s)
            return "client_bound", (
                f"The benchmark client used {share}% of a CPU core at concurrency {lv.concurrency}, so the "
                "figures may show this machine's limit: lower the concurrency or run from a faster machine."
            )

    at_one = next((lv.per_stream_tokens_per_s.p50 for lv in by_c if lv.concurrency == 1), None)
    if at_one is None:
        at_one = first.tokens_per_s
    if bound and typical and at_one is not None and at_one / bound < SLOW_SHARE_OF_TYPICAL * typical:
        return "slow_server", (
            f"At concurrency 1 a stream decodes at {at_one:.0f} tokens/s, {100 * at_one / bound:.0f}% of the "
            f"{spec.name} bound of {bound:.0f} tokens/s where about {100 * typical:.0f}% is typical: look at the "
            "server and the network (model partly on CPU, other load, a proxy buffering the stream)."
        )

    warm = by_c[0].ttft_ms.p50 if by_c else None
    if first.ttft_ms is not None and warm and first.ttft_ms >= COLD_RATIO * warm \
            and first.ttft_ms - warm >= COLD_MIN_EXTRA_MS:
        return "cold_start", (
            f"The first request waited {first.ttft_ms / 1000:.1f} s for its first token against "
            f"{warm:.0f} ms when warm: a warmer policy (a longer scaledown_window or min_containers = 1) "
            "avoids that cold start."
        )

    if len(by_c) >= 2:
        lo, hi = by_c[0], by_c[-1]
        s_lo, s_hi = lo.per_stream_tokens_per_s.p50, hi.per_stream_tokens_per_s.p50
        grew = lo.output_tokens_per_s > 0 and hi.output_tokens_per_s >= GROWTH * lo.output_tokens_per_s
        if grew and s_lo and s_hi and s_hi >= KEPT_SPEED * s_lo:
            return "raise_concurrency", (
                f"Aggregate throughput grew from {lo.output_tokens_per_s:.0f} to {hi.output_tokens_per_s:.0f} "
                f"tokens/s between concurrency {lo.concurrency} and {hi.concurrency} while each stream kept "
                f"{100 * s_hi / s_lo:.0f}% of its speed: raise the concurrency further (OLLAMA_NUM_PARALLEL "
                "and the container's concurrent inputs)."
            )
        if not grew:
            best = max(by_c, key=lambda lv: lv.output_tokens_per_s)
            return "saturated", (
                f"Aggregate throughput stays near {best.output_tokens_per_s:.0f} tokens/s (best at concurrency "
                f"{best.concurrency}): this deployment is at capacity, so add containers (max_containers) "
                "rather than parallel streams."
            )

    if bound and typical and fraction is not None and fraction >= NEAR_TYPICAL * typical:
        nxt = faster_gpu(spec)
        to = f" such as {nxt.name} ({nxt.bandwidth_gbs:.0f} GB/s)" if nxt else ""
        return "gpu_bound", (
            f"Each stream decodes at {measured:.0f} tokens/s, {100 * fraction:.0f}% of the {spec.name} bound "
            f"where about {100 * typical:.0f}% is typical: the GPU does what it can, so for faster streams "
            f"choose a higher-bandwidth GPU{to}."
        )

    if measured is None:
        return "no_rule", "No stream produced two tokens, so there is no speed to judge: raise --max-tokens."
    return "no_rule", (
        f"Each stream decodes at {measured:.0f} tokens/s and nothing stands out; run a --sweep to see how "
        "throughput scales with concurrency."
    )

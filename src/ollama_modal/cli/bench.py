"""`omc bench`: load a deployed endpoint (or any OpenAI-compatible URL); `omc bench compare`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..bench.config import MAX_CONCURRENCY, MAX_REQUESTS, MAX_TOKENS
from . import options as o
from .common import AppOpt, EnvOpt, backend

app = typer.Typer(help="Benchmark an endpoint: cold start, time to first token, tokens/s, against the GPU's limit.")


@app.callback(invoke_without_command=True)
def bench_cmd(
    ctx: typer.Context,
    app_: AppOpt = None,
    url: Annotated[Optional[str], typer.Option("--url", help="Any OpenAI-compatible endpoint instead of the deployed app.")] = None,
    api_key: Annotated[Optional[str], typer.Option("--api-key", help="Bearer key (default: OMC_API_KEY or the key stored by omc).", envvar="OMC_API_KEY")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Model name (default: the deployed model, or the endpoint's first).")] = None,
    requests: Annotated[int, o.number("--requests", "-n", help="Requests per concurrency level.", ge=1, le=MAX_REQUESTS)] = 20,
    concurrency: Annotated[int, o.number("--concurrency", "-c", help="Concurrent streams.", ge=1, le=MAX_CONCURRENCY)] = 1,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="Concurrency levels to run in turn, e.g. 1,2,4,8,16.")] = None,
    max_tokens: Annotated[int, o.number("--max-tokens", help="Output tokens asked per request.", ge=1, le=MAX_TOKENS)] = 256,
    prompts: Annotated[Optional[Path], typer.Option("--prompts", help="JSONL file of prompts ({\"prompt\": ...} or {\"messages\": [...]}).")] = None,
    cold: Annotated[bool, typer.Option("--cold", help="Measure a true cold start first (needs an omc-managed app).")] = False,
    gpu: Annotated[Optional[str], typer.Option("--gpu", help="GPU behind --url, for the roofline.")] = None,
    json_: o.JsonOpt = False,
    save: Annotated[Optional[Path], typer.Option("--save", help="Append the result as one JSON line to FILE.")] = None,
    env: EnvOpt = None,
) -> None:
    """Run a benchmark (without a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..bench import (
        BenchConfig, all_failed, error_lines, load_prompts, measure_cold_start, parse_levels, rejected_total, run_bench_sync,
        save_result, send_one_sync,
    )
    from ..config.modelsize import estimate_model
    from ..errors import UsageError
    from ..services.bench_target import Target, from_app, make_cold
    from .output import err, print_json

    if url and app_:
        raise UsageError("give --app or --url, not both")
    if cold and url:
        raise UsageError("--cold needs an omc-managed app (it drains the app's containers)", hint="drop --url, or --cold")
    if save is not None:
        from ..safeio import check_output_file

        check_output_file(save, flag="--save", create_parents=True)  # before the run, not after it
    be = None
    if url:
        size = estimate_model(model) if model else None
        target = Target(url, api_key, model, gpu, 1, int(size.weights_bytes) if size and size.weights_bytes else None)
    else:
        from ..services.apps import pick_app

        be = backend(env)
        target = from_app(be, pick_app(be, app_), api_key, model)
    levels = parse_levels(sweep) if sweep else [concurrency]
    kwargs = dict(
        url=target.url, model=target.model, api_key=target.api_key, requests=requests, concurrency=levels,
        max_tokens=max_tokens, gpu=target.gpu, gpu_count=target.gpu_count, model_bytes=target.model_bytes,
    )
    if prompts is not None:
        kwargs["prompts"] = load_prompts(prompts)
    config = BenchConfig(**kwargs)

    cold_result = None
    if cold:
        assert be is not None and target.app is not None
        ensure, lines, restore = make_cold(be, target.app)
        err.print("draining containers for a cold start (scaledown_window=2 until measured)…", highlight=False)
        try:
            from ..bench.cold import RetryUnavailable

            # A Modal Server answers 503 until a container is up: retry like a client must.
            retry = RetryUnavailable() if target.primitive == "server" else None
            cold_result = measure_cold_start(lambda: send_one_sync(config), ensure, lines, model=target.model, retry_unavailable=retry)
        finally:
            restore()

    result = _run_with_progress(run_bench_sync, config, quiet=json_)
    data = result.model_dump(mode="json")
    if cold_result is not None:
        data["cold_start"] = cold_result.model_dump(mode="json")
    if save is not None:
        save_result(save, result)
    if json_:
        print_json(data)
    else:
        _show(data, error_lines(result))
    if all_failed(result):
        from ..errors import RemoteError

        if rejected_total(result) == 1 + sum(lv.requests for lv in result.levels):  # the first request and every level's
            raise RemoteError(
                "every request was rejected with 429: the endpoint was over its concurrency cap the whole run",
                hint=REJECTED_HINT,
            )
        raise RemoteError(
            f"every request failed ({'; '.join(error_lines(result))})",
            hint="check the URL, the API key (omc keys show) and the app's state (omc status, omc logs)",
        )


REJECTED_HINT = ("A Modal Server answers 429 above server.max_inputs requests in flight per container "
                 "(max_concurrency) and does not queue: keep clients under max_inputs x the containers up, or raise "
                 "server.max_inputs (and ollama.num_parallel), or keep more containers up (warm.min_containers, "
                 "warm.buffer_containers).")


def _run_with_progress(run, config, *, quiet: bool):
    if quiet:
        return run(config)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from .output import err

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("requests", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run(config, progress)


def _show(d: dict, errors: list[str]) -> None:
    from .output import print_text, table

    def ms(x):
        return "-" if x is None else f"{x:,.0f} ms"

    rows = [
        [lv["concurrency"], lv["requests"], lv["errors"], ms(lv["ttft_ms"]["p50"]), ms(lv["ttft_ms"]["p95"]),
         ms(lv["itl_ms"]["p50"]), f"{lv['per_stream_tokens_per_s']['p50'] or 0:,.1f}", f"{lv['output_tokens_per_s']:,.1f}", ms(lv["e2e_ms"]["p95"])]
        for lv in d["levels"]
    ]
    table(["streams", "requests", "errors", "TTFT p50", "TTFT p95", "ITL p50", "tok/s per stream", "tok/s total", "e2e p95"], rows)
    fr = d["first_request"]
    print_text(f"first request: TTFT {ms(fr.get('ttft_ms'))}, end to end {ms(fr.get('e2e_ms'))}")
    if "cold_start" in d:
        c = d["cold_start"]
        b = c["breakdown"]
        print_text(
            f"cold start: TTFT {ms(c.get('cold_ttft_ms'))} = container {b.get('container_start_s')} s + server {b.get('server_start_s')} s"
            f" + model load {b.get('model_load_s')} s + warm-up {b.get('warmup_s')} s + first token {b.get('first_token_s')} s"
        )
        if c.get("unavailable_responses"):
            print_text(
                f"the Modal Server answered 503 {c['unavailable_responses']} times over {c.get('unavailable_wait_s')} s "
                "while no container was up (retried; clients must retry too)"
            )
    r = d["roofline"]
    if r.get("bound_tokens_per_s"):
        print_text(
            f"roofline: {r['gpu']} bound {r['bound_tokens_per_s']:,.0f} tok/s for this model; measured "
            f"{r.get('measured_tokens_per_s') or 0:,.1f} tok/s per stream = {100 * (r.get('fraction_of_bound') or 0):.0f}% "
            f"(llama.cpp typically reaches {100 * (r.get('typical_fraction') or 0):.0f}%)"
        )
    print_text(r["advice"])
    for line in errors:
        print_text(f"errors: {line}")
    rejected = sum(lv.get("rejected", 0) for lv in d["levels"]) + (fr.get("error") == "http_429")
    if rejected:
        print_text(f"rejected: {rejected} request(s) got 429 Too Many Requests, i.e. the server refused them as over its "
                   f"concurrency cap instead of queueing them. {REJECTED_HINT}")
    retried = sum(lv.get("retries", 0) for lv in d["levels"]) + fr.get("retries", 0)
    if retried:
        print_text(f"retries: {retried} request(s) went again on a fresh connection after the server had closed "
                   "the pooled one unanswered (not errors; only the second attempt is timed)")


@app.command("compare")
def compare_cmd(
    a: Annotated[Path, typer.Argument(help="Saved result (JSON, or a --save JSONL file: its last line).")],
    b: Annotated[Path, typer.Argument(help="The result to compare with A.")],
    json_: o.JsonOpt = False,
) -> None:
    """Show how B differs from A, metric by metric."""
    from ..bench import compare, load_saved
    from .output import print_json, table

    rows = compare(load_saved(a), load_saved(b))
    if json_:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table(
        ["metric", "A", "B", "change", "%", ""],
        [[r.metric, _num(r.a), _num(r.b), _num(r.delta), "" if r.delta_pct is None else f"{r.delta_pct:+.1f}%", r.verdict] for r in rows],
    )


def _num(x) -> str:
    return "-" if x is None else f"{x:,.2f}"

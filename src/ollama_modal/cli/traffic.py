"""`omc traffic`: export a deployed app's real requests as a trace for `omc cost --trace`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import options as o
from .common import AppOpt, EnvOpt, backend


def traffic_cmd(
    app: AppOpt = None,
    since: Annotated[str, typer.Option("--since", help="How far back, e.g. 90m, 6h, 2d (at most 7d for a Modal Server: what Modal keeps of its request history; 30d for a web function: its request log, as long as the workspace's plan keeps logs).")] = "1d",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the CSV trace here (default: stdout).")] = None,
    json_: o.JsonOpt = False,
    env: EnvOpt = None,
) -> None:
    """The app's real requests (timestamp, route, status, duration) as a CSV trace `omc cost --trace` reads.

    A Modal Server's come from Modal's request history; a web function's from the one log line
    per request its proxy writes (with token counts: when every request has one, the trace gets
    input_tokens and output_tokens columns, which `omc cost --trace` uses).
    """
    from ..fsutil import atomic_write_text
    from ..services.apps import pick_app
    from ..services.traffic_export import export, has_tokens, parse_since, to_csv, window
    from .output import info, print_json, print_text

    start, end = window(parse_since(since))
    if output is not None:
        from ..safeio import check_output_file

        check_output_file(output, flag="--output")
    be = backend(env)
    name = pick_app(be, app)
    rows = export(be, name, start, end)
    if json_:
        print_json({"app": name, "since": start.isoformat(timespec="seconds"), "until": end.isoformat(timespec="seconds"),
                    "requests": [r.to_json() for r in rows]})
        return
    text = to_csv(rows)
    counted = sum(1 for r in rows if r.output_tokens is not None)
    if rows and counted and not has_tokens(rows):
        info(f"{len(rows) - counted} of {len(rows)} requests have no output token count (the model's answer did not "
             "report one, e.g. an OpenAI stream without stream_options.include_usage): the trace leaves the token columns out")
    if output is None:
        print_text(text.rstrip("\n"))
    else:
        atomic_write_text(output, text)
        info(f"wrote {len(rows)} requests of {name} to {output}; cost them with `omc cost --trace {output}`")

"""The object every command receives: global flags and the services it may swap in tests."""

from __future__ import annotations

from dataclasses import dataclass

import typer

DEBUG_ENV = "OMC_DEBUG"


@dataclass
class AppContext:
    debug: bool = False


def get(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):
        obj = AppContext()
        ctx.find_root().obj = obj
    return obj

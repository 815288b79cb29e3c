"""Registers the commands that act on a deployed app."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from . import bench, cost, deploy, keys, ops, status, switch, traffic

    app.command("deploy")(deploy.deploy_cmd)
    app.command("switch-gpu")(switch.switch_gpu_cmd)
    app.command("switch-warm")(switch.switch_warm_cmd)
    app.command("status")(status.status_cmd)
    app.command("logs")(ops.logs_cmd)
    app.command("history")(ops.history_cmd)
    app.command("rollback")(ops.rollback_cmd)
    app.command("stop")(ops.stop_cmd)
    app.add_typer(keys.app, name="keys")
    app.add_typer(bench.app, name="bench")
    app.command("cost")(cost.cost_cmd)
    app.command("recommend")(cost.recommend_cmd)
    app.command("traffic")(traffic.traffic_cmd)

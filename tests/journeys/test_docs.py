"""The docs are executable: every shell command in README.md and docs/*.md is run here,
exactly as written, or its block is marked ``<!-- not-run: REASON -->`` in the doc.

How it works (see tests/journeys/doc_commands.py for which lines count as commands):
journeys run documented commands with ``journey.doc("exact text")`` (or several consecutive
lines in one shell with ``journey.doc_script(...)``), which refuse text the docs do not show;
``test_every_documented_command_has_a_journey`` reads the ``.doc("...")``/``.doc_script(...)``
literals of the journey modules and compares them with the docs, both ways. The CI workflow's
``run:`` steps are run in order by ``test_ci_workflow_as_written``. Generated ``--help`` output
(``text`` fences in docs/commands.md) is not a command.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from .doc_commands import REPO, all_commands

HERE = Path(__file__).resolve().parent


def covered_by_journeys() -> dict[str, str]:
    """Documented text -> where a journey runs it (the literal first argument of ``.doc(...)``)."""
    found: dict[str, str] = {}
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("doc", "doc_script")
            ):
                texts = node.args if node.func.attr == "doc_script" else node.args[:1]
                for arg in texts:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, f"{path.name}:{node.lineno}")
    return found


def test_every_documented_command_has_a_journey() -> None:
    commands = all_commands()
    runnable = {c.text: c for c in commands if c.kind == "shell" and c.not_run is None}
    covered = covered_by_journeys()
    missing = [f"{c.file}:{c.line}: {c.text}" for t, c in runnable.items() if t not in covered]
    assert not missing, (
        "documented commands no journey runs; add a journey step `journey.doc(<text>)` in tests/journeys/, "
        "or mark the block `<!-- not-run: REASON -->` in the doc if it cannot run here:\n  " + "\n  ".join(missing)
    )
    stale = [f"{where}: {t}" for t, where in covered.items() if t not in {c.text for c in commands}]
    assert not stale, "journeys run commands the docs no longer show:\n  " + "\n  ".join(stale)
    unexplained = [f"{c.file}:{c.line}" for c in commands if c.not_run is not None and not c.not_run.strip()]
    assert not unexplained, f"not-run markers need a reason: {unexplained}"


def test_extraction_sees_the_kinds_of_commands_the_docs_use() -> None:
    """Guards the extractor itself: it finds README's tour, a CI step and no --help text."""
    texts = {c.text for c in all_commands()}
    assert "omc status --check" in texts and "omc profiles list" in texts
    assert any(c.kind == "ci" and c.text.startswith("omc deploy") for c in all_commands())
    assert not any(t.startswith("Usage:") or t.startswith("omc [OPTIONS]") for t in texts)
    assert not any(c.file == "docs/commands.md" for c in all_commands())


def test_readme_tour(journey) -> None:
    """README's command tour, one command after another, answering the confirmations."""
    j = journey
    j.doc("omc profiles list")
    j.doc("omc deploy --profile a10g-balanced", answer="y")
    url = j.omc("status", "--json", "--no-health").json()["url"]
    j.doc("omc switch-gpu h100", answer="y")
    assert j.created().resources.gpu_config.gpu_type.startswith("H100")
    j.doc("omc switch-warm always-on", answer="y")
    j.wake(url)
    gate = j.doc("omc status --check", expect=None)
    assert gate.code == 0, gate
    key = j.doc("omc keys show --show").out
    assert "omc-" in key
    j.doc("omc cost --profile a10g-balanced --rpm 2")
    j.doc("omc bench --sweep 1,4,16")


def test_profiles_doc_then_deploy_the_new_profile(journey) -> None:
    """docs/profiles.md's commands; the new profile deploys and passes the gate."""
    j = journey
    listing = j.doc("omc profiles list").out
    assert "a10g-balanced" in listing
    shown = j.doc("omc profiles show a10g-balanced").out
    assert "codellama:7b" in shown
    j.doc("omc profiles show a10g-balanced --origin")
    j.doc("omc profiles validate")
    j.doc("omc profiles new mine --from a10g-balanced --gpu h100 --scaledown-window 60")
    assert (j.cwd / "profiles" / "mine.toml").exists()
    dep = j.omc("deploy", "--profile", "mine", "--yes", "--json").json()
    fn = j.created()
    assert fn.resources.gpu_config.gpu_type.startswith("H100") and fn.autoscaler_settings.scaledown_window == 60
    j.wake(dep["url"])
    st = j.omc("status", "--check", "--json").json()
    assert st["profile"] == "mine"
    j.doc("omc profiles init")


MY_CODER = """\
description = "docs/bench.md's example app"
extends = ["a10g-balanced"]

[app]
name = "my-coder"

[model]
name = "qwen2.5-coder:7b"

[server]
api_key_secret = "my-coder-api-keys"
"""


def test_bench_doc(journey) -> None:
    """docs/bench.md's commands against an app named my-coder serving qwen2.5-coder:7b."""
    j = journey
    (j.cwd / "profiles").mkdir()
    (j.cwd / "profiles" / "my-coder.toml").write_text(MY_CODER)
    j.plane.seed_model("omc-ollama-models", "qwen2.5-coder:7b")
    url = j.omc("deploy", "--profile", "my-coder", "--yes", "--json").json()["url"]
    key = j.omc("keys", "show", "--profile", "my-coder", "--show", "--json").json()["active"]
    j.doc("omc bench --app my-coder")
    j.doc("omc bench --app my-coder --concurrency 8")
    j.doc("omc bench --app my-coder --sweep 1,2,4,8,16")
    j.doc("omc bench --url https://you--omc.modal.run --api-key \"$KEY\" --model qwen2.5-coder:7b",
          replace={"https://you--omc.modal.run": url}, env={"KEY": key})
    j.doc("omc bench --app my-coder --json --save bench.jsonl")
    saved = (j.cwd / "bench.jsonl").read_text().splitlines()
    assert len(saved) == 1 and json.loads(saved[0])["results"]["levels"][0]["ok"] == 20
    shutil.copy(j.cwd / "bench.jsonl", j.cwd / "before.jsonl")
    shutil.copy(j.cwd / "bench.jsonl", j.cwd / "after.jsonl")
    j.doc("omc bench compare before.jsonl after.jsonl")
    j.doc("omc bench --app my-coder --cold")


def test_service_doc_curl(journey) -> None:
    """docs/service.md's curl examples against the deployed URL."""
    j = journey
    j.omc("deploy", "--profile", "a10g-balanced", "--yes", "--json")
    key = j.omc("keys", "show", "--show", "--json").json()["active"]
    out = j.doc_script(
        "URL=$(omc status --json | jq -r .url)",
        'curl -N "$URL/v1/chat/completions" -H "Authorization: Bearer $OMC_KEY" -H "Content-Type: application/json" '
        '-d \'{"model": "codellama:7b", "stream": true, "messages": [{"role": "user", "content": "Write fizzbuzz in Python"}]}\'',
        'curl "$URL/readyz"',
        env={"OMC_KEY": key},
    ).out
    chat, _, ready = out.rpartition("\n{")
    assert "data:" in chat and "[DONE]" in chat, out
    assert json.loads("{" + ready)["ready"] is True, out


def ci_steps() -> list[str]:
    return [c.text for c in all_commands() if c.kind == "ci" and c.not_run is None]


def test_ci_workflow_as_written(journey) -> None:
    """docs/ci.md's workflow: its run: steps in order, in a checkout of this repository, with
    the variables GitHub Actions sets. `pip install .` is what this environment already did.
    A cold start takes seconds here (as on Modal); the gate waits through it."""
    j = journey
    j.plane.cold_start_s = 5.0
    shutil.copytree(REPO / "profiles", j.cwd / "profiles")
    output = j.cwd / "github_output"
    env = {"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_OUTPUT": str(output), "CI": "true"}
    steps = ci_steps()
    assert steps and any(s.startswith("omc deploy") for s in steps)
    for step in steps:
        if step.startswith("pip install"):
            continue
        j.shell(step, env=env)
    assert output.read_text().startswith("url=http://127.0.0.1:")
    assert j.calls("AppPublish")[-1].deployment_tag == env["GITHUB_SHA"]

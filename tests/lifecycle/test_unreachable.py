"""Modal unreachable: every command fails soon with a clear message (exit 3), not after the
SDK's own minute of connection retries. Run as real `omc` processes (a fresh SDK each time);
the subprocess timeout only guards against a hang, it asserts nothing about speed."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

HANG_GUARD_S = 40  # the SDK alone retries for about 63 s: a run that needs it fails here


def run_omc(args: list[str], server_url: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMC_", "MODAL_"))}
    env.update(
        MODAL_SERVER_URL=server_url,
        MODAL_TOKEN_ID="ak-test",
        MODAL_TOKEN_SECRET="as-test",
        MODAL_CONFIG_PATH=str(tmp_path / ".modal.toml"),
        OMC_STATE_DIR=str(tmp_path / ".omc-state"),
        OMC_CACHE_DIR=str(tmp_path / ".omc-cache"),
        NO_COLOR="1",
    )
    return subprocess.run(
        [sys.executable, "-m", "ollama_modal", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S
    )


@pytest.fixture
def closed_port() -> int:
    from tests.fakes.ports import closed_port

    return closed_port()  # nothing listens, and nothing will: connections are refused


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP connections (the kernel does, from the backlog) but never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


def assert_clear_failure(r: subprocess.CompletedProcess[str], url: str) -> None:
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    assert f"cannot reach Modal at {url}" in r.stderr, r.stderr
    assert "hint:" in r.stderr and "MODAL_SERVER_URL" in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["deploy", "--profile", "a10g-balanced", "--yes"],
        ["switch-warm", "always-on", "--yes"],
    ],
    ids=lambda a: a[0],
)
def test_a_refused_connection_fails_with_a_clear_message(args, closed_port, tmp_path) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    r = run_omc(args, url, tmp_path)
    assert_clear_failure(r, url)
    assert "refused" in r.stderr


def test_a_server_that_never_answers_fails_with_a_clear_message(silent_port, tmp_path) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    r = run_omc(["status"], url, tmp_path)
    assert_clear_failure(r, url)
    assert "no answer within" in r.stderr


def test_no_spinner_when_stderr_is_not_a_terminal(closed_port, tmp_path) -> None:
    r = run_omc(["status"], f"http://127.0.0.1:{closed_port}", tmp_path)
    assert "waiting on Modal" not in r.stderr
    assert not any(ch in r.stderr for ch in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")


def test_a_spinner_on_a_terminal_while_waiting_on_modal(omc, modal_server, monkeypatch) -> None:
    from rich.console import Console

    from ollama_modal.cli import output

    shown: list[str] = []
    real = output.working

    def recording(message: str):
        shown.append(message)
        return real(message)

    monkeypatch.setattr(output, "err", Console(file=io.StringIO(), force_terminal=True))
    monkeypatch.setattr(output, "working", recording)
    r = omc("status", "--json")
    assert r.exit_code in (0, 4), r.stderr
    assert shown and all(m.startswith("waiting on Modal") for m in shown)

"""Ctrl-C in the middle of a deploy: a clear message, exit 130, no half-written local state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_ctrl_c_during_deploy(modal_server, tmp_path: Path) -> None:
    modal_server.delay("AppPublish", 20)
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ollama_modal", "deploy", "--profile", "a10g-balanced", "--yes"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not modal_server.calls("AppPublish") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert modal_server.calls("AppPublish"), proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    # The key store holds complete JSON only; no temporary files are left behind.
    state = tmp_path / ".omc-state" / "keys"
    leftovers = [p.name for p in state.iterdir() if p.suffix != ".json"] if state.exists() else []
    assert leftovers == []
    assert not list(Path(tmp_path).glob("**/*.tmp"))

"""Journeys: real `omc` processes, one after another, against the fake Modal control plane
with its local data plane (deployed apps really serve on loopback).

Each `omc(...)` call starts the installed console script as a fresh process with the
environment a user's machine would have: MODAL_SERVER_URL to the fake, fake credentials, an
isolated HOME and XDG directories, NO_COLOR and a fixed COLUMNS. Nothing is shared between
commands but the files omc writes and what the control plane recorded.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.fakes.data_plane import DataPlane
from tests.fakes.modal_server import FakeModalServer

#: Bounds a hung process only; asserts nothing about speed.
PROCESS_LIMIT_S = 180


def omc_executable() -> str:
    """The console script installed next to this Python (what `pip install .` put on PATH)."""
    here = Path(sys.executable).parent / "omc"
    found = str(here) if here.exists() else shutil.which("omc")
    assert found, "the omc console script is not installed: pip install -e '.[test]'"
    return found


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float = 0.0  # for the timing report only; nothing asserts on it

    def json(self) -> Any:
        assert self.out.strip(), f"omc {' '.join(self.args)} printed nothing on stdout; stderr:\n{self.err}"
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"$ omc {' '.join(self.args)}\nexit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Journey:
    """One user's machine plus Modal: run omc commands, read what Modal received."""

    def __init__(self, home: Path, server: FakeModalServer, plane: DataPlane) -> None:
        self.home = home
        self.server = server
        self.plane = plane
        self.cwd = home / "work"
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.history: list[Run] = []
        self.env: dict[str, str] = {
            "PATH": os.pathsep.join([str(Path(omc_executable()).parent), os.environ.get("PATH", "")]),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "NO_COLOR": "1",
            "COLUMNS": "100",
            "MODAL_SERVER_URL": server.url,
            "MODAL_TOKEN_ID": "ak-journey",
            "MODAL_TOKEN_SECRET": "as-journey",
        }

    def omc(self, *args: str, expect: int | None = 0, env: dict[str, str] | None = None, answer: str | None = None,
            limit: float = PROCESS_LIMIT_S) -> Run:
        """Run `omc ARGS` as a user would; by default assert it exited 0.

        ``answer``: stdin is a terminal and the user types this line (a confirmation).
        """
        return self._run([omc_executable(), *args], tuple(args), expect, env, answer, limit)

    def shell(self, command: str, expect: int | None = 0, env: dict[str, str] | None = None, answer: str | None = None) -> Run:
        """A shell line (pipes, redirections) run by bash with omc on PATH."""
        return self._run(["bash", "-eo", "pipefail", "-c", command], ("<shell>", command), expect, env, answer, PROCESS_LIMIT_S)

    def doc(self, text: str, *, replace: dict[str, str] | None = None, expect: int | None = 0,
            env: dict[str, str] | None = None, answer: str | None = None) -> Run:
        """Run a command exactly as the docs show it (``text`` as tests.journeys.doc_commands
        extracts it); ``replace`` fills placeholders such as the workspace URL."""
        from .doc_commands import documented

        assert text in documented(), f"not a documented command (changed docs?): {text!r}"
        command = text
        for old, new in (replace or {}).items():
            assert old in command, (old, command)
            command = command.replace(old, new)
        return self.shell(command, expect=expect, env=env, answer=answer)

    def doc_script(self, *texts: str, expect: int | None = 0, env: dict[str, str] | None = None) -> Run:
        """Consecutive documented lines run in one shell (later lines use variables set earlier)."""
        from .doc_commands import documented

        known = documented()
        for text in texts:
            assert text in known, f"not a documented command (changed docs?): {text!r}"
        return self.shell("\n".join(texts), expect=expect, env=env)

    def _run(self, argv: list[str], shown: tuple[str, ...], expect: int | None, env: dict[str, str] | None,
             answer: str | None, limit: float) -> Run:
        full_env = {**self.env, **(env or {})}
        began = time.monotonic()
        if answer is None:
            proc = subprocess.run(argv, cwd=self.cwd, env=full_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=limit)
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        else:
            master, slave = pty.openpty()
            try:
                os.write(master, (answer + "\n").encode())
                p = subprocess.Popen(argv, cwd=self.cwd, env=full_env, stdin=slave, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                out, err = p.communicate(timeout=limit)
                code = p.returncode
            finally:
                os.close(slave)
                os.close(master)
        run = Run(shown, code, out, err, time.monotonic() - began)
        self.history.append(run)
        if expect is not None:
            assert run.code == expect, f"expected exit {expect}\n{run}"
        return run

    def wake(self, url: str) -> None:
        """A client calls the endpoint, so a container runs (what traffic does on Modal)."""
        r = httpx.get(url.rstrip("/") + "/readyz", timeout=PROCESS_LIMIT_S)
        assert r.status_code == 200, f"{url} did not become ready: {r.status_code} {r.text[:2000]}"

    # -- what Modal received ------------------------------------------------------------
    def calls(self, method: str) -> list[Any]:
        return self.server.calls(method)

    def methods(self) -> list[str]:
        return self.server.methods()

    def mark(self) -> int:
        """A position in the recorded RPCs; `since(mark)` lists the methods after it."""
        return len(self.server.servicer.requests)

    def since(self, mark: int) -> list[str]:
        return [r.method for r in list(self.server.servicer.requests)[mark:]]

    def created(self, tag: str = "Ollama.*") -> Any:
        """The last definition FunctionCreate sent for ``tag``."""
        calls = [c for c in self.calls("FunctionCreate") if c.function.function_name == tag]
        assert calls, [c.function.function_name for c in self.calls("FunctionCreate")]
        return calls[-1].function

    def secret(self, name: str = "omc-api-keys") -> dict[str, str]:
        return dict(self.server.state.secrets[("main", name)].env_dict)

    def app(self, name: str = "omc-ollama") -> Any:
        with self.server.state.lock:
            return next(a for a in self.server.state.apps.values() if a.name == name and a.deployments)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "empty_volume: the journey starts with no model in the volume (deploy pulls it)")


@pytest.fixture
def journey(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Journey]:
    """A fresh machine and Modal workspace. The model volume already holds codellama:7b (an
    earlier deploy pulled it), unless the test is marked ``empty_volume``."""
    server = FakeModalServer().start()
    plane = DataPlane(server, tmp_path / "modal")
    if request.node.get_closest_marker("empty_volume") is None:
        plane.seed_model("omc-ollama-models", "codellama:7b")
    j = Journey(tmp_path / "home", server, plane)
    try:
        yield j
    finally:
        if os.environ.get("JOURNEY_TIMES"):  # where a journey's time goes: JOURNEY_TIMES=1 pytest -s
            for run in j.history:
                print(f"{run.seconds:6.2f}s  exit {run.code}  {' '.join(run.args)[:100]}")
        plane.close()
        server.stop()

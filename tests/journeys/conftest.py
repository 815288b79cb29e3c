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
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

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

    def omc(self, *args: str, expect: int | None = 0, env: dict[str, str] | None = None, input: str | None = None) -> Run:
        """Run `omc ARGS` as a user would; by default assert it exited 0."""
        proc = subprocess.run(
            [omc_executable(), *args],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=PROCESS_LIMIT_S,
        )
        run = Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        self.history.append(run)
        if expect is not None:
            assert run.code == expect, f"expected exit {expect}\n{run}"
        return run

    def shell(self, command: str, expect: int | None = 0) -> Run:
        """A documented shell line (pipes, redirections) run by bash with omc on PATH."""
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=PROCESS_LIMIT_S)
        run = Run(("<shell>", command), proc.returncode, proc.stdout, proc.stderr)
        self.history.append(run)
        if expect is not None:
            assert run.code == expect, f"expected exit {expect}\n{run}"
        return run

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


@pytest.fixture
def journey(tmp_path: Path) -> Iterator[Journey]:
    server = FakeModalServer().start()
    plane = DataPlane(server, tmp_path / "modal")
    try:
        yield Journey(tmp_path / "home", server, plane)
    finally:
        plane.close()
        server.stop()

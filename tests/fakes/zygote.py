"""Start fake containers by forking a process that already imported the Modal SDK.

A container of the data plane is ``python container_main.py``; most of its start-up is
``import modal`` (seconds on a loaded machine), the same in every container. This process
imports the SDK once (no threads start on import, so forking afterwards is safe) and then, per
request on stdin (one JSON line: cwd, environment, log file, exit-status file), forks a child
that becomes the container: it takes that working directory and exactly that environment,
writes its output to the log, and runs ``container_main`` as the script would. Everything the
container imports besides the SDK (the deployed module, the uploaded ``ollama_modal``
package, uvicorn) is imported fresh in the child. This process reaps its children and writes
each one's exit status to its file, which :class:`ForkedProcess` reads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: What every container imports first; imported here once.
PRELOAD = ("modal", "modal._partial_function", "modal._utils.async_utils")


class ForkedProcess:
    """The subset of ``subprocess.Popen`` the data plane uses, for a container the zygote forked."""

    def __init__(self, pid: int, status_file: Path) -> None:
        self.pid, self.status_file, self.returncode = pid, status_file, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = int(self.status_file.read_text())
            except (OSError, ValueError):
                return None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired("container", timeout)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The forking process, started on first use; one per data plane."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def spawn(self, cwd: Path, env: dict[str, str], log: Path) -> ForkedProcess:
        status = log.with_name(log.name + ".exit")
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], env=self.env,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps({"cwd": str(cwd), "env": env, "log": str(log), "status": str(status)}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the container zygote exited")
        return ForkedProcess(int(line), status)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _child(req: dict[str, Any]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    extra = [p for p in req["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[1:1] = extra  # what PYTHONPATH does at interpreter start
    sys.argv = [str(HERE / "container_main.py")]
    import runpy

    code = 0
    try:
        runpy.run_path(str(HERE / "container_main.py"), run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - as an uncaught exception ends a script
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    statuses: dict[int, str] = {}

    def reap(*_: object) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            path = statuses.pop(pid, None)
            if path:
                code = os.waitstatus_to_exitcode(status)
                Path(path + ".tmp").write_text(str(code))
                os.replace(path + ".tmp", path)

    signal.signal(signal.SIGCHLD, reap)
    for line in sys.stdin:
        req = json.loads(line)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            _child(req)
        statuses[pid] = req["status"]
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
    # stdin closed: the data plane is done; containers still running are stopped by it.


if __name__ == "__main__":
    main()

"""Time to a clear failure when Modal cannot be reached: `omc status` against the SDK alone.

Goal: `omc status` fails (exit 3) in at most 0.2x the time the modal SDK alone takes to give up
on the same address (its connect retries last about 63 s), for a refused connection and for a
server that accepts connections and never answers. Run:

    python benchmarks/unreachable.py

Prints the wall times and the ratios; exits 1 when a ratio is over the goal. Takes about
four minutes (the SDK baseline waits out its own retries on each address).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

GOAL = 0.2
SDK_ALONE = "import modal\ntry:\n    modal.App.lookup('omc-ollama')\nexcept Exception as e:\n    print(type(e).__name__)\n"


def _run(cmd: list[str], url: str, cwd: str) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMC_", "MODAL_"))}
    env.update(MODAL_SERVER_URL=url, MODAL_TOKEN_ID="ak-bench", MODAL_TOKEN_SECRET="as-bench",
               MODAL_CONFIG_PATH=os.path.join(cwd, ".modal.toml"), OMC_STATE_DIR=os.path.join(cwd, "state"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return time.perf_counter() - t0, proc.returncode


def main() -> int:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    cases = {"refused": f"http://127.0.0.1:{closed_port}", "silent": f"http://127.0.0.1:{silent.getsockname()[1]}"}
    worst = 0.0
    with tempfile.TemporaryDirectory() as cwd:
        for name, url in cases.items():
            omc_s, rc = _run([sys.executable, "-m", "ollama_modal", "status"], url, cwd)
            sdk_s, _ = _run([sys.executable, "-c", SDK_ALONE], url, cwd)
            ratio = omc_s / sdk_s
            worst = max(worst, ratio)
            print(f"{name:8s} omc status {omc_s:6.1f} s (exit {rc})   modal SDK alone {sdk_s:6.1f} s   ratio {ratio:.2f}x")
    silent.close()
    print(f"goal: <= {GOAL}x; worst {worst:.2f}x")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())

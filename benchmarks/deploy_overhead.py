"""`omc deploy` against plain `modal deploy` of the same rendered file, and `omc status`, in one run.

Both talk to the same local fake of Modal's control plane (tests/fakes), as separate processes,
so what is compared is omc's own overhead: resolving and validating the profile, planning
against the deployed tags, checking the Secret and the model volume, tagging the app.

Goal: `omc deploy` at most 1.15x the wall time of `modal deploy FILE`; `omc status` under 1.5 s.
Each round deploys a changed configuration (the scaledown window alternates), so neither tool
can skip the work as "unchanged". Run from the repository root:

    python benchmarks/deploy_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.modal_server import FakeModalServer  # noqa: E402

GOAL_DEPLOY = 1.15
GOAL_STATUS_S = 1.5


def _exe(name: str) -> str:
    path = shutil.which(name, path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if not path:
        raise SystemExit(f"{name} not found")
    return path


def timed(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    omc, modal = _exe("omc"), _exe("modal")
    with FakeModalServer() as server, tempfile.TemporaryDirectory() as work:

        def pull_model(state, model: str = "codellama:7b"):
            name, _, tag = model.partition(":")
            state.volume("omc-ollama-models", state.env(""), True).files[f"manifests/registry.ollama.ai/library/{name}/{tag}"] = 1
            return {"model": model}

        server.state.function_handlers["pull_model"] = pull_model
        env = {
            **os.environ,
            "MODAL_SERVER_URL": server.url,
            "MODAL_TOKEN_ID": "ak-bench",
            "MODAL_TOKEN_SECRET": "as-bench",
            "MODAL_ENVIRONMENT": "main",
            "MODAL_CONFIG_PATH": str(Path(work) / "modal.toml"),
            "OMC_STATE_DIR": str(Path(work) / "state"),
            "OMC_CACHE_DIR": str(Path(work) / "cache"),
            "NO_COLOR": "1",
        }
        # First deploy creates the Secret and fills the volume: not part of the comparison.
        timed([omc, "deploy", "--profile", "a10g-balanced", "--yes"], env, work)
        windows = [301, 302]
        files = []
        for w in windows:
            path = Path(work) / f"app_{w}.py"
            src = subprocess.run([omc, "render", "--profile", "a10g-balanced", "--scaledown-window", str(w)],
                                 env=env, cwd=work, capture_output=True, text=True, check=True).stdout
            path.write_text(src)
            files.append(path)
        omc_t, modal_t = [], []
        for i in range(args.rounds):
            w = windows[i % 2]
            # Interleave so machine noise hits both alike.
            modal_t.append(timed([modal, "deploy", str(files[i % 2]), "--name", "omc-ollama"], env, work))
            omc_t.append(timed([omc, "deploy", "--profile", "a10g-balanced", "--scaledown-window", str(w + 100), "--yes"], env, work))
        status_t = [timed([omc, "status", "--json", "--no-health"], env, work) for _ in range(args.rounds)]
        skip_t = [timed([omc, "deploy", "--profile", "a10g-balanced", "--scaledown-window", str(windows[(args.rounds - 1) % 2] + 100), "--yes"], env, work) for _ in range(3)]
    m_omc, m_modal, m_status = statistics.median(omc_t), statistics.median(modal_t), statistics.median(status_t)
    ratio = m_omc / m_modal
    print(f"modal deploy FILE (baseline)   median {m_modal:6.2f} s")
    print(f"omc deploy                     median {m_omc:6.2f} s   ratio {ratio:.2f}x  (goal <= {GOAL_DEPLOY}x)")
    print(f"omc deploy, unchanged          median {statistics.median(skip_t):6.2f} s")
    print(f"omc status --json --no-health  median {m_status:6.2f} s   (goal < {GOAL_STATUS_S} s)")
    ok = ratio <= GOAL_DEPLOY and m_status < GOAL_STATUS_S
    print("goals met" if ok else "goals NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

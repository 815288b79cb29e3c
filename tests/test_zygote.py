"""The data plane forks containers from a process that imported the Modal SDK once: a forked
container still gets exactly its own environment and working directory, imports the deployed
module fresh, and its exit status comes back, as a fresh `python container_main.py` would."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from tests.fakes.zygote import Zygote

MODULE = '''
import os, sys
import modal

app = modal.App("zygote-test")


@app.function()
def report():
    return {"env": dict(os.environ), "cwd": os.getcwd(), "modal_preloaded": "modal" in sys.modules}
'''


def test_a_forked_container_runs_in_its_own_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "zmod.py").write_text(MODULE)
    inp, outp, log = tmp_path / "in.pkl", tmp_path / "out.pkl", tmp_path / "container.log"
    inp.write_bytes(pickle.dumps(((), {})))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONPATH": str(home), "ONLY_HERE": "1",
           "FAKE_CONTAINER_MODE": "call", "FAKE_CONTAINER_MODULE": "zmod", "FAKE_CONTAINER_FUNCTION": "report",
           "FAKE_CONTAINER_INPUT": str(inp), "FAKE_CONTAINER_OUTPUT": str(outp)}
    z = Zygote({"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "ZYGOTE_ONLY": "1"})
    try:
        proc = z.spawn(home, env, log)
        assert proc.wait(120) == 0, log.read_text()
        status, value = pickle.loads(outp.read_bytes())
        assert status == "ok", value
        assert value["env"] == env  # nothing of the zygote's environment leaks in
        assert Path(value["cwd"]) == home
        bad = z.spawn(home, {**env, "FAKE_CONTAINER_MODE": "nonsense"}, tmp_path / "bad.log")
        assert bad.wait(120) == 1 and "KeyError" in (tmp_path / "bad.log").read_text()
    finally:
        z.close()

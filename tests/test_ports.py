"""The shared free-port helper of the test fixtures: ports no other test process is handed and
the kernel never hands out for bind(0) or an outgoing connection."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.fakes import ports

REPO = Path(__file__).resolve().parents[1]


def test_ports_are_below_the_ephemeral_range_and_bindable() -> None:
    low = ports._ephemeral_low()
    got = [ports.free_port() for _ in range(20)]
    assert len(set(got)) == 20
    for p in got:
        assert ports.LOWEST <= p < low
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))  # nothing took it


def test_another_process_never_gets_a_port_this_one_holds() -> None:
    mine = {ports.free_port() for _ in range(50)}
    code = "from tests.fakes import ports\nprint(' '.join(str(ports.free_port()) for _ in range(300)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True).stdout
    theirs = {int(p) for p in out.split()}
    assert len(theirs) == 300 and not mine & theirs


def test_a_port_something_listens_on_is_skipped(monkeypatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        seq = iter([taken, taken, None])
        real = ports.random.Random

        class Fixed(real):
            def randrange(self, a, b):  # noqa: ANN001
                n = next(seq, None)  # then random choices, as many as it needs
                return n if n is not None else super().randrange(a, b)

        monkeypatch.setattr(ports.random, "Random", Fixed)
        monkeypatch.setattr(ports, "LOWEST", min(ports.LOWEST, taken))
        monkeypatch.setattr(ports, "_ephemeral_low", lambda: max(taken + 1, 32768))
        assert ports.free_port() != taken


def test_a_bound_socket_is_handed_over_listening() -> None:
    s = ports.bound_socket()
    try:
        with socket.create_connection(s.getsockname(), timeout=5):
            pass
    finally:
        s.close()

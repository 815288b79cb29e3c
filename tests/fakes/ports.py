"""Loopback ports for tests that hand a port to something that binds it later (a child process
such as the fake ``ollama serve`` or a container, a uvicorn thread, a profile's Server port).

Binding port 0, closing and passing the number on races: between the close and the later bind,
anything on the machine may get the same port from the kernel (every ``bind(0)`` and every
outgoing connection draws from the same ephemeral range), and several test runs share this
machine. So :func:`free_port` picks ports **below the kernel's ephemeral range**
(``net.ipv4.ip_local_port_range``), which the kernel never hands out on its own, and reserves
each one for the life of this process with a POSIX record lock on byte PORT of one shared lock
file: any test process on the machine using this helper skips a port another one holds, and the
lock goes away with the process however it ends. A port something else already listens on is
skipped too (checked by binding it).

Where the code under test binds in this process, prefer handing over a bound socket
(:func:`bound_socket`) to passing a number.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
import tempfile
import threading
from pathlib import Path

LOCK_FILE = Path(tempfile.gettempdir()) / "omc-test-ports.lock"
LOWEST = 10_000
_lock = threading.Lock()
_held: set[int] = set()
_fd: int | None = None


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default start
    return low


def _lock_fd() -> int:
    global _fd
    if _fd is None:
        _fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    return _fd


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port that stays this process's until it exits (see the module docstring)."""
    high = _ephemeral_low()
    if high - LOWEST < 1000:  # an unusual range: fall back to the kernel's choice
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    rng = random.Random()
    with _lock:
        fd = _lock_fd()
        for _ in range(500):
            port = rng.randrange(LOWEST, high)
            if port in _held:
                continue
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
            except OSError as e:
                if e.errno in (errno.EACCES, errno.EAGAIN):
                    continue  # another test process holds it
                raise
            if not _bindable(port):  # something else listens there: leave it, keep it locked
                _held.add(port)
                continue
            _held.add(port)
            return port
    raise RuntimeError("no free loopback port found below the ephemeral range")


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on a port the kernel chose, to hand to a server in this process
    (``uvicorn.Server.run(sockets=[sock])``): nothing can take the port in between."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(128)
    return s


def closed_port() -> int:
    """A port nothing listens on, reserved so nothing will (connections to it are refused)."""
    return free_port()

"""Let numpy reuse the memory of its big temporaries (glibc only).

A simulated day is a few arrays of ~200,000 numbers, allocated and freed many times. glibc
hands out blocks above its mmap threshold (128 KiB by default, raised dynamically) as fresh
pages, so every such array is page-faulted in again; on a busy machine that is a fifth of
the simulation's time. Raising the threshold keeps them in the heap for reuse. Called by the
commands that simulate, never on import; a no-op where glibc's mallopt is not available.
"""

from __future__ import annotations

_done = False


def reuse_big_allocations() -> None:
    global _done
    if _done:
        return
    _done = True
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        if not name:
            return
        libc = ctypes.CDLL(name)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is None:
            return
        m_trim_threshold, m_mmap_threshold = -1, -3
        mallopt(m_mmap_threshold, 1 << 30)
        mallopt(m_trim_threshold, 1 << 30)
    except (OSError, AttributeError):  # not glibc: leave the allocator alone
        return

"""Exact vectorised simulation for the common case: one container is always enough.

Setting: no buffer containers, a constant min_containers, and at no instant more requests
assigned than one container's ``concurrency``. Then every request goes to the same container
and the model reduces to *sessions* of that container (min_containers = 0):

* A request starts a session iff it arrives after the container went down, i.e. after the
  latest completion so far plus the scaledown window W: ``a_j > max_{i<j} f_i + W``.
* A session that starts at ``a_k`` is ready at ``r_k = a_k + c``; requests arriving before
  ``r_k`` wait for it (``f_i = r_k + s_i``), later ones run at once (``f_i = a_i + s_i``).

Completions with cold-start waits are only ever later than ``a_i + s_i``, so every true session
start is also a start of the no-cold-start problem (gaps of ``cummax(a + s)``): those are the
candidates. A candidate ``j`` after a true start ``k`` is a true start iff
``a_j > D_k + W`` with ``D_k = a_k + c + max(s over requests waiting for r_k)``; all other
completions before ``j`` are already below ``a_j - W`` by candidacy. Walking candidates with a
precomputed "next candidate past D_k + W" pointer is a loop over sessions, not requests.

Whether one container was enough is checked exactly afterwards: requests in flight at each
arrival, counting waiting ones, never exceed ``concurrency``. If they do, the caller runs the
general event simulation instead (returns None).
"""

from __future__ import annotations

import numpy as np

from .usage import Usage


def _inflight_base(a: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Requests in flight just after each arrival when nobody waits (f0 = a + s)."""
    ends = f0 if (f0.size < 2 or bool(np.all(f0[1:] >= f0[:-1]))) else np.sort(f0)
    # j > i cannot have ended by a_i (s > 0), so counting all ends <= a_i counts j < i.
    return np.arange(1, a.size + 1) - np.searchsorted(ends, a, side="right")


def _union_seconds(a: np.ndarray, f: np.ndarray, horizon: float) -> float:
    """Length of the union of [a_i, f_i) (a sorted) inside [0, horizon)."""
    if a.size == 0:
        return 0.0
    prev = np.empty_like(f)
    prev[0] = -np.inf
    np.maximum.accumulate(f[:-1], out=prev[1:])
    lo = np.maximum(a, prev)
    return float(np.clip(np.minimum(f, horizon) - lo, 0.0, None).sum())


def simulate_single(
    a: np.ndarray,
    s: np.ndarray,
    span: float,
    *,
    window: float,
    cold_start: float,
    concurrency: int,
    min_containers: int = 0,
    base_inflight_max: int | None = None,
) -> Usage | None:
    """Exact result when one container suffices, else None. ``a`` sorted, ``s`` > 0."""
    n = a.size
    f0 = a + s
    if base_inflight_max is None:
        base_inflight_max = int(_inflight_base(a, f0).max()) if n else 0
    # Waiting only lengthens occupancy, so the no-wait count is a lower bound everywhere.
    if base_inflight_max > concurrency:
        return None
    if min_containers > 0:
        return Usage(
            container_seconds=min_containers * span,
            busy_seconds=_union_seconds(a, f0, span),
            cold_starts=0,
            cold_requests=0,
            queued_requests=0,
            latencies=s.copy(),
            max_containers_seen=min_containers,
            method="fast",
        )
    if n == 0:
        return Usage(0.0, 0.0, 0, 0, 0, np.empty(0), 0, "fast")

    c0 = np.maximum.accumulate(f0)
    prev = np.empty(n)
    prev[0] = -np.inf
    prev[1:] = c0[:-1]
    cand = np.flatnonzero(a > prev + window)

    # Requests waiting for a candidate's cold start: indices [k, wait_end).
    ready = a[cand] + cold_start
    wait_end = np.searchsorted(a, ready, side="left")
    waiting = wait_end - cand
    smax = s[cand].copy()
    if not bool(np.all(s == s[0])):
        for m in range(1, int(waiting.max())):
            idx = np.minimum(cand + m, n - 1)
            np.maximum(smax, np.where(m < waiting, s[idx], -np.inf), out=smax)
    d = ready + smax  # latest completion among the waiting requests

    # Walk candidates: from a true start k, the next true start is the first candidate past D_k + W.
    nxt = np.searchsorted(a[cand], d + window, side="right").tolist()
    true_pos = []
    p, total = 0, len(nxt)
    while p < total:
        true_pos.append(p)
        p = nxt[p]
    tp = np.asarray(true_pos, dtype=np.int64)
    starts, ready, d, waiting = cand[tp], ready[tp], d[tp], waiting[tp]

    # True completions: the waiting requests of each session finish at r_k + s_i.
    rep = np.repeat(np.arange(starts.size), waiting)
    widx = starts[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(waiting) - waiting, waiting))
    f = f0.copy()
    f[widx] = ready[rep] + s[widx]
    lat = s.copy()
    lat[widx] += ready[rep] - a[widx]

    # Exact in-flight check where waits changed anything: requests of a session arriving
    # before its latest waiting completion; elsewhere the no-wait count is exact.
    aff_end = np.searchsorted(a, d, side="left")
    aff_len = aff_end - starts
    if aff_len.max() > 1:
        arep = np.repeat(np.arange(starts.size), aff_len)
        k = starts[arep]
        i = k + (np.arange(arep.size) - np.repeat(np.cumsum(aff_len) - aff_len, aff_len))
        count = np.zeros(i.size, dtype=np.int64)
        for m in range(int(aff_len.max())):
            j = i - m
            ok = j >= k
            count += ok & (f[np.maximum(j, 0)] > a[i])
        if int(count.max()) > concurrency:
            return None

    # Session ends: the latest completion in the session plus W, cut at the span's end.
    last = np.append(starts[1:], n) - 1
    ends = np.maximum(d, c0[last]) + window
    billed = float((np.minimum(ends, span) - a[starts]).sum())
    return Usage(
        container_seconds=billed,
        busy_seconds=_union_seconds(a, f, span),
        cold_starts=int(starts.size),
        cold_requests=int(waiting.sum()),
        queued_requests=0,
        latencies=lat,
        max_containers_seen=1,
        method="fast",
    )

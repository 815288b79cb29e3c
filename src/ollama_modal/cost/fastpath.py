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
arrival, counting waiting ones, never exceed ``concurrency``. With min_containers > 0 (one
container always up, so no sessions) a failed check sends the whole run to the event
simulation.

Sessions are independent of each other: when one container was not enough for a session
(a burst, or requests piling up during a cold start), only that stretch is handed to the
event simulation, from the session's start until the next arrival that again finds no
container up; the vectorised sessions resume from there.
"""

from __future__ import annotations

import numpy as np

from .events import simulate_until_idle
from .usage import GiveUp, Usage


def _fits(a: np.ndarray, reach: float, k: int) -> bool:
    """No k + 1 arrivals within any ``reach`` seconds, i.e. a_i - a_(i-k) >= reach for all i."""
    return a.size <= k or bool(np.min(a[k:] - a[:-k]) >= reach)


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
    max_containers: int | None = None,
    base_inflight: np.ndarray | None = None,
    give_up: GiveUp | None = None,
    lists: tuple[list[float], list[float]] | None = None,
) -> Usage | None:
    """Exact result for a constant floor and no buffer; None when the event path must do all of it
    (min_containers > 0 and one container is not always enough). ``a`` sorted, ``s`` > 0.

    ``base_inflight`` and ``lists`` (``a`` and ``s`` as Python lists) depend on the traffic and
    service times only; a caller sweeping windows passes them to save recomputing them.
    """
    n = a.size
    f0 = a + s
    constant = n > 0 and bool(np.all(s == s[0]))
    if min_containers > 0:
        if constant:
            over = not _fits(a, float(s[0]), concurrency)
        else:
            if base_inflight is None:
                base_inflight = _inflight_base(a, f0)  # callers sweeping W pass it in: it depends on s only
            over = n > 0 and int(base_inflight.max()) > concurrency
        if over:
            return None
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
    ncand = cand.size

    # Every candidate as if it started a session: requests [k, wait_end) wait for r = a_k + c.
    ready = a[cand] + cold_start
    wait_end = np.searchsorted(a, ready, side="left")
    waiting = wait_end - cand
    smax = s[cand].copy()
    if not constant:
        for m in range(1, int(waiting.max())):
            idx = np.minimum(cand + m, n - 1)
            np.maximum(smax, np.where(m < waiting, s[idx], -np.inf), out=smax)
    d = ready + smax  # latest completion among the waiting requests
    # From a true start, the next true start is the first candidate past D + W.
    nxt = np.searchsorted(a[cand], d + window, side="right")
    next_idx = np.append(cand, n)[nxt]  # first request of the next session
    ends = np.maximum(d, c0[next_idx - 1]) + window

    # Cheap sufficient test: a request occupies its slot at most c + max(s) seconds, so no more
    # than the arrivals in any such window can be in flight; if that fits, nothing can be over-full.
    bad = np.zeros(ncand, dtype=bool)
    bad_pre = None
    if not _fits(a, cold_start + float(s.max()), concurrency):
        if base_inflight is None:
            base_inflight = _inflight_base(a, f0)
        bad = _overfull_sessions(a, s, f0, base_inflight, cand, wait_end, ready, d, next_idx, concurrency)
        bad_pre = np.concatenate(([0], np.cumsum(base_inflight > concurrency)))

    billed_c = np.minimum(ends, span) - a[cand]
    if give_up is not None:
        # Per candidate session: billed seconds and requests slower than the goal, for giving up early.
        slow = np.concatenate(([0], np.cumsum(s > give_up.latency_goal)))
        slow_c = slow[next_idx] - slow[wait_end]
        owner = np.repeat(np.arange(ncand), waiting)
        widx_all = cand[owner] + (np.arange(owner.size) - np.repeat(np.cumsum(waiting) - waiting, waiting))
        late = s[widx_all] + ready[owner] - a[widx_all] > give_up.latency_goal
        slow_c = slow_c + np.bincount(owner[late], minlength=ncand)
        slow_l, billed_l = slow_c.tolist(), billed_c.tolist()
        acc_slow, acc_billed = 0, 0.0

    # Walk the sessions; hand the ones that need more containers to the event simulation.
    nxt_l, bad_l, cand_l = nxt.tolist(), bad.tolist(), cand
    fast_pos: list[int] = []
    segments: list[tuple[int, int, Usage]] = []
    # Stretches the vectorised path took back from the event loop: (first request, end, the
    # container's latest completion and busy-until at the hand-over, cut short at `end`?).
    taken_over: list[tuple[int, int, float, float, bool]] = []
    cand_a = a[cand]

    def resume_at(j: int, last: float, pending: list[float], rank: int) -> tuple[int, int | None, float, list[float], int] | None:
        """Can the vectorised path serve requests j.. on the one ready container left up?

        Returns (end, candidate position or None, last, pending, rank): it serves j..end-1, and
        either the session ends there (a candidate position) or request `end` needs a second
        container.
        """
        assert bad_pre is not None and lists is not None
        # Its session ends at the first candidate past the container's latest completion + W.
        q_pos = max(int(np.searchsorted(cand_a, last + window, side="right")), int(np.searchsorted(cand, j, side="right")))
        q = int(cand[q_pos]) if q_pos < ncand else n
        # Past `last` the no-wait in-flight count is exact; before it, count the pending requests too.
        j2 = min(max(int(np.searchsorted(a, last, side="left")), j), q)
        al, sl = lists
        for i in range(j, j2):
            ai = al[i]
            busy = sum(1 for x in pending if x > ai) + sum(1 for m in range(j, i + 1) if al[m] + sl[m] > ai)
            if busy > concurrency:
                return None if i == j else (i, None, last, pending, rank)
        if bad_pre[q] - bad_pre[j2] == 0:
            return q, q_pos, last, pending, rank
        b = j2 + int(np.searchsorted(bad_pre[j2 + 1 : q + 1], bad_pre[j2] + 1))  # first over-full request
        return None if b == j else (b, None, last, pending, rank)

    p = 0
    gave_up: str | None = None
    events_from: tuple[int, tuple[float, list[float], float, int] | None] | None = None
    while True:
        if events_from is None:
            if p >= ncand:
                break
            if give_up is not None:
                if acc_slow >= give_up.slow_requests:
                    gave_up = "latency"
                elif acc_billed > give_up.container_seconds:
                    gave_up = "cost"
                if gave_up:
                    break
            if not bad_l[p]:
                fast_pos.append(p)
                if give_up is not None:
                    acc_slow += slow_l[p]
                    acc_billed += billed_l[p]
                p = nxt_l[p]
                continue
            lo, initial = int(cand_l[p]), None
        else:
            (lo, initial), events_from = events_from, None
        if lists is None:
            lists = (a.tolist(), s.tolist())
        remaining = None
        if give_up is not None:
            remaining = GiveUp(give_up.container_seconds - acc_billed, give_up.latency_goal, give_up.slow_requests - acc_slow)
        usage, used, resume = simulate_until_idle(
            lists[0], lists[1], lo, span, window=window, cold_start=cold_start, concurrency=concurrency,
            max_containers=max_containers, give_up=remaining, handback=resume_at if max_containers is None else None,
            initial=initial,
        )
        segments.append((lo, lo + used, usage))
        if usage.gave_up:
            gave_up = usage.gave_up
            break
        if give_up is not None:
            acc_billed += usage.container_seconds
            acc_slow += int(np.count_nonzero(usage.latencies > give_up.latency_goal))
        if resume is None:
            if lo + used >= n:
                break
            p = int(np.searchsorted(cand, lo + used))
            if p >= ncand or cand[p] != lo + used:  # cannot happen: everything was down
                raise AssertionError("event segment ended where no session can start")
            continue
        # One container is enough again: vectorise until the session ends or it is not.
        end, q_pos, last, pending, rank = resume  # type: ignore[misc]
        j = lo + used
        busy_until = max(pending) if pending else -np.inf
        taken_over.append((j, end, last, busy_until, q_pos is None))
        if q_pos is not None:
            billed_here = min(max(last, float(c0[end - 1])) + window, span) - float(a[j])
            p = q_pos
        else:
            billed_here = float(a[end] - a[j])
            t_end = float(a[end])
            still = [x for x in pending if x > t_end] + [x for x in f0[j:end].tolist() if x > t_end]
            events_from = (end, (t_end, still, max(last, float(f0[j:end].max())), rank))
        if give_up is not None:
            acc_billed += billed_here
            acc_slow += int(slow[end] - slow[j])

    if gave_up:
        return Usage(acc_billed, 0.0, len(fast_pos), 0, 0, np.empty(0), 1, "fast", gave_up)
    tp = np.asarray(fast_pos, dtype=np.int64)
    starts, r_t, w_n = cand[tp], ready[tp], waiting[tp]
    rep = np.repeat(np.arange(starts.size), w_n)
    widx = starts[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(w_n) - w_n, w_n))
    f = f0.copy()
    f[widx] = r_t[rep] + s[widx]
    lat = s.copy()
    lat[widx] += r_t[rep] - a[widx]
    billed = float(billed_c[tp].sum())
    for j, end, last, busy_until, cut in taken_over:
        f[j] = max(f[j], busy_until)  # the container is busy from the hand-over until its pending requests end
        if cut:  # the event loop bills and counts busy time from a[end] on
            billed += float(a[end] - a[j])
            np.minimum(f[j:end], a[end], out=f[j:end])
        else:
            billed += min(max(last, float(c0[end - 1])) + window, span) - float(a[j])
    fast_mask = np.ones(n, dtype=bool)
    busy = cold = cold_req = queued = 0
    seen = 1
    for lo, hi, u in segments:
        fast_mask[lo:hi] = False
        lat[lo:hi] = u.latencies
        billed += u.container_seconds
        busy += u.busy_seconds
        cold += u.cold_starts
        cold_req += u.cold_requests
        queued += u.queued_requests
        seen = max(seen, u.max_containers_seen)
    if segments:
        busy += _union_seconds(a[fast_mask], f[fast_mask], span)
    else:
        busy = _union_seconds(a, f, span)
    return Usage(
        container_seconds=billed,
        busy_seconds=float(busy),
        cold_starts=int(starts.size) + cold,
        cold_requests=int(w_n.sum()) + cold_req,
        queued_requests=queued,
        latencies=lat,
        max_containers_seen=seen,
        method="fast" if not segments else f"fast+events ({len(segments)} sessions)",
    )


def _overfull_sessions(
    a: np.ndarray, s: np.ndarray, f0: np.ndarray, base_inflight: np.ndarray, cand: np.ndarray, wait_end: np.ndarray,
    ready: np.ndarray, d: np.ndarray, next_idx: np.ndarray, concurrency: int,
) -> np.ndarray:
    """For each candidate as a session start: is one container not enough somewhere in it?

    Exact in-flight counts: where waits changed nothing the no-wait count is exact; the
    requests arriving before D (the latest waiting completion) are counted directly.
    """
    ncand = cand.size
    bad_req = base_inflight > concurrency
    bad = np.zeros(ncand, dtype=bool)
    if bad_req.any():  # any over-full request inside [start, next start)
        pre = np.concatenate(([0], np.cumsum(bad_req)))
        bad = (pre[next_idx] - pre[cand]) > 0
    aff_len = np.searchsorted(a, d, side="left") - cand
    if aff_len.max() > 1:
        owner = np.repeat(np.arange(ncand), aff_len)
        k = cand[owner]
        i = k + (np.arange(owner.size) - np.repeat(np.cumsum(aff_len) - aff_len, aff_len))
        count = np.zeros(i.size, dtype=np.int64)
        we, rd = wait_end[owner], ready[owner]
        for m in range(int(aff_len.max())):
            j = np.maximum(i - m, 0)
            fj = np.where(j < we, rd + s[j], f0[j])
            count += (i - m >= k) & (fj > a[i])
        over = np.zeros(ncand, dtype=bool)
        over[owner[count > concurrency]] = True
        bad |= over
    return bad

"""The vectorised pool model: Modal's autoscaler over time with numpy, not per request.

Same model as the reference event loop (events.py, docs/cost.md). Containers are identical
and scale down at the pool level, so what matters is how many are up, not which one serves
whom. Number the containers by *level*: level j is up while the pool wants at least j.

* Demand: ``need(t) = ceil(in_system(t) / target_inputs) + buffer_containers`` (0 when the
  system is empty), a step function with a step at every arrival and completion.
* Level j is up over the union of the runs where ``need >= j``, each held ``scaledown_window``
  seconds past its end (a sliding-window maximum of the demand curve), and of the times the
  floor (``min_containers(t)``, schedules included) is at least j. Runs closer than the window
  merge; every other run start is a cold start.
* Level j is ready ``cold_start`` seconds after its run starts (the floor's levels at time 0
  are warm); ``capacity(t) = max_inputs x ready levels``.
* First come, first served: request i starts at the first t >= a_i at which fewer than
  capacity(t) earlier requests are still in the system. Only requests that find no free slot
  on arrival (in-system count above capacity) are looked at one by one.

Waiting feeds back into demand (a waiting request stays in the system longer, which can
raise ``need``), so each stretch is solved by fixed-point iteration: start from no waits,
compute levels and waits, recompute demand with the new completions; run to convergence
it gives the reference loop's answer exactly, and two rounds (``ROUNDS``) are within the
accuracy bounds the tests check (one round when nothing waits).

Time is processed in chunks (a day, or fewer requests when traffic is dense). A chunk sees
the requests still in the system ``scaledown_window + cold_start`` before it starts, which
is all the history that decides which levels are up and ready inside it, so chunking changes
nothing but the memory used.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from functools import cached_property

import numpy as np

from .usage import LatencyHistogram, PoolSettings, Usage

CHUNK_SECONDS = 86400.0
CHUNK_REQUESTS = 200_000
#: Fixed-point rounds per chunk at most (usually two or three settle it: the answer is then
#: the reference loop's, exactly). A chunk still changing after these is one where waits
#: feed on waits; "auto" hands the run to the event loop then, "pool" keeps the last round.
ROUNDS = 12
#: With max_containers, requests queue behind queued requests and each round settles one
#: more link of the chain: "auto" gives up after ROUNDS (the event loop is faster there),
#: "pool" keeps going up to this many.
CAPPED_ROUNDS = 100


class _Levels:
    """Up-intervals of the levels above a constant floor: level, start, end, warm."""

    def __init__(self, level: np.ndarray, start: np.ndarray, end: np.ndarray, warm: np.ndarray, cold_start: float) -> None:
        self.level, self.start, self.end, self.warm, self.cold_start = level, start, end, warm, cold_start
        rdy = np.where(warm, start, start + cold_start)
        ok = rdy < end
        self.rdy_sorted = np.sort(rdy[ok])
        self.rdy_end_sorted = np.sort(end[ok])
        # R(t) as a step function: change times and the value after each
        times = np.concatenate((rdy[ok], end[ok]))
        delta = np.concatenate((np.ones(int(ok.sum()), dtype=np.int64), -np.ones(int(ok.sum()), dtype=np.int64)))
        order = np.argsort(times, kind="stable")
        self.r_times = times[order]
        self.r_vals = np.cumsum(delta[order])

    def ready(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.rdy_sorted, t, side="right") - np.searchsorted(self.rdy_end_sorted, t, side="right")

    def starting(self, a: np.ndarray) -> np.ndarray:
        """Indices of the arrivals (sorted ``a``) that come while a level is starting: only they
        can find every slot taken (otherwise the levels up cover the demand, all ready)."""
        cold = ~self.warm
        lo = np.searchsorted(a, self.start[cold], side="left")
        hi = np.searchsorted(a, np.minimum(self.start[cold] + self.cold_start, self.end[cold]), side="left")
        lens = np.maximum(hi - lo, 0)
        idx = np.repeat(lo, lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens))
        hit = np.zeros(a.size, dtype=bool)  # distinct and sorted (np.unique would also import numpy.ma)
        hit[idx] = True
        return np.flatnonzero(hit)

    @cached_property
    def start_sorted(self) -> np.ndarray:  # only the last round's levels are asked (the accounting)
        return np.sort(self.start)

    @cached_property
    def end_sorted(self) -> np.ndarray:
        return np.sort(self.end)

    def up_before(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.start_sorted, t, side="left") - np.searchsorted(self.end_sorted, t, side="left")

    def up(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.start_sorted, t, side="right") - np.searchsorted(self.end_sorted, t, side="right")


def _crossings(n_after: np.ndarray, is_arr: np.ndarray, kt: int, buffer: int, base: int, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the demand crosses a level above ``base`` (up to ``cap``): (event index, level).

    need = ceil(n / kt) + buffer while n > 0 steps up when n reaches m kt + 1 and down when it
    falls back to m kt, so only those events count; filling from or emptying to zero crosses
    the buffer levels too. Per level, crossings alternate up, down, up, ...
    """
    r = n_after % kt if kt > 1 else np.zeros_like(n_after)
    up = is_arr & (r == (1 if kt > 1 else 0))
    down = ~is_arr & (r == 0)
    ch = np.flatnonzero(up | down)
    nv = n_after[ch]
    u = up[ch]
    edge = np.where(u, nv == 1, nv == 0)
    first = np.where(edge, 1, np.where(u, (nv - 1) // kt, nv // kt) + 1 + buffer)
    if buffer:
        cnt = np.where(edge, 1 + buffer, 1)
        rep = np.repeat(np.arange(ch.size), cnt)
        level = first[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        ch = ch[rep]
    else:
        level = first
    keep = (level > base) & (level <= cap)
    return ch[keep], level[keep]


def _intervals(level: np.ndarray, key: np.ndarray, t: np.ndarray, window: float, sorted_by_key: bool = False) -> tuple[np.ndarray, ...]:
    """Up-intervals per level from its crossings (ordered by ``key``): runs of need >= level held
    ``window`` past their end, merged when the next run starts within it."""
    if level.size == 0:
        e = np.empty(0)
        return np.empty(0, dtype=np.int64), e, e
    if not sorted_by_key:
        o = np.argsort(key, kind="stable")  # two sorted runs: a merge
        level, t = level[o], t[o]
    small = level.astype(np.int16) if level.max() < 32767 else level
    order = np.argsort(small, kind="stable")  # radix sort for 16-bit levels
    level, t = level[order], t[order]
    ups, downs, lev = t[0::2], t[1::2], level[0::2]
    new = np.ones(lev.size, dtype=bool)
    new[1:] = (lev[1:] != lev[:-1]) | (ups[1:] - downs[:-1] > window)
    first_i = np.flatnonzero(new)
    last_i = np.append(first_i[1:] - 1, lev.size - 1)
    return lev[first_i], ups[first_i], downs[last_i] + window


def _busy(times: np.ndarray, nxt: np.ndarray, n: np.ndarray, k: int, cap: int, t0: float, te: float) -> float:
    """Integral over [t0, te) of min(ceil(n / max_inputs), cap), n constant from each time to nxt."""
    seg = np.clip(np.minimum(nxt, te) - np.maximum(times, t0), 0, None)
    return float((seg * np.minimum(-(-n // k), cap)).sum())


class _Demand:
    """The demand curve of one chunk's requests, built once without waits (F0), and cheaply
    updated for completions delayed by waits: only the stretches between a delayed request's
    old and new completion change, so only their crossings are recomputed."""

    def __init__(self, A: np.ndarray, F0: np.ndarray, kt: int, buffer: int, base: int, cap: int, k: int,
                 t0: float, te: float) -> None:
        self.A, self.F0, self.kt, self.buffer, self.base, self.cap, self.k, self.t0, self.te = A, F0, kt, buffer, base, cap, k, t0, te
        times = np.concatenate((F0, A))
        order = np.argsort(times, kind="stable")  # completions before arrivals at equal times
        self.times = times[order]
        self.is_arr = order >= F0.size
        self.n = np.cumsum(self.is_arr.view(np.int8) * np.int8(2) - np.int8(1), dtype=np.int32)  # +1 arrival, -1 completion
        comp = np.flatnonzero(~self.is_arr)
        self.cpos = np.empty(F0.size, dtype=np.int64)
        self.cpos[order[comp]] = comp  # where each request's completion sits
        self.n_at = self.n[self.is_arr]  # arrivals come in index order (stable sort, A sorted)
        self.rec_pos, self.rec_lvl = _crossings(self.n, self.is_arr, kt, buffer, base, cap)
        self.nxt = np.append(self.times[1:], self.times[-1:])  # [-1:]: no events, no next
        self.busy0 = _busy(self.times, self.nxt, self.n, k, cap, t0, te)

    def state(self, F: np.ndarray, window: float) -> tuple[tuple[np.ndarray, ...], Callable[[np.ndarray], np.ndarray], float]:
        """(level intervals, in-system count at the arrivals given by index, busy seconds) for
        completions F >= F0."""
        d = np.flatnonzero(F != self.F0)
        if d.size == 0:
            iv = _intervals(self.rec_lvl, self.rec_pos, self.times[self.rec_pos], window, sorted_by_key=True)
            return iv, lambda idx: self.n_at[idx], self.busy0
        old, new_t = self.F0[d], F[d]
        p_old = self.cpos[d]
        p_ins = np.searchsorted(self.times, new_t, side="left")
        # disjoint position ranges [P0, P1) where the curve changes
        o = np.argsort(p_old)
        s_, e_ = p_old[o], p_ins[o]
        reach = np.maximum.accumulate(e_)
        grp = np.ones(s_.size, dtype=bool)
        grp[1:] = s_[1:] > reach[:-1]
        gi = np.flatnonzero(grp)
        P0 = s_[gi]
        P1 = reach[np.append(gi[1:] - 1, s_.size - 1)]
        lens = P1 - P0
        pos = np.repeat(P0, lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens))
        removed = np.zeros(self.times.size, dtype=bool)
        removed[p_old] = True
        pos = pos[~removed[pos]]
        # the changed stretches' events: a marker at each stretch's start (the curve is `before`
        # there), the baseline events minus the moved completions, the moved completions
        key = np.concatenate((P0 - 0.75, pos.astype(float), p_ins - 0.5))
        times_l = np.concatenate((self.times[P0], self.times[pos], new_t))
        kind = np.concatenate((np.zeros(P0.size, dtype=np.int8), np.where(self.is_arr[pos], 1, -1).astype(np.int8),
                               -np.ones(d.size, dtype=np.int8)))
        o = np.lexsort((times_l, key))  # moved completions inserted at one place: in time order
        key, times_l, kind = key[o], times_l[o], kind[o]
        rid = np.searchsorted(P0 - 0.75, key, side="right") - 1
        csum = np.cumsum(kind)
        first_of = np.searchsorted(rid, np.arange(P0.size), side="left")
        before = np.where(P0 > 0, self.n[np.maximum(P0 - 1, 0)], 0)
        n_l = before[rid] + csum - csum[first_of][rid]
        real = np.flatnonzero(kind != 0)
        ch, lvl = _crossings(n_l[real], kind[real] > 0, self.kt, self.buffer, self.base, self.cap)
        ch = real[ch]
        g = np.searchsorted(P0, self.rec_pos, side="right") - 1
        outside = (g < 0) | (self.rec_pos >= P1[np.maximum(g, 0)])
        iv = _intervals(np.concatenate((self.rec_lvl[outside], lvl)),
                        np.concatenate((self.rec_pos[outside].astype(float), key[ch])),
                        np.concatenate((self.times[self.rec_pos[outside]], times_l[ch])), window)
        old_s, new_s = np.sort(old), np.sort(new_t)

        def n_at(idx: np.ndarray) -> np.ndarray:
            at = self.A[idx]
            return self.n_at[idx] + np.searchsorted(old_s, at, side="right") - np.searchsorted(new_s, at, side="right")
        # busy: replace each changed stretch's integral, from its start to the next unchanged event
        size = self.times.size
        end_t = np.where(P1 < size, self.times[np.minimum(P1, size - 1)], np.inf)
        nxt_l = np.append(times_l[1:], 0.0)
        last = np.append(rid[1:] != rid[:-1], True)
        nxt_l[last] = np.maximum(end_t[rid[last]], times_l[last])
        nxt_l[last & ~np.isfinite(nxt_l)] = times_l[last & ~np.isfinite(nxt_l)]
        inside0 = np.repeat(P0, lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens))
        busy = (self.busy0 - _busy(self.times[inside0], self.nxt[inside0], self.n[inside0], self.k, self.cap, self.t0, self.te)
                + _busy(times_l, nxt_l, n_l, self.k, self.cap, self.t0, self.te))
        return iv, n_at, busy


def _merge(level: np.ndarray, start: np.ndarray, end: np.ndarray, warm: np.ndarray) -> tuple[np.ndarray, ...]:
    """Union of intervals per level (touching ones merge)."""
    order = np.lexsort((start, level))
    level, start, end, warm = level[order], start[order], end[order], warm[order]
    out_l, out_s, out_e, out_w = [], [], [], []
    for lv in np.unique(level):
        sel = level == lv
        s_, e_, w_ = start[sel], end[sel], warm[sel]
        reach = np.maximum.accumulate(e_)
        new = np.ones(s_.size, dtype=bool)
        new[1:] = s_[1:] > reach[:-1]
        first = np.flatnonzero(new)
        last = np.append(first[1:] - 1, s_.size - 1)
        out_l.append(np.full(first.size, lv))
        out_s.append(s_[first])
        out_e.append(reach[last])
        out_w.append(w_[first])
    if not out_l:
        return level, start, end, warm
    return np.concatenate(out_l), np.concatenate(out_s), np.concatenate(out_e), np.concatenate(out_w)


def _floor_intervals(ct: list[float], cv: list[int], ws: float, t1: float, first: bool) -> tuple[np.ndarray, ...]:
    """Intervals where the scheduled floor is at least each level, for times in [ws, t1)."""
    i0 = max(bisect.bisect_right(ct, ws) - 1, 0)
    i1 = bisect.bisect_left(ct, t1)
    pts = list(range(i0, max(i1, i0 + 1)))
    t_end = ct[i1] if i1 < len(ct) else math.inf
    out: list[tuple[int, float, float, bool]] = []
    top = max(cv[i] for i in pts)
    for lv in range(1, top + 1):
        run_start = None
        for i in pts:
            if cv[i] >= lv and run_start is None:
                run_start = ct[i]
            elif cv[i] < lv and run_start is not None:
                out.append((lv, run_start, ct[i], first and run_start == 0.0))
                run_start = None
        if run_start is not None:
            out.append((lv, run_start, t_end, first and run_start == 0.0))
    if not out:
        e = np.empty(0)
        return np.empty(0, dtype=np.int64), e, e, np.empty(0, dtype=bool)
    lv_, s_, e_, w_ = zip(*out)
    return np.array(lv_, dtype=np.int64), np.array(s_), np.array(e_), np.array(w_, dtype=bool)


def _fifo_starts(A: np.ndarray, F: np.ndarray, wait: np.ndarray, lv: _Levels, base: int, k: int, cold_start: float,
                 capped: bool, ahead: np.ndarray, f_prev: np.ndarray) -> None:
    """First come, first served: request i starts at the first t >= a_i at which fewer than
    capacity(t) earlier requests are in the system (a later one cannot overtake it). Only the
    requests in ``wait`` (no free slot on arrival) are computed, in arrival order, one by one;
    F (completions; A + service for these on entry) is updated in place, so each sees the
    waits of the ones before it.

    Without max_containers nobody waits longer than a cold start: the levels that hold the
    requests ahead of i and i itself are up from a_i on and stay up while they are in the
    system, so they are all ready at a_i + cold_start. The bound keeps a round that still
    sees too few levels (their demand not yet lengthened by waits) from inventing longer waits.

    Most waits end when a starting container becomes ready, before anyone ahead finishes:
    those are answered for all at once (``ahead``: requests ahead of each in the system on
    arrival; ``f_prev``: last round's completions, to see whether anyone finishes first).
    """
    if wait.size > 16 and not capped:  # at max_containers waits queue behind waits: one by one
        wait = _fifo_batch(A, F, wait, lv, base, k, cold_start, capped, ahead, f_prev)
    if wait.size == 0:
        return
    r_times, r_vals = lv.r_times.tolist(), lv.r_vals.tolist()
    nr = len(r_times)
    # one by one, on small Python lists: the few dozen requests in the system around each
    maxlat = float((F - A).max())
    # How far back the requests still in the system can have arrived. Without max_containers a
    # wait is at most a cold start (below), so nobody stays longer than the longest stay now
    # plus one: one look that far back serves every waiter. At max_containers waits have no
    # such bound: look further back whenever a wait made the longest stay longer.
    reach = maxlat if capped else maxlat + cold_start
    los = np.searchsorted(A, A[wait] - reach, side="left").tolist()
    a_w = A[wait].tolist()
    s_w = (F[wait] - A[wait]).tolist()
    for i, lo, ai, si in zip(wait.tolist(), los, a_w, s_w):
        if maxlat > reach:
            lo = int(np.searchsorted(A, ai - maxlat, side="left"))
        g = sorted([x for x in F[lo:i].tolist() if x > ai])
        m = ng = len(g)
        p = bisect.bisect_right(r_times, ai)
        cap = k * (base + (r_vals[p - 1] if p else 0))
        b: float | None = ai
        bound = math.inf if capped else ai + cold_start
        if m >= cap:
            q, b = 0, None
            while q < ng or p < nr:
                t = g[q] if q < ng and (p >= nr or g[q] <= r_times[p]) else r_times[p]
                if t >= bound:
                    break
                while q < ng and g[q] <= t:
                    q += 1
                    m -= 1
                while p < nr and r_times[p] <= t:
                    cap = k * (base + r_vals[p])
                    p += 1
                if m < cap:
                    b = t
                    break
            if b is None:  # the bound, or this round's levels end too early (the next round extends them)
                b = min(bound, ai + cold_start)
        F[i] = b + si
        if b + si - ai > maxlat:
            maxlat = b + si - ai


def _fifo_batch(A: np.ndarray, F: np.ndarray, wait: np.ndarray, lv: _Levels, base: int, k: int, cold_start: float,
                capped: bool, ahead: np.ndarray, f_prev: np.ndarray, steps: int = 4) -> np.ndarray:
    """Answer the waits that end at a ready event with nobody ahead finishing before it; return
    the rest (for the one-by-one pass)."""
    at = A[wait]
    bound = np.full(at.size, np.inf) if capped else at + cold_start
    nr = lv.r_times.size
    p = np.searchsorted(lv.r_times, at, side="right")
    b = np.full(at.size, np.nan)
    open_ = np.ones(at.size, dtype=bool)
    for j in range(steps):
        idx = p + j
        has = open_ & (idx < nr)
        ic = np.minimum(idx, nr - 1) if nr else idx
        t_j = lv.r_times[ic] if nr else np.full(at.size, np.inf)
        past = has & (t_j >= bound)
        b[past] = bound[past]
        open_ &= ~past
        hit = open_ & has & (k * (base + (lv.r_vals[ic] if nr else 0)) > ahead)
        b[hit] = t_j[hit]
        open_ &= ~hit
        done_none = open_ & ~has  # no more ready events: the bound (the next round lengthens the levels)
        b[done_none] = np.where(np.isfinite(bound[done_none]), bound[done_none], np.nan)
        open_ &= ~done_none
    fs = np.sort(f_prev)
    nxt = np.searchsorted(fs, at, side="right")
    first_done = np.where(nxt < fs.size, fs[np.minimum(nxt, fs.size - 1)], np.inf)
    ok = np.isfinite(b) & (first_done >= b)
    F[wait[ok]] = b[ok] + (F[wait[ok]] - at[ok])
    return wait[~ok]


def simulate_pool(
    a: np.ndarray,
    s: np.ndarray,
    span: float,
    settings: PoolSettings,
    *,
    progress: Callable[[float], None] | None = None,
    decline_share: float | None = None,
    rounds: int | None = None,
    source: Callable[[float, float], tuple[np.ndarray, np.ndarray]] | None = None,
) -> Usage | None:
    """The pool model over ``a`` (sorted arrival offsets) with service times ``s``.

    With ``decline_share``, returns None instead when more than that share of the first
    chunk's requests find no free slot on arrival (each waiting request costs a Python step
    per round, so the per-request event loop is then the faster way to the same answer), or
    when a chunk has not settled after ``rounds`` rounds.

    With ``source(t0, t1) -> (arrivals, service times)`` the arrivals of each chunk are asked
    for as it comes (``a`` and ``s`` unused), and latencies are binned (Usage.percentiles)
    instead of kept: memory stays that of one chunk whatever the span.
    """
    window, cold_start, give_up, buffer_containers = settings.window, settings.cold_start, settings.give_up, settings.buffer_containers
    k, kt = settings.concurrency, settings.target
    max_containers, min_changes = settings.max_containers, settings.min_changes
    cap = max_containers if max_containers is not None else 1 << 30
    if rounds is None:
        rounds = ROUNDS if max_containers is None else CAPPED_ROUNDS
    ct = [float(t) for t, _ in min_changes]
    cv = [min(int(m), cap) for _, m in min_changes]
    base = cv[0] if len(cv) == 1 else 0  # a constant floor: those levels are always up and warm
    hist = window + cold_start
    n = a.size
    lat = np.empty(n if source is None else 0)
    waited_total = queued_total = cold_total = seen = over_total = 0
    billed = busy = 0.0
    slow = 0
    ctx_a = np.empty(0)
    ctx_f = np.empty(0)
    lo, t0 = 0, 0.0
    seen = base
    # With a reason to stop early, start with short chunks so a hopeless setting stops soon.
    length = CHUNK_SECONDS / 16 if give_up is not None else CHUNK_SECONDS
    hist_lat = LatencyHistogram() if source is not None else None
    done = 0
    while True:
        t1 = min(t0 + length, span)
        length = min(2 * length, CHUNK_SECONDS)
        if source is not None:  # arrivals produced a chunk at a time; latencies binned, not kept
            a_c, svc = source(t0, t1)
            if a_c.size > CHUNK_REQUESTS and t1 - t0 > 60:  # dense: shorter chunks from here on
                length = max(60.0, (t1 - t0) * CHUNK_REQUESTS / a_c.size)
                continue
            last = t1 >= span
            lo, hi = done, done + a_c.size
        else:
            hi = int(np.searchsorted(a, t1, side="left")) if t1 < span else n
            if hi - lo > CHUNK_REQUESTS:
                t1 = float(a[lo + CHUNK_REQUESTS])
                hi = int(np.searchsorted(a, t1, side="left"))
                if hi == lo:  # many requests at one instant: take them all
                    hi = int(np.searchsorted(a, t1, side="right"))
                    t1 = float(a[hi]) if hi < n else span
            last = t1 >= span
            if last:
                hi = n
            a_c, svc = a[lo:hi], s[lo:hi]
        ws = max(0.0, t0 - hist)
        A = np.concatenate((ctx_a, a_c))
        nc = ctx_a.size
        F = np.concatenate((ctx_f, a_c + svc))
        fl = _floor_intervals(ct, cv, ws, t1, t0 == 0.0) if base == 0 and max(cv) > 0 else None
        te = min(t1, span)
        dem = _Demand(A, F, kt, buffer_containers, base, cap, k, t0, te)
        for r in range(rounds):
            (lvl, st, en), n_at, busy_c = dem.state(F, window)
            wm = np.zeros(lvl.size, dtype=bool)
            if fl is not None and fl[0].size:
                lvl, st, en, wm = _merge(np.concatenate((lvl, fl[0])), np.concatenate((st, fl[1])),
                                         np.concatenate((en, fl[2])), np.concatenate((wm, fl[3])))
            levels = _Levels(lvl, st, en, wm, cold_start)
            if cap < (1 << 30):  # at max_containers requests queue without any level starting
                cand = np.arange(nc, A.size)
            else:
                cand = levels.starting(A[nc:]) + nc
            wait = cand[n_at(cand) > k * (base + levels.ready(A[cand]))]
            if r == 0 and lo == 0 and decline_share is not None and wait.size > max(100, decline_share * (hi - lo)):
                return None  # waiting is the rule: the per-request loop is faster here
            if wait.size == 0 and r == 0:
                break
            newF = dem.F0.copy()
            if wait.size:
                _fifo_starts(A, newF, wait, levels, base, k, cold_start, cap < (1 << 30), n_at(wait) - 1, F)
            if np.array_equal(newF, F):
                break
            if decline_share is not None and r >= ROUNDS - 1:
                return None  # waits feeding on waits: the per-request loop settles it in one pass
            F = newF
        # accounting over [t0, te)
        billed_c = base * (te - t0) + float(np.clip(np.minimum(levels.end, te) - np.maximum(levels.start, t0), 0, None).sum())
        cold_c = int(np.count_nonzero(~levels.warm & (levels.start >= t0) & (levels.start < te)))
        busy += busy_c
        up_pts = np.concatenate(([t0], levels.start[(levels.start >= t0) & (levels.start < te)]))
        seen = max(seen, base + int(levels.up(up_pts).max()) if up_pts.size else base)
        my_lat = F[nc:] - A[nc:]
        if hist_lat is not None:
            hist_lat.add(my_lat)
        else:
            lat[lo:hi] = my_lat
        done = hi
        waited = F[nc:] != a_c + svc
        if waited.any():
            at = A[nc:][waited]
            full = base + levels.up_before(at) >= cap  # max_containers were up when it came
            queued_total += int(full.sum())
            waited_total += int(waited.sum()) - int(full.sum())
            over_total += int(np.count_nonzero(base + levels.ready(at) > 0))  # a ready container, every slot taken
        billed += billed_c
        cold_total += cold_c
        if progress is not None:
            progress(te)
        if give_up is not None:
            slow += int(np.count_nonzero(my_lat > give_up.latency_goal))
            reason = "latency" if slow >= give_up.slow_requests else "cost" if billed > give_up.container_seconds else None
            if reason:
                return Usage(billed, busy, cold_total, waited_total, queued_total, lat[:hi], seen, "pool", reason,
                             hist_lat.percentiles() if hist_lat is not None else None, done if hist_lat is not None else None,
                             over_cap_requests=over_total)
        if last:
            break
        keep = F > t1 - hist
        ctx_a, ctx_f = A[keep], F[keep]
        lo, t0 = hi, t1
    return Usage(
        container_seconds=billed,
        busy_seconds=busy,
        cold_starts=cold_total,
        cold_requests=waited_total,
        queued_requests=queued_total,
        latencies=lat,
        max_containers_seen=seen,
        method="pool",
        percentiles=hist_lat.percentiles() if hist_lat is not None else None,
        requests=done if hist_lat is not None else None,
        over_cap_requests=over_total,
    )

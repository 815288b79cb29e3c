"""General event-driven simulation: many containers, concurrency, max_containers queueing,
buffer containers and scheduled min_containers. A plain loop over requests with a heap of
completions and scaledown expiries; exact for the rules in docs/cost.md:

* Routing: a request goes to the lowest-ranked ready container with a free slot; else to a
  starting container with a free slot (it waits for it); else it starts a new container
  (lowest free rank) if fewer than max_containers are up; else it queues (FIFO) for the next
  free slot. Packing onto low ranks is what lets the others go idle and scale down.
* A container that goes idle (no request assigned) stops W seconds later unless the floor
  needs it: floor = min(max_containers, max(min_containers now, busy + buffer if busy else 0)),
  busy = containers with a request assigned. Kept containers stop (longest idle first) as soon
  as the floor drops. When the floor rises above the containers up, new ones start.
* At time 0 the floor's containers are up and warm. Billing is cut at the span's end.

At equal times: completions, then floor changes, then arrivals, then expiries (so a request
arriving exactly W after the last completion still finds the container up).
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from .usage import GiveUp, Usage

_COMPLETE, _FLOOR, _ARRIVAL, _EXPIRE = 0, 1, 2, 3


def simulate_events(
    a: np.ndarray,
    s: np.ndarray,
    span: float,
    *,
    window: float,
    cold_start: float,
    concurrency: int,
    min_changes: Sequence[tuple[float, int]] = ((0.0, 0),),
    max_containers: int | None = None,
    buffer_containers: int = 0,
    give_up: GiveUp | None = None,
) -> Usage:
    """``min_changes``: [(0, min at start), (t, new min), ...] in seconds from the span's start."""
    sim = _Sim(span, window, cold_start, concurrency, max_containers, buffer_containers, s.tolist(), a.tolist(), 0, give_up)
    changes = list(min_changes)
    sim.cur_min = int(changes[0][1])
    for t, m in changes[1:]:
        heapq.heappush(sim.heap, (float(t), _FLOOR, int(m), 0))
    return sim.run()


def simulate_until_idle(
    a: list[float], s: list[float], lo: int, span: float, *, window: float, cold_start: float, concurrency: int,
    max_containers: int | None = None, give_up: GiveUp | None = None,
    handback: Callable[[int, float, list[float], int], object] | None = None,
    initial: tuple[float, list[float], float, int] | None = None,
) -> tuple[Usage, int, object]:
    """Simulate requests ``lo:`` (lists) from a moment when no container is up (min_containers 0,
    no buffer) until the next arrival that again finds none up, or until ``handback(i, last,
    pending, rank)`` accepts to take over at request ``i`` while a single ready container is up
    (its latest completion ``last``, the completion times ``pending`` of requests it still
    serves, its routing rank).
    Returns the usage up to there, how many requests it served, and what ``handback`` returned.

    ``initial = (t0, pending, last, rank)`` starts instead with one ready container of that
    rank, billed from t0, still serving requests that complete at ``pending`` (its latest
    completion ``last``)."""
    sim = _Sim(span, window, cold_start, concurrency, max_containers, 0, s, a, lo, give_up)
    sim.handback = handback
    if initial is not None:
        sim.take_over(*initial)
    usage = sim.run(stop_when_idle=True)
    return usage, sim.consumed, sim.resume


class _Sim:
    """State of one run. The per-request loop in ``run`` is inlined for speed (~1.5 us/request)."""

    def __init__(self, span: float, window: float, cold_start: float, concurrency: int,
                 max_containers: int | None, buffer: int, service: list[float], arrivals: list[float], lo: int,
                 give_up: GiveUp | None = None) -> None:
        self.span, self.window, self.cold_start, self.k = span, window, cold_start, concurrency
        self.cap = max_containers if max_containers is not None else 1 << 30
        self.buffer = buffer
        self.service, self.arrivals = service, arrivals
        self.lo = lo  # first request simulated; latencies are kept from there on
        self.lat: list[float] = []
        # Per-container state, indexed by container id; ``alive`` holds (rank, id) sorted by rank.
        self.ready: list[float] = []
        self.inflight: list[int] = []
        self.idle_since: list[float] = []
        self.up_since: list[float] = []
        self.busy_since: list[float] = []
        self.token: list[int] = []
        self.rank_of: list[int] = []
        self.alive: list[tuple[int, int]] = []
        self.overdue: set[int] = set()  # idle past W but kept by the floor
        self.queue: deque[int] = deque()
        self.heap: list[tuple[float, int, int, int]] = []  # (time, kind, container or value, token)
        self.billed = self.busy_t = 0.0
        self.busy = self.cold = self.cold_req = self.queued = self.seen = self.cur_min = 0
        self.consumed = len(arrivals) - lo
        self.give_up = give_up
        self.gave_up: str | None = None
        self.handback: Callable[[int, float, list[float], int], object] | None = None
        self.resume: object = None

    def clip(self, x: float) -> float:
        return self.span if x > self.span else x

    def start_container(self, t: float, warm: bool = False, rank: int | None = None) -> int:
        cid = len(self.ready)
        if rank is None:
            used = {r for r, _ in self.alive}
            rank = next(r for r in range(len(self.alive) + 1) if r not in used)
        r_t = t if warm else t + self.cold_start
        self.ready.append(r_t)
        self.inflight.append(0)
        self.idle_since.append(r_t)
        self.up_since.append(t)
        self.busy_since.append(0.0)
        self.token.append(0)
        self.rank_of.append(rank)
        insort(self.alive, (rank, cid))
        if not warm:
            self.cold += 1
        self.seen = max(self.seen, len(self.alive))
        heapq.heappush(self.heap, (r_t + self.window, _EXPIRE, cid, 0))
        return cid

    def stop(self, cid: int, t: float) -> None:
        self.alive.remove((self.rank_of[cid], cid))
        self.overdue.discard(cid)
        self.billed += max(0.0, self.clip(t) - self.clip(self.up_since[cid]))

    def floor(self) -> int:
        b = self.busy
        return min(self.cap, max(self.cur_min, b + self.buffer if b else 0))

    def enforce(self, t: float) -> None:
        fl = self.floor()
        while len(self.alive) < fl:
            self.start_container(t)
        while len(self.alive) > fl and self.overdue:
            self.stop(min(self.overdue, key=lambda c: (self.idle_since[c], c)), t)

    def became_busy(self, cid: int, t: float) -> None:
        self.token[cid] += 1
        self.overdue.discard(cid)
        self.busy_since[cid] = t
        self.busy += 1
        if self.buffer:
            self.enforce(t)

    def became_idle(self, cid: int, t: float) -> None:
        self.busy -= 1
        self.busy_t += max(0.0, self.clip(t) - self.clip(self.busy_since[cid]))
        self.idle_since[cid] = t
        self.token[cid] += 1
        heapq.heappush(self.heap, (t + self.window, _EXPIRE, cid, self.token[cid]))
        if self.buffer:
            self.enforce(t)

    def handle(self, t: float, kind: int, x: int, tok: int) -> None:
        if kind == _COMPLETE:
            if self.queue:  # the freed slot goes straight to the longest-waiting request
                i = self.queue.popleft()
                self.lat[i - self.lo] = t - self.arrivals[i] + self.service[i]
                heapq.heappush(self.heap, (t + self.service[i], _COMPLETE, x, 0))
                return
            self.inflight[x] -= 1
            if self.inflight[x] == 0:
                self.became_idle(x, t)
        elif kind == _EXPIRE:
            if tok != self.token[x] or self.inflight[x] or (self.rank_of[x], x) not in self.alive:
                return
            if len(self.alive) - 1 >= self.floor():
                self.stop(x, t)
            else:
                self.overdue.add(x)
        else:  # _FLOOR
            self.cur_min = x
            self.enforce(t)

    def take_over(self, t0: float, pending: list[float], last: float, rank: int) -> None:
        # Same rank as in an uninterrupted run: routing prefers low ranks.
        cid = self.start_container(t0, warm=True, rank=rank)
        self.token[cid] += 1  # its fresh-container expiry no longer applies
        self.inflight[cid] = len(pending)
        for x in pending:
            heapq.heappush(self.heap, (x, _COMPLETE, cid, 0))
        if pending:
            self.busy_since[cid] = t0
            self.busy = 1
        else:
            self.idle_since[cid] = last
            heapq.heappush(self.heap, (last + self.window, _EXPIRE, cid, self.token[cid]))

    def try_handback(self, i: int, t: float) -> bool:
        """One ready container left: offer the rest of its session to the vectorised path."""
        cid = self.alive[0][1]
        if self.ready[cid] > t or self.handback is None:
            return False
        pending = [e[0] for e in self.heap if e[1] == _COMPLETE and e[2] == cid]
        last = max(pending) if pending else self.idle_since[cid]
        resume = self.handback(i, last, pending, self.rank_of[cid])
        if resume is None:
            return False
        self.resume = resume
        self.consumed = i - self.lo
        # Bill the container, and its busy time, up to the hand-over; the taker bills the rest.
        self.billed += max(0.0, self.clip(t) - self.clip(self.up_since[cid]))
        if self.inflight[cid]:
            self.busy_t += max(0.0, self.clip(t) - self.clip(self.busy_since[cid]))
        return True

    def should_give_up(self, t: float) -> bool:
        g = self.give_up
        assert g is not None
        # Queued requests still hold 0.0 here: the slow count can only be low, never high.
        self.slow = getattr(self, "slow", 0) + sum(1 for x in self.lat[getattr(self, "checked", 0):] if x > g.latency_goal)
        self.checked = len(self.lat)
        if self.slow >= g.slow_requests:
            self.gave_up = "latency"
        elif self.billed + sum(self.clip(t) - self.clip(self.up_since[c]) for _, c in self.alive) > g.container_seconds:
            self.gave_up = "cost"
        return self.gave_up is not None

    def run(self, stop_when_idle: bool = False) -> Usage:
        heap, alive, ready, inflight, service, lat = self.heap, self.alive, self.ready, self.inflight, self.service, self.lat
        k, handle, pop, push = self.k, self.handle, heapq.heappop, heapq.heappush
        for _ in range(min(self.cap, self.cur_min)):
            self.start_container(0.0, warm=True)
        arrivals, lo = self.arrivals, self.lo
        last_try = lo
        add_lat = lat.append
        for i in range(lo, len(arrivals)):
            t = arrivals[i]
            while heap and (heap[0][0] < t or (heap[0][0] == t and heap[0][1] < _ARRIVAL)):
                et, kind, x, tok = pop(heap)
                if kind == _COMPLETE and not self.queue:
                    inflight[x] -= 1  # inlined common case of handle()
                    if not inflight[x]:
                        self.became_idle(x, et)
                else:
                    handle(et, kind, x, tok)
            if stop_when_idle and not alive and i > lo:
                self.consumed = i - lo
                break
            if self.handback is not None and len(alive) == 1 and not self.queue and i - last_try >= 64:
                last_try = i
                if self.try_handback(i, t):
                    break
            if self.give_up is not None and not (i - lo) & 1023 and self.should_give_up(t):
                self.consumed = i - lo
                break
            # Lowest-ranked ready container with a free slot, else the starting one ready first.
            cid = -1
            wait = None
            for _, c in alive:
                if inflight[c] < k:
                    if ready[c] <= t:
                        cid = c
                        break
                    if wait is None or ready[c] < ready[wait]:
                        wait = c
            if cid < 0:
                if wait is not None:
                    cid = wait
                elif len(alive) < self.cap:
                    cid = self.start_container(t)
                else:
                    self.queued += 1
                    self.queue.append(i)
                    add_lat(0.0)  # set when a slot frees up
                    continue
            begin = ready[cid]
            if begin > t:
                self.cold_req += 1
            else:
                begin = t
            add_lat(begin - t + service[i])
            inflight[cid] += 1
            if inflight[cid] == 1:
                self.became_busy(cid, t)
            push(heap, (begin + service[i], _COMPLETE, cid, 0))
        if self.gave_up or self.resume is not None:
            return Usage(self.billed, self.busy_t, self.cold, self.cold_req, self.queued, np.asarray(lat), self.seen,
                         "events", self.gave_up)
        while heap:
            et, kind, x, tok = pop(heap)
            if kind == _EXPIRE and et >= self.span and not self.queue:
                continue  # past the span nothing is billed; containers still up are cut at the end
            handle(et, kind, x, tok)
        for _, cid in list(alive):
            self.billed += max(0.0, self.span - self.clip(self.up_since[cid]))
            if inflight[cid]:
                self.busy_t += max(0.0, self.span - self.clip(self.busy_since[cid]))
        return Usage(
            container_seconds=self.billed,
            busy_seconds=self.busy_t,
            cold_starts=self.cold,
            cold_requests=self.cold_req,
            queued_requests=self.queued,
            latencies=np.asarray(lat),
            max_containers_seen=self.seen,
            method="events",
            gave_up=self.gave_up,
        )

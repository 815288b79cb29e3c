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
from collections.abc import Sequence

import numpy as np

from .usage import Usage

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
) -> Usage:
    """``min_changes``: [(0, min at start), (t, new min), ...] in seconds from the span's start."""
    cap = max_containers if max_containers is not None else 1 << 30
    arrivals = a.tolist()
    service = s.tolist()
    n = len(arrivals)
    lat = [0.0] * n

    # Per-container state, indexed by container id.
    ready: list[float] = []
    inflight: list[int] = []
    idle_since: list[float] = []
    up_since: list[float] = []
    busy_since: list[float] = []
    token: list[int] = []
    rank_of: list[int] = []
    alive: list[tuple[int, int]] = []  # (rank, cid), sorted by rank
    overdue: set[int] = set()  # idle past W but kept by the floor
    queue: deque[int] = deque()

    heap: list[tuple[float, int, int, int]] = []  # (time, kind, seq/cid, token)
    for t, m in list(min_changes)[1:]:
        heapq.heappush(heap, (float(t), _FLOOR, int(m), 0))

    st = {"billed": 0.0, "busy_t": 0.0, "busy": 0, "cold": 0, "cold_req": 0, "queued": 0, "seen": 0, "min": int(list(min_changes)[0][1])}

    def clip(x: float) -> float:
        return span if x > span else x

    def start_container(t: float, warm: bool = False) -> int:
        cid = len(ready)
        used = {r for r, _ in alive}
        rank = next(r for r in range(len(alive) + 1) if r not in used)
        r_t = t if warm else t + cold_start
        ready.append(r_t)
        inflight.append(0)
        idle_since.append(r_t)
        up_since.append(t)
        busy_since.append(0.0)
        token.append(0)
        rank_of.append(rank)
        insort(alive, (rank, cid))
        if not warm:
            st["cold"] += 1
        st["seen"] = max(st["seen"], len(alive))
        heapq.heappush(heap, (r_t + window, _EXPIRE, cid, 0))
        return cid

    def stop(cid: int, t: float) -> None:
        alive.remove((rank_of[cid], cid))
        overdue.discard(cid)
        st["billed"] += max(0.0, clip(t) - clip(up_since[cid]))

    def floor() -> int:
        b = st["busy"]
        return min(cap, max(st["min"], b + buffer_containers if b else 0))

    def enforce(t: float) -> None:
        fl = floor()
        while len(alive) < fl:
            start_container(t)
        while len(alive) > fl and overdue:
            stop(min(overdue, key=lambda c: (idle_since[c], c)), t)

    def assign(i: int, cid: int, t: float) -> None:
        begin = ready[cid] if ready[cid] > t else t
        if begin > t:
            st["cold_req"] += 1
        lat[i] = begin - arrivals[i] + service[i]
        inflight[cid] += 1
        if inflight[cid] == 1:
            token[cid] += 1
            overdue.discard(cid)
            busy_since[cid] = t
            st["busy"] += 1
            if buffer_containers:
                enforce(t)
        heapq.heappush(heap, (begin + service[i], _COMPLETE, cid, 0))

    def choose(t: float) -> int | None:
        best = None
        for _, cid in alive:
            if inflight[cid] < concurrency:
                if ready[cid] <= t:
                    return cid
                if best is None or ready[cid] < ready[best]:
                    best = cid
        return best

    def handle(t: float, kind: int, x: int, tok: int) -> None:
        if kind == _COMPLETE:
            cid = x
            if queue:  # the freed slot goes straight to the longest-waiting request
                i = queue.popleft()
                lat[i] = t - arrivals[i] + service[i]
                heapq.heappush(heap, (t + service[i], _COMPLETE, cid, 0))
                return
            inflight[cid] -= 1
            if inflight[cid] == 0:
                st["busy"] -= 1
                st["busy_t"] += max(0.0, clip(t) - clip(busy_since[cid]))
                idle_since[cid] = t
                token[cid] += 1
                heapq.heappush(heap, (t + window, _EXPIRE, cid, token[cid]))
                if buffer_containers:
                    enforce(t)
        elif kind == _EXPIRE:
            cid = x
            if tok != token[cid] or (rank_of[cid], cid) not in alive or inflight[cid]:
                return
            if len(alive) - 1 >= floor():
                stop(cid, t)
            else:
                overdue.add(cid)
        else:  # _FLOOR
            st["min"] = x
            enforce(t)

    for _ in range(min(cap, st["min"])):
        start_container(0.0, warm=True)

    for i in range(n):
        t = arrivals[i]
        while heap and (heap[0][0] < t or (heap[0][0] == t and heap[0][1] < _ARRIVAL)):
            et, kind, x, tok = heapq.heappop(heap)
            handle(et, kind, x, tok)
        cid = choose(t)
        if cid is None and len(alive) < cap:
            cid = start_container(t)
        if cid is None:
            st["queued"] += 1
            queue.append(i)
        else:
            assign(i, cid, t)
    while heap:
        et, kind, x, tok = heapq.heappop(heap)
        if kind == _EXPIRE and et >= span and not queue:
            # Past the span nothing is billed; remaining containers are cut at the end.
            continue
        handle(et, kind, x, tok)

    for _, cid in list(alive):
        st["billed"] += max(0.0, span - clip(up_since[cid]))
        if inflight[cid]:
            st["busy_t"] += max(0.0, span - clip(busy_since[cid]))
    return Usage(
        container_seconds=st["billed"],
        busy_seconds=st["busy_t"],
        cold_starts=st["cold"],
        cold_requests=st["cold_req"],
        queued_requests=st["queued"],
        latencies=np.asarray(lat),
        max_containers_seen=st["seen"],
        method="events",
    )

"""The reference simulation: an exact per-request event loop over Modal's pool model.

Slow (a Python loop over requests, ~2 us each) and simple, so that it can be read against
docs/cost.md line by line; the vectorised model (pool.py) is tested against it.

The pool (docs/cost.md, "The model"):

* One first-come-first-served queue. A request runs at once when a *ready* container has a
  free slot (``max_inputs`` per container); otherwise it waits in the queue, and the first
  slot that frees up, or the first container that becomes ready, takes the head of the queue.
* Demand: ``need = ceil(in_system / target_inputs) + buffer_containers`` while any request is
  in the system (running or queued), else 0.
* Containers up = ``min(max_containers, max(min_containers(t), the largest need of the last
  scaledown_window seconds)))``: scale-up is immediate, scale-down happens at the pool level
  once the window has passed since the pool last needed that many.
* A new container is ready ``cold_start`` seconds after it starts; when the pool shrinks the
  newest containers stop first (those still starting, if any). Containers are identical, so
  which one serves a request does not matter.
* At time 0 the floor's containers are up and warm. Billing is cut at the span's end.
* A request that must wait although a container is ready (every ready one runs ``max_inputs``)
  counts as *over the cap*: queued here, answered 429 by a Modal Server (``over_cap_requests``).

At equal times: completions, then containers becoming ready, then floor changes, then
arrivals, then scale-down checks (so a request arriving exactly ``scaledown_window`` after the
pool last needed a container still finds it up).
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np

from .usage import GiveUp, PoolSettings, Usage

_COMPLETE, _READY, _FLOOR, _ARRIVAL, _EXPIRE = 0, 1, 2, 3, 4


def simulate_events(a: np.ndarray, s: np.ndarray, span: float, settings: PoolSettings) -> Usage:
    """Requests arriving at ``a`` (sorted offsets) with service times ``s`` over ``span`` seconds."""
    c = settings
    return _Pool(a.tolist(), s.tolist(), span, c.window, c.cold_start, c.concurrency, c.target, list(c.min_changes),
                 c.max_containers, c.buffer_containers, c.give_up).run()


class _Pool:
    def __init__(self, a: list[float], s: list[float], span: float, window: float, cold_start: float, k: int, kt: int,
                 changes: list[tuple[float, int]], cap: int | None, buffer: int, give_up: GiveUp | None) -> None:
        self.a, self.s, self.span, self.w, self.c, self.k, self.kt = a, s, span, window, cold_start, k, kt
        self.cap = cap if cap is not None else 1 << 30
        self.buffer, self.give_up = buffer, give_up
        self.cur_min = int(changes[0][1])
        self.heap: list[tuple[float, int, int, int]] = []  # (time, kind, seq, payload)
        self.seq = 0
        for t, m in changes[1:]:
            self.push(float(t), _FLOOR, int(m))
        self.n = self.running = self.need = 0
        self.queue: deque[int] = deque()
        self.last_needed: list[float] = []  # per level (index j-1): when need last dropped below j
        self.starts: list[float] = []  # stack of containers: start time (bottom = oldest)
        self.ready_at: list[float] = []
        self.ready = 0  # containers ready (always the bottom ones: the oldest started first)
        self.billed = self.busy_t = 0.0
        self.last_t = 0.0
        self.cold = self.cold_req = self.queued = self.seen = self.over_cap = 0
        self.lat = [0.0] * len(a)

    def push(self, t: float, kind: int, payload: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, kind, self.seq, payload))

    def clip(self, x: float) -> float:
        return self.span if x > self.span else (0.0 if x < 0.0 else x)

    def account(self, t: float) -> None:
        """Busy container-seconds up to t: min(ceil(in_system / max_inputs), containers up)."""
        dt = self.clip(t) - self.clip(self.last_t)
        if dt > 0 and self.n:
            self.busy_t += dt * min(-(-self.n // self.k), len(self.starts))
        self.last_t = t

    def target(self, t: float, expiring: bool = False) -> int:
        """Containers the pool wants at t; a level lapses W after it was last needed (at that
        instant only when handling its scale-down check, so an arrival at that instant keeps it)."""
        kept = len(self.last_needed)
        while kept > self.need and (self.last_needed[kept - 1] + self.w < t
                                    or (expiring and self.last_needed[kept - 1] + self.w <= t)):
            kept -= 1
        return min(self.cap, max(self.cur_min, self.need, kept))

    def set_need(self, t: float) -> bool:
        """Update the demand; True when it changed (only then can the pool's size change,
        besides floor changes and scale-down checks)."""
        new = min(self.cap, -(-self.n // self.kt) + self.buffer) if self.n else 0
        if new == self.need:
            return False
        if new < self.need:
            for j in range(new, self.need):
                self.last_needed[j] = t
            self.push(t + self.w, _EXPIRE, 0)
        elif new > self.need:
            while len(self.last_needed) < new:
                self.last_needed.append(t)
            for j in range(self.need, new):
                self.last_needed[j] = float("inf")  # needed now
        self.need = new
        return True

    def adjust(self, t: float, expiring: bool = False) -> None:
        target = self.target(t, expiring)
        while len(self.starts) < target:
            self.starts.append(t)
            self.ready_at.append(t + self.c)
            self.cold += 1
            if self.c > 0:
                self.push(t + self.c, _READY, len(self.starts))
            else:
                self.ready += 1
        while len(self.starts) > target:
            st = self.starts.pop()
            self.ready_at.pop()
            if self.ready > len(self.starts):
                self.ready -= 1
            self.billed += self.clip(t) - self.clip(st)
        self.seen = max(self.seen, len(self.starts))
        self.dispatch(t)

    def dispatch(self, t: float) -> None:
        cap = self.k * self.ready
        while self.queue and self.running < cap:
            self.begin(self.queue.popleft(), t)

    def begin(self, i: int, t: float) -> None:
        self.running += 1
        self.lat[i] = t - self.a[i] + self.s[i]
        self.push(t + self.s[i], _COMPLETE, i)

    def handle(self, t: float, kind: int, payload: int) -> None:
        if kind == _COMPLETE:
            self.account(t)
            self.running -= 1
            self.n -= 1
            self.dispatch(t)
            if self.set_need(t):
                self.adjust(t)
        elif kind == _READY:
            # payload: the stack height when it started; it is ready if still up and started then
            if payload <= len(self.starts) and self.ready_at[payload - 1] == t and self.ready < payload:
                self.ready = payload
                self.dispatch(t)
        elif kind == _FLOOR:
            self.account(t)
            self.cur_min = payload
            self.adjust(t)
        else:  # _EXPIRE
            self.account(t)
            self.adjust(t, expiring=True)

    def run(self) -> Usage:
        a, s, heap, pop = self.a, self.s, self.heap, heapq.heappop
        for _ in range(min(self.cap, self.cur_min)):  # the floor's containers, up and warm at 0
            self.starts.append(0.0)
            self.ready_at.append(0.0)
        self.ready = len(self.starts)
        self.seen = len(self.starts)
        slow = checked = 0
        gave_up: str | None = None
        for i in range(len(a)):
            t = a[i]
            while heap and (heap[0][0] < t or (heap[0][0] == t and heap[0][1] < _ARRIVAL)):
                et, kind, _, payload = pop(heap)
                self.handle(et, kind, payload)
            g = self.give_up
            if g is not None and i and not i & 1023:
                slow += sum(1 for x in self.lat[checked:i] if x > g.latency_goal)
                checked = i
                up = sum(self.clip(t) - self.clip(st) for st in self.starts)
                if slow >= g.slow_requests:
                    gave_up = "latency"
                elif self.billed + up > g.container_seconds:
                    gave_up = "cost"
                if gave_up:
                    return Usage(self.billed + up, self.busy_t, self.cold, self.cold_req, self.queued,
                                 np.asarray(self.lat[:i]), self.seen, "events", gave_up, over_cap_requests=self.over_cap)
            self.account(t)
            at_cap = len(self.starts) >= self.cap  # no container can start for it
            self.n += 1
            if self.set_need(t):
                self.adjust(t)
            if self.running < self.k * self.ready and not self.queue:
                self.begin(i, t)
            else:
                self.queue.append(i)
                if self.ready:
                    self.over_cap += 1  # a ready container, but every slot taken
                if at_cap:
                    self.queued += 1  # waits because max_containers are up
                else:
                    self.cold_req += 1  # waits for a container to start
        while heap:
            et, kind, _, payload = pop(heap)
            if kind == _EXPIRE and et >= self.span and not self.n:
                continue  # past the span nothing is billed
            self.handle(et, kind, payload)
        self.account(self.span)
        for st in self.starts:
            self.billed += self.span - self.clip(st)
        return Usage(
            container_seconds=self.billed,
            busy_seconds=self.busy_t,
            cold_starts=self.cold,
            cold_requests=self.cold_req,
            queued_requests=self.queued,
            latencies=np.asarray(self.lat),
            max_containers_seen=self.seen,
            method="events",
            over_cap_requests=self.over_cap,
        )

"""A lower bound on a setting's bill without simulating it: the pool's billing if nobody waited.

Waiting only keeps a request in the system longer (its stay ``[a_i, F_i]`` contains the stay
it would have had without waiting, ``[a_i, a_i + s_i]``), so the in-system count, the demand
curve ``ceil(n / target_inputs) + buffer`` and every level's up-time (the runs where the
demand reaches the level, each held ``scaledown_window`` past its end) are at least those of
the same requests served at once. Billed container-seconds are therefore at least the
no-wait pool's, whatever the window and the floor; cold starts only add to them. On busy
traffic the two are close (waits are rare and short next to the span), which makes this the
bound recommend's branch and bound prunes with.

The no-wait demand needs no simulation: arrivals ``a`` (sorted) and completions ``sort(a + s)``
merged (completions first at equal times, as in the models) give the in-system count after
each event. Level L (in-system above ``(L - 1) x target_inputs``) goes up at the arrivals that bring the
count to ``(L - 1) x target_inputs + 1`` and down at the completions that bring it back, in
alternation, so its k-th run is the k-th such arrival to the k-th such completion. Per level
the runs' total and their sorted gaps give the union held W past each run in O(log n) for any
W: ``sum(d - u) + sum(min(gap, W)) + min(W, span - last d)`` (clipped at the span's end).
"""

from __future__ import annotations

import numpy as np

from .usage import PoolSettings

_CHUNK = 1 << 18  # requests per step: bounded temporaries on a long span


class _Completions:
    """Completion times ``a + s`` in time order. With one service time for every request (the
    usual case) they are ``a + s`` already sorted and made a slice at a time, not held."""

    def __init__(self, a: np.ndarray, s: np.ndarray) -> None:
        self.a = a
        self.constant = float(s[0]) if float(s.min()) == float(s.max()) else None
        self.sorted = None if self.constant is not None else np.sort(a + s)

    def __getitem__(self, sl: slice) -> np.ndarray:
        return self.a[sl] + self.constant if self.sorted is None else self.sorted[sl]  # type: ignore[operator]

    def before(self, t: float) -> int:
        """How many complete strictly before ``t``."""
        if self.sorted is not None:
            return int(np.searchsorted(self.sorted, t, side="left"))
        a, c, n = self.a, self.constant, self.a.size
        k = int(np.searchsorted(a, t - c, side="left"))  # then exact on a + c, as the slices compute it
        while k < n and a[k] + c < t:
            k += 1
        while k > 0 and a[k - 1] + c >= t:
            k -= 1
        return k


class NoWaitBilling:
    """Billed container-seconds of the pool serving every request on arrival, for any window and
    constant floor: a lower bound on the real pool's (see the module docstring)."""

    def __init__(self, a: np.ndarray, s: np.ndarray, span: float, target_inputs: int, buffer_containers: int = 0,
                 max_containers: int | None = None) -> None:
        self.span = float(span)
        self.buffer = int(buffer_containers)
        self.cap = max_containers if max_containers is not None else 1 << 30
        self.levels: list[tuple[float, np.ndarray, np.ndarray, float]] = []  # per L: runs' total, sorted gaps, cumsum, last end
        if a.size == 0 or not (s.size == a.size and float(s.min()) > 0):
            return  # nothing to bound (or a zero service time, where the tie order would matter): floor only
        kt = int(target_inputs)
        done = _Completions(a, s)
        up_l, up_t, down_l, down_t = [], [], [], []
        c_lo = 0
        for lo in range(0, a.size, _CHUNK):  # the events in [a[lo], a[hi]): bounded temporaries
            hi = min(lo + _CHUNK, a.size)
            c_hi = done.before(a[hi]) if hi < a.size else a.size
            times = np.concatenate((done[c_lo:c_hi], a[lo:hi]))
            order = np.argsort(times, kind="stable")  # two sorted runs: a merge; completions first at equal times
            times = times[order]
            is_arr = order >= c_hi - c_lo
            step = is_arr.view(np.int8) * np.int8(2) - np.int8(1)
            n = np.cumsum(step, dtype=np.int32)
            n += lo - c_lo
            at = np.flatnonzero(is_arr & ((n - 1) % kt == 0))
            up_l.append((n[at] - 1) // kt + 1)
            up_t.append(times[at])
            at = np.flatnonzero(~is_arr & (n % kt == 0))
            down_l.append(n[at] // kt + 1)
            down_t.append(times[at])
            c_lo = c_hi
        ul, ut, dl, dt = (np.concatenate(x) for x in (up_l, up_t, down_l, down_t))
        del done, up_l, up_t, down_l, down_t
        uo, do = np.argsort(ul, kind="stable"), np.argsort(dl, kind="stable")  # time order kept within a level
        ul, ut, dl, dt = ul[uo], ut[uo], dl[do], dt[do]
        top = int(ul[-1])
        ub = np.searchsorted(ul, np.arange(1, top + 2))
        db = np.searchsorted(dl, np.arange(1, top + 2))
        for L in range(top):
            u, d = ut[ub[L]:ub[L + 1]], dt[db[L]:db[L + 1]]
            if u.size != d.size or u.size == 0:  # cannot happen for positive service times; stay safe
                self.levels = []
                return
            gaps = np.sort(u[1:] - d[:-1])
            self.levels.append((float((d - u).sum()), gaps, np.concatenate(([0.0], np.cumsum(gaps))), float(d[-1])))

    def level_seconds(self, level: int, window: float) -> float:
        """Up-time inside the span of container level ``level`` (1 = the first) with this window."""
        L = max(1, level - self.buffer)
        if L > len(self.levels):
            return 0.0
        total, gaps, cum, last = self.levels[L - 1]
        k = int(np.searchsorted(gaps, window, side="left"))
        return total + float(cum[k]) + window * (gaps.size - k) + min(window, self.span - last)

    def __call__(self, window: float, floor: int = 0) -> float:
        """Lower bound on billed container-seconds with ``scaledown_window`` ``window`` and a
        constant ``min_containers`` ``floor``."""
        base = min(int(floor), self.cap)
        top = min(self.cap, len(self.levels) + self.buffer)
        return base * self.span + sum(self.level_seconds(j, window) for j in range(base + 1, top + 1))

    def bill(self, settings: PoolSettings) -> float | None:
        """The bound for these settings (made with the same target_inputs, buffer_containers and
        max_containers), or None when warm windows change the floor over the span."""
        floor = settings.constant_floor
        return None if floor is None else self(settings.window, floor)

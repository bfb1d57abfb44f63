"""A shared server's load as its robots should see it, and the price of its time.

Robots that each pick the split best for themselves all rush a server that looks
idle, and all leave it once it saturates: greedy choices oscillate. The server
therefore publishes, beside how long a request waits now, a congestion price:
milliseconds of latency a robot should charge itself per millisecond of server
work it sends. The price grows while requests wait longer than ``target`` batch
durations (a request should be served by the next batch) and shrinks while they
do not, multiplicatively, by up to ``rate`` e-folds per second, between
``floor`` and ``ceiling``, from ``start`` (1: a robot's server work counts
twice). Robots that add the price to their own predictions shed
server work until the queue stays short, as a dual (Lagrangian) price of the
server's capacity would make them. Waiting, unlike utilisation, still measures
how over-subscribed a saturated server is, and a multiplicative price finds the
right scale for a slow CPU and a fast GPU alike. Because the price is
integrated, not measured, robots do not all move on one noisy moment.
"""

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadState:
    """What a server publishes: ``wait_ms`` a request queued lately (mean over the window), ``utilisation``
    (busy share of the window), ``price`` (ms of latency per ms of work), ``queue_depth`` and ``robots`` served
    within the window.
    """

    wait_ms: float = 0.0
    utilisation: float = 0.0
    price: float = 0.0
    queue_depth: int = 0
    robots: int = 0


class ServerLoad:
    """Tracks a server's busy intervals and queue waits over ``window_s`` and integrates its price."""

    def __init__(self, target: float = 1.0, rate: float = 0.3, window_s: float = 1.0, floor: float = 0.01,
                 ceiling: float = 1000.0, start: float = 1.0):
        if not (target > 0 and rate >= 0 and window_s > 0 and 0 < floor <= start <= ceiling):
            raise ValueError(f'server load needs target > 0, rate >= 0, window_s > 0 and 0 < floor <= start <= '
                             f'ceiling; got {target}, {rate}, {window_s}, {floor}, {ceiling}, start {start}')
        self.target, self.rate, self.window_s = target, rate, window_s
        self.floor, self.ceiling = floor, ceiling
        self.price = start
        self._busy: deque[tuple[float, float, int]] = deque()  # (start, end, requests) of each batch run
        self._waits: deque[tuple[float, float, object]] = deque()  # (served at, waited ms, robot)
        self._last_s: float | None = None

    def served(self, start_s: float, end_s: float, waits: list[tuple[float, object]]) -> None:
        """A batch ran from ``start_s`` to ``end_s``; ``waits``: each request's (ms queued, robot)."""
        self._busy.append((start_s, end_s, len(waits)))
        self._waits.extend((start_s, ms, robot) for ms, robot in waits)

    def update(self, now_s: float, queue_depth: int) -> LoadState:
        """The state at ``now_s``, the price moved by how long requests waited since the last update."""
        start = now_s - self.window_s
        while self._busy and self._busy[0][1] <= start:
            self._busy.popleft()
        while self._waits and self._waits[0][0] <= start:
            self._waits.popleft()
        busy = sum(min(e, now_s) - max(s, start) for s, e, _ in self._busy if min(e, now_s) > max(s, start))
        waits = [ms for _, ms, _ in self._waits]
        wait_ms = sum(waits) / len(waits) if waits else 0.0
        if self._last_s is not None:
            batch_ms = 1e3 * sum(e - s for s, e, _ in self._busy) / len(self._busy) if self._busy else 0.0
            excess = wait_ms / (self.target * batch_ms) - 1.0 if batch_ms > 0 else -1.0
            dt = min(now_s - self._last_s, self.window_s)
            self.price = min(self.ceiling, max(self.floor, self.price * math.exp(self.rate * min(excess, 1.0) * dt)))
        self._last_s = now_s
        return LoadState(wait_ms, min(1.0, busy / self.window_s), self.price, queue_depth,
                         len({robot for *_, robot in self._waits}))

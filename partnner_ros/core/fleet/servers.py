"""Which of several servers a robot sends its features to.

Each server's heartbeat says how long requests wait there, what its time costs
(the congestion price) and how fast it runs a unit of work. A robot predicts
what its next frame would cost on each server that is alive, and moves when
another is clearly cheaper (by ``gain`` and ``margin_ms``) and it has stayed
where it is for a dwell drawn between ``dwell_s`` and three times that. A robot
sees every other server's wait without itself in it, so alike servers always look
a little cheaper than its own: the margin absorbs that, and the random dwell keeps
robots that all see one cheaper server from moving to it together. A server
whose heartbeat has been silent for ``timeout_s`` is dead: its robots move at
once, whatever the dwell.
"""

import math
import random
from dataclasses import dataclass


@dataclass
class ServerHeard:
    """A server's last heartbeat, as the robot received it (``at_s``: the robot's monotonic clock)."""

    at_s: float
    wait_ms: float = 0.0
    price: float = 0.0
    ms_per_gweight: float = 0.0
    fingerprint: str = ''
    node: str = ''  # its node's fully qualified name


class ServerChoice:
    """The server to use, from the heartbeats of all of them."""

    def __init__(self, timeout_s: float = 0.75, gain: float = 0.25, margin_ms: float = 10.0, dwell_s: float = 2.0,
                 seed: int = 0):
        self.timeout_s, self.gain, self.margin_ms, self.dwell_s = timeout_s, gain, margin_ms, dwell_s
        self._rng = random.Random(seed)
        self._dwell = dwell_s
        self._tie: dict[str, float] = {}  # this robot's own order of servers that cost the same
        self.heard: dict[str, ServerHeard] = {}
        self.current: str | None = None
        self.since_s = -math.inf
        self.moves = 0

    def heartbeat(self, name: str, heard: ServerHeard) -> None:
        """Record a heartbeat of server ``name``."""
        self.heard[name] = heard

    def alive(self, now_s: float, fingerprint: str | None = None) -> list[str]:
        """The servers heard within ``timeout_s`` (serving ``fingerprint``'s model, if given), by name."""
        return sorted(name for name, h in self.heard.items() if now_s - h.at_s <= self.timeout_s
                      and (fingerprint is None or h.fingerprint == fingerprint))

    def cost_ms(self, name: str, cloud_ms: float) -> float:
        """What a frame whose server work takes ``cloud_ms`` on the current server would cost on ``name``:
        its queue wait, plus the work at its speed, charged its price.
        """
        h = self.heard[name]
        here = self.heard.get(self.current or '')
        speed = h.ms_per_gweight / here.ms_per_gweight if here and here.ms_per_gweight > 0 and h.ms_per_gweight > 0 \
            else 1.0
        return h.wait_ms + cloud_ms * speed * (1.0 + h.price)

    def choose(self, now_s: float, cloud_ms: float, fingerprint: str | None = None) -> str | None:
        """The server for the next frames (None: none alive). ``cloud_ms``: the robot's predicted server work
        per frame on the current server (0 when it does not know yet).
        """
        alive = self.alive(now_s, fingerprint)
        if not alive:
            return self.current
        if self.current not in alive:
            return self._move(min(alive, key=lambda s: self._rank(s, cloud_ms)), now_s)
        if now_s - self.since_s < self._dwell:
            return self.current
        best = min(alive, key=lambda s: self._rank(s, cloud_ms))
        here = self.cost_ms(self.current, cloud_ms)
        if self.cost_ms(best, cloud_ms) < here / (1 + self.gain) - self.margin_ms:
            return self._move(best, now_s)
        return self.current

    def _rank(self, name: str, cloud_ms: float) -> tuple[float, float]:
        # robots that start together see idle servers alike: each breaks the tie its own way, so they spread
        return self.cost_ms(name, cloud_ms), self._tie.setdefault(name, self._rng.random())

    def _move(self, name: str, now_s: float) -> str:
        if self.current is not None:
            self.moves += 1
        self.current, self.since_s = name, now_s
        self._dwell = self.dwell_s * self._rng.uniform(1.0, 3.0)
        return name

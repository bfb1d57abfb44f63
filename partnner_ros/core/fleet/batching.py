"""Which waiting requests a shared server runs together, in one forward pass.

Requests that resume at the same layer (the same split) stack along the batch
dimension. The oldest request decides: its split's group is served once it holds
``max_batch`` requests or the oldest has waited ``max_wait_s``, so batching adds
at most that wait to any frame. Requests at other splits keep their order.
Shadow probes wait behind every real frame: a probe only measures, and on a slow
server one that ran first would make the frames behind it late.
Used alike by the live cloud node and the fleet simulator.
"""

from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    """One frame waiting at the server: ``item`` is the caller's, ``key`` groups what may batch together."""

    item: Any
    key: Any
    arrived_s: float
    probe: bool = False


class BatchQueue:
    """A FIFO of requests that hands out batches of one key; bounded, dropping the oldest when full."""

    def __init__(self, max_batch: int = 4, max_wait_s: float = 0.004, capacity: int = 64):
        if max_batch < 1 or max_wait_s < 0 or capacity < 1:
            raise ValueError(f'a batch queue needs max_batch >= 1, max_wait_s >= 0 and capacity >= 1, got '
                             f'{max_batch}, {max_wait_s}, {capacity}')
        self.max_batch, self.max_wait_s, self.capacity = max_batch, max_wait_s, capacity
        self._queue: deque[Request] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, item, key, now_s: float, probe: bool = False) -> Request | None:
        """Queue ``item`` (a shadow probe: behind every real request); returns the request dropped to make
        room (the oldest), or None.
        """
        self._queue.append(Request(item, key, now_s, probe))
        return self._queue.popleft() if len(self._queue) > self.capacity else None

    def take(self, now_s: float) -> tuple[list[Request], float | None]:
        """(the batch to run now, []) or ([], when to ask again: None while empty). A batch is the oldest
        request with up to ``max_batch`` - 1 later ones of its key, once it is full or the oldest has
        waited ``max_wait_s``.
        """
        if not self._queue:
            return [], None
        head = next((r for r in self._queue if not r.probe), self._queue[0])
        same = [r for r in self._queue if r.key == head.key and r.probe == head.probe][:self.max_batch]
        deadline = head.arrived_s + self.max_wait_s
        if len(same) < self.max_batch and now_s < deadline:
            return [], deadline
        taken = {id(r) for r in same}
        self._queue = deque(r for r in self._queue if id(r) not in taken)
        return same, None

    def drain(self) -> list[Request]:
        """Everything still waiting, oldest first; the queue is left empty."""
        out, self._queue = list(self._queue), deque()
        return out

"""Frame flow control for the edge: latest-frame intake and frames in flight."""

import threading
import time
from collections import OrderedDict
from typing import Any, Generic, TypeVar

T = TypeVar('T')


class LatestSlot(Generic[T]):
    """Holds the newest unprocessed item. Putting over an unconsumed item returns
    the replaced one, so the caller can count and report it as stale.
    """

    def __init__(self):
        self._item: T | None = None
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: T) -> T | None:
        """Store ``item`` as the newest and wake takers; return the unconsumed item it replaced, or None."""
        with self._cond:
            stale, self._item = self._item, item
            self._cond.notify_all()
            return stale

    def take(self, ready=lambda: True, timeout: float | None = None) -> T | None:
        """Wait for an item and for ``ready()`` to hold; None on timeout or close."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._closed and (self._item is None or not ready()):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 0.1)
            if self._closed:
                return None
            item, self._item = self._item, None
            return item

    def wake(self) -> None:
        """Re-check waiting takers' ``ready()`` (e.g. after an in-flight frame resolved)."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> T | None:
        """Stop the slot: waiting and later takes return None; return the item left unconsumed, or None."""
        with self._cond:
            self._closed = True
            item, self._item = self._item, None
            self._cond.notify_all()
            return item


class InFlight:
    """Frames sent to the cloud and not yet answered, oldest first."""

    def __init__(self):
        self._frames: OrderedDict[int, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def add(self, seq: int, now: float, info: Any) -> None:
        """Record frame ``seq`` as sent at ``now`` (s, the clock ``expire`` is given) with ``info``."""
        with self._lock:
            self._frames[seq] = (now, info)

    def resolve(self, seq: int, matches=lambda info: True) -> Any | None:
        """Remove and return frame ``seq`` if ``matches(info)``; a record from an earlier
        session with the same sequence number must not resolve this one.
        """
        with self._lock:
            entry = self._frames.get(seq)
            if entry is None or not matches(entry[1]):
                return None
            del self._frames[seq]
        return entry[1]

    def expire(self, now: float, timeout: float) -> list[tuple[int, Any]]:
        """Remove and return the frames sent more than ``timeout`` seconds ago."""
        out = []
        with self._lock:
            while self._frames:
                seq, (sent, info) = next(iter(self._frames.items()))
                if now - sent <= timeout:
                    break
                del self._frames[seq]
                out.append((seq, info))
        return out

    def drain(self) -> list[tuple[int, Any]]:
        """Remove and return every frame in flight as ``(seq, info)``, oldest first."""
        with self._lock:
            out = [(seq, info) for seq, (_, info) in self._frames.items()]
            self._frames.clear()
        return out

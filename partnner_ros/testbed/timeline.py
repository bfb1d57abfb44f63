"""Scheduled changes during a bench run: the link rate stepped along a bandwidth trace,
and the server's CPU quota stepped along a load schedule, from a common start time.
"""

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..core.simulation.traces import Steps, Trace

# tbf needs a positive rate; a trace's outages (0 Mbit/s) become this trickle
MIN_MBPS = 0.01


@dataclass(order=True)
class Event:
    """A change ``what`` that ``apply()`` makes ``at_s`` seconds after the timeline's start; orders by time."""

    at_s: float
    what: str = field(compare=False)
    apply: Callable[[], None] = field(compare=False, repr=False)


def rate_events(trace: Trace, duration_s: float, set_rate: Callable[[float], None]) -> list[Event]:
    """One event per trace sample in [0, duration), the trace repeating if it is shorter."""
    events, t = [], 0.0
    while t < duration_s:
        mbps = max(trace.rate_at(t) / 1e6, MIN_MBPS)
        events.append(Event(t, f'link {mbps:.3f} Mbit/s', lambda m=mbps: set_rate(m)))
        local = t % trace.period
        nxt = trace.end[trace.start.searchsorted(local, 'right') - 1]
        t += nxt - local
    return events


def load_events(load: Steps, set_cpus: Callable[[float | None], None]) -> list[Event]:
    """A load factor f becomes a quota of 1/f CPU (f = 1: no quota)."""
    return [Event(t, f'server load x{f:g}', lambda f=f: set_cpus(None if f == 1 else 1.0 / f))
            for t, f in load.points]


class Timeline:
    """Applies ``events`` at ``t0 + at_s`` (time.time() clock) on a thread of its own;
    ``applied`` lists (seconds since t0, what) as they happen.
    """

    def __init__(self, events: list[Event]):
        self.events = sorted(events)
        self.applied: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0

    def start(self, t0: float) -> None:
        """Start applying the events on a daemon thread, relative to ``t0`` (time.time() seconds)."""
        self.t0 = t0
        self._thread = threading.Thread(target=self._run, name='timeline', daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for event in self.events:
            if self._stop.wait(max(0.0, self.t0 + event.at_s - time.time())):
                return
            try:
                event.apply()
                self.applied.append((round(time.time() - self.t0, 3), event.what))
            except (OSError, RuntimeError, ValueError) as e:
                self.errors.append(f'{event.what} at {event.at_s:.1f} s: {e}')

    def stop(self) -> None:
        """Skip the events not yet applied and wait up to 5 s for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

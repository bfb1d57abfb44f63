"""Is the cloud usable? Heartbeat age, lost frames, and a backoff before retrying."""

from dataclasses import dataclass


@dataclass
class CloudHealth:
    """Decides cloud liveness from heartbeats and lost-frame reports.

    The cloud counts as dead when its heartbeat has been silent for ``detect_s``
    (a fraction of the fallback deadline, so that switching to edge-only completes
    within the deadline), or when a frame sent to it was lost. After a loss it
    stays dead for a backoff that doubles on each repeat (a link that carries
    heartbeats but not features must not flap), and is reset by a served frame.
    """

    deadline_s: float = 2.0
    detect_fraction: float = 0.75
    backoff_max_s: float = 30.0
    last_heartbeat: float | None = None
    dead_until: float = 0.0
    backoff_s: float = 0.0
    reason: str = 'no heartbeat from the cloud yet'

    @property
    def detect_s(self) -> float:
        """Seconds of heartbeat silence after which the cloud counts as dead."""
        return self.deadline_s * self.detect_fraction

    def heartbeat(self, now: float) -> None:
        """Record a heartbeat from the cloud at ``now`` (s, monotonic)."""
        self.last_heartbeat = now

    def served(self) -> None:
        """A frame came back from the cloud: reset the loss backoff."""
        self.backoff_s = 0.0

    def lost(self, now: float, why: str) -> None:
        """A frame sent to the cloud was lost: dead for a backoff (doubling, capped at ``backoff_max_s``)."""
        self.backoff_s = min(self.backoff_max_s, max(self.deadline_s, 2 * self.backoff_s))
        self.dead_until = now + self.backoff_s
        self.reason = why

    def alive(self, now: float) -> bool:
        """Whether the cloud may be used at ``now``; when not, ``reason`` says why."""
        if self.last_heartbeat is None:
            self.reason = 'no heartbeat from the cloud yet'
            return False
        silent = now - self.last_heartbeat
        if silent > self.detect_s:
            self.reason = f'no heartbeat from the cloud for {silent:.1f} s'
            return False
        return now >= self.dead_until

"""How often to shadow-probe a split: as often as the estimate is in doubt, and never
more than a set share of the uplink and of the server's time.

A probe at split p sends p's payload and makes the server run layers [p, n). Frames
follow each other about every ``frame_ms`` (the pipeline serves one at a time), so
probing every ``e`` frames costs ``payload / (e x link capacity per frame)`` of the
uplink and ``server ms / (e x frame_ms)`` of the server. The period is the smallest
that keeps both under ``share``, stretched by how sure the policy is that the probed
split is worse than the current one (up to ``1 / min_doubt`` times), and rounded
up to a half octave (1, 2, 3, 4, 6, 8, 12, 16, 23, 32, ...) so the edge's probe
parameter rarely changes, while rounding wastes at most 29% of the budget (a power
of two wasted up to half).
"""

import math
from dataclasses import dataclass

from .frames import FrameRecord, Status

MAX_EVERY = 1024


@dataclass(frozen=True)
class ProbeBudget:
    """The share of uplink capacity and of server time that probes may take."""

    share: float = 0.05
    min_doubt: float = 0.25

    def every(self, payload_bytes: float, server_ms: float, frame_ms: float, link_bps: float,
              doubt: float = 1.0) -> int:
        """Probe every this many frames (a half octave, 1..MAX_EVERY): within the budget, and rarer
        when ``doubt`` (the chance the probed split is better, 0..1) is low; 0 (never) with no budget.
        """
        if self.share <= 0:
            return 0
        frame_ms = max(frame_ms, 1.0)
        link = 8.0 * payload_bytes / (self.share * link_bps * frame_ms / 1e3) if link_bps > 0 else MAX_EVERY
        server = server_ms / (self.share * frame_ms)
        every = max(link, server, 1.0) / max(min(doubt, 1.0), self.min_doubt)
        if not math.isfinite(every):
            return MAX_EVERY
        # 1e-9: 2 ** (k / 2) for even k must not round up past itself
        return int(min(math.ceil(2 ** (math.ceil(2 * math.log2(every)) / 2) - 1e-9), MAX_EVERY))


def doubt(gap_ms: float, error_ms: float) -> float:
    """How much a split predicted ``gap_ms`` worse than the current one deserves a look, when the gap's
    estimate has standard error ``error_ms``: twice the normal tail beyond the gap, so 1 at a gap of 0
    (or less) and falling as the gap grows past its error.
    """
    if gap_ms <= 0:
        return 1.0
    if not error_ms > 0:
        return 0.0
    return math.erfc(gap_ms / error_ms / math.sqrt(2))


class ProbeSpend:
    """What shadow probes have cost so far, as shares: their bits of the link's capacity (the bandwidth
    estimate integrated over time) and their server milliseconds of the wall time, since the first
    frame's outcome.
    """

    def __init__(self):
        self.bits = self.server_ms = self.capacity_bits = 0.0
        self.first_s: float | None = None
        self.last_s: float | None = None

    def observe(self, record: FrameRecord, link_bps: float) -> None:
        """Account one frame outcome (``at_s`` must be set), at the link's current bandwidth estimate."""
        if not math.isfinite(record.at_s):
            return
        if self.last_s is not None and math.isfinite(link_bps) and record.at_s > self.last_s:
            self.capacity_bits += (record.at_s - self.last_s) * link_bps
        self.first_s = record.at_s if self.first_s is None else self.first_s
        self.last_s = record.at_s if self.last_s is None else max(self.last_s, record.at_s)
        if record.probe and record.status == Status.OK and record.payload_bytes > 0:
            self.bits += 8.0 * record.payload_bytes
            self.server_ms += record.cloud_ms

    @property
    def uplink_share(self) -> float:
        """Probe bits over the link's capacity so far (0 before any capacity)."""
        return self.bits / self.capacity_bits if self.capacity_bits > 0 else 0.0

    @property
    def elapsed_s(self) -> float:
        """Seconds from the first frame outcome to the last (0 before two)."""
        return (self.last_s or 0.0) - (self.first_s or 0.0)

    @property
    def server_share(self) -> float:
        """Probe server time over the wall time so far (0 before any time passed)."""
        return self.server_ms / (self.elapsed_s * 1e3) if self.elapsed_s > 0 else 0.0

    @property
    def bits_per_s(self) -> float:
        """Probe bits sent per second of wall time so far (0 before any time passed)."""
        return self.bits / self.elapsed_s if self.elapsed_s > 0 else 0.0

"""The frame ledger: every camera frame's outcome, once, with per-split statistics.

Each frame that reaches the edge gets one FrameTiming record. A shadow probe sends
a copy of a frame at another split and gets a record of its own with the same
sequence number; the ledger sets probes aside, so they never count as frames nor
replace a frame's outcome. The demo, the bench observer, the camera's pacing and
the tests all read frames through this class.
"""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .frames import FrameRecord, Status, record_from_timing
from .probing import ProbeSpend


@dataclass(frozen=True)
class SplitStats:
    """Means over the frames served at one split (OK frames only)."""

    frames: int
    e2e_ms: float
    edge_ms: float
    cloud_ms: float
    compute_ms: float   # the model alone, both sides
    overhead_ms: float  # e2e minus compute: pre/post-processing, codec, queues, transport
    codec_ms: float
    transfer_ms: float
    payload_bytes: float


class FrameLedger:
    """Frame outcomes by sequence number; with ``window``, only the newest that many
    are kept (the counts still cover every frame).
    """

    def __init__(self, window: int | None = None):
        self.window = window
        self.frames: OrderedDict[int, FrameRecord] = OrderedDict()
        self.counts = {s: 0 for s in Status}
        self.probes = 0
        # the link's capacity is not known here, so only the probes' server time and bits are counted
        self.probe_spend = ProbeSpend()

    def add(self, timing, arrival_ns: int) -> FrameRecord | None:
        """Enter one FrameTiming message; returns the frame's record, or None for a probe."""
        record = record_from_timing(timing, arrival_ns)
        self.probe_spend.observe(record, float('nan'))
        if record.probe:
            self.probes += 1
            return None
        if record.seq not in self.frames:
            self.counts[record.status] += 1
        self.frames[record.seq] = record
        if self.window is not None and len(self.frames) > self.window:
            self.frames.popitem(last=False)
        return record

    def __len__(self) -> int:
        return sum(self.counts.values())

    def ok(self) -> list[FrameRecord]:
        """The frames that got a result, in sequence order."""
        return [r for _, r in sorted(self.frames.items()) if r.status == Status.OK]

    def latency(self) -> tuple[float, float] | None:
        """Mean and 95th percentile end-to-end latency of the OK frames, or None."""
        e2e = [r.e2e_ms for r in self.ok()]
        return (float(np.mean(e2e)), float(np.percentile(e2e, 95))) if e2e else None

    def per_split(self) -> dict[int, SplitStats]:
        """Per split, the means over its OK frames."""
        by_split: dict[int, list[FrameRecord]] = {}
        for r in self.ok():
            by_split.setdefault(r.split, []).append(r)
        return {k: _stats(rs) for k, rs in sorted(by_split.items())}

    def errors(self) -> list[str]:
        """The distinct errors the frames reported."""
        return sorted({r.error for r in self.frames.values() if r.error})


def _stats(records: list[FrameRecord]) -> SplitStats:
    def mean(values) -> float:
        return float(np.mean(list(values)))
    return SplitStats(
        len(records), mean(r.e2e_ms for r in records), mean(r.edge_ms for r in records),
        mean(r.cloud_ms for r in records), mean(r.edge_compute_ms + r.cloud_compute_ms for r in records),
        mean(r.e2e_ms - r.edge_compute_ms - r.cloud_compute_ms for r in records),
        mean(r.codec_ms for r in records), mean(r.transfer_ms for r in records),
        mean(r.payload_bytes for r in records))

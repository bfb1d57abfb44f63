"""What happened to one camera frame, and the latency accounting across hosts.

Edge and cloud clocks are not synchronised, so only durations travel: end-to-end
latency is measured on the robot alone (camera stamp to the result's arrival),
and transfer time is what is left after the edge's and the cloud's own durations.
"""

from dataclasses import dataclass
from enum import IntEnum


class Status(IntEnum):
    """Mirrors the STATUS_* constants of partnner_ros/msg/FrameTiming."""

    OK = 0
    DROPPED = 1
    LOST = 2
    REJECTED = 3
    FAILED = 4


@dataclass(frozen=True)
class FrameRecord:
    """One frame's outcome as the robot sees it. ``edge_ms``/``cloud_ms`` are each side's
    whole time (queues, codec, compute); the ``*_compute_ms`` and per-layer tuples are
    the model alone, for the layers that side ran. A probe is a shadow copy of a frame
    sent at another split to measure it; its result is not used.
    """

    seq: int
    split: int
    status: Status
    payload_bytes: int = 0
    e2e_ms: float = 0.0
    edge_ms: float = 0.0
    cloud_ms: float = 0.0
    edge_compute_ms: float = 0.0
    cloud_compute_ms: float = 0.0
    codec_ms: float = 0.0
    edge_layer_ms: tuple = ()
    cloud_layer_ms: tuple = ()
    probe: bool = False
    error: str = ''
    at_s: float = float('nan')  # when the outcome reached the robot, in seconds on its clock
    codec: str = ''  # the payload's codec ('' at edge-only, or when not known)
    pre_post_ms: float = 0.0  # the image's preprocessing and the results' postprocessing, wherever they ran

    @property
    def transfer_ms(self) -> float:
        """Time on the wire (both ways) and in transport: e2e minus both sides' own work."""
        return max(0.0, self.e2e_ms - self.edge_ms - self.cloud_ms)


def stamp_ns(stamp) -> int:
    """A ROS time (builtin_interfaces/Time: sec, nanosec) in nanoseconds."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def record_from_timing(timing, arrival_ns: int) -> FrameRecord:
    """A FrameTiming message, received at ``arrival_ns`` on the robot's clock, as a record.
    End-to-end latency is that arrival minus the camera stamp: both on the robot.
    """
    # at edge-only nothing crossed the link, and the edge's encode slot holds its postprocessing
    edge_only = timing.payload_bytes == 0
    return FrameRecord(
        timing.frame_seq, timing.split, Status(timing.status), timing.payload_bytes,
        (arrival_ns - stamp_ns(timing.header.stamp)) / 1e6, edge_ms(timing), cloud_ms(timing),
        edge_compute_ms=timing.edge_compute_ms, cloud_compute_ms=timing.cloud_compute_ms,
        codec_ms=0.0 if edge_only else timing.edge_encode_ms + timing.cloud_decode_ms,
        edge_layer_ms=tuple(timing.edge_layer_ms), cloud_layer_ms=tuple(timing.cloud_layer_ms), probe=timing.probe,
        error=timing.error, at_s=arrival_ns / 1e9, codec=timing.codec,
        pre_post_ms=timing.edge_preprocess_ms + (timing.edge_encode_ms if edge_only else timing.cloud_postprocess_ms))


def edge_ms(timing) -> float:
    """The edge's own time for a frame, from a FrameTiming message."""
    return timing.edge_queue_ms + timing.edge_preprocess_ms + timing.edge_compute_ms + timing.edge_encode_ms


def cloud_ms(timing) -> float:
    """The cloud's own time for a frame, from a FrameTiming message (0 at edge-only)."""
    return timing.cloud_queue_ms + timing.cloud_decode_ms + timing.cloud_compute_ms + timing.cloud_postprocess_ms

"""Recorder node: writes the robot's run to an MCAP file (the ``ros2`` profile, as ``ros2 bag record -s
mcap`` would), for Foxglove, ``ros2 bag`` and ``partnner replay``: every frame's timing, the partition
states, the servers' heartbeats, the results and /diagnostics; the features and the camera images
only when asked (they are large).

Messages are stored as they came off the wire (serialized, never decoded here), stamped with this
node's clock when they arrive. Run it on the robot: a frame's latency in the recording is its
timing's arrival here minus its camera stamp, both on the robot's clock.
"""

import socket
import time
from datetime import datetime, timezone
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from ..core.recording.writer import RecordingWriter
from ..msg import Classification, CloudStatus, Detection2DArray, Features, FrameTiming, PartitionState
from . import qos
from .diagnostics import OK, Diagnostics
from .params import Params
from .runner import run

# (topic, type, QoS): relative topics are the robot's (the recorder runs in its namespace)
ALWAYS = (('frame_timing', FrameTiming, qos.RESULTS), ('partition_state', PartitionState, qos.STATE),
          ('cloud_status', CloudStatus, qos.HEARTBEAT), ('detections', Detection2DArray, qos.RESULTS),
          ('classification', Classification, qos.RESULTS),
          ('/diagnostics', DiagnosticArray, QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE,
                                                       history=HistoryPolicy.KEEP_LAST)))
FEATURES = ('features', Features, qos.features())
IMAGES = ('image_raw', Image, qos.IMAGE_SUB)


def datatype(msg_type) -> str:
    """'pkg/msg/Type' of a generated message class."""
    return f'{msg_type.__module__.split(".")[0]}/msg/{msg_type.__name__}'


def read_msg(pkg: str, name: str) -> str:
    """The installed .msg file of ``pkg``'s message ``name``; raises FileNotFoundError when there is none."""
    try:
        path = Path(get_package_share_directory(pkg)) / 'msg' / f'{name}.msg'
    except PackageNotFoundError:
        raise FileNotFoundError(f'package {pkg} is not installed (its message definitions are needed)') from None
    return path.read_text()


class Recorder(Node):
    """Subscribes to the robot's topics (serialized) and writes each message as it arrives."""

    writer: RecordingWriter | None = None  # none when the node failed to start

    def __init__(self):
        super().__init__('recorder')
        p = Params(self)
        out = p.declare('out', '', 'MCAP file to write (its folder must exist; an existing file is replaced)',
                        read_only=True)
        features = p.declare('record_features', False, 'also record the features sent to the server (large)',
                             read_only=True)
        images = p.declare('record_images', False, 'also record the camera images (large)', read_only=True)
        if not out or not Path(out).parent.is_dir():
            raise FileNotFoundError(f'recorder: out must be a file in an existing folder, got {out!r}')
        self.writer = RecordingWriter(out, read_msg, {
            'robot': self.get_namespace(), 'host': socket.gethostname(),
            'started': datetime.now(timezone.utc).isoformat(timespec='seconds')})
        self.bytes = 0
        self.started = (time.monotonic(), time.process_time())
        self.subs = []
        for topic, msg_type, profile in ALWAYS + ((FEATURES,) if features else ()) + ((IMAGES,) if images else ()):
            channel = self.writer.channel(self.resolve_topic_name(topic), datatype(msg_type))
            self.subs.append(self.create_subscription(
                msg_type, topic, lambda data, c=channel: self._write(c, data), profile, raw=True))
        self.create_timer(1.0, self.writer.flush)
        Diagnostics(self, self._diagnostics)
        self.get_logger().info(f'recording {len(self.subs)} topics to {out}')

    def _write(self, channel: int, data: bytes) -> None:
        self.writer.write(channel, data, self.get_clock().now().nanoseconds)
        self.bytes += len(data)

    def cpu(self) -> tuple[float, float]:
        """The CPU seconds this process has used since it started recording, and their share of one CPU."""
        wall, cpu = time.monotonic() - self.started[0], time.process_time() - self.started[1]
        return cpu, 100.0 * cpu / wall if wall > 0 else 0.0

    def _diagnostics(self):
        cpu_s, share = self.cpu()
        return OK, f'recording to {self.writer.path}', {
            'messages': self.writer.messages, 'bytes_in': self.bytes, 'file': str(self.writer.path),
            'cpu_seconds': cpu_s, 'cpu_percent': share}

    def destroy_node(self):
        """Finish the file (its index) before going."""
        if self.writer is not None:
            self.writer.close()
            self.get_logger().info(f'recorded {self.writer.messages} messages ({self.bytes / 1e6:.2f} MB in, '
                                   f'{self.writer.path.stat().st_size / 1e6:.2f} MB on disk) using '
                                   f'{self.cpu()[1]:.2f}% of a CPU')
        super().destroy_node()


def main(args=None):
    """Run the recorder until shut down; what was delivered by then is written, and the file finished.
    rclpy's events executor takes a message for about a third of the CPU of the wait-set executor, which
    rebuilds its wait set in Python for every message: about 0.9% of a core here against 3%.
    """
    return run(Recorder, args, drain_s=0.3, executor_class=EventsExecutor)


if __name__ == '__main__':
    raise SystemExit(main())

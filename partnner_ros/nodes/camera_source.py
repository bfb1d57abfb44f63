"""Camera source without a camera: a video file, an image folder, the photos
bundled with ultralytics, or synthetic frames, published as sensor_msgs/Image
stamped with the node clock (so use_sim_time works).

With ``pace_by_results`` the next frame goes out when the previous one has an
outcome on ``frame_timing``: the demo then runs at whatever rate the pipeline
sustains, and no frame goes stale. The camera topic is best effort, so a frame can
be lost (the first one, most often, when the edge's subscription has not yet
matched this publisher): one with no outcome within ``pace_timeout`` is counted,
and another takes its place in ``max_frames``.
"""

import time

from rclpy.node import Node

from ..core.adaptation.frames import Status, stamp_ns
from ..core.adaptation.ledger import FrameLedger
from ..core.vision.sources import FrameSource, open_source
from ..msg import FrameTiming
from . import qos
from .camera_input import advertise_camera, declare_transport
from .diagnostics import OK, Diagnostics
from .params import Params, one_of
from .runner import run


class CameraSource(Node):
    """Publishes frames from a source at a rate, or paced by the frames' outcomes."""

    source: FrameSource | None = None  # none when the node failed to start

    def __init__(self):
        super().__init__('camera_source')
        p = self.params = Params(self)
        source = p.declare('source', 'bundled', 'bundled (photos shipped with ultralytics), synthetic, a folder '
                           'of images, an image file, or a video file', read_only=True)
        width = p.declare('width', 640, 'synthetic frame width', int_range=(16, 8192), read_only=True)
        height = p.declare('height', 480, 'synthetic frame height', int_range=(16, 8192), read_only=True)
        p.declare('rate', 10.0, 'frames per second (the most, when paced)', float_range=(0.01, 1000.0),
                  on_change=lambda _: self._reset_timer())
        p.declare('loop', True, 'start over at the end of the source')
        p.declare('max_frames', 0, 'stop after this many frames (paced: this many with an outcome); 0: never',
                  int_range=(0, 2 ** 31 - 1))
        p.declare('frame_id', 'camera', 'frame_id of the published images')
        p.declare('encoding', 'bgr8', 'encoding of the published raw images', check=one_of(['bgr8', 'rgb8']))
        transport = declare_transport(p)
        p.declare('pace_by_results', False, 'publish the first frame once frame_timing has a publisher, and each '
                  'next one when the previous has an outcome there (or pace_timeout passed)', read_only=True)
        p.declare('pace_timeout', 5.0, 'seconds to wait for an outcome when paced; a frame without one is counted '
                  'unanswered and replaced', float_range=(0.01, 600.0))
        p.declare('paused', False, 'hold frames while true (the demo releases them once the edge has matched this '
                  'camera: a best-effort subscription drops what comes before)')
        p.declare('min_subscribers', 1, 'hold frames until this many subscribers match the camera topic (the demo '
                  'waits for the edge and the overlay); 0: never wait', int_range=(0, 1000))

        self.source = open_source(source, width, height)
        self.pub, self._to_msg = advertise_camera(self, transport)
        self.sent = 0
        self.unanswered = 0
        self.finished = False
        self.waiting_since: float | None = None
        self.awaited_stamp_ns: int | None = None
        self.ledger = FrameLedger(window=16)
        self.timing_sub = self.create_subscription(FrameTiming, 'frame_timing', self._on_timing, qos.RESULTS)
        self.timer = None
        self._reset_timer()
        self.diagnostics = Diagnostics(self, lambda: (OK, 'finished' if self.finished else 'publishing', {
            'source': self.source.description, 'frames_sent': self.sent,
            'frames_answered': self.ledger.counts[Status.OK], 'frames_unanswered': self.unanswered}))
        self.get_logger().info(f'publishing {self.source.description} on {self.pub.topic_name}')

    def _reset_timer(self):
        if self.timer is not None:
            self.destroy_timer(self.timer)
        self.timer = self.create_timer(1.0 / self.params.values['rate'], self._tick)

    def _on_timing(self, msg):
        record = self.ledger.add(msg, self.get_clock().now().nanoseconds)
        if record is not None and stamp_ns(msg.header.stamp) == self.awaited_stamp_ns:
            self.waiting_since = None

    def _tick(self):
        v = self.params.values
        if self.finished or v['paused']:
            return
        if self.waiting_since is not None:
            if time.monotonic() - self.waiting_since < v['pace_timeout']:
                return
            self._count_unanswered(v['pace_timeout'])
        if v['max_frames'] and self.sent - self.unanswered >= v['max_frames']:
            self.finished = True
            self.get_logger().info(f'sent {self.sent} frames ({self.unanswered} unanswered); done')
            return
        if self.pub.get_subscription_count() < v['min_subscribers']:
            return
        if v['pace_by_results'] and self.timing_sub.get_publisher_count() == 0:
            return  # the first outcome would go unheard
        frame = self.source.next()
        if frame is None:
            if not v['loop']:
                self.finished = True
                self.get_logger().info(f'end of {self.source.description} after {self.sent} frames')
                return
            self.source.rewind()
            frame = self.source.next()
        msg = self._to_msg(frame, v['encoding'])
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = v['frame_id']
        if v['pace_by_results']:
            self.awaited_stamp_ns = stamp_ns(msg.header.stamp)
            self.waiting_since = time.monotonic()
        self.pub.publish(msg)
        self.sent += 1

    def _count_unanswered(self, timeout: float) -> None:
        self.unanswered += 1
        self.waiting_since = None
        if self.unanswered == 1:
            self.get_logger().warning(
                f'frame {self.sent - 1} had no outcome on frame_timing within {timeout:.1f} s; sending the next in '
                'its place (the camera topic is best effort: the edge may never have got it). Further such frames '
                'are only counted')

    def destroy_node(self):
        """Close the frame source (video file or folder), then destroy the node."""
        if self.source is not None:
            self.source.close()
        super().destroy_node()


def main(args=None):
    """Run the camera source node until shut down; returns the exit status (1 when it cannot start)."""
    return run(CameraSource, args)


if __name__ == '__main__':
    raise SystemExit(main())

"""Test harness: real partnner_ros nodes as subprocesses in a namespace of their
own (a :class:`~partnner_ros.system.session.Session`), and an rclpy node in the
test process that plays camera and observer."""

import itertools
import os
import time
from pathlib import Path

from sensor_msgs.msg import Image

from partnner_ros.core.adaptation.frames import Status
from partnner_ros.msg import Classification, Detection2DArray, Features, PartitionState
from partnner_ros.nodes import qos
from partnner_ros.nodes.image_conversion import array_to_image
from partnner_ros.system.session import Session

_ids = itertools.count()
HELLO_EVERY_S, HELLO_TIMEOUT_S = 2.0, 30.0


class System(Session):
    """A session whose nodes all get ``params``; the test publishes camera frames
    and collects results, frame records (``timings``: seq -> FrameRecord, probes
    excluded), partition states and diagnostics.
    """

    def __init__(self, log_dir: Path, **params):
        super().__init__(f'/t{os.getpid()}_{next(_ids)}', log_dir, node_name='tester')
        self.ns = self.namespace
        self.params = params
        self.results: list = []
        self.node.create_subscription(Detection2DArray, 'detections', self.results.append, qos.RESULTS)
        self.node.create_subscription(Classification, 'classification', self.results.append, qos.RESULTS)
        self.image_pub = self.node.create_publisher(Image, 'image_raw', qos.IMAGE_PUB)
        self.features_pub = None
        self.sent_headers: list = []
        self.timings = self.watch.ledger.frames
        self.states = self.watch.states

    def start(self, module: str, name: str | None = None, remap: dict | None = None, robot: str = '', **params):
        """Start a node with the system's parameters and ``params`` on top (in namespace ``robot`` under the
        system's, if given).
        """
        return super().start(module, {**self.params, **params}, name, remap, robot)

    def stop(self) -> None:
        """Stop every node."""
        self.close()

    def state(self) -> PartitionState | None:
        """The manager's last partition state."""
        return self.watch.state

    def diagnostic(self, node_name: str) -> dict[str, str]:
        """The last /diagnostics values of one of the system's nodes ({} before any)."""
        return self.watch.diagnostics.get(f'{self.ns}/{node_name}', (0.0, {}))[1]

    def wait_ready(self, split: int | None = None, timeout: float = 90.0) -> None:
        """Until the system takes this test's camera frames (at ``split``, if given)."""
        super().wait_ready(timeout, split, camera=True)

    # --- parameters -------------------------------------------------------------------------
    def get_param(self, node_name: str, name: str):
        """One integer or string parameter of a node."""
        future = self.parameter_client(node_name).get_parameters([name])
        self.spin_until(future.done, 10, f'get {name} from {node_name}')
        value = future.result().values[0]
        return value.integer_value if value.type == 2 else value.string_value

    # --- camera -----------------------------------------------------------------------------
    def publish_image(self, rgb, frame_id='test_camera'):
        """Publish one RGB frame stamped now; its header."""
        msg = array_to_image(rgb, 'rgb8')
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = frame_id
        self.image_pub.publish(msg)
        self.sent_headers.append(msg.header)
        return msg.header

    def run_frames(self, frames, max_outstanding: int = 1, timeout: float = 60.0, between=None, after=None):
        """Publish frames keeping at most ``max_outstanding`` without an outcome; ``between(i)``
        runs before frame i is published, ``after(i)`` right after (while it is in flight)."""
        first = len(self.timings)
        for i, rgb in enumerate(frames):
            self.spin_until(lambda: len(self.sent_headers) - len(self.timings) < max_outstanding, timeout,
                            f'an outcome for frame {i - max_outstanding}')
            if between is not None:
                between(i)
            self.publish_image(rgb)
            if after is not None:
                after(i)
        self.spin_until(lambda: len(self.timings) >= first + len(frames), timeout, 'the last outcomes')

    def features_publisher(self, hello: Features):
        """A publisher on the cloud's features topic, to send it hand-made messages. Once the cloud
        subscribes, ``hello`` (a message it serves, with a frame_seq of its own) is sent, stamped now, every
        ``HELLO_EVERY_S`` until its outcome comes: the cloud may not know of a publisher that already knows
        of it, and would drop what that publisher sends first.
        """
        if self.features_pub is None:
            self.features_pub = self.node.create_publisher(Features, 'features', qos.features())
            self.spin_until(lambda: self.features_pub.get_subscription_count() > 0, 10, 'the cloud to subscribe')
            sent = [-HELLO_EVERY_S]

            def answered():
                if time.monotonic() - sent[0] >= HELLO_EVERY_S:
                    hello.header.stamp = self.node.get_clock().now().to_msg()  # the manager counts its latency
                    self.features_pub.publish(hello)
                    sent[0] = time.monotonic()
                return hello.frame_seq in self.timings
            self.spin_until(answered, HELLO_TIMEOUT_S, 'the cloud to answer a hand-made features message')
            assert self.timings[hello.frame_seq].status == Status.OK, self.timings[hello.frame_seq].error
        return self.features_pub

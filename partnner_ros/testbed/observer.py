"""Bench observer (robot): records every camera frame, every frame's outcome and every
partition state to CSV files, flushed row by row so that a run cut short keeps what
it saw. End-to-end latency is taken here, on the robot's clock: the camera stamp to
the arrival of the frame's record.

It writes ``ready`` in its folder once the system can take camera frames (see
:meth:`~partnner_ros.system.session.SystemWatch.not_ready`): the bench starts the
camera only then.
"""

import csv
import time
from pathlib import Path

from rclpy.node import Node
from sensor_msgs.msg import Image

from ..core.adaptation.frames import FrameRecord, stamp_ns
from ..msg import FrameTiming, PartitionState
from ..nodes import qos
from ..nodes.params import Params
from ..nodes.runner import run
from ..system.session import SystemWatch

FRAME_FIELDS = ['seq', 'stamp_ns', 'arrival_ns', 'status', 'split', 'e2e_ms', 'edge_ms', 'cloud_ms',
                'edge_queue_ms', 'edge_compute_ms', 'cloud_compute_ms', 'preprocess_ms', 'postprocess_ms',
                'codec_ms', 'cloud_queue_ms', 'bytes', 'error']
STATE_FIELDS = ['time_ns', 'split', 'cloud_alive', 'bandwidth_mbps', 'edge_model_ms', 'cloud_model_ms', 'reason',
                'server', 'server_wait_ms', 'server_price']


class _Csv:
    def __init__(self, path: Path, fields: list[str]):
        self.file = open(path, 'w', newline='')
        self.writer = csv.writer(self.file)
        self.writer.writerow(fields)
        self.file.flush()

    def row(self, values) -> None:
        self.writer.writerow(values)
        self.file.flush()


class BenchObserver(Node):
    """Writes images.csv, frames.csv (probes excluded) and states.csv, and ``ready``."""

    def __init__(self):
        super().__init__('bench_observer')
        out = Path(Params(self).declare('out', '', 'folder the CSV files go to', read_only=True))
        if not out.is_dir():
            raise FileNotFoundError(f'observer: no folder {out}')
        self.out = out
        self.images = _Csv(out / 'images.csv', ['stamp_ns'])
        self.frames = _Csv(out / 'frames.csv', FRAME_FIELDS)
        self.states = _Csv(out / 'states.csv', STATE_FIELDS)
        self.started = time.monotonic()
        self.watch = SystemWatch(self, on_frame=self._on_frame, on_state=self._on_state)
        self.create_subscription(Image, 'image_raw', lambda m: self.images.row([stamp_ns(m.header.stamp)]),
                                 qos.IMAGE_SUB)
        self.ready_timer = self.create_timer(0.1, self._check_ready)

    def _on_frame(self, r: FrameRecord, m: FrameTiming) -> None:
        stamp = stamp_ns(m.header.stamp)
        arrival = stamp + round(r.e2e_ms * 1e6)
        self.frames.row([
            r.seq, stamp, arrival, int(r.status), r.split, f'{r.e2e_ms:.3f}', f'{r.edge_ms:.3f}',
            f'{r.cloud_ms:.3f}', f'{m.edge_queue_ms:.3f}', f'{r.edge_compute_ms:.3f}', f'{r.cloud_compute_ms:.3f}',
            # codec_ms as sent: at edge-only the edge's encode slot holds its postprocessing (see analysis)
            f'{m.edge_preprocess_ms:.3f}', f'{m.cloud_postprocess_ms:.3f}',
            f'{m.edge_encode_ms + m.cloud_decode_ms:.3f}', f'{m.cloud_queue_ms:.3f}', r.payload_bytes, r.error])

    def _on_state(self, m: PartitionState) -> None:
        self.states.row([self.get_clock().now().nanoseconds, m.split, int(m.cloud_alive),
                         f'{m.bandwidth_bps / 1e6:.3f}', f'{m.edge_model_ms:.1f}', f'{m.cloud_model_ms:.1f}',
                         m.reason, m.server, f'{m.server_wait_ms:.1f}', f'{m.server_price:.3f}'])

    def _check_ready(self) -> None:
        """The bench starts the camera once ``ready`` exists (it holds the layer count)."""
        if self.watch.not_ready(self.started) is None:
            (self.out / 'ready').write_text(str(self.watch.state.num_layers))
            self.ready_timer.cancel()


def main(args=None):
    """Run the observer until shut down."""
    return run(BenchObserver, args)


if __name__ == '__main__':
    raise SystemExit(main())

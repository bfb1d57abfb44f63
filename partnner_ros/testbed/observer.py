"""Bench observer (robot): records every camera frame, every frame's outcome and every
partition state to CSV files, flushed row by row so that a run cut short keeps what
it saw. End-to-end latency is taken here, on the robot's clock: the camera stamp to
the arrival of the frame's record.

It writes ``ready`` in its folder once the manager reports a live cloud and both
the edge's and the cloud's frame records can reach it: the bench starts the camera
only then.
"""

import csv
from pathlib import Path

from rclpy.node import Node
from sensor_msgs.msg import Image

from ..core.adaptation.frames import cloud_ms, edge_ms
from ..msg import FrameTiming, PartitionState
from ..nodes import qos
from ..nodes.params import Params
from ..nodes.runner import run

FRAME_FIELDS = ['seq', 'stamp_ns', 'arrival_ns', 'status', 'split', 'e2e_ms', 'edge_ms', 'cloud_ms',
                'edge_queue_ms', 'edge_compute_ms', 'cloud_compute_ms', 'preprocess_ms', 'postprocess_ms',
                'codec_ms', 'cloud_queue_ms', 'bytes', 'error']
STATE_FIELDS = ['time_ns', 'split', 'cloud_alive', 'bandwidth_mbps', 'edge_model_ms', 'cloud_model_ms', 'reason']


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


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
    def __init__(self):
        super().__init__('bench_observer')
        out = Path(Params(self).declare('out', '', 'folder the CSV files go to', read_only=True))
        if not out.is_dir():
            raise FileNotFoundError(f'observer: no folder {out}')
        self.out = out
        self.images = _Csv(out / 'images.csv', ['stamp_ns'])
        self.frames = _Csv(out / 'frames.csv', FRAME_FIELDS)
        self.states = _Csv(out / 'states.csv', STATE_FIELDS)
        self.ready = False
        self.timing_sub = self.create_subscription(FrameTiming, 'frame_timing', self._on_timing, qos.RESULTS)
        self.create_subscription(Image, 'image_raw', lambda m: self.images.row([_ns(m.header.stamp)]),
                                 qos.IMAGE_SUB)
        self.create_subscription(PartitionState, 'partition_state', self._on_state, qos.STATE)

    def _on_timing(self, m: FrameTiming):
        if m.probe:
            return
        now = self.get_clock().now().nanoseconds
        stamp = _ns(m.header.stamp)
        self.frames.row([
            m.frame_seq, stamp, now, m.status, m.split, f'{(now - stamp) / 1e6:.3f}', f'{edge_ms(m):.3f}',
            f'{cloud_ms(m):.3f}', f'{m.edge_queue_ms:.3f}', f'{m.edge_compute_ms:.3f}', f'{m.cloud_compute_ms:.3f}',
            f'{m.edge_preprocess_ms:.3f}', f'{m.cloud_postprocess_ms:.3f}',
            f'{m.edge_encode_ms + m.cloud_decode_ms:.3f}', f'{m.cloud_queue_ms:.3f}', m.payload_bytes, m.error])

    def _on_state(self, m: PartitionState):
        self.states.row([self.get_clock().now().nanoseconds, m.split, int(m.cloud_alive),
                         f'{m.bandwidth_bps / 1e6:.3f}', f'{m.edge_model_ms:.1f}', f'{m.cloud_model_ms:.1f}',
                         m.reason])
        if not self.ready and m.num_layers and m.cloud_alive and self.timing_sub.get_publisher_count() >= 2:
            self.ready = True
            (self.out / 'ready').write_text(str(m.num_layers))


def main(args=None):
    return run(BenchObserver, args)


if __name__ == '__main__':
    raise SystemExit(main())

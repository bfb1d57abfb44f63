"""Benchmark: what recording costs a robot. A recorder node takes a robot's traffic at a camera rate
(each frame's timing with per-layer times, its detections and partition state; heartbeats; four
nodes' diagnostics each second) for some seconds; the file's size is scaled to 10 minutes and the
recorder's CPU share read from its own diagnostics in the recording: over the whole run, and once
started.

    ./run python tools/recording_cost.py [--seconds 60] [--fps 10] [--layers 23] [--boxes 20]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from partnner_ros.core.recording.bag import read_recording
from partnner_ros.msg import (
    CloudStatus,
    Detection2D,
    Detection2DArray,
    FrameTiming,
    ObjectHypothesisWithPose,
    PartitionState,
)
from partnner_ros.nodes import qos
from partnner_ros.system.session import Session

SETTLE_S = 10.0  # the recorder's start (discovery, subscriptions) is over by then


def main() -> int:
    """Measure and print the figures; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seconds', type=float, default=60.0)
    parser.add_argument('--fps', type=float, default=10.0)
    parser.add_argument('--layers', type=int, default=23, help='per-layer times per frame (yolov8n: 23)')
    parser.add_argument('--boxes', type=int, default=20, help='detections per frame')
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    folder = Path(tempfile.mkdtemp(prefix='recording_cost_'))
    path = folder / 'run.mcap'
    rclpy.init()
    session = Session(f'/recording_cost_{os.getpid()}', folder, node_name='robot')
    node = session.node
    pubs = {'timing': node.create_publisher(FrameTiming, 'frame_timing', qos.RESULTS),
            'state': node.create_publisher(PartitionState, 'partition_state', qos.STATE),
            'status': node.create_publisher(CloudStatus, 'cloud_status', qos.HEARTBEAT),
            'detections': node.create_publisher(Detection2DArray, 'detections', qos.RESULTS),
            'diagnostics': node.create_publisher(DiagnosticArray, '/diagnostics', 10)}
    try:
        session.start('recorder', {'out': str(path)})
        session.spin_until(lambda: pubs['timing'].get_subscription_count() > 0, 30, 'the recorder')
        _publish(session, pubs, args)
    finally:
        session.close()
        rclpy.try_shutdown()
    rec = read_recording(path, topics=('frame_timing', 'diagnostics'))
    cpu = [(m.log_ns / 1e9, {kv.key: float(kv.value) for kv in s.values if kv.key.startswith('cpu_')})
           for m in rec.of('diagnostics') for s in m.msg.status if s.name.endswith('/recorder')]
    (t0, settled), (t1, last) = next(r for r in cpu if r[0] >= cpu[0][0] + SETTLE_S), cpu[-1]
    steady = 100.0 * (last['cpu_seconds'] - settled['cpu_seconds']) / (t1 - t0)
    size = path.stat().st_size
    frames = len(rec.of('frame_timing'))
    print(f'{frames} frames in {args.seconds:.0f} s at {args.fps:g} fps: {size / 1e6:.2f} MB, '
          f'{size / 1e6 * 600 / args.seconds:.1f} MB per 10 minutes; the recorder used '
          f'{last["cpu_percent"]:.2f}% of a CPU over the run, {steady:.2f}% after its first {SETTLE_S:g} s')
    return 0


def _publish(session, pubs, args) -> None:
    node = session.node
    seq, start = 0, time.monotonic()
    next_diag = start
    while time.monotonic() - start < args.seconds:
        header = node.get_clock().now().to_msg()
        head = args.layers // 2
        t = FrameTiming(frame_seq=seq, split=head, codec='fp16+lz4', payload_bytes=400_000,
                        edge_layer_ms=[3.5] * head, cloud_layer_ms=[1.2] * (args.layers - head))
        t.header.stamp = header
        det = Detection2DArray(detections=[Detection2D(results=[ObjectHypothesisWithPose()])
                                           for _ in range(args.boxes)])
        det.header.stamp = header
        for d in det.detections:
            d.results[0].hypothesis.class_id, d.results[0].hypothesis.score = 'person', 0.8
        pubs['timing'].publish(t)
        pubs['detections'].publish(det)
        pubs['state'].publish(PartitionState(policy='partnner', split=11, num_layers=args.layers,
                                             reason='predicted 120 ms at split 11 (fp16+lz4)'))
        pubs['status'].publish(CloudStatus(model='yolov8n', num_layers=args.layers))
        if time.monotonic() >= next_diag:
            pubs['diagnostics'].publish(DiagnosticArray(status=[DiagnosticStatus(
                name=f'partnner_ros: /robot/{n}', values=[KeyValue(key=f'k{i}', value='1.000') for i in range(12)])
                for n in ('edge', 'cloud', 'partition_manager', 'overlay')]))
            next_diag += 1.0
        seq += 1
        session.spin_for(max(0.0, start + seq / args.fps - time.monotonic()))


if __name__ == '__main__':
    raise SystemExit(main())

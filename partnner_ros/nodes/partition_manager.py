"""Partition manager (robot): watches every frame's outcome, keeps the cloud's
health, asks its policy for the split, applies it to the edge through the edge's
parameter service, and publishes the partition state (transient local).

End-to-end latency is measured here, on the robot's clock only: the camera stamp
to the arrival of the frame's record. Transfer time is derived from durations.
"""

import time

from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient

from ..core import policies
from ..core.frames import FrameRecord, Status, cloud_ms, edge_ms
from ..core.health import CloudHealth
from ..core.stats import RollingStats
from ..msg import CloudStatus, FrameTiming, PartitionState
from . import qos
from .diagnostics import ERROR, OK, WARN, Diagnostics
from .params import Params, one_of
from .runner import run


class PartitionManager(Node):
    def __init__(self):
        super().__init__('partition_manager')
        self.num_layers: int | None = None
        p = self.params = Params(self)
        p.declare('policy', 'fixed', 'split policy: ' + ', '.join(policies.POLICIES),
                  check=one_of(policies.POLICIES), on_change=lambda _: self._rebuild_policy())
        p.declare('split', 0, 'the split of the fixed policy (0 cloud-only .. num_layers edge-only)',
                  int_range=(0, 65535), check=self._check_split, on_change=lambda _: self._rebuild_policy())
        p.declare('cloud_timeout', 2.0, 'deadline in seconds to fall back to edge-only when the cloud stops '
                  'answering', float_range=(0.2, 600.0), on_change=self._set_deadline)
        p.declare('stats_window', 100, 'frames in the rolling latency statistics', int_range=(1, 100000),
                  on_change=lambda w: self.e2e.resize(w))
        edge_node = p.declare('edge_node', 'edge', 'name of the edge node whose split parameter is set',
                              read_only=True)

        self.fingerprint = ''
        self.policy: policies.Policy | None = None
        self.health = CloudHealth(p.values['cloud_timeout'])
        self.cloud_fingerprint = ''
        self.e2e = RollingStats(p.values['stats_window'])
        self.counts = {s: 0 for s in Status}
        self.per_split: dict[int, int] = {}
        self.active: int | None = None
        self.reason = 'waiting for the edge'
        self._pending = None

        self.edge = AsyncParameterClient(self, edge_node)
        self.state_pub = self.create_publisher(PartitionState, 'partition_state', qos.STATE)
        self.create_subscription(FrameTiming, 'frame_timing', self._on_timing, qos.RESULTS,
                                 event_callbacks=qos.sub_events(self, 'frame_timing'))
        self.create_subscription(CloudStatus, 'cloud_status', self._on_heartbeat, qos.HEARTBEAT)
        self.create_timer(0.05, self._tick)
        self.create_timer(0.5, self._publish_state)
        self.diagnostics = Diagnostics(self, self._diagnostics)

    # --- parameters ---------------------------------------------------------------------------
    def _check_split(self, value):
        if self.num_layers is not None and not 0 <= value <= self.num_layers:
            return f'must be in [0, {self.num_layers}] for this model'
        return None

    def _set_deadline(self, value):
        self.health.deadline_s = value

    def _rebuild_policy(self):
        if self.num_layers is not None:
            v = self.params.values
            self.policy = policies.make_policy(v['policy'], self.num_layers, min(v['split'], self.num_layers))

    # --- inputs -------------------------------------------------------------------------------
    def _on_heartbeat(self, msg):
        self.health.heartbeat(time.monotonic())
        self.cloud_fingerprint = msg.model_fingerprint

    def _on_timing(self, msg):
        status = Status(msg.status)
        self.counts[status] += 1
        if status == Status.LOST:
            self.health.lost(time.monotonic(), f'frame {msg.frame_seq} lost: {msg.error}')
            return
        if status != Status.OK:
            return
        if msg.split != self.num_layers:
            self.health.served()
        now = self.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        record = FrameRecord(msg.frame_seq, msg.split, status, msg.payload_bytes, (now - stamp) / 1e6,
                             edge_ms(msg), cloud_ms(msg))
        self.e2e.add(record.e2e_ms)
        self.per_split[msg.split] = self.per_split.get(msg.split, 0) + 1
        if self.policy is not None:
            self.policy.observe(record)

    # --- decisions ----------------------------------------------------------------------------
    def _tick(self):
        if self.num_layers is None:
            self._discover_edge()
            return
        if self._pending is not None:
            return
        now = time.monotonic()
        if self.cloud_fingerprint and self.cloud_fingerprint != self.fingerprint:
            target, reason = self.num_layers, (f'the cloud serves another model ({self.cloud_fingerprint}, '
                                               f'edge has {self.fingerprint}): edge-only')
        elif not self.health.alive(now):
            target, reason = self.num_layers, f'{self.health.reason}: edge-only'
        else:
            target, reason = self.policy.choose()
        if target != self.active:
            self._apply(target, reason)
        else:
            self.reason = reason

    def _discover_edge(self):
        if self._pending is not None or not self.edge.services_are_ready():
            return
        self._pending = self.edge.get_parameters(['num_layers', 'model_fingerprint', 'split'])
        self._pending.add_done_callback(self._on_edge_discovered)

    def _on_edge_discovered(self, future):
        self._pending = None
        try:
            values = future.result().values
        except Exception as e:  # noqa: BLE001 - retried on the next tick
            self.get_logger().warn(f'could not read the edge parameters yet: {e}')
            return
        self.num_layers = values[0].integer_value
        self.fingerprint = values[1].string_value
        self.active = values[2].integer_value
        if self.params.values['split'] > self.num_layers:
            self.get_logger().warn(f'split {self.params.values["split"]} exceeds the model\'s {self.num_layers} '
                                   f'layers; using {self.num_layers}')
        self._rebuild_policy()
        self.get_logger().info(f'edge model {self.fingerprint}, {self.num_layers} layers, '
                               f'policy {self.policy.name}')

    def _apply(self, target: int, reason: str):
        self._pending = self.edge.set_parameters([Parameter('split', value=target)])
        self._pending.add_done_callback(lambda f: self._on_applied(f, target, reason))

    def _on_applied(self, future, target, reason):
        self._pending = None
        try:
            result = future.result().results[0]
        except Exception as e:  # noqa: BLE001 - retried on the next tick
            self.get_logger().warn(f'setting split {target} on the edge failed: {e}')
            return
        if not result.successful:
            self.get_logger().error(f'the edge refused split {target}: {result.reason}')
            return
        previous, self.active, self.reason = self.active, target, reason
        self.get_logger().info(f'split {previous} -> {target}: {reason}')
        self._publish_state()

    # --- outputs ------------------------------------------------------------------------------
    def _publish_state(self):
        msg = PartitionState(policy=self.params.values['policy'], model_fingerprint=self.fingerprint,
                             split=self.active or 0, num_layers=self.num_layers or 0, reason=self.reason,
                             cloud_alive=self.health.alive(time.monotonic()),
                             e2e_mean_ms=self.e2e.mean, e2e_p95_ms=self.e2e.p95,
                             frames_done=self.counts[Status.OK], frames_lost=self.counts[Status.LOST],
                             frames_dropped=self.counts[Status.DROPPED])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.state_pub.publish(msg)

    def _diagnostics(self):
        alive = self.health.alive(time.monotonic())
        level = ERROR if self.num_layers is None else OK if alive else WARN
        message = (f'split {self.active}: {self.reason}' if self.num_layers is not None
                   else 'waiting for the edge parameter service')
        return level, message, {
            'policy': self.params.values['policy'], 'split': self.active, 'cloud_alive': alive,
            'e2e_mean_ms': self.e2e.mean, 'e2e_p95_ms': self.e2e.p95, 'frames_done': self.counts[Status.OK],
            'lost': self.counts[Status.LOST], 'dropped': self.counts[Status.DROPPED],
            'rejected': self.counts[Status.REJECTED], 'failed': self.counts[Status.FAILED],
            **{f'frames_at_split[{k}]': v for k, v in sorted(self.per_split.items())}}


def main(args=None):
    return run(PartitionManager, args)


if __name__ == '__main__':
    raise SystemExit(main())

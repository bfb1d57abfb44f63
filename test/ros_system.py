"""Test harness: real partnner_ros nodes as subprocesses in a namespace of their
own, and an rclpy node in the test process that plays camera and observer."""

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from sensor_msgs.msg import Image

from partnner_ros.msg import Classification, Detection2DArray, Features, FrameTiming, PartitionState
from partnner_ros.nodes import qos
from partnner_ros.nodes.image_conversion import array_to_image

_ids = itertools.count()


class System:
    def __init__(self, log_dir: Path, **params):
        self.ns = f'/t{os.getpid()}_{next(_ids)}'
        self.log_dir = log_dir
        self.params = params
        self.procs: dict[str, subprocess.Popen] = {}
        self.node = rclpy.create_node('tester', namespace=self.ns)
        self.timings: dict[int, FrameTiming] = {}  # each frame's outcome
        self.probes: list[FrameTiming] = []  # shadow probes' records (same frame_seq, result unused)
        self.results = []
        self.states: list[tuple[float, PartitionState]] = []
        self.diagnostics: dict[str, object] = {}
        self.diagnostics_at: dict[str, float] = {}  # when each node's last status arrived
        n = self.node
        self.timing_sub = n.create_subscription(
            FrameTiming, 'frame_timing', self._on_timing, qos.RESULTS)
        n.create_subscription(Detection2DArray, 'detections', self.results.append, qos.RESULTS)
        n.create_subscription(Classification, 'classification', self.results.append, qos.RESULTS)
        n.create_subscription(PartitionState, 'partition_state',
                              lambda m: self.states.append((time.monotonic(), m)), qos.STATE)
        n.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        self.image_pub = n.create_publisher(Image, 'image_raw', qos.IMAGE_PUB)
        self.features_pub = None
        self.sent_headers = []

    def _on_timing(self, msg: FrameTiming):
        if msg.probe:
            self.probes.append(msg)
        else:
            self.timings[msg.frame_seq] = msg

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.hardware_id.startswith(self.ns):
                self.diagnostics[status.hardware_id] = status
                self.diagnostics_at[status.hardware_id] = time.monotonic()

    # --- processes --------------------------------------------------------------------------
    def start(self, module: str, name: str | None = None, remap: dict | None = None, **params):
        """Start a node (``name`` renames it, ``remap`` maps topic names)."""
        merged = {**self.params, **params}
        args = [sys.executable, '-m', f'partnner_ros.nodes.{module}', '--ros-args', '-r', f'__ns:={self.ns}']
        if name:
            args += ['-r', f'__node:={name}']
        for old, new in (remap or {}).items():
            args += ['-r', f'{old}:={new}']
        for k, v in merged.items():
            args += ['-p', f'{k}:={v}']
        log = open(self.log_dir / f'{name or module}-{len(self.procs)}.log', 'w')
        self.procs[name or module] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                                      start_new_session=True)

    def kill(self, module: str, sig=signal.SIGKILL):
        proc = self.procs.pop(module)
        os.killpg(proc.pid, sig)
        proc.wait(10)

    def stop(self):
        for name in list(self.procs):
            proc = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc in list(self.procs.values()):
            try:
                proc.wait(8)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
        self.node.destroy_node()

    def logs(self) -> str:
        return '\n'.join(f'--- {p.name}\n{p.read_text()[-3000:]}' for p in sorted(self.log_dir.glob('*.log')))

    # --- waiting ----------------------------------------------------------------------------
    def spin_until(self, predicate, timeout: float, what: str = 'condition'):
        deadline = time.monotonic() + timeout
        while not predicate():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f'{name} exited with {proc.returncode} while waiting for {what}\n'
                                         + self.logs())
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}\n' + self.logs())
            rclpy.spin_once(self.node, timeout_sec=0.02)

    def spin_for(self, seconds: float):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.02)

    def state(self) -> PartitionState | None:
        return self.states[-1][1] if self.states else None

    def edge_value(self, key: str) -> str | None:
        status = self.diagnostics.get(f'{self.ns}/edge')
        return next((kv.value for kv in status.values if kv.key == key), None) if status else None

    def wait_ready(self, split: int | None = None, timeout: float = 90.0):
        """Until the manager sees the edge and a live cloud (and, if given, the split is applied),
        and the edge, in a status sent since this call, has matched our camera and the cloud.
        DDS matches each side on its own: a best-effort image sent before the edge's side is
        done is lost (misnumbering the frames after it), and a frame the edge takes before it
        has matched the cloud is served on the edge."""
        since = time.monotonic()

        def edge_ready():
            return ('edge' not in self.procs or (
                self.diagnostics_at.get(f'{self.ns}/edge', 0) > since and int(self.edge_value('cameras')) > 0
                and self.edge_value('cloud_matched') == 'True'))

        def ready():
            s = self.state()
            return (s is not None and s.num_layers > 0 and s.cloud_alive
                    and (split is None or s.split == split) and self.image_pub.get_subscription_count() > 0
                    and self.timing_sub.get_publisher_count() >= 2  # the edge's and the cloud's records
                    and edge_ready())
        self.spin_until(ready, timeout, f'the system to be ready at split {split}')

    # --- parameters -------------------------------------------------------------------------
    def set_params_async(self, node_name: str, **params):
        client = AsyncParameterClient(self.node, f'{self.ns}/{node_name}')
        assert client.wait_for_services(10), f'no parameter services on {node_name}'
        return client.set_parameters([Parameter(k, value=v) for k, v in params.items()])

    def set_params(self, node_name: str, **params):
        future = self.set_params_async(node_name, **params)
        self.spin_until(future.done, 10, f'set {params} on {node_name}')
        return future.result().results

    def get_param(self, node_name: str, name: str):
        client = AsyncParameterClient(self.node, f'{self.ns}/{node_name}')
        assert client.wait_for_services(10)
        future = client.get_parameters([name])
        self.spin_until(future.done, 10, f'get {name} from {node_name}')
        value = future.result().values[0]
        return value.integer_value if value.type == 2 else value.string_value

    # --- camera -----------------------------------------------------------------------------
    def publish_image(self, rgb, frame_id='test_camera'):
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

    def features_publisher(self):
        if self.features_pub is None:
            self.features_pub = self.node.create_publisher(Features, 'features', qos.FEATURES)
        return self.features_pub
